"""The lifecycle reducer: transitions, replays (idempotence), re-keying, scopes, dedup."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from terra_auth.environments import Environment
from terra_auth.webhooks import parse_event
from terra_auth.webhooks.lifecycle import (
    ConnectionChange,
    ConnectionState,
    Deduplicator,
    apply_changes,
    canonical_trace_id,
    dedup_key,
    reduce_event,
)

T0 = datetime(2026, 7, 1, 9, 0, tzinfo=UTC)
ENV = Environment.STAGING
OLD_ID = "40f7b0e1-89e2-43ac-a5b8-1e29c8d47cad"
NEW_ID = "9c8b7a65-4321-4fed-a0b9-87c6d5e4f321"


def user(
    user_id: str = OLD_ID, scopes: str | None = "ACTIVITY_EXPORT,HEALTH_EXPORT", **kw: Any
) -> dict:
    return {
        "user_id": user_id,
        "provider": "GARMIN",
        "reference_id": "ref-1",
        "scopes": scopes,
        **kw,
    }


def ev(kind: str, **fields: Any) -> Any:
    base: dict[str, Any] = {"type": kind, "message": "m"}
    if kind in {"deauth", "access_revoked", "connection_error", "permission_change"}:
        base["user"] = user()
        base["status"] = "success" if kind == "deauth" else "warning"
    base.update(fields)
    return parse_event(base)


AUTH = parse_event({"type": "auth", "status": "success", "user": user(), "reference_id": "ref-1"})


def run(
    connections: dict[str, ConnectionState], event: Any, at: datetime = T0
) -> tuple[list[ConnectionChange], dict[str, ConnectionState]]:
    changes = reduce_event(connections, event, environment=ENV, received_at=at)
    return changes, apply_changes(connections, changes)


def connected(at: datetime = T0) -> dict[str, ConnectionState]:
    return run({}, AUTH, at)[1]


def test_auth_success_connects() -> None:
    changes, state = run({}, AUTH)
    assert [c.kind for c in changes] == ["connected"]
    conn = state[OLD_ID]
    assert conn.status == "connected"
    assert conn.reference_id == "ref-1"
    assert conn.provider == "GARMIN"
    assert conn.environment is ENV
    assert conn.scopes == {"ACTIVITY_EXPORT", "HEALTH_EXPORT"}
    assert conn.connected_at == conn.updated_at == conn.last_event_at == T0


def test_reference_id_from_top_level_when_user_lacks_it() -> None:
    event = parse_event(
        {
            "type": "auth",
            "status": "success",
            "reference_id": "top",
            "user": {"user_id": "u", "provider": "OURA"},
        }
    )
    assert run({}, event)[1]["u"].reference_id == "top"


@pytest.mark.parametrize(
    ("event", "kind", "status"),
    [
        (ev("deauth"), "disconnected", "disconnected"),
        (ev("access_revoked"), "revoked", "revoked"),
        (ev("connection_error"), "degraded", "degraded"),
    ],
    ids=["deauth", "access_revoked", "connection_error"],
)
def test_transitions_from_connected(event: Any, kind: str, status: str) -> None:
    later = T0 + timedelta(minutes=5)
    changes, state = run(connected(), event, later)
    assert [c.kind for c in changes] == [kind]
    assert state[OLD_ID].status == status
    assert state[OLD_ID].updated_at == later
    assert state[OLD_ID].reference_id == "ref-1"
    assert state[OLD_ID].scopes == {"ACTIVITY_EXPORT", "HEALTH_EXPORT"}


EVERY_EVENT = [
    AUTH,
    ev("deauth"),
    ev("access_revoked"),
    ev("connection_error"),
    ev("permission_change", scopes_added="BODY_EXPORT", scopes_removed="HEALTH_EXPORT"),
    parse_event(
        {"type": "user_reauth", "status": "warning", "new_user": user(NEW_ID), "old_user": user()}
    ),
    parse_event(
        {"type": "user_reauth", "status": "warning", "new_user": user(NEW_ID), "old_user": None}
    ),
    parse_event({"type": "activity", "user": user(), "data": []}),
    parse_event({"type": "healthcheck"}),
]


@pytest.mark.parametrize("event", EVERY_EVENT, ids=lambda e: e.type)
@pytest.mark.parametrize("start", ["empty", "connected"])
def test_replaying_an_event_changes_nothing_the_second_time(event: Any, start: str) -> None:
    initial = {} if start == "empty" else connected()
    once = run(initial, event, T0 + timedelta(seconds=1))[1]
    again, twice = run(once, event, T0 + timedelta(seconds=2))
    assert again == []
    assert twice == once


def test_reducer_is_pure() -> None:
    state = connected()
    snapshot = dict(state)
    reduce_event(state, ev("deauth"), environment=ENV, received_at=T0)
    assert state == snapshot


def test_degraded_then_auth_success_reconnects_keeping_connected_at() -> None:
    state = run(connected(), ev("connection_error"), T0 + timedelta(hours=1))[1]
    changes, state = run(state, AUTH, T0 + timedelta(hours=2))
    assert [c.kind for c in changes] == ["connected"]
    assert state[OLD_ID].status == "connected"
    assert state[OLD_ID].connected_at == T0


def test_reconnect_after_disconnect_has_a_new_connected_at() -> None:
    state = run(connected(), ev("deauth"), T0 + timedelta(hours=1))[1]
    assert state[OLD_ID].connected_at == T0
    later = T0 + timedelta(hours=2)
    state = run(state, AUTH, later)[1]
    assert state[OLD_ID].status == "connected"
    assert state[OLD_ID].connected_at == later


@pytest.mark.parametrize("gone", ["deauth", "access_revoked"])
def test_late_connection_error_after_the_connection_is_gone_is_ignored(gone: str) -> None:
    state = run(connected(), ev(gone), T0 + timedelta(minutes=1))[1]
    assert run(state, ev("connection_error"), T0 + timedelta(minutes=2))[0] == []


def test_events_for_unknown_users_create_a_record() -> None:
    changes, state = run({}, ev("deauth"))
    assert [c.kind for c in changes] == ["disconnected"]
    assert state[OLD_ID].status == "disconnected"
    assert state[OLD_ID].connected_at is None


def test_stale_event_is_ignored() -> None:
    state = run(connected(T0 + timedelta(hours=1)), ev("deauth"), T0 + timedelta(hours=2))[1]
    assert run(state, AUTH, T0)[0] == []  # an auth received before the deauth


@pytest.mark.parametrize(
    "event",
    [
        parse_event(
            {
                "type": "auth_cancelled",
                "status": "error",
                "reference_id": "ref-1",
                "reason": "access_denied",
            }
        ),
        parse_event(
            {"type": "auth", "status": "error", "reference_id": "ref-1", "reason": "auth_cancelled"}
        ),
        parse_event(
            {"type": "auth", "status": "error", "user": user("gone-1"), "reference_id": "ref-1"}
        ),
    ],
    ids=["auth_cancelled", "legacy-without-user", "legacy-with-user"],
)
def test_cancelled_auth_creates_no_connection(event: Any) -> None:
    changes, state = run({}, event)
    assert [c.kind for c in changes] == ["cancelled"]
    assert changes[0].state is None
    assert changes[0].reference_id == "ref-1"
    assert state == {}


def test_legacy_auth_error_for_a_known_user_closes_it() -> None:
    event = parse_event(
        {"type": "auth", "status": "error", "user": user(), "reference_id": "ref-1"}
    )
    changes, state = run(connected(), event, T0 + timedelta(minutes=1))
    assert [c.kind for c in changes] == ["cancelled"]
    assert state[OLD_ID].status == "disconnected"


def test_user_reauth_replaces_old_id_and_keeps_reference_and_connected_at() -> None:
    reauth = parse_event(
        {
            "type": "user_reauth",
            "status": "warning",
            "new_user": {"user_id": NEW_ID, "provider": "GARMIN", "scopes": "ACTIVITY_EXPORT"},
            "old_user": user(),
        }
    )
    later = T0 + timedelta(days=1)
    changes, state = run(connected(), reauth, later)
    assert [(c.kind, c.terra_user_id, c.replaces_user_id) for c in changes] == [
        ("reauthenticated", NEW_ID, OLD_ID)
    ]
    assert OLD_ID not in state
    assert state[NEW_ID].reference_id == "ref-1"  # kept from the old connection
    assert state[NEW_ID].status == "connected"
    assert state[NEW_ID].connected_at == T0
    assert state[NEW_ID].scopes == {"ACTIVITY_EXPORT"}


def test_user_reauth_after_the_auth_for_the_new_id_already_arrived() -> None:
    new_auth = parse_event({"type": "auth", "status": "success", "user": user(NEW_ID)})
    state = run(connected(), new_auth, T0 + timedelta(seconds=1))[1]
    assert set(state) == {OLD_ID, NEW_ID}
    reauth = parse_event(
        {"type": "user_reauth", "status": "warning", "new_user": user(NEW_ID), "old_user": user()}
    )
    changes, state = run(state, reauth, T0 + timedelta(seconds=2))
    assert [c.replaces_user_id for c in changes] == [OLD_ID]
    assert set(state) == {NEW_ID}


def test_user_reauth_without_old_user_finds_it_by_reference_and_provider() -> None:
    other = parse_event(
        {
            "type": "auth",
            "status": "success",
            "user": {"user_id": "x", "provider": "OURA", "reference_id": "ref-1"},
        }
    )
    state = run(connected(), other, T0)[1]
    reauth = parse_event(
        {"type": "user_reauth", "status": "warning", "new_user": user(NEW_ID), "old_user": None}
    )
    changes, state = run(state, reauth, T0 + timedelta(minutes=1))
    assert [c.replaces_user_id for c in changes] == [OLD_ID]
    assert set(state) == {NEW_ID, "x"}  # the OURA connection of the same person stays


@pytest.mark.parametrize(
    ("added", "removed", "expected"),
    [
        ("BODY_EXPORT", "", {"ACTIVITY_EXPORT", "HEALTH_EXPORT", "BODY_EXPORT"}),
        ("", "HEALTH_EXPORT", {"ACTIVITY_EXPORT"}),
        (
            "BODY_EXPORT,SLEEP_EXPORT",
            "ACTIVITY_EXPORT, HEALTH_EXPORT",
            {"BODY_EXPORT", "SLEEP_EXPORT"},
        ),
        ("", "", None),
    ],
)
def test_permission_change_applies_deltas(
    added: str, removed: str, expected: set[str] | None
) -> None:
    event = ev("permission_change", scopes_added=added, scopes_removed=removed)
    changes, state = run(connected(), event, T0 + timedelta(minutes=1))
    if expected is None:
        assert changes == []
    else:
        assert [c.kind for c in changes] == ["scopes_changed"]
        assert state[OLD_ID].scopes == expected
        assert state[OLD_ID].status == "connected"


def test_permission_change_keeps_degraded_status() -> None:
    state = run(connected(), ev("connection_error"), T0 + timedelta(minutes=1))[1]
    event = ev("permission_change", scopes_added="X", scopes_removed="")
    state = run(state, event, T0 + timedelta(minutes=2))[1]
    assert state[OLD_ID].status == "degraded"
    assert "X" in state[OLD_ID].scopes


def test_data_and_informational_events_change_nothing() -> None:
    for event in EVERY_EVENT[-2:]:
        assert run(connected(), event, T0 + timedelta(minutes=1))[0] == []


def test_environment_is_recorded_and_names_are_accepted() -> None:
    changes = reduce_event({}, AUTH, environment="prod", received_at=T0)
    assert changes[0].state is not None
    assert changes[0].state.environment is Environment.PRODUCTION


@pytest.mark.parametrize(
    ("trace_id", "canonical", "key"),
    [
        ("7b1f", "7b1f", "7b1f"),
        ("7b1f:chunk:0", "7b1f", "7b1f:chunk:0"),
        ("7b1f:chunk:12", "7b1f", "7b1f:chunk:12"),
        (" 7b1f:CHUNK:03 ", "7b1f", "7b1f:chunk:3"),
        ("a:b:chunk:2", "a:b", "a:b:chunk:2"),
        ("7b1f:chunk:", "7b1f:chunk:", "7b1f:chunk:"),
        ("7b1f:chunk:x", "7b1f:chunk:x", "7b1f:chunk:x"),
    ],
)
def test_trace_ids_and_chunks(trace_id: str, canonical: str, key: str) -> None:
    assert canonical_trace_id(trace_id) == canonical
    assert dedup_key(trace_id) == key


def test_deduplicator_drops_retries_keeps_chunks_and_is_bounded() -> None:
    seen = Deduplicator(max_size=3)
    assert seen.first_time("t-1")
    assert not seen.first_time("t-1")  # Terra's retry of the same delivery
    assert not seen.first_time(" t-1 ")
    assert seen.first_time("t-1:chunk:1")
    assert seen.first_time("t-1:chunk:2")
    assert not seen.first_time("t-1:CHUNK:02")
    assert seen.first_time(None, b"{}")
    assert not seen.first_time(None, b"{}")
    assert seen.first_time(None, b"{ }")
    assert len(seen) == 3
    assert "t-1" not in seen  # the oldest fell out


def test_dedup_then_reduce_end_to_end() -> None:
    seen = Deduplicator()
    state: dict[str, ConnectionState] = {}
    log: list[str] = []
    deliveries = [("d-1", AUTH), ("d-1", AUTH), ("d-2", ev("deauth")), ("d-2", ev("deauth"))]
    for i, (trace_id, event) in enumerate(deliveries):
        if not seen.first_time(trace_id):
            continue
        changes, state = run(state, event, T0 + timedelta(seconds=i))
        log += [c.kind for c in changes]
    assert log == ["connected", "disconnected"]
    assert state[OLD_ID].status == "disconnected"
