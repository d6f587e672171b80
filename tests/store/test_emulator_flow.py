"""The emulator (playing Terra over HTTP) delivers signed webhooks to a real receiver on SQLite."""

from __future__ import annotations

import pytest

from terra_auth.emulator import Emulator
from terra_auth.service.ingest import create_webhook_app
from terra_auth.store import Store


@pytest.fixture
def emulator():
    with Emulator(seed=11, time_scale=0.001) as emu:
        yield emu


def test_lifecycle_webhooks_from_the_emulator_shape_the_connections(emulator, store, serve_app):
    emu = emulator
    app = create_webhook_app(
        store,
        {
            "testing": emu.credentials("testing").webhook_secrets,
            "staging": emu.credentials("staging").webhook_secrets,
        },
    )
    with serve_app(app) as url:
        for env in ("testing", "staging"):
            emu.set_webhook_url(env, f"{url}/terra/webhooks")
        fitbit = emu.connect("testing", provider="FITBIT", reference_id="alice")
        garmin = emu.connect("testing", provider="GARMIN", reference_id="alice")
        staged = emu.connect("staging", provider="OURA", reference_id="bob")
        emu.wait_for_deliveries(3, timeout=10, event_type="auth")
        emu.trigger("testing", garmin["user_id"], "permission_change", scopes_added="EXTRA_SCOPE")
        emu.trigger("testing", fitbit["user_id"], "access_revoked")
        emu.wait_for_deliveries(1, timeout=10, event_type="access_revoked")
        assert "EXTRA_SCOPE" in store.get_connection(garmin["user_id"]).scopes
        emu.trigger("staging", staged["user_id"], "deauth")
        emu.wait_for_deliveries(1, timeout=10, event_type="deauth")
        emu.trigger("testing", garmin["user_id"], "user_reauth")  # a new id replaces the old
        emu.wait_for_deliveries(1, timeout=10, event_type="user_reauth")
        deliveries = emu.deliveries
    assert all(d.delivered and d.attempts[-1].status == 200 for d in deliveries)
    assert store.count_events() == len(deliveries)
    alice = {c.provider: c for c in store.connections_for("alice")}
    assert alice["FITBIT"].status == "revoked"
    assert alice["GARMIN"].status == "connected"
    assert alice["GARMIN"].terra_user_id != garmin["user_id"]  # re-keyed to the new user id
    assert store.get_connection(garmin["user_id"]) is None
    (bob,) = store.connections_for("bob")
    assert (bob.status, bob.environment.value) == ("disconnected", "staging")
    # what Terra (the emulator) says exists agrees with what the store says is live
    live = {c.terra_user_id for c in store.all_connections() if c.status == "connected"}
    assert live == {u["user_id"] for u in emu.users if u.get("active", True)} - {fitbit["user_id"]}


def test_deliveries_refused_while_the_store_is_unusable_are_retried_and_none_is_lost(
    emulator, tmp_path, serve_app
):
    """Migrations missing -> 503; the emulator retries; after `upgrade` everything lands once."""
    emu = emulator
    store = Store(f"sqlite:///{tmp_path / 'late.db'}")
    app = create_webhook_app(store, {"testing": emu.credentials("testing").webhook_secrets})
    with serve_app(app) as url:
        emu.set_webhook_url("testing", f"{url}/terra/webhooks")
        users = [
            emu.connect("testing", provider="WITHINGS", reference_id=f"r{i}") for i in range(5)
        ]
        emu.engine.dispatcher.wait(lambda: all(d.attempts for d in emu.deliveries), 10)
        assert {a.status for d in emu.deliveries for a in d.attempts} == {503}
        store.upgrade()
        emu.wait_for_deliveries(5, timeout=30)
    assert store.count_events() == 5
    assert {c.terra_user_id for c in store.all_connections()} == {u["user_id"] for u in users}
    assert any(len(d.attempts) > 1 for d in emu.deliveries)


def test_a_rotated_secret_is_accepted_during_the_overlap(emulator, store, serve_app):
    emu = emulator
    old = emu.environments["testing"].webhook_secret
    new = emu.rotate_secret("testing", overlap_seconds=3600)  # signs with both for a while
    app = create_webhook_app(store, {"testing": [new, old]})
    with serve_app(app) as url:
        emu.set_webhook_url("testing", f"{url}/terra/webhooks")
        emu.connect("testing", provider="POLAR", reference_id="carol")
        emu.wait_for_deliveries(1, timeout=10)
    assert [c.status for c in store.connections_for("carol")] == ["connected"]
