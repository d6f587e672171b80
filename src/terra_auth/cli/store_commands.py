"""``terra-auth db`` (migrations) and ``terra-auth events`` (replay of stored webhooks).

Example::

    $ terra-auth db upgrade --database-url sqlite:///terra-auth.db
    database sqlite:///terra-auth.db is at revision 0002_local_actions (head)
    $ terra-auth events replay --since 2026-07-01T00:00:00Z
    replayed 12 events: 9 changes, 4 connections rewritten
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

from terra_auth.cli._output import echo, echo_json, json_option
from terra_auth.errors import ConfigurationError

if TYPE_CHECKING:
    from terra_auth.store import Store

__all__ = ["db", "events"]

_DEFAULT_URL = "sqlite:///terra-auth.db"

database_url_option = click.option(
    "--database-url",
    "database_url",
    default=None,
    metavar="URL",
    help="SQLAlchemy URL (default: $DATABASE_URL, else sqlite:///terra-auth.db).",
)


def _open(database_url: str | None) -> Store:
    from terra_auth.store import Store

    return Store(database_url or os.environ.get("DATABASE_URL") or _DEFAULT_URL)


def _parse_since(value: str | None) -> datetime | None:
    if value is None:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigurationError(
            f"--since {value!r} is not an ISO-8601 date or time",
            hint="write e.g. --since 2026-07-01 or --since 2026-07-01T12:00:00Z",
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@click.group()
def db() -> None:
    """Database migrations (SQLite by default, PostgreSQL via DATABASE_URL)."""


@db.command()
@database_url_option
@json_option
def upgrade(database_url: str | None, as_json: bool) -> None:
    """Create or migrate the tables to the newest revision (safe to run again)."""
    store = _open(database_url)
    try:
        store.upgrade()
        revision = store.current_revision()
    finally:
        store.close()
    if as_json:
        echo_json({"database": store.masked_url, "revision": revision, "head": True})
        return
    echo(f"database {store.masked_url} is at revision {revision} (head)")


@db.command()
@database_url_option
@json_option
def current(database_url: str | None, as_json: bool) -> None:
    """Show the database's migration revision and whether it is the newest."""
    from terra_auth.store import Store

    store = _open(database_url)
    try:
        revision = store.current_revision()
    finally:
        store.close()
    head = Store.head_revision()
    if as_json:
        echo_json({"database": store.masked_url, "revision": revision, "head": revision == head})
        return
    if revision is None:
        echo(f"database {store.masked_url} has no terra-auth tables yet")
        echo("hint: run `terra-auth db upgrade`", err=True)
    elif revision == head:
        echo(f"database {store.masked_url} is at revision {revision} (head)")
    else:
        echo(f"database {store.masked_url} is at revision {revision}; newest is {head}")
        echo("hint: run `terra-auth db upgrade`", err=True)


@click.group()
def events() -> None:
    """Stored webhook events."""


@events.command()
@database_url_option
@click.option(
    "--since",
    default=None,
    metavar="WHEN",
    help="Rewrite only connections touched by events received at or after this ISO time.",
)
@json_option
def replay(database_url: str | None, since: str | None, as_json: bool) -> None:
    """Re-apply stored events to the connections (idempotent: safe to run twice)."""
    moment = _parse_since(since)
    store = _open(database_url)
    try:
        result = store.replay_events(since=moment)
    finally:
        store.close()
    if as_json:
        echo_json(
            {
                "events": result.events,
                "changes": result.changes,
                "connections_written": result.connections_written,
            }
        )
        return
    echo(
        f"replayed {result.events} events: {result.changes} changes, "
        f"{result.connections_written} connections rewritten"
    )
