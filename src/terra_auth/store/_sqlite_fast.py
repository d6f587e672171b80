"""The SQLite fast path of :meth:`Store.ingest`: the same statements as the SQLAlchemy path,
run on the raw ``sqlite3`` connection, with group commit (deliveries that arrive while a commit
is in progress share the next transaction, one SAVEPOINT each, so one fsync serves them all).

On SQLite, SQLAlchemy's per-statement bookkeeping costs more than SQLite's own work, so the
hot path skips it; values are stored exactly as SQLAlchemy stores them (datetimes as
``YYYY-MM-DD HH:MM:SS.ffffff`` UTC text, JSON as text), so every other method reads them back
through SQLAlchemy unchanged. ``tests/store`` runs ingest both ways and compares.

Example:
    >>> to_text(datetime(2026, 7, 1, 12, 0, tzinfo=UTC))
    '2026-07-01 12:00:00.000000'
    >>> from_text('2026-07-01 12:00:00.000000')
    datetime.datetime(2026, 7, 1, 12, 0, tzinfo=datetime.timezone.utc)
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from terra_auth.webhooks.lifecycle import ConnectionState

__all__ = ["SUPPORTED", "Job", "from_text", "run_batch", "to_text"]

#: RETURNING needs SQLite 3.35
SUPPORTED = sqlite3.sqlite_version_info >= (3, 35, 0)

_CLAIM = (
    "INSERT INTO idempotency (environment, trace_id, canonical_trace_id, created_at) "
    "VALUES (?, ?, ?, ?) ON CONFLICT (environment, trace_id) DO NOTHING RETURNING id"
)
_EVENT = (
    "INSERT INTO webhook_events (trace_id, canonical_trace_id, environment, type, terra_user_id, "
    "raw_body, headers, signed_at, received_at, applied_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id"
)
_COLUMNS = (
    "terra_user_id",
    "reference_id",
    "provider",
    "environment",
    "status",
    "scopes",
    "connected_at",
    "updated_at",
    "last_event_at",
)
_TIMES = ("connected_at", "updated_at", "last_event_at")
# built from the constant column names above; every value is a bound parameter
_LOAD = "SELECT " + ", ".join(_COLUMNS) + " FROM connections WHERE terra_user_id IN ({users})"  # noqa: S608
_LOAD_REFS = " OR reference_id IN ({refs})"
_UPSERT = (
    "INSERT INTO connections ("  # noqa: S608 (constant column names, bound values)
    + ", ".join(_COLUMNS)
    + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (terra_user_id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS[1:])
)
_DELETE = "DELETE FROM connections WHERE terra_user_id = ?"


def to_text(moment: datetime | None) -> str | None:
    """A datetime as SQLAlchemy stores it in SQLite (naive UTC text)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def from_text(text: str | None) -> datetime | None:
    """The inverse of :func:`to_text` (an aware UTC datetime)."""
    if text is None:
        return None
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@dataclass(eq=False)
class Job:
    """One delivery waiting to be ingested; the batch leader fills ``result`` or ``error``."""

    claim: Mapping[str, Any]
    event: Mapping[str, Any]
    users: Sequence[str]
    refs: Sequence[str]
    reduce: Callable[[dict[str, ConnectionState]], tuple[list[Any], dict[str, ConnectionState]]]
    #: (event id, changes), or None for a duplicate delivery
    result: tuple[int, list[Any]] | None = None
    error: BaseException | None = None
    done: bool = False
    #: set by ``Store.ingest_async``: the loop to wake and the future it awaits
    loop: asyncio.AbstractEventLoop | None = None
    future: asyncio.Future[None] | None = None


class _Duplicate(Exception):
    pass


def _load(
    cur: sqlite3.Cursor,
    users: Sequence[str],
    refs: Sequence[str],
    to_state: Callable[[Any], ConnectionState],
) -> dict[str, ConnectionState]:
    if not users and not refs:
        return {}
    sql = _LOAD.format(users=", ".join("?" * len(users)) or "NULL")
    if refs:
        sql += _LOAD_REFS.format(refs=", ".join("?" * len(refs)))
    found: dict[str, ConnectionState] = {}
    for values in cur.execute(sql, [*users, *refs]):
        row = dict(zip(_COLUMNS, values, strict=True))
        for name in _TIMES:
            row[name] = from_text(row[name])
        found[row["terra_user_id"]] = to_state(SimpleNamespace(**row))
    return found


def run_batch(
    raw: sqlite3.Connection,
    jobs: Sequence[Job],
    *,
    now: Callable[[], datetime],
    to_state: Callable[[Any], ConnectionState],
    row_values: Callable[[ConnectionState], dict[str, Any]],
) -> None:
    """Ingest ``jobs`` in ONE transaction (group commit: one fsync for the batch).

    Each job runs inside its own SAVEPOINT, so a duplicate or a failing job leaves the others
    intact; a failure of the transaction itself (locked, disk) marks every job with it.
    """
    cur = raw.cursor()
    try:
        cur.execute("BEGIN IMMEDIATE")
        for job in jobs:
            cur.execute("SAVEPOINT job")
            try:
                job.result = _one(cur, job, now(), to_state, row_values)
            except _Duplicate:
                cur.execute("ROLLBACK TO job")
            except Exception as exc:  # this job fails alone (and answers 500/503)
                cur.execute("ROLLBACK TO job")
                job.error = exc
            cur.execute("RELEASE job")
        cur.execute("COMMIT")
    except BaseException:
        if raw.in_transaction:
            cur.execute("ROLLBACK")
        for job in jobs:
            job.result = None
        raise
    finally:
        cur.close()
    for job in jobs:
        job.done = True


def _one(
    cur: sqlite3.Cursor,
    job: Job,
    at: datetime,
    to_state: Callable[[Any], ConnectionState],
    row_values: Callable[[ConnectionState], dict[str, Any]],
) -> tuple[int, list[Any]]:
    claim, event = job.claim, job.event
    got = cur.execute(
        _CLAIM,
        (claim["environment"], claim["trace_id"], claim["canonical_trace_id"], to_text(at)),
    ).fetchone()
    if got is None:
        raise _Duplicate
    event_id = cur.execute(
        _EVENT,
        (
            event["trace_id"],
            event["canonical_trace_id"],
            event["environment"],
            event["type"],
            event["terra_user_id"],
            event["raw_body"],
            json.dumps(event["headers"]),
            to_text(event["signed_at"]),
            to_text(event["received_at"]),
            to_text(at),
        ),
    ).fetchone()[0]
    before = _load(cur, job.users, job.refs, to_state)
    changes, after = job.reduce(before)
    for uid in sorted(set(before) | set(after)):
        state = after.get(uid)
        if state is None:
            cur.execute(_DELETE, (uid,))
        elif before.get(uid) != state:
            values = row_values(state)
            cur.execute(
                _UPSERT, [to_text(values[c]) if c in _TIMES else values[c] for c in _COLUMNS]
            )
    return int(event_id), changes
