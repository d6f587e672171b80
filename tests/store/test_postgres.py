"""PostgreSQL: two service processes racing on the same deliveries, and a database outage.

A throwaway cluster (initdb + pg_ctl on a free port in a temporary directory) is started by the
``pg_cluster`` fixture; the tests skip, saying why, when the server binaries are missing.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import sqlalchemy as sa

from terra_auth.emulator import Emulator
from terra_auth.service.ingest import create_webhook_app
from terra_auth.store import Store
from terra_auth.webhooks import parse_event, sign_webhook
from terra_auth.webhooks.lifecycle import apply_changes, reduce_event

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

USERS = 250  # x 4 events = 1,000 deliveries, each sent twice (once to each process)


def test_two_processes_apply_every_delivery_exactly_once(
    pg_store, make_event, fake_secret, harness
):
    secret = fake_secret("whsec")
    plans = harness.workload(make_event, USERS)
    url = pg_store.url.render_as_string(hide_password=False)
    procs = [harness.start_service(url, secret) for _ in range(2)]
    try:
        answers = asyncio.run(harness.send_all(plans, [u for _, u in procs], secret))
    finally:
        for proc, _ in procs:
            proc.terminate()
            proc.wait(10)
    assert len(answers) == 4 * USERS == 1000
    assert all(status == 200 for replies in answers.values() for status, _ in replies)
    firsts = [sum(not body["duplicate"] for _, body in replies) for replies in answers.values()]
    assert firsts == [1] * 1000  # exactly one of the two deliveries had an effect
    assert pg_store.count_events() == 1000
    with pg_store.engine.connect() as conn:
        assert (
            conn.execute(sa.text("SELECT count(DISTINCT trace_id) FROM webhook_events")).scalar()
            == 1000
        )
        assert conn.execute(sa.text("SELECT count(*) FROM idempotency")).scalar() == 1000
    assert harness.summary(pg_store.all_connections()) == harness.reducer_alone(plans)


def test_a_database_outage_during_a_burst_loses_nothing(pg_cluster, pg_store, serve_app):
    burst = 40
    with Emulator(seed=7, time_scale=0.001, user_cap=1000) as emu:
        secret = emu.environments["testing"].webhook_secret
        app = create_webhook_app(pg_store, {"testing": secret}, retry_after=1)
        with serve_app(app) as url:
            emu.set_webhook_url("testing", f"{url}/terra/webhooks")
            for i in range(burst // 2):
                emu.connect("testing", provider="FITBIT", reference_id=f"burst-{i}")
            emu.wait_for_deliveries(5, timeout=20)
            pg_cluster.stop()  # the database goes away in the middle of the burst
            try:
                for i in range(burst // 2, burst):
                    emu.connect("testing", provider="GARMIN", reference_id=f"burst-{i}")
                # while it is down the service answers 503 (and Terra, here the emulator, retries)
                emu.engine.dispatcher.wait(
                    lambda: any(a.status == 503 for d in emu.deliveries for a in d.attempts), 20
                )
                refused = [a.status for d in emu.deliveries for a in d.attempts if a.status == 503]
                assert refused, "the service never answered 503 while the database was down"
                with httpx.Client(trust_env=False) as client:  # and says so to anyone asking
                    body = b'{"type":"auth","status":"success","user":{"user_id":"x","provider":"FITBIT"}}'
                    r = client.post(
                        f"{url}/terra/webhooks",
                        content=body,
                        headers={"terra-signature": sign_webhook(body, secret)},
                    )
                    assert r.status_code == 503 and r.headers["retry-after"] == "1"
            finally:
                pg_cluster.start()
            delivered = emu.wait_for_deliveries(burst, timeout=60)
            assert len(delivered) == burst
            assert not any(d.gave_up for d in emu.deliveries)
    assert pg_store.count_events() == burst  # every event stored exactly once
    assert len({e.trace_id for e in pg_store.events()}) == burst
    refs = {c.reference_id for c in pg_store.all_connections() if c.status == "connected"}
    assert refs == {f"burst-{i}" for i in range(burst)}


def test_a_password_in_the_database_url_never_shows(pg_cluster, pg_store, caplog):
    """Canary: success and failure paths of the CLI and the store with a password in the URL."""
    import logging

    canary = f"pw-canary-{os.getpid()}-x7q"
    database = pg_store.url.database
    good = f"postgresql://terra:{canary}@127.0.0.1:{pg_cluster.port}/{database}"  # trust auth
    bad = f"postgresql://terra:{canary}@127.0.0.1:1/{database}"
    outputs = []
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    for args in (
        ["db", "upgrade", "--database-url", good],
        ["db", "current", "--database-url", good],
        ["events", "replay", "--database-url", good],
        ["db", "upgrade", "--database-url", bad],
        ["events", "replay"],
    ):
        run_env = dict(env, DATABASE_URL=good) if "--database-url" not in args else env
        result = subprocess.run(
            [sys.executable, "-m", "terra_auth", *args],
            capture_output=True,
            text=True,
            env=run_env,
            timeout=60,
        )
        outputs.append(result.stdout + result.stderr)
    assert "revision 0002_local_actions (head)" in outputs[0]
    assert "unavailable" in outputs[3] and "hint:" in outputs[3]
    with caplog.at_level(logging.DEBUG):
        store = Store(good)
        store.upgrade()
        outputs.append(repr(store) + str(store.current_revision()))
        store.close()
        with pytest.raises(Exception) as info:
            Store(bad, connect_timeout=2).ping()
        outputs.append(str(info.value) + repr(info.value))
    outputs.extend(r.getMessage() for r in caplog.records)
    text = "\n".join(outputs)
    assert canary not in text
    assert "terra:***@" in text


def test_replay_on_postgresql_rebuilds_the_same_rows(pg_store, signer, make_event):
    from terra_auth.webhooks import verify_webhook

    for i, payload in enumerate(
        [
            make_event("auth", "p-1", "r-p"),
            make_event("auth", "p-2", "r-q"),
            make_event("access_revoked", "p-2", "r-q"),
            make_event("user_reauth", "p-3", "r-p", old_user_id="p-1"),
        ]
    ):
        body, headers = signer.delivery(payload, trace_id=f"pg-{i}")
        pg_store.ingest(
            verify_webhook(body, headers, signer.secrets),
            received_at=datetime(2026, 7, 1, tzinfo=UTC) + timedelta(seconds=i),
        )
    expected = pg_store.all_connections()
    with pg_store.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM connections"))
    assert pg_store.replay_events().connections_written == len(expected) == 2
    assert pg_store.all_connections() == expected
    assert pg_store.replay_events().connections_written == 0


def test_a_local_disconnect_on_postgresql_survives_replay(pg_store, signer, make_event):
    from terra_auth.webhooks import verify_webhook

    body, headers = signer.delivery(make_event("auth", "l-1", "r-l"), trace_id="pg-local-1")
    pg_store.ingest(verify_webhook(body, headers, signer.secrets))
    assert pg_store.mark_disconnected_locally("l-1") is True
    assert pg_store.mark_disconnected_locally("l-1") is False
    assert [a.reason for a in pg_store.local_actions(terra_user_id="l-1")] == [
        "terra_user_not_found"
    ]
    with pg_store.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM connections WHERE terra_user_id = 'l-1'"))
    pg_store.replay_events()
    assert pg_store.get_connection("l-1").status == "disconnected"


def test_a_connection_the_server_dropped_is_replaced_without_a_503(
    pg_cluster, pg_store, signer, make_event
):
    """Ingest's pool has no pre-ping round trip: a pooled connection the server dropped (as on
    a restart) is found by the pipeline, and the delivery is retried once on a fresh one."""
    import psycopg

    from terra_auth.webhooks import verify_webhook

    def delivery(n):
        body, headers = signer.delivery(make_event("auth", f"d-{n}", "r-d"), trace_id=f"drop-{n}")
        return verify_webhook(body, headers, signer.secrets)

    assert pg_store.ingest(delivery(1)).duplicate is False  # leaves a connection in the pool
    dsn = f"host=127.0.0.1 port={pg_cluster.port} user=terra dbname={pg_store.url.database}"
    with psycopg.connect(dsn, autocommit=True) as admin:
        dropped = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE pid <> pg_backend_pid() AND datname = current_database()"
        ).fetchone()
    assert dropped is not None and dropped[0] >= 1
    second = delivery(2)
    assert pg_store.ingest(second).duplicate is False  # no StoreUnavailable
    assert pg_store.ingest(second).duplicate is True
    assert pg_store.count_events() == 2
    assert [c.terra_user_id for c in pg_store.all_connections()] == ["d-1", "d-2"]
