"""Several service processes sharing one SQLite file (not the recommended setup, but correct)."""

from __future__ import annotations

import asyncio

import pytest

from terra_auth.store import Store

pytestmark = pytest.mark.slow


def test_two_processes_on_one_sqlite_file_apply_each_delivery_once(
    tmp_path, make_event, fake_secret, harness
):
    """BEGIN IMMEDIATE + the busy timeout keep two processes' group commits apart."""
    users = 50
    secret = fake_secret("whsec")
    plans = harness.workload(make_event, users)
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    store = Store(url)
    store.upgrade()
    procs = [harness.start_service(url, secret) for _ in range(2)]
    try:
        answers = asyncio.run(harness.send_all(plans, [u for _, u in procs], secret, concurrency=8))
    finally:
        for proc, _ in procs:
            proc.terminate()
            proc.wait(10)
    assert all(status == 200 for replies in answers.values() for status, _ in replies)
    firsts = [sum(not body["duplicate"] for _, body in replies) for replies in answers.values()]
    assert firsts == [1] * (4 * users)
    assert store.count_events() == 4 * users
    assert harness.summary(store.all_connections()) == harness.reducer_alone(plans)
    store.close()
