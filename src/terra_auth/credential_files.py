"""Credential files on disk: private atomic writes, backups, and keeping them out of git.

Configuration-level helpers (no HTTP), shared by ``terra-auth setup-environment``, ``doctor``
and the emulator's ``--write-env``.

Example:
    >>> from pathlib import Path
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> write_private_file(folder / ".env.terra.testing", "TERRA_DEV_ID=acme-testing-1\n")
    >>> oct((folder / ".env.terra.testing").stat().st_mode & 0o777)
    '0o600'
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import subprocess
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from terra_auth.errors import ConfigurationError

__all__ = [
    "GITIGNORE_PATTERN",
    "backup_file",
    "ensure_gitignored",
    "git",
    "in_git_repo",
    "write_private_file",
]

#: The .gitignore line that keeps every terra-auth credential file out of git.
GITIGNORE_PATTERN = ".env.terra*"


def _fsync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_private_file(path: Path, text: str) -> None:
    """Write ``path`` atomically with mode 0600: temp file, fsync, ``os.replace``.

    The temporary file is named ``<name>.tmp-*`` so ``.gitignore``'s ``.env.terra*`` covers it.
    """
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f"{path.name}.tmp-")
    try:
        if hasattr(os, "fchmod"):  # POSIX; mkstemp already creates the file 0600
            os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)


def backup_file(path: Path) -> Path:
    """Copy ``path`` to ``<name>.bak-<UTC time>`` with mode 0600 (never overwriting)."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    data = path.read_bytes()
    for attempt in range(100):
        suffix = f".bak-{stamp}" + (f"-{attempt}" if attempt else "")
        target = path.with_name(path.name + suffix)
        try:
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(target, 0o600)
        return target
    raise ConfigurationError(
        f"cannot find a free backup name next to {path}", hint="delete old .bak- files"
    )


def git(directory: Path, *args: str) -> subprocess.CompletedProcess[str] | None:
    """Run git in ``directory``; None when git is not installed."""
    git = shutil.which("git")
    if git is None:
        return None
    return subprocess.run(  # noqa: S603 (fixed git arguments, no shell)
        [git, "-C", str(directory), *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def in_git_repo(directory: Path) -> bool | None:
    """True/False, or None when git is not installed."""
    result = git(directory, "rev-parse", "--is-inside-work-tree")
    if result is None:
        return None
    return result.returncode == 0 and result.stdout.strip() == "true"


def _gitignore_covers(gitignore: Path, name: str) -> bool:
    if not gitignore.is_file():
        return False
    covered = False
    for raw in gitignore.read_text(encoding="utf-8", errors="replace").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        pattern = line.lstrip("!").lstrip("/").removeprefix("**/")
        if "/" not in pattern.rstrip("/") and fnmatch.fnmatchcase(name, pattern):
            covered = not negated
    return covered


def ensure_gitignored(directory: Path, name: str) -> str:
    """Make sure ``name`` in ``directory`` is ignored by git; returns what was done."""
    if in_git_repo(directory):
        result = git(directory, "check-ignore", "-q", "--", name)
        if result is not None and result.returncode == 0:
            return "already ignored"
    elif _gitignore_covers(directory / ".gitignore", name):
        return "already ignored"
    gitignore = directory / ".gitignore"
    existed = gitignore.exists()
    prefix = ""
    if existed:
        current = gitignore.read_bytes()
        if current and not current.endswith(b"\n"):
            prefix = "\n"
    with gitignore.open("a", encoding="utf-8") as handle:
        handle.write(f"{prefix}# terra-auth credentials: never commit them\n{GITIGNORE_PATTERN}\n")
    return f"{'added' if existed else 'created with'} {GITIGNORE_PATTERN}"
