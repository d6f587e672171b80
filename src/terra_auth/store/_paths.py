"""Check a SQLite database path before anything opens it, so a bad path is a clear
:class:`~terra_auth.errors.ConfigurationError` (exit 3), never a raw ``OSError``.

The store never creates directories: a missing directory is reported, not made (a typo in
``DATABASE_URL`` must not quietly create a directory tree somewhere else).

Example:
    >>> from sqlalchemy.engine import make_url
    >>> check_sqlite_path(make_url("sqlite:///:memory:")) is None
    True
    >>> try:
    ...     check_sqlite_path(make_url("sqlite:////nonexistent-dir/sub/x.db"))
    ... except ConfigurationError as exc:
    ...     print(exc.hint.split(",")[0])
    create it first (mkdir -p /nonexistent-dir/sub)
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from terra_auth.errors import ConfigurationError
from terra_auth.store._errors import StoreUnavailable
from terra_auth.store._urls import mask_url

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

__all__ = ["check_sqlite_path", "sqlite_file"]

_FIX = (
    "set the database URL (--database-url or DATABASE_URL) to a file in an existing directory "
    "this user can write to, e.g. sqlite:///terra-auth.db"
)
#: errors of the disk itself, not of the path: worth a retry (StoreUnavailable, exit 1)
_TRANSIENT = {errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EAGAIN, errno.EMFILE, errno.ENFILE}


def sqlite_file(url: URL) -> Path | None:
    """The file behind a SQLite URL; None for in-memory databases, URIs and other backends."""
    database = url.database or ""
    if url.get_backend_name() != "sqlite" or database in ("", ":memory:"):
        return None
    if database.startswith("file:") or str(url.query.get("uri", "")).lower() in ("true", "1"):
        return None
    return Path(database).expanduser()


def check_sqlite_path(url: URL) -> Path | None:
    """Refuse a SQLite path that cannot hold the database; return the path (or None).

    Raises :class:`ConfigurationError` when the path is a directory, its directory is missing
    or is a file, or this user cannot create or write files there (SQLite also writes
    ``-wal``/``-shm`` files beside the database); :class:`StoreUnavailable` when the disk
    itself fails (full, I/O error). Nothing is created.
    """
    path = sqlite_file(url)
    if path is None:
        return None
    shown = mask_url(url)
    try:
        _check(path, shown)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        where = exc.filename or os.path.abspath(path.parent)
        if exc.errno in _TRANSIENT:
            raise StoreUnavailable(
                f"the SQLite database {shown} cannot be written: {reason} ({where})",
                hint="free disk space or fix the disk, then retry",
            ) from None
        raise ConfigurationError(
            f"the SQLite database {shown} cannot be used: {reason} ({where})", hint=_FIX
        ) from None
    return path


def _check(path: Path, shown: str) -> None:
    if path.is_dir():
        raise ConfigurationError(
            f"the SQLite database {shown} names a directory, not a file",
            hint="name a file inside it in --database-url or DATABASE_URL, e.g. "
            f"sqlite:///{path / 'terra-auth.db'}",
        )
    parent = Path(os.path.abspath(path.parent))  # "." would say little in a message
    if not parent.is_dir():
        raise _missing_directory(parent, shown)
    if path.exists():
        if not path.is_file():
            raise ConfigurationError(
                f"the SQLite database {shown} is not a regular file", hint=_FIX
            )
        if not os.access(path, os.R_OK | os.W_OK):
            raise ConfigurationError(
                f"the SQLite database {shown} is not readable and writable by this user",
                hint=f"fix the file's permissions (chmod u+rw {path}) or {_FIX}",
            )
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigurationError(
            f"the directory {parent} of the SQLite database {shown} is not writable by this "
            "user (SQLite creates the database and its -wal/-shm files there)",
            hint=_FIX,
        )
    if not path.exists():  # access() can say yes where creating fails (read-only mounts, /proc)
        try:
            with tempfile.TemporaryFile(dir=parent, prefix=".terra-auth-probe-"):
                pass
        except OSError as exc:  # name the directory, not the probe's random file name
            raise OSError(exc.errno, exc.strerror, str(parent)) from None


def _missing_directory(parent: Path, shown: str) -> ConfigurationError:
    """Name the first component of ``parent`` that is missing or is a file."""
    for ancestor in (parent, *parent.parents):
        if ancestor.exists():
            if not ancestor.is_dir():
                return ConfigurationError(
                    f"{ancestor} is a file, not a directory, so the SQLite database {shown} "
                    "cannot be created below it",
                    hint=_FIX,
                )
            break
    return ConfigurationError(
        f"the directory {parent} of the SQLite database {shown} does not exist",
        hint=f"create it first (mkdir -p {parent}), or {_FIX}",
    )
