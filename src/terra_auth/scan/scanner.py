"""Walk files, the git index or the whole git history and apply the rules to each text.

Binary files (a NUL byte in the first 8 KiB) and files over ``max_bytes`` are skipped;
``.git``, virtualenvs, caches and ``node_modules`` are never entered; ``.gitignore`` files
(and ``.git/info/exclude``) are honoured when walking folders. A file named explicitly is
always scanned.

Example:
    >>> result = scan_paths(["."])                                  # doctest: +SKIP
    >>> [(f.path, f.line, f.kind, f.masked) for f in result.findings]  # doctest: +SKIP
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from terra_auth.errors import ConfigurationError
from terra_auth.scan.findings import Finding
from terra_auth.scan.rules import scan_text

__all__ = [
    "DEFAULT_MAX_BYTES",
    "SKIPPED_DIRS",
    "ScanResult",
    "iter_files",
    "scan_bytes",
    "scan_git_history",
    "scan_paths",
    "scan_staged",
]

DEFAULT_MAX_BYTES = 2_000_000
_BINARY_SNIFF = 8192
#: folders never entered (a folder holding ``pyvenv.cfg`` is a virtualenv and skipped too)
SKIPPED_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".venv",
        "__pycache__",
        ".mypy_cache",
        ".ruff_cache",
        ".pytest_cache",
        ".tox",
        ".nox",
        "node_modules",
    }
)
_NULL_SHA = "0" * 40

Progress = Callable[[int], None]


@dataclass(slots=True)
class ScanResult:
    """What a scan found, and how many texts it read or skipped."""

    findings: list[Finding] = field(default_factory=list)
    files_scanned: int = 0
    files_skipped: int = 0


def scan_bytes(data: bytes, path: str, *, commit: str | None = None) -> list[Finding] | None:
    """Findings in one file's bytes, or None when the bytes look binary."""
    if b"\0" in data[:_BINARY_SNIFF]:
        return None
    text = data.decode("utf-8", errors="replace")
    return [Finding.from_match(m, path, commit) for m in scan_text(text, path)]


# -- working tree ---------------------------------------------------------------------------


class _IgnoreRules:
    """The ``.gitignore`` files between the repository's top and each path (pathspec)."""

    def __init__(self, top: Path) -> None:
        import pathspec

        self._pathspec = pathspec
        self.top = top
        self._specs: dict[Path, Any] = {}
        exclude = top / ".git" / "info" / "exclude"
        self._extra = self._load(exclude) if exclude.is_file() else None

    def _load(self, file: Path) -> Any:
        try:
            lines = file.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return None
        return self._pathspec.GitIgnoreSpec.from_lines(lines)

    def _spec(self, directory: Path) -> Any:
        if directory not in self._specs:
            file = directory / ".gitignore"
            self._specs[directory] = self._load(file) if file.is_file() else None
        return self._specs[directory]

    def ignored(self, path: Path, is_dir: bool) -> bool:
        """Whether git would ignore ``path`` (the deepest matching .gitignore wins)."""
        try:
            rel_parts = path.relative_to(self.top).parts
        except ValueError:
            return False
        verdict: bool | None = None
        suffix = "/" if is_dir else ""
        if self._extra is not None:
            include = self._extra.check_file("/".join(rel_parts) + suffix).include
            verdict = include if include is not None else verdict
        directory = self.top
        for depth in range(len(rel_parts)):
            spec = self._spec(directory)
            if spec is not None:
                include = spec.check_file("/".join(rel_parts[depth:]) + suffix).include
                verdict = include if include is not None else verdict
            directory = directory / rel_parts[depth]
        return bool(verdict)


def _git_top(start: Path) -> Path | None:
    for candidate in (start, *start.parents):
        if (candidate / ".git").exists():
            return candidate
    return None


def iter_files(paths: Iterable[str | Path], *, respect_gitignore: bool = True) -> Iterator[Path]:
    """Every file to scan under ``paths``, in a stable order; named files always come out."""
    for raw in paths:
        root = Path(raw)
        if root.is_file():
            yield root
            continue
        if not root.is_dir():
            raise ConfigurationError(
                f"cannot scan {str(raw)!r}: no such file or folder",
                hint="pass existing files or folders (default: the current folder)",
            )
        rules = None
        if respect_gitignore:
            absolute = root.resolve()
            rules = _load_ignore_rules(_git_top(absolute) or absolute)
        yield from _walk(root, rules)


def _load_ignore_rules(top: Path) -> _IgnoreRules:
    try:
        return _IgnoreRules(top)
    except ImportError as exc:
        raise ConfigurationError(
            "honouring .gitignore needs the 'pathspec' package",
            hint="pip install 'terra-auth[scan]' (or pass --no-gitignore)",
        ) from exc


def _walk(root: Path, rules: _IgnoreRules | None) -> Iterator[Path]:
    for directory, dirnames, filenames in os.walk(root):
        here = Path(directory)
        absolute = here.resolve() if rules is not None else here
        kept = []
        for name in sorted(dirnames):
            if name in SKIPPED_DIRS or (here / name / "pyvenv.cfg").exists():
                continue
            if rules is not None and rules.ignored(absolute / name, True):
                continue
            kept.append(name)
        dirnames[:] = kept
        for name in sorted(filenames):
            if rules is not None and rules.ignored(absolute / name, False):
                continue
            path = here / name
            if path.is_symlink():
                continue
            yield path


def _display(path: Path) -> str:
    text = os.path.relpath(path) if path.is_absolute() else str(path)
    if text.startswith(".."):
        text = str(path)
    return text.replace(os.sep, "/")


def scan_paths(
    paths: Sequence[str | Path] = (".",),
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    respect_gitignore: bool = True,
    progress: Progress | None = None,
) -> ScanResult:
    """Scan files and folders (folders recursively, honouring ``.gitignore``)."""
    result = ScanResult()
    for count, path in enumerate(iter_files(paths, respect_gitignore=respect_gitignore), 1):
        if progress is not None:
            progress(count)
        try:
            with path.open("rb") as handle:
                data = handle.read(max_bytes + 1)
        except OSError:
            result.files_skipped += 1
            continue
        found = None if len(data) > max_bytes else scan_bytes(data, _display(path))
        if found is None:
            result.files_skipped += 1
            continue
        result.files_scanned += 1
        result.findings.extend(found)
    return result


# -- git ------------------------------------------------------------------------------------


def _git(repo: Path, *args: str) -> str:
    try:
        completed = subprocess.run(  # noqa: S603 (fixed git arguments, no shell)
            ["git", "-c", "core.quotePath=false", *args],  # noqa: S607
            cwd=repo,
            capture_output=True,
            check=False,
        )
    except FileNotFoundError as exc:
        raise ConfigurationError(
            "git is not installed", hint="install git, or scan files without --git-history"
        ) from exc
    if completed.returncode != 0:
        message = completed.stderr.decode("utf-8", errors="replace").strip().splitlines()
        raise ConfigurationError(
            f"git {args[0]} failed in {str(repo)!r}: {message[-1] if message else 'unknown'}",
            hint="run the scan inside a git repository (or drop --git-history / --staged)",
        )
    return completed.stdout.decode("utf-8", errors="replace")


def _unquote(path: str) -> str:
    if path.startswith('"') and path.endswith('"'):
        raw = path[1:-1].encode("latin-1", errors="replace").decode("unicode_escape")
        return raw.encode("latin-1", errors="replace").decode("utf-8", errors="replace")
    return path


def _read_blobs(repo: Path, names: Sequence[str], max_bytes: int) -> Iterator[bytes | None]:
    """Each object's bytes in order (None when missing or larger than ``max_bytes``)."""
    if not names:
        return
    process = subprocess.Popen(
        ["git", "cat-file", "--batch"],  # noqa: S607
        cwd=repo,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert process.stdin is not None and process.stdout is not None
    stdin: IO[bytes] = process.stdin

    def feed() -> None:
        try:
            for name in names:
                stdin.write(name.encode("utf-8") + b"\n")
        except BrokenPipeError:
            pass
        finally:
            stdin.close()

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    out = process.stdout
    try:
        for _ in names:
            header = out.readline().split()
            if len(header) < 3 or header[-1] == b"missing":
                yield None
                continue
            size = int(header[2])
            data = out.read(size)
            out.read(1)  # the newline after each object
            yield data if size <= max_bytes else None
    finally:
        out.close()
        writer.join(timeout=5)
        process.wait(timeout=5)


def scan_git_history(
    repo: str | Path = ".", *, max_bytes: int = DEFAULT_MAX_BYTES, progress: Progress | None = None
) -> ScanResult:
    """Scan every blob ever committed on any ref, once each, reporting commit and path.

    A blob is reported at the oldest commit that added it, so a key that was added and later
    deleted is still found.
    """
    top = Path(_git(Path(repo), "rev-parse", "--show-toplevel").strip())
    log = _git(top, "log", "--all", "-m", "--no-renames", "--raw", "--no-abbrev", "--format=@%H")
    introduced: dict[str, tuple[str, str]] = {}
    commit = ""
    for line in log.splitlines():
        if line.startswith("@"):
            commit = line[1:]
        elif line.startswith(":"):
            meta, _, path = line.partition("\t")
            fields = meta.split()
            if len(fields) < 5 or fields[1] == "160000" or fields[3] == _NULL_SHA:
                continue
            introduced[fields[3]] = (commit, _unquote(path))  # log is newest first
    result = ScanResult()
    blobs = list(introduced)
    for count, (sha, data) in enumerate(
        zip(blobs, _read_blobs(top, blobs, max_bytes), strict=True), 1
    ):
        if progress is not None:
            progress(count)
        commit, path = introduced[sha]
        found = None if data is None else scan_bytes(data, path, commit=commit)
        if found is None:
            result.files_skipped += 1
            continue
        result.files_scanned += 1
        result.findings.extend(found)
    return result


def scan_staged(repo: str | Path = ".", *, max_bytes: int = DEFAULT_MAX_BYTES) -> ScanResult:
    """Scan the staged content (the index) of every file added or changed in it."""
    top = Path(_git(Path(repo), "rev-parse", "--show-toplevel").strip())
    names = _git(top, "diff", "--cached", "--name-only", "--diff-filter=ACMR", "-z").split("\0")
    paths = [name for name in names if name]
    result = ScanResult()
    for path, data in zip(
        paths, _read_blobs(top, [f":{p}" for p in paths], max_bytes), strict=True
    ):
        found = None if data is None else scan_bytes(data, path)
        if found is None:
            result.files_skipped += 1
            continue
        result.files_scanned += 1
        result.findings.extend(found)
    return result
