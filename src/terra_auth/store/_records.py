"""What the store hands back, and how rows and events map to the reducer's states.

Example:
    >>> users, refs = _involved({"type": "user_reauth", "old_user": {"user_id": "a"},
    ...                          "new_user": {"user_id": "b", "reference_id": "r"}})
    >>> sorted(users), sorted(refs)
    (['a', 'b'], ['r'])
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from terra_auth.environments import Environment

if TYPE_CHECKING:
    from terra_auth.webhooks.lifecycle import ConnectionChange, ConnectionState

__all__ = [
    "HEADERS_KEPT",
    "IngestResult",
    "LocalAction",
    "ReplayResult",
    "StoredEvent",
    "delivery_key",
]

#: delivery headers kept with each event (lower-case names); never the signature itself
HEADERS_KEPT = (
    "x-terra-trace-id",
    "terra-reference",
    "x-terra-ordering-timestamp",
    "content-type",
    "user-agent",
)


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What :meth:`Store.ingest` did: ``duplicate`` deliveries have no effect."""

    duplicate: bool
    changes: tuple[ConnectionChange, ...] = ()
    event_id: int | None = None


@dataclass(frozen=True, slots=True)
class ReplayResult:
    """What :meth:`Store.replay_events` did."""

    events: int
    changes: int
    connections_written: int


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """A stored webhook event (``raw_body`` is exactly the bytes Terra signed)."""

    id: int
    trace_id: str
    canonical_trace_id: str
    environment: str
    type: str
    terra_user_id: str | None
    raw_body: bytes = field(repr=False)
    headers: dict[str, str]
    signed_at: datetime | None
    received_at: datetime
    applied_at: datetime | None


@dataclass(frozen=True, slots=True)
class LocalAction:
    """A change this service made on its own (no webhook), e.g. ``action="disconnected"``
    with ``reason="terra_user_not_found"`` when Terra answered 404 to a deauthentication.

    ``after_event_id`` is the newest stored webhook event at that moment (replay order).
    """

    id: int
    environment: str
    terra_user_id: str
    action: str
    reason: str
    detail: dict[str, Any]
    after_event_id: int | None
    created_at: datetime


def _canonical(trace_id: str) -> str:
    from terra_auth.webhooks.lifecycle import canonical_trace_id

    return str(canonical_trace_id(trace_id))


def delivery_key(trace_id: str | None, body: bytes) -> str:
    """The idempotency key of a delivery: the trace id as Terra sent it, chunk number
    included (each chunk carries different data); without a trace id, the body's SHA-256.

    >>> delivery_key("abc:chunk:2", b"{}")
    'abc:chunk:2'
    >>> delivery_key(None, b"{}")[:7]
    'sha256:'
    """
    from terra_auth.webhooks.lifecycle import dedup_key

    return str(dedup_key(trace_id, body))[:255]


def _involved(raw: Any) -> tuple[set[str], set[str]]:
    """Terra user ids and reference ids an event body mentions (any event shape)."""
    users: set[str] = set()
    refs: set[str] = set()
    if not isinstance(raw, Mapping):
        return users, refs
    if isinstance(raw.get("reference_id"), str):
        refs.add(raw["reference_id"])
    for key in ("user", "new_user", "old_user"):
        obj = raw.get(key)
        if isinstance(obj, Mapping):
            if isinstance(obj.get("user_id"), str) and obj["user_id"]:
                users.add(obj["user_id"])
            if isinstance(obj.get("reference_id"), str):
                refs.add(obj["reference_id"])
    if isinstance(raw.get("user_id"), str) and raw["user_id"]:
        users.add(raw["user_id"])
    refs.discard("")
    refs.discard("null")
    return users, refs


def _primary_user(raw: Any) -> str | None:
    if isinstance(raw, Mapping):
        for key in ("user", "new_user"):
            obj = raw.get(key)
            if isinstance(obj, Mapping) and isinstance(obj.get("user_id"), str):
                return str(obj["user_id"])[:128]
    return None


def _to_state(row: Any) -> ConnectionState:
    from terra_auth.webhooks.lifecycle import ConnectionState

    scopes = frozenset(s for s in (row.scopes or "").split(",") if s)
    return ConnectionState(
        terra_user_id=row.terra_user_id,
        reference_id=row.reference_id,
        provider=row.provider,
        environment=Environment.parse(row.environment),
        status=row.status,
        scopes=scopes,
        connected_at=row.connected_at,
        updated_at=row.updated_at,
        last_event_at=row.last_event_at,
    )


def _row_values(state: ConnectionState) -> dict[str, Any]:
    return {
        "terra_user_id": state.terra_user_id,
        "reference_id": state.reference_id,
        "provider": state.provider,
        "environment": str(state.environment),
        "status": str(state.status),
        "scopes": ",".join(sorted(state.scopes)),
        "connected_at": state.connected_at,
        "updated_at": state.updated_at or _now(),
        "last_event_at": state.last_event_at,
    }
