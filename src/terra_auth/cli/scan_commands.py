"""``terra-auth scan``: find leaked Terra credentials in files, the git index or git history.

Example::

    terra-auth scan .                       # exit 1 when anything is found
    terra-auth scan --git-history --sarif > terra-scan.sarif
    terra-auth scan --baseline .terra-scan-baseline.json --update-baseline
    terra-auth scan --export gitleaks > .gitleaks.toml
"""

from __future__ import annotations

import sys
from typing import TextIO

import click

from terra_auth.cli._exit import EXIT_PROBLEMS
from terra_auth.cli._output import echo
from terra_auth.scan.rules import CONFIDENCES
from terra_auth.scan.scanner import DEFAULT_MAX_BYTES

__all__ = ["scan"]

_PROGRESS_FROM = 2000  # files: smaller trees finish before a progress line would help
_PROGRESS_EVERY = 500


class _Progress:
    """``scanned N files`` on stderr, rewritten in place; only on a terminal, large trees only."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.shown = False

    def __call__(self, count: int) -> None:
        if count >= _PROGRESS_FROM and count % _PROGRESS_EVERY == 0:
            self.stream.write(f"\rterra-auth scan: {count} files scanned...")
            self.stream.flush()
            self.shown = True

    def done(self) -> None:
        if self.shown:
            self.stream.write("\r\033[K")
            self.stream.flush()


@click.command("scan")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=str))
@click.option(
    "--git-history", is_flag=True, help="Scan every blob ever committed (all refs) instead."
)
@click.option("--staged", is_flag=True, help="Scan the staged content (the git index) instead.")
@click.option(
    "--baseline",
    "baseline_file",
    type=click.Path(dir_okay=False, path_type=str),
    help="JSON file of accepted findings (matched by fingerprint).",
)
@click.option(
    "--update-baseline", is_flag=True, help="Write the current findings to --baseline and exit 0."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (values masked).")
@click.option("--sarif", is_flag=True, help="Print SARIF 2.1.0 (for code-scanning tools).")
@click.option(
    "--export",
    "export_format",
    type=click.Choice(["gitleaks"]),
    help="Print the rules as a gitleaks config (TOML) and exit.",
)
@click.option(
    "--min-confidence",
    type=click.Choice(CONFIDENCES),
    default="low",
    show_default=True,
    help="Report only findings at least this confident.",
)
@click.option("--no-gitignore", is_flag=True, help="Scan files that .gitignore excludes too.")
@click.option(
    "--max-size",
    type=click.IntRange(min=1),
    default=DEFAULT_MAX_BYTES,
    show_default=True,
    help="Skip files larger than this many bytes.",
)
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=None,
    help="Processes that read and scan a tree of 1000 files or more (default: every CPU, "
    "up to 8); smaller trees, --staged and --git-history use one.",
)
def scan(
    *,
    paths: tuple[str, ...],
    git_history: bool,
    staged: bool,
    baseline_file: str | None,
    update_baseline: bool,
    as_json: bool,
    sarif: bool,
    export_format: str | None,
    min_confidence: str,
    no_gitignore: bool,
    max_size: int,
    jobs: int | None,
) -> None:
    """Find leaked Terra credentials (dev-ids, API keys, signing secrets, tokens).

    Scans PATHS (default: the current folder), honouring .gitignore and skipping binary and
    large files. Values are always shown masked. Exit code 1 when anything not accepted by the
    baseline is found, 0 otherwise.
    """
    if export_format == "gitleaks":
        from terra_auth.scan.gitleaks import export_gitleaks

        click.echo(export_gitleaks())
        return
    if as_json and sarif:
        raise click.UsageError("choose one of --json and --sarif")
    if git_history and staged:
        raise click.UsageError("choose one of --git-history and --staged")
    if update_baseline and not baseline_file:
        raise click.UsageError("--update-baseline needs --baseline FILE")
    if (git_history or staged) and len(paths) > 1:
        raise click.UsageError("with --git-history or --staged, give at most one repository path")

    from terra_auth.scan import baseline as baseline_module
    from terra_auth.scan import report, scanner

    progress = _Progress(sys.stderr) if sys.stderr.isatty() else None
    try:
        if git_history:
            result = scanner.scan_git_history(
                paths[0] if paths else ".", max_bytes=max_size, progress=progress
            )
        elif staged:
            result = scanner.scan_staged(paths[0] if paths else ".", max_bytes=max_size)
        else:
            result = scanner.scan_paths(
                paths or (".",),
                max_bytes=max_size,
                respect_gitignore=not no_gitignore,
                progress=progress,
                workers=jobs,
            )
    finally:
        if progress is not None:
            progress.done()

    floor = CONFIDENCES.index(min_confidence)
    findings = [f for f in result.findings if CONFIDENCES.index(f.confidence) >= floor]

    if update_baseline:
        assert baseline_file is not None
        baseline_module.write_baseline(baseline_file, findings)
        echo(f"baseline {baseline_file} written: {len(findings)} accepted finding(s)", err=True)
        return

    accepted = baseline_module.load_baseline(baseline_file) if baseline_file else frozenset()
    new, known = baseline_module.split_known(findings, accepted)
    counts = {
        "files_scanned": result.files_scanned,
        "accepted": len(known),
        "skipped": result.files_skipped,
    }
    if sarif:
        click.echo(report.render_sarif(new))
    elif as_json:
        click.echo(report.render_json(new, **counts))
    else:
        echo(report.render_text(new, **counts))
    if new:
        raise click.exceptions.Exit(EXIT_PROBLEMS)
