"""The connection lifecycle as a pure reducer: (connections, event) -> changes.

Connections are keyed by Terra user id. :func:`reduce_event` never mutates its input and is
idempotent: once its changes are applied, the same event again yields no change. Deliveries
are deduplicated by ``X-Terra-Trace-Id`` (:class:`Deduplicator`); chunks of one large request
(``<id>:chunk:<n>``) are distinct deliveries that share :func:`canonical_trace_id`.

Example:
    >>> from datetime import datetime, timezone
    >>> from terra_auth.webhooks import parse_event
    >>> now = datetime(2026, 7, 1, tzinfo=timezone.utc)
    >>> auth = parse_event({"type": "auth", "status": "success",
    ...                     "user": {"user_id": "u-1", "provider": "GARMIN", "reference_id": "r"}})
    >>> changes = reduce_event({}, auth, environment="testing", received_at=now)
    >>> [c.kind for c in changes], changes[0].state.status
    (['connected'], 'connected')
    >>> state = apply_changes({}, changes)
    >>> reduce_event(state, auth, environment="testing", received_at=now)
    []
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal, TypeAlias

from terra_auth.environments import Environment
from terra_auth.webhooks.events import (
    AccessRevokedEvent,
    AuthCancelledEvent,
    AuthSuccessEvent,
    ConnectionErrorEvent,
    DeauthEvent,
    EventUser,
    LegacyAuthErrorEvent,
    PermissionChangeEvent,
    UserReauthEvent,
    WebhookEvent,
)

__all__ = [
    "ChangeKind",
    "ConnectionChange",
    "ConnectionState",
    "ConnectionStatus",
    "Deduplicator",
    "apply_changes",
    "canonical_trace_id",
    "dedup_key",
    "reduce_event",
]

ConnectionStatus: TypeAlias = Literal["connected", "degraded", "revoked", "disconnected"]
ChangeKind: TypeAlias = Literal[
    "connected",
    "cancelled",
    "disconnected",
    "reauthenticated",
    "revoked",
    "degraded",
    "scopes_changed",
]


@dataclass(frozen=True, slots=True)
class ConnectionState:
    """One Terra user connection as the service knows it."""

    terra_user_id: str
    reference_id: str | None
    provider: str
    environment: Environment
    status: ConnectionStatus
    scopes: frozenset[str]
    connected_at: datetime | None
    updated_at: datetime
    last_event_at: datetime


@dataclass(frozen=True, slots=True)
class ConnectionChange:
    """What one event changed. ``state`` is the new state (``None`` for ``cancelled``:
    no connection exists); ``replaces_user_id`` is the old id of a ``reauthenticated``."""

    kind: ChangeKind
    terra_user_id: str | None
    reference_id: str | None
    provider: str | None
    state: ConnectionState | None
    replaces_user_id: str | None = None


_CHUNK = re.compile(r"^(?P<base>.*?):chunk:(?P<n>\d+)$", re.IGNORECASE)


def canonical_trace_id(trace_id: str) -> str:
    """The delivery's trace id without a ``:chunk:<n>`` suffix.

    >>> canonical_trace_id("7b1f:chunk:3"), canonical_trace_id("7b1f")
    ('7b1f', '7b1f')
    """
    trace_id = trace_id.strip()
    match = _CHUNK.match(trace_id)
    return match.group("base") if match else trace_id


def dedup_key(trace_id: str | None, body: bytes = b"") -> str:
    """The idempotency key of a delivery: its trace id, chunk number included (each chunk
    carries different data), or the body's SHA-256 when there is no trace id.

    >>> dedup_key("7b1f:CHUNK:03"), dedup_key("7b1f")
    ('7b1f:chunk:3', '7b1f')
    >>> dedup_key(None, b"{}")[:7]
    'sha256:'
    """
    if not trace_id or not trace_id.strip():
        return "sha256:" + hashlib.sha256(body).hexdigest()
    trace_id = trace_id.strip()
    match = _CHUNK.match(trace_id)
    if match is None:
        return trace_id
    return f"{match.group('base')}:chunk:{int(match.group('n'))}"


class Deduplicator:
    """Remembers the last ``max_size`` delivery keys (in memory, thread-safe).

    >>> seen = Deduplicator()
    >>> seen.first_time("t-1"), seen.first_time("t-1"), seen.first_time("t-1:chunk:2")
    (True, False, True)
    """

    def __init__(self, max_size: int = 100_000) -> None:
        self._keys: OrderedDict[str, None] = OrderedDict()
        self._max = max_size
        self._lock = threading.Lock()

    def first_time(self, trace_id: str | None, body: bytes = b"") -> bool:
        """True the first time a delivery is seen (and records it); False for a replay."""
        key = dedup_key(trace_id, body)
        with self._lock:
            if key in self._keys:
                self._keys.move_to_end(key)
                return False
            self._keys[key] = None
            if len(self._keys) > self._max:
                self._keys.popitem(last=False)
            return True

    def __contains__(self, trace_id: object) -> bool:
        return isinstance(trace_id, str) and dedup_key(trace_id) in self._keys

    def __len__(self) -> int:
        return len(self._keys)


def _change(
    kind: ChangeKind, state: ConnectionState, replaces: str | None = None
) -> ConnectionChange:
    return ConnectionChange(
        kind, state.terra_user_id, state.reference_id, state.provider, state, replaces
    )


def _same(a: ConnectionState, b: ConnectionState) -> bool:
    """Equal apart from the bookkeeping times."""
    return (a.status, a.scopes, a.reference_id, a.provider, a.environment) == (
        b.status,
        b.scopes,
        b.reference_id,
        b.provider,
        b.environment,
    )


def _state(
    user: EventUser,
    old: ConnectionState | None,
    status: ConnectionStatus,
    environment: Environment,
    at: datetime,
    *,
    reference_id: str | None = None,
    scopes: frozenset[str] | None = None,
) -> ConnectionState:
    live = old is not None and old.status in ("connected", "degraded")
    if scopes is None:
        scopes = user.scope_set if user.scopes is not None or old is None else old.scopes
    return ConnectionState(
        terra_user_id=user.user_id,
        reference_id=user.reference_id or reference_id or (old.reference_id if old else None),
        provider=user.provider,
        environment=environment,
        status=status,
        scopes=scopes,
        connected_at=(old.connected_at if live and old else None)
        or (at if status in ("connected", "degraded") else None),
        updated_at=at,
        last_event_at=at,
    )


@dataclass(frozen=True, slots=True)
class _Context:
    connections: Mapping[str, ConnectionState]
    env: Environment
    at: datetime


def _transition(
    kind: ChangeKind,
    status: ConnectionStatus,
    user: EventUser,
    ctx: _Context,
    reference_id: str | None = None,
) -> list[ConnectionChange]:
    old = ctx.connections.get(user.user_id)
    new = _state(user, old, status, ctx.env, ctx.at, reference_id=reference_id)
    if old is not None and _same(old, new):
        return []
    return [_change(kind, new)]


def reduce_event(
    connections: Mapping[str, ConnectionState],
    event: WebhookEvent,
    *,
    environment: Environment | str,
    received_at: datetime,
) -> list[ConnectionChange]:
    """The changes ``event`` makes to ``connections`` (keyed by Terra user id); pure.

    ``auth`` success -> connected (also from degraded); ``auth_cancelled`` and the legacy
    ``auth``/``error`` -> cancelled (nothing created); ``deauth`` -> disconnected;
    ``access_revoked`` -> revoked; ``connection_error`` -> degraded; ``user_reauth`` ->
    reauthenticated (old id replaced, reference id kept); ``permission_change`` ->
    scopes_changed. Other events change nothing. An event received before the connection's
    ``last_event_at`` is stale and ignored.
    """
    env = Environment.parse(environment)
    at = received_at
    ctx = _Context(connections, env, at)
    user = getattr(event, "user", None)
    if isinstance(user, EventUser):
        old = connections.get(user.user_id)
        if old is not None and at < old.last_event_at:
            return []
    if isinstance(event, AuthSuccessEvent):
        return _transition("connected", "connected", event.user, ctx, event.reference_id)
    if isinstance(event, AuthCancelledEvent | LegacyAuthErrorEvent):
        return _cancelled(event, connections, env, at)
    if isinstance(event, DeauthEvent):
        return _transition("disconnected", "disconnected", event.user, ctx)
    if isinstance(event, AccessRevokedEvent):
        return _transition("revoked", "revoked", event.user, ctx)
    if isinstance(event, ConnectionErrorEvent):
        old = connections.get(event.user.user_id)
        if old is not None and old.status in ("revoked", "disconnected"):
            return []  # a late error for a connection that is already gone
        return _transition("degraded", "degraded", event.user, ctx)
    if isinstance(event, PermissionChangeEvent):
        return _permission_change(event, connections, env, at)
    if isinstance(event, UserReauthEvent):
        return _reauth(event, connections, env, at)
    return []


def _cancelled(
    event: AuthCancelledEvent | LegacyAuthErrorEvent,
    connections: Mapping[str, ConnectionState],
    env: Environment,
    at: datetime,
) -> list[ConnectionChange]:
    user = getattr(event, "user", None)
    if isinstance(user, EventUser):
        old = connections.get(user.user_id)
        if old is not None and old.status != "disconnected":
            # the legacy form says the user "has been deleted": close what we had
            new = replace(old, status="disconnected", updated_at=at, last_event_at=at)
            return [_change("cancelled", new)]
        if old is not None:
            return []
        return [
            ConnectionChange(
                "cancelled",
                user.user_id,
                event.reference_id or user.reference_id,
                user.provider,
                None,
            )
        ]
    provider = getattr(event, "provider", None)
    return [ConnectionChange("cancelled", None, event.reference_id, provider, None)]


def _permission_change(
    event: PermissionChangeEvent,
    connections: Mapping[str, ConnectionState],
    env: Environment,
    at: datetime,
) -> list[ConnectionChange]:
    old = connections.get(event.user.user_id)
    base = old.scopes if old is not None else event.user.scope_set
    scopes = (base | event.added) - event.removed
    status: ConnectionStatus = old.status if old is not None else "connected"
    new = _state(event.user, old, status, env, at, scopes=scopes)
    if old is not None and _same(old, new):
        return []
    return [_change("scopes_changed", new)]


def _reauth(
    event: UserReauthEvent,
    connections: Mapping[str, ConnectionState],
    env: Environment,
    at: datetime,
) -> list[ConnectionChange]:
    new_user = event.new_user
    olds: list[ConnectionState] = []
    if event.old_user is not None:
        found = connections.get(event.old_user.user_id)
        if found is not None and found.terra_user_id != new_user.user_id:
            olds.append(found)
    else:  # "when available": find the same (reference id, provider) under another id
        ref = new_user.reference_id
        olds.extend(
            c
            for c in connections.values()
            if ref is not None
            and c.reference_id == ref
            and c.provider == new_user.provider
            and c.environment == env
            and c.terra_user_id != new_user.user_id
        )
    current = connections.get(new_user.user_id)
    base = current if current is not None else (olds[0] if olds else None)
    old_ref = olds[0].reference_id if olds else None
    if event.old_user is not None:
        old_ref = old_ref or event.old_user.reference_id
    new = _state(new_user, base, "connected", env, at, reference_id=old_ref)
    if base is not None and base is not current:  # keep the original connection time
        new = replace(new, connected_at=base.connected_at or at)
    if not olds:
        if current is not None and _same(current, new):
            return []
        return [_change("reauthenticated", new)]
    return [_change("reauthenticated", new, old.terra_user_id) for old in olds]


def apply_changes(
    connections: Mapping[str, ConnectionState], changes: Sequence[ConnectionChange]
) -> dict[str, ConnectionState]:
    """A new dict with ``changes`` applied (the input is left untouched)."""
    result = dict(connections)
    for change in changes:
        if change.replaces_user_id:
            result.pop(change.replaces_user_id, None)
        if change.state is not None:
            result[change.state.terra_user_id] = change.state
    return result
