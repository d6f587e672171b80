"""Database URLs: validation, the psycopg 3 driver by default, and password masking.

Example:
    >>> mask_url("postgresql://app:hunter22@db.internal/terra")
    'postgresql://app:***@db.internal/terra'
    >>> str(normalize_url("postgres://app@localhost/terra").drivername)
    'postgresql+psycopg'
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from terra_auth.errors import ConfigurationError
from terra_auth.secret import Secret

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

__all__ = ["DEFAULT_DATABASE_URL", "mask_url", "normalize_url"]

DEFAULT_DATABASE_URL = "sqlite:///terra-auth.db"

_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<user>[^:/@\s]*):[^@\s]*@")
_EXAMPLES = "use sqlite:///path/to/terra-auth.db or postgresql+psycopg://USER:PASSWORD@HOST:5432/DB"


def mask_url(url: str | URL) -> str:
    """``url`` with any password replaced by ``***`` (works on unparseable text too)."""
    if not isinstance(url, str):
        return url.render_as_string(hide_password=True)
    return _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:***@", url)


def normalize_url(database_url: str) -> URL:
    """Parse and check a database URL; ``postgres(ql)://`` gets the psycopg 3 driver.

    Raises :class:`~terra_auth.errors.ConfigurationError` naming the (masked) URL.
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    text = (database_url or "").strip()
    if not text:
        raise ConfigurationError("the database URL is empty", hint=_EXAMPLES)
    try:
        url = make_url(text)
    except (ArgumentError, ValueError) as exc:
        raise ConfigurationError(
            f"the database URL {mask_url(text)!r} is not valid", hint=_EXAMPLES
        ) from exc
    if url.password:
        Secret(str(url.password))  # registered, so logs mask it
    # from the text, not the dialect registry (which does not know ``postgres://``)
    backend, _, driver = url.drivername.partition("+")
    if backend in ("postgres", "postgresql"):
        if driver not in ("", "psycopg", "postgres", "postgresql"):
            raise ConfigurationError(
                f"the database URL {mask_url(url)!r} names the driver {driver!r}; "
                "terra-auth uses psycopg 3",
                hint="write postgresql+psycopg://... (pip install 'terra-auth[postgres]')",
            )
        return url.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        if driver not in ("", "pysqlite"):
            raise ConfigurationError(
                f"the database URL {mask_url(url)!r} names the SQLite driver {driver!r}",
                hint="write sqlite:///path/to/terra-auth.db",
            )
        return url
    raise ConfigurationError(
        f"the database URL {mask_url(url)!r} uses {backend!r}, which terra-auth does not support",
        hint=_EXAMPLES,
    )
