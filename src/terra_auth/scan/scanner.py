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

import functools
import itertools
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from terra_auth.errors import ConfigurationError, TerraAuthError
from terra_auth.scan.findings import Finding
from terra_auth.scan.rules import scan_text

__all__ = [
    "DEFAULT_MAX_BYTES",
    "PARALLEL_FROM",
    "SKIPPED_DIRS",
    "ScanResult",
    "iter_files",
    "read_file",
    "scan_bytes",
    "scan_git_history",
    "scan_paths",
    "scan_staged",
    "text_of",
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
#: trees with at least this many files are scanned by a process pool (when ``workers`` allows)
PARALLEL_FROM = 1000
_CHUNK = 250  # files per pool task
_MAX_WORKERS = 8  # a CI container may see many more CPUs than its quota lets it use

Progress = Callable[[int], None]


@dataclass(slots=True)
class ScanResult:
    """What a scan found, and how many texts it read or skipped."""

    findings: list[Finding] = field(default_factory=list)
    files_scanned: int = 0
    files_skipped: int = 0

    def add(self, data: bytes | None, path: str, commit: str | None = None) -> None:
        """Scan one file's bytes (None: unreadable or too large, counted as skipped)."""
        found = None if data is None else scan_bytes(data, path, commit=commit)
        if found is None:
            self.files_skipped += 1
        else:
            self.files_scanned += 1
            self.findings.extend(found)


def text_of(data: bytes, max_bytes: int | None = None) -> str | None:
    """A file's text, or None when it is binary (a NUL byte early on) or over ``max_bytes``."""
    if (max_bytes is not None and len(data) > max_bytes) or b"\0" in data[:_BINARY_SNIFF]:
        return None
    return data.decode("utf-8", errors="replace")


def scan_bytes(data: bytes, path: str, *, commit: str | None = None) -> list[Finding] | None:
    """Findings in one file's bytes, or None when the bytes look binary."""
    text = text_of(data)
    if text is None:
        return None
    return [Finding.from_match(m, path, commit) for m in scan_text(text, path)]


# -- working tree ---------------------------------------------------------------------------


class _IgnoreRules:
    """The ``.gitignore`` files from the repository's top down to each folder (pathspec).

    Every folder gets the chain of (folder, spec) pairs that apply to it, built once; a path is
    matched against each, relative to that spec's folder, and the deepest verdict wins.
    """

    def __init__(self, top: str) -> None:
        import pathspec

        self._pathspec = pathspec
        self.top = top
        exclude = self._load(os.path.join(top, ".git", "info", "exclude"))
        self._base: tuple[tuple[str, Any], ...] = ((top, exclude),) if exclude else ()
        self._chains: dict[str, tuple[tuple[str, Any], ...]] = {}

    def _load(self, file: str) -> Any:
        try:
            with open(file, encoding="utf-8", errors="replace") as handle:
                lines = handle.read().splitlines()
        except OSError:
            return None
        return self._pathspec.GitIgnoreSpec.from_lines(lines)

    def _chain(self, directory: str) -> tuple[tuple[str, Any], ...]:
        chain = self._chains.get(directory)
        if chain is None:
            parent = os.path.dirname(directory)
            inside = directory.startswith(self.top + os.sep) and parent != directory
            chain = self._chain(parent) if inside else self._base
            own = self._load(os.path.join(directory, ".gitignore"))
            if own is not None:
                chain = (*chain, (directory, own))
            self._chains[directory] = chain
        return chain

    def ignored(self, directory: str, name: str, is_dir: bool) -> bool:
        """Whether git would ignore ``name`` in the absolute folder ``directory``."""
        chain = self._chain(directory)
        if not chain:
            return False
        full = os.path.join(directory, name)
        suffix = "/" if is_dir else ""
        verdict: bool | None = None
        for base, spec in chain:
            relative = full[len(base) + 1 :].replace(os.sep, "/") + suffix
            include = spec.check_file(relative).include
            if include is not None:
                verdict = include
        return bool(verdict)


def _git_top(start: str) -> str | None:
    current = start
    while True:
        if os.path.exists(os.path.join(current, ".git")):
            return current
        parent = os.path.dirname(current)
        if parent == current:
            return None
        current = parent


def iter_files(paths: Iterable[str | Path], *, respect_gitignore: bool = True) -> Iterator[str]:
    """Every file to scan under ``paths``, in a stable order; named files always come out."""
    for path, _ in _files_to_scan(paths, respect_gitignore=respect_gitignore):
        yield path


def _files_to_scan(
    paths: Iterable[str | Path], *, respect_gitignore: bool
) -> Iterator[tuple[str, str]]:
    """``(path, display path)`` of every file to scan under ``paths``."""
    for raw in paths:
        root = os.fspath(raw)
        if os.path.isfile(root):
            yield root, _display(root)
            continue
        if not os.path.isdir(root):
            raise ConfigurationError(
                f"cannot scan {root!r}: no such file or folder",
                hint="pass existing files or folders (default: the current folder)",
            )
        rules = None
        absolute = os.path.realpath(root)
        if respect_gitignore:
            rules = _load_ignore_rules(_git_top(absolute) or absolute)
        yield from _walk(root, absolute, rules)


def _load_ignore_rules(top: str) -> _IgnoreRules:
    try:
        return _IgnoreRules(top)
    except ImportError as exc:
        raise ConfigurationError(
            "honouring .gitignore needs the 'pathspec' package",
            hint="pip install 'terra-auth[scan]' (or pass --no-gitignore)",
        ) from exc


def _walk(root: str, absolute: str, rules: _IgnoreRules | None) -> Iterator[tuple[str, str]]:
    """``(path, display path)`` of the regular files under ``root``, as ``os.walk`` orders them.

    Folders top-down, names sorted, a folder's files before its subfolders. Symbolic links are
    neither followed nor scanned; ``os.scandir`` tells files from folders without a ``stat``.
    ``absolute`` is ``root`` resolved (gitignore patterns are matched against it).
    """
    stack = [(root, _display(root), absolute)]
    while stack:
        directory, shown, real = stack.pop()
        try:
            with os.scandir(directory) as listing:
                entries = sorted(listing, key=_entry_name)
        except OSError:
            continue
        subdirs = []
        for entry in entries:
            name = entry.name
            try:
                if entry.is_symlink():
                    continue
                is_dir = entry.is_dir(follow_symlinks=False)
                if not is_dir and not entry.is_file(follow_symlinks=False):
                    continue  # a FIFO, socket or device: reading it could block
            except OSError:
                continue
            if is_dir and (
                name in SKIPPED_DIRS or os.path.exists(os.path.join(entry.path, "pyvenv.cfg"))
            ):
                continue
            if rules is not None and rules.ignored(real, name, is_dir):
                continue
            if is_dir:
                subdirs.append(entry)
            else:
                yield entry.path, _display_in(shown, entry.path, name)
        for entry in reversed(subdirs):
            name = entry.name
            shown_dir = _display_in(shown, entry.path, name)
            stack.append((entry.path, shown_dir, os.path.join(real, name)))


def _entry_name(entry: os.DirEntry[str]) -> str:
    return entry.name


def _display(path: str) -> str:
    if os.path.isabs(path):
        relative = os.path.relpath(path)
        text = path if relative.startswith("..") else relative
    else:
        text = os.path.normpath(path)
    return text.replace(os.sep, "/")


def _display_in(folder: str, path: str, name: str) -> str:
    """``_display(path)`` for ``path``, ``name`` in a folder displayed as ``folder``, cheaper."""
    if name.startswith(".."):  # "..name" in the current folder: let _display decide
        return _display(path)
    if folder == ".":
        return name
    return folder + name if folder.endswith("/") else f"{folder}/{name}"


def read_file(path: str, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes | None:
    """A file's bytes, or None when it cannot be read or is larger than ``max_bytes``.

    ``os.open`` and ``os.read`` sized from ``fstat``: no buffered reader, and no buffer of
    ``max_bytes`` allocated per file.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    except OSError:
        return None
    parts: list[bytes] = []
    total = 0
    try:
        size = os.fstat(fd).st_size
        if size > max_bytes:
            return None
        want = size + 1  # one byte more shows a file that grew since fstat
        while total <= max_bytes:
            chunk = os.read(fd, min(want, max_bytes + 1 - total))
            if not chunk:
                break
            parts.append(chunk)
            total += len(chunk)
            want = 1 << 16
    except OSError:
        return None
    finally:
        os.close(fd)
    if total > max_bytes:
        return None
    return parts[0] if len(parts) == 1 else b"".join(parts)


def _scan_files(files: Sequence[tuple[str, str]], max_bytes: int) -> ScanResult:
    """Read and scan ``(path, display path)`` pairs (also the work of one pool task)."""
    result = ScanResult()
    for path, shown in files:
        result.add(read_file(path, max_bytes), shown)
    return result


def scan_paths(
    paths: Sequence[str | Path] = (".",),
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    respect_gitignore: bool = True,
    progress: Progress | None = None,
    workers: int | None = None,
) -> ScanResult:
    """Scan files and folders (folders recursively, honouring ``.gitignore``).

    ``workers``: processes that read and scan files. ``None`` (the default) uses every CPU for
    trees of at least :data:`PARALLEL_FROM` files (on Linux, called from a single-threaded
    program) and this process otherwise. Findings come out in the same order either way.
    """
    files = _files_to_scan(paths, respect_gitignore=respect_gitignore)
    head = list(itertools.islice(files, PARALLEL_FROM))
    count = _pool_size(workers) if len(head) == PARALLEL_FROM else 1
    if count > 1:
        return _scan_in_pool(itertools.chain(head, files), max_bytes, count, progress)
    result = ScanResult()
    for done, (path, shown) in enumerate(itertools.chain(head, files), 1):
        if progress is not None:
            progress(done)
        result.add(read_file(path, max_bytes), shown)
    return result


def _pool_size(workers: int | None) -> int:
    if workers is not None:
        return max(1, workers)
    if not sys.platform.startswith("linux") or threading.active_count() > 1:
        return 1  # fork is safe only without other threads; elsewhere stay in one process
    return min(len(os.sched_getaffinity(0)), _MAX_WORKERS)


def _ignore_interrupts() -> None:
    """In a pool process: Ctrl-C is the parent's to handle (it then stops the pool)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _chunks(files: Iterator[tuple[str, str]]) -> Iterator[list[tuple[str, str]]]:
    while chunk := list(itertools.islice(files, _CHUNK)):
        yield chunk


def _scan_in_pool(
    files: Iterator[tuple[str, str]], max_bytes: int, count: int, progress: Progress | None
) -> ScanResult:
    """Scan with ``count`` forked processes, chunk by chunk, keeping the serial order.

    A worker that dies (killed, out of memory) stops the scan with an error instead of a hang.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else None
    result = ScanResult()
    done = 0
    pool = ProcessPoolExecutor(
        count, mp_context=multiprocessing.get_context(method), initializer=_ignore_interrupts
    )
    try:
        work = functools.partial(_scan_files, max_bytes=max_bytes)
        for part in pool.map(work, _chunks(files)):
            result.findings.extend(part.findings)
            result.files_scanned += part.files_scanned
            result.files_skipped += part.files_skipped
            if progress is not None:
                for n in range(done + 1, done + part.files_scanned + part.files_skipped + 1):
                    progress(n)
            done += part.files_scanned + part.files_skipped
    except BrokenProcessPool:
        raise TerraAuthError(
            "a scan worker process died before finishing (killed, or out of memory?)",
            hint="run the scan in one process: terra-auth scan --jobs 1",
        ) from None
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return result


# -- git ------------------------------------------------------------------------------------


def _repo_top(repo: str | Path) -> Path:
    start = Path(repo)
    if start.is_file():
        start = start.parent
    return Path(_git(start, "rev-parse", "--show-toplevel").strip())


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
    top = _repo_top(repo)
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
        result.add(data, path, commit)
    return result


def scan_staged(repo: str | Path = ".", *, max_bytes: int = DEFAULT_MAX_BYTES) -> ScanResult:
    """Scan the staged content (the index) of every file added or changed in it."""
    top = _repo_top(repo)
    names = _git(top, "diff", "--cached", "--name-only", "--diff-filter=ACMR", "-z").split("\0")
    paths = [name for name in names if name]
    result = ScanResult()
    for path, data in zip(
        paths, _read_blobs(top, [f":{p}" for p in paths], max_bytes), strict=True
    ):
        result.add(data, path)
    return result
