"""The PostgreSQL hot path of :meth:`Store.ingest`: the first four statements of a delivery's
transaction (claim the idempotency key, take the advisory locks, insert the event, load the
connections ``FOR UPDATE``) sent in one psycopg pipeline, so they cost one network round trip
instead of five (``BEGIN`` included). Same statements, same order, same transaction as the
SQLAlchemy path: a duplicate is still rolled back, and the locks are still taken in key order.

Example:
    >>> _LOCK.startswith("SELECT pg_advisory_xact_lock")
    True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

__all__ = ["claim_and_load"]

_CLAIM = (
    "INSERT INTO idempotency (environment, trace_id, canonical_trace_id, created_at) "
    "VALUES (%s, %s, %s, %s) ON CONFLICT (environment, trace_id) DO NOTHING RETURNING id"
)
_LOCK = (
    "SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) "
    "FROM (SELECT unnest(%s::text[]) AS k ORDER BY 1) AS sorted_keys"
)
_EVENT = (
    "INSERT INTO webhook_events (trace_id, canonical_trace_id, environment, type, terra_user_id, "
    "raw_body, headers, signed_at, received_at, applied_at) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id"
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
    "deauth_requested_at",
)
_TIMES = ("connected_at", "updated_at", "last_event_at", "deauth_requested_at")
_LOAD = (
    "SELECT "  # noqa: S608 (constant column names, bound values)
    + ", ".join(_COLUMNS)
    + " FROM connections WHERE terra_user_id = ANY(%s::text[]) OR reference_id = ANY(%s::text[])"
    " FOR UPDATE"
)


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC)


def claim_and_load(
    raw: Any,
    claim: Mapping[str, Any],
    event: Mapping[str, Any],
    *,
    lock_keys: Sequence[str],
    users: Sequence[str],
    refs: Sequence[str],
) -> tuple[int, list[SimpleNamespace]] | None:
    """Run the four statements on the psycopg connection ``raw`` (inside the caller's
    transaction) in one pipeline; return (event id, connection rows), or None for a
    duplicate delivery (the caller rolls back: the event insert and the locks go with it).

    Raises psycopg's errors unchanged (the caller maps them).
    """
    from psycopg.types.json import Json

    with raw.pipeline():
        claimed = raw.execute(
            _CLAIM,
            (
                claim["environment"],
                claim["trace_id"],
                claim["canonical_trace_id"],
                claim["created_at"],
            ),
        )
        if lock_keys:
            raw.execute(_LOCK, (list(lock_keys),))
        added = raw.execute(
            _EVENT,
            (
                event["trace_id"],
                event["canonical_trace_id"],
                event["environment"],
                event["type"],
                event["terra_user_id"],
                event["raw_body"],
                Json(event["headers"]),
                event["signed_at"],
                event["received_at"],
                event["applied_at"],
            ),
        )
        loaded = raw.execute(_LOAD, (list(users), list(refs))) if users or refs else None
        got = claimed.fetchone()  # the pipeline is sent here: one round trip for all four
        if got is None:
            return None
        event_id = int(added.fetchone()[0])
        rows = []
        for values in loaded.fetchall() if loaded is not None else ():
            row = dict(zip(_COLUMNS, values, strict=True))
            for name in _TIMES:
                row[name] = _utc(row[name])
            rows.append(SimpleNamespace(**row))
        return event_id, rows
