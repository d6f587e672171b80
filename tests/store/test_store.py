"""The store on a real SQLite file: migrations, ingest, idempotency, replay, outages."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from terra_auth.errors import ConfigurationError, InvalidRequestError
from terra_auth.store import IngestResult, Store, StoreUnavailable
from terra_auth.webhooks import verify_signature, verify_webhook

T0 = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)


def verified(signer, payload, *, environment="testing", trace_id=None):
    body, headers = signer.delivery(payload, environment=environment, trace_id=trace_id)
    return verify_webhook(body, headers, signer.secrets), headers


def ingest(store, signer, payload, *, at=T0, environment="testing", trace_id=None) -> IngestResult:
    v, headers = verified(signer, payload, environment=environment, trace_id=trace_id)
    return store.ingest(v, received_at=at, headers=headers)


def summary(store):
    return sorted(
        (
            c.terra_user_id,
            c.reference_id,
            c.provider,
            c.environment.value,
            c.status,
            tuple(sorted(c.scopes)),
        )
        for c in store.all_connections()
    )


# -- migrations ---------------------------------------------------------------------------------
def test_upgrade_from_empty_creates_the_tables_at_head(tmp_path):
    path = tmp_path / "sub" / "dir" / "fresh.db"
    with pytest.raises(ConfigurationError) as info:  # directories are never created
        Store(f"sqlite:///{path}")
    assert "mkdir -p" in (info.value.hint or "") and not (tmp_path / "sub").exists()
    path.parent.mkdir(parents=True)
    store = Store(f"sqlite:///{path}")
    assert store.current_revision() is None
    store.upgrade()
    store.upgrade()  # idempotent
    assert store.current_revision() == Store.head_revision() == "0002_local_actions"
    tables = set(sa.inspect(store.engine).get_table_names())
    assert {"connections", "webhook_events", "idempotency", "local_actions", "alembic_version"} <= tables
    store.close()
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_store_that_was_never_upgraded_is_unavailable_with_a_hint(tmp_path, signer, make_event):
    store = Store(f"sqlite:///{tmp_path / 'empty.db'}")
    with pytest.raises(StoreUnavailable) as info:
        ingest(store, signer, make_event("auth"))
    assert "no terra-auth tables" in str(info.value)
    assert "db upgrade" in (info.value.hint or "")


@pytest.mark.parametrize(
    "url, fragment",
    [
        ("mysql://u:pw-canary-123456@h/db", "does not support"),
        ("", "empty"),
        ("::nope::", "not valid"),
        ("postgresql+psycopg2://u:pw-canary-123456@h/db", "psycopg 3"),
    ],
)
def test_bad_urls_are_configuration_errors_with_the_password_masked(url, fragment):
    with pytest.raises(ConfigurationError) as info:
        Store(url)
    assert fragment in str(info.value)
    assert "pw-canary-123456" not in str(info.value) + str(info.value.hint)
    assert info.value.hint


def test_an_unreachable_postgresql_is_unavailable_and_the_password_never_shows():
    store = Store(f"postgresql://app:pw-canary-{id(object())}@127.0.0.1:1/terra", connect_timeout=2)
    with pytest.raises(StoreUnavailable) as info:
        store.connections_for("anyone")
    text = str(info.value) + repr(info.value) + str(info.value.hint) + repr(store)
    assert "pw-canary" not in text
    assert "127.0.0.1" in str(info.value) and "***" in str(info.value)


# -- ingest -------------------------------------------------------------------------------------
def test_ingest_applies_an_auth_event_and_keeps_the_raw_body(store, signer, make_event):
    payload = make_event("auth", "u-1", "ref-1", scopes="ACTIVITY_EXPORT,SLEEP_EXPORT")
    v, headers = verified(signer, payload, trace_id="trace-auth-1")
    result = store.ingest(v, received_at=T0, headers=headers)
    assert not result.duplicate
    assert [c.kind for c in result.changes] == ["connected"]
    (conn,) = store.connections_for("ref-1")
    assert (conn.terra_user_id, conn.status, conn.provider) == ("u-1", "connected", "GARMIN")
    assert conn.scopes == {"ACTIVITY_EXPORT", "SLEEP_EXPORT"}
    assert conn.connected_at == T0 and conn.connected_at.tzinfo is not None
    (stored,) = store.events()
    assert stored.raw_body == v.body  # byte for byte: replayable and re-verifiable
    assert stored.type == "auth" and stored.environment == "testing"
    assert stored.trace_id == "trace-auth-1" and stored.applied_at is not None
    assert stored.headers["x-terra-trace-id"] == "trace-auth-1"
    assert "terra-signature" not in stored.headers
    assert store.get_connection("u-1") == conn
    assert store.get_connection("nobody") is None


def test_a_duplicate_delivery_has_no_second_effect(store, signer, make_event):
    first = ingest(store, signer, make_event("auth", "u-1"), trace_id="same", at=T0)
    # the same delivery again, even after a deauth, must not reconnect anything
    ingest(
        store, signer, make_event("deauth", "u-1"), trace_id="other", at=T0 + timedelta(seconds=1)
    )
    again = ingest(
        store, signer, make_event("auth", "u-1"), trace_id="same", at=T0 + timedelta(seconds=2)
    )
    assert not first.duplicate and again.duplicate and again.changes == ()
    assert store.get_connection("u-1").status == "disconnected"
    assert store.count_events() == 2


def test_chunks_are_distinct_deliveries_sharing_a_canonical_trace_id(store, signer, make_event):
    for n in (1, 2, 2):
        ingest(
            store,
            signer,
            {"type": "activity", "user": make_event("auth")["user"], "data": [n]},
            trace_id=f"big-request:chunk:{n}",
        )
    events = store.events(trace_id="big-request")
    assert [e.trace_id for e in events] == ["big-request:chunk:1", "big-request:chunk:2"]
    assert {e.canonical_trace_id for e in events} == {"big-request"}


def test_the_same_trace_id_in_two_environments_is_two_deliveries(store, signer, make_event):
    a = ingest(store, signer, make_event("auth", "u-t"), environment="testing", trace_id="t-1")
    b = ingest(store, signer, make_event("auth", "u-s"), environment="staging", trace_id="t-1")
    assert not a.duplicate and not b.duplicate
    assert store.get_connection("u-s").environment.value == "staging"


def test_unknown_event_types_are_stored_not_failed(store, signer):
    result = ingest(store, signer, {"type": "something_new", "status": "success", "x": [1, 2]})
    assert not result.duplicate and result.changes == ()
    (stored,) = store.events()
    assert stored.type == "something_new" and b'"x":[1,2]' in stored.raw_body
    assert store.all_connections() == []


def test_lifecycle_through_the_store(store, signer, make_event):
    at = iter(T0 + timedelta(seconds=i) for i in range(100))
    ingest(store, signer, make_event("auth", "u-1", "ref-1"), at=next(at))
    ingest(
        store,
        signer,
        make_event(
            "permission_change",
            "u-1",
            "ref-1",
            scopes="ACTIVITY_EXPORT,SLEEP",
            scopes_added="SLEEP",
        ),
        at=next(at),
    )
    ingest(store, signer, make_event("connection_error", "u-1", "ref-1"), at=next(at))
    assert store.get_connection("u-1").status == "degraded"
    result = ingest(
        store, signer, make_event("user_reauth", "u-2", "ref-1", old_user_id="u-1"), at=next(at)
    )
    assert [(c.kind, c.replaces_user_id) for c in result.changes] == [("reauthenticated", "u-1")]
    assert [c.terra_user_id for c in store.connections_for("ref-1")] == ["u-2"]
    assert store.get_connection("u-1") is None
    ingest(store, signer, make_event("access_revoked", "u-2", "ref-1"), at=next(at))
    assert store.get_connection("u-2").status == "revoked"


def test_ingest_refuses_a_webhook_verified_without_an_environment(store, signer, make_event):
    body, headers = signer.delivery(make_event("auth"))
    v = verify_webhook(body, headers, signer.secrets["testing"])  # a bare secret: no environment
    with pytest.raises(InvalidRequestError):
        store.ingest(v, received_at=T0)


def test_mark_deauth_requested(store, signer, make_event):
    ingest(store, signer, make_event("auth", "u-1"))
    assert store.mark_deauth_requested("u-1") is True
    assert store.mark_deauth_requested("missing") is False


# -- local actions (no webhook) -----------------------------------------------------------------
def test_a_local_disconnect_changes_the_row_records_an_action_and_no_event(
    store, signer, make_event
):
    ingest(store, signer, make_event("auth", "u-1", "ref-1"), at=T0)
    later = T0 + timedelta(hours=1)
    assert store.mark_disconnected_locally("u-1", detail={"terra_status": 404}, at=later) is True
    row = store.get_connection("u-1")
    assert (row.status, row.updated_at, row.last_event_at) == ("disconnected", later, T0)
    assert store.count_events() == 1  # no invented webhook
    [action] = store.local_actions()
    assert (action.terra_user_id, action.action, action.reason) == (
        "u-1", "disconnected", "terra_user_not_found",
    )
    assert action.detail == {"terra_status": 404} and action.created_at == later
    assert action.after_event_id == store.events()[0].id
    # idempotent: nothing to do, nothing recorded
    assert store.mark_disconnected_locally("u-1") is False
    assert store.mark_disconnected_locally("nobody") is False
    assert len(store.local_actions()) == 1 and store.local_actions(terra_user_id="x") == []
    # Terra's own deauth arriving late changes nothing more
    ingest(store, signer, make_event("deauth", "u-1", "ref-1"), at=later + timedelta(minutes=1))
    assert store.get_connection("u-1").status == "disconnected"


def test_replay_applies_local_actions_where_they_happened(store, signer, make_event):
    ingest(store, signer, make_event("auth", "gone", "r-1"), at=T0)
    ingest(store, signer, make_event("auth", "back", "r-2"), at=T0 + timedelta(minutes=1))
    store.mark_disconnected_locally("gone", at=T0 + timedelta(minutes=2))
    store.mark_disconnected_locally("back", at=T0 + timedelta(minutes=3))
    # a later webhook connects "back" again: the local action must not win over it on replay
    ingest(store, signer, make_event("auth", "back", "r-2"), at=T0 + timedelta(minutes=4))
    expected = summary(store)
    assert [c[4] for c in expected] == ["connected", "disconnected"]  # back, gone
    with store.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM connections"))
    assert store.replay_events().connections_written == 2
    assert summary(store) == expected
    assert store.replay_events().connections_written == 0
    # a window holding only the local action repairs that row alone
    with store.engine.begin() as conn:
        conn.execute(sa.text("UPDATE connections SET status='connected'"))
    result = store.replay_events(since=T0 + timedelta(minutes=2, seconds=30))
    assert result.events == 1 and store.get_connection("back").status == "connected"
    assert store.get_connection("gone").status == "connected"  # outside the window: untouched
    store.replay_events(since=T0 + timedelta(minutes=2))
    assert summary(store) == expected


def test_upgrading_a_0001_database_keeps_its_history(tmp_path, signer, make_event):
    store = Store(f"sqlite:///{tmp_path / 'old.db'}")
    store.upgrade("0001_initial")
    ingest(store, signer, make_event("auth", "u-1"))
    assert "local_actions" not in sa.inspect(store.engine).get_table_names()
    store.upgrade()
    assert store.current_revision() == "0002_local_actions"
    assert store.count_events() == 1 and store.mark_disconnected_locally("u-1") is True
    store.close()


# -- replay -------------------------------------------------------------------------------------
def _history(store, signer, make_event):
    at = iter(T0 + timedelta(minutes=i) for i in range(100))
    for uid, ref in (("a", "r-a"), ("b", "r-b"), ("c", "r-c")):
        ingest(store, signer, make_event("auth", uid, ref), at=next(at))
    ingest(store, signer, make_event("deauth", "a", "r-a"), at=next(at))
    ingest(store, signer, make_event("user_reauth", "b2", "r-b", old_user_id="b"), at=next(at))
    ingest(store, signer, {"type": "healthcheck", "status": "success"}, at=next(at))
    ingest(store, signer, make_event("connection_error", "c", "r-c"), at=next(at))


def test_replay_rebuilds_lost_connections_and_is_idempotent(store, signer, make_event):
    _history(store, signer, make_event)
    expected = summary(store)
    with store.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM connections"))
    assert store.all_connections() == []
    first = store.replay_events()
    assert summary(store) == expected
    assert first.events == 7 and first.connections_written == len(expected)
    second = store.replay_events()
    assert summary(store) == expected and second.connections_written == 0
    assert store.count_events() == 7  # replay never adds events


def test_replay_since_rewrites_only_what_recent_events_touched(store, signer, make_event):
    _history(store, signer, make_event)
    with store.engine.begin() as conn:  # damage an old row and a recent one
        conn.execute(
            sa.text("UPDATE connections SET status='revoked' WHERE terra_user_id IN ('a', 'c')")
        )
    result = store.replay_events(since=T0 + timedelta(minutes=6))  # only c's connection_error
    assert result.events == 1
    assert store.get_connection("c").status == "degraded"  # repaired
    assert store.get_connection("a").status == "revoked"  # untouched: outside the window


def test_reads_on_a_store_reflect_writes_from_another_store_on_the_same_file(
    tmp_path, signer, make_event
):
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    a, b = Store(url), Store(url)
    a.upgrade()
    ingest(a, signer, make_event("auth", "u-9", "ref-9"))
    assert [c.terra_user_id for c in b.connections_for("ref-9")] == ["u-9"]
    assert ingest(
        b, signer, make_event("auth", "u-9", "ref-9"), trace_id=a.events()[0].trace_id
    ).duplicate
    a.close()
    b.close()


# -- the SQLite fast path (raw sqlite3, group commit) ------------------------------------------
def _all_events(store):
    return [
        (e.trace_id, e.type, e.environment, e.raw_body, e.received_at, e.headers, e.terra_user_id)
        for e in store.events()
    ]


def test_the_fast_path_and_the_sqlalchemy_path_store_the_same(tmp_path, signer, make_event):
    fast = Store(f"sqlite:///{tmp_path / 'fast.db'}")
    slow = Store(f"sqlite:///{tmp_path / 'slow.db'}", fast_path=False)
    assert fast.fast_path and not slow.fast_path
    for s in (fast, slow):
        s.upgrade()
    at = iter(T0 + timedelta(minutes=i) for i in range(100))
    payloads = [
        make_event("auth", "a", "r-a"),
        make_event("auth", "b", "r-b"),
        make_event("permission_change", "a", "r-a", scopes="X,Y", scopes_added="Y"),
        make_event("user_reauth", "b2", "r-b", old_user_id="b"),
        {"type": "mystery"},
        make_event("deauth", "a", "r-a"),
    ]
    for n, payload in enumerate(payloads):
        v, headers = verified(signer, payload, trace_id=f"t-{n}")
        when = next(at)
        results = [s.ingest(v, received_at=when, headers=headers) for s in (fast, slow)]
        assert results[0].changes == results[1].changes
        assert [s.ingest(v, received_at=when).duplicate for s in (fast, slow)] == [True, True]
    # a signed body that does not parse: kept, applied to nothing, deduplicated the same way
    body, headers = signer.delivery({"type": "auth", "user": {}}, trace_id="t-unparsed")
    checked = verify_signature(body, headers, signer.secrets)
    when = next(at)
    kept = [s.ingest_unparsed(checked, received_at=when, headers=headers) for s in (fast, slow)]
    assert [(r.duplicate, r.changes) for r in kept] == [(False, ()), (False, ())]
    assert [s.ingest_unparsed(checked).duplicate for s in (fast, slow)] == [True, True]
    assert [s.events()[-1].type for s in (fast, slow)] == ["invalid_body", "invalid_body"]
    assert summary(fast) == summary(slow)
    assert fast.all_connections() == slow.all_connections()  # timestamps included
    assert _all_events(fast) == _all_events(slow)


def test_concurrent_deliveries_are_applied_exactly_once(store, signer, make_event):
    """32 threads deliver 200 events, each twice at the same moment (group commits happen)."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    deliveries = [
        verified(signer, make_event("auth", f"u-{i}", f"r-{i}"), trace_id=f"c-{i}")[0]
        for i in range(200)
    ]
    gate = threading.Barrier(32)

    def deliver(v):
        try:
            gate.wait(timeout=0.5)
        except threading.BrokenBarrierError:
            pass
        return v.trace_id, store.ingest(v, received_at=T0)

    with ThreadPoolExecutor(32) as pool:
        results = list(pool.map(deliver, [v for v in deliveries for _ in range(2)]))
    firsts = {}
    for trace_id, result in results:
        firsts[trace_id] = firsts.get(trace_id, 0) + (not result.duplicate)
    assert set(firsts.values()) == {1}
    assert store.count_events() == 200
    assert len(store.all_connections()) == 200
    assert all(c.status == "connected" for c in store.all_connections())


@pytest.mark.parametrize(
    "url", ["postgres://a:pw@h/db", "postgresql://a@h:5433/db", "postgresql+psycopg://a@h/db"]
)
def test_postgresql_urls_use_psycopg_3(url):
    from terra_auth.store._urls import normalize_url

    assert normalize_url(url).drivername == "postgresql+psycopg"
    assert Store(url).dialect == "postgresql"  # no connection is made until used
