"""``Store.ingest_async`` on SQLite: the writer thread's group commits, seen from an event loop.

The receiver uses it for small bodies (``tests/store/test_receiver.py`` covers it over HTTP);
these tests drive it directly: exactly once under concurrency (with threads calling the sync
``ingest`` at the same time), the same rows as the sync path, an outage raised (never a hang),
a cancelled waiter, and ``close()`` stopping the thread.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from terra_auth.store import Store, StoreUnavailable
from terra_auth.webhooks import verify_signature, verify_webhook

T0 = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)


def _verified(signer, payload, trace_id):
    body, headers = signer.delivery(payload, trace_id=trace_id)
    return verify_webhook(body, headers, signer.secrets), headers


def _writer_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "terra-auth-sqlite-writer"]


def test_async_ingest_applies_each_delivery_once_beside_sync_callers(store, signer, make_event):
    """300 deliveries, each sent twice at once from an event loop, while 8 threads send the
    same deliveries through the sync ``ingest``: every one is stored and applied exactly once."""
    deliveries = [
        _verified(signer, make_event("auth", f"u-{i}", f"r-{i}"), f"a-{i}")[0] for i in range(300)
    ]

    async def from_the_loop():
        return await asyncio.gather(
            *(store.ingest_async(v, received_at=T0) for v in deliveries for _ in range(2))
        )

    with ThreadPoolExecutor(8) as pool:
        sync_results = pool.map(lambda v: store.ingest(v, received_at=T0), deliveries)
        async_results = asyncio.run(from_the_loop())
        sync_results = list(sync_results)
    firsts: dict[str, int] = {}
    for v, result in zip(
        [v for v in deliveries for _ in range(2)] + deliveries,
        list(async_results) + sync_results,
        strict=True,
    ):
        firsts[v.trace_id] = firsts.get(v.trace_id, 0) + (not result.duplicate)
    assert set(firsts.values()) == {1}
    assert store.count_events() == 300
    assert sorted(c.terra_user_id for c in store.all_connections()) == sorted(
        f"u-{i}" for i in range(300)
    )
    applied = [r for r in async_results if not r.duplicate]
    assert all(r.event_id and [c.kind for c in r.changes] == ["connected"] for r in applied)


def test_async_and_sync_ingest_store_the_same_rows(tmp_path, signer, make_event):
    stores = [Store(f"sqlite:///{tmp_path / name}") for name in ("sync.db", "async.db")]
    for s in stores:
        s.upgrade()
    payloads = [
        make_event("auth", "a", "r-a"),
        make_event("permission_change", "a", "r-a", scopes="X,Y", scopes_added="Y"),
        make_event("user_reauth", "a2", "r-a", old_user_id="a"),
        {"type": "mystery"},
        make_event("deauth", "a2", "r-a"),
    ]
    sync, via_loop = stores

    async def run_async(items):
        return [await via_loop.ingest_async(v, received_at=at, headers=h) for v, h, at in items]

    items = [
        (*_verified(signer, p, f"s-{n}"), T0 + timedelta(minutes=n)) for n, p in enumerate(payloads)
    ]
    sync_results = [sync.ingest(v, received_at=at, headers=h) for v, h, at in items]
    async_results = asyncio.run(run_async(items))
    assert [(r.duplicate, r.changes) for r in sync_results] == [
        (r.duplicate, r.changes) for r in async_results
    ]
    # a signed body that does not parse: kept once, applied to nothing
    body, headers = signer.delivery({"type": "auth", "user": {}}, trace_id="s-unparsed")
    checked = verify_signature(body, headers, signer.secrets)

    async def unparsed_twice():
        first = await via_loop.ingest_unparsed_async(checked, received_at=T0, headers=headers)
        return first, await via_loop.ingest_unparsed_async(checked, received_at=T0)

    sync.ingest_unparsed(checked, received_at=T0, headers=headers)
    first, again = asyncio.run(unparsed_twice())
    assert (first.duplicate, again.duplicate) == (False, True)
    assert sync.all_connections() == via_loop.all_connections()
    strip = [
        [(e.trace_id, e.type, e.raw_body, e.received_at, e.headers) for e in s.events()]
        for s in stores
    ]
    assert strip[0] == strip[1]
    for s in stores:
        s.close()


def test_async_ingest_on_a_store_without_tables_raises_unavailable(tmp_path, signer, make_event):
    store = Store(f"sqlite:///{tmp_path / 'empty.db'}")  # never upgraded
    v, _ = _verified(signer, make_event("auth", "u", "r"), "t-1")

    async def both():
        return await asyncio.gather(
            store.ingest_async(v), store.ingest_async(v), return_exceptions=True
        )

    try:
        errors = asyncio.run(asyncio.wait_for(both(), 10))
        assert all(isinstance(e, StoreUnavailable) for e in errors), errors
        assert "terra-auth db upgrade" in (errors[0].hint or "")
        store.upgrade()  # after the outage the same delivery lands
        assert asyncio.run(store.ingest_async(v)).duplicate is False
    finally:
        store.close()


def test_a_cancelled_waiter_does_not_break_the_writer(store, signer, make_event):
    first, _ = _verified(signer, make_event("auth", "u-1", "r-1"), "x-1")
    second, _ = _verified(signer, make_event("auth", "u-2", "r-2"), "x-2")

    async def scenario():
        task = asyncio.create_task(store.ingest_async(first))
        await asyncio.sleep(0)  # let it queue its job
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return await asyncio.wait_for(store.ingest_async(second), 10)

    assert asyncio.run(scenario()).duplicate is False
    # the cancelled delivery was committed anyway (the caller just did not wait): a retry of it
    # is a duplicate, never a second effect
    assert store.ingest(first).duplicate is True
    assert store.count_events() == 2


def test_close_stops_the_writer_thread(tmp_path, signer, make_event):
    store = Store(f"sqlite:///{tmp_path / 'c.db'}")
    store.upgrade()
    before = len(_writer_threads())
    v, _ = _verified(signer, make_event("auth", "u", "r"), "c-1")
    assert asyncio.run(store.ingest_async(v)).duplicate is False
    assert len(_writer_threads()) == before + 1
    store.close()
    assert len(_writer_threads()) == before


def test_the_wal_is_checkpointed_in_the_background(store, signer, make_event):
    """The writer's own connection never checkpoints (no delivery waits for it); a second
    thread does, once about 4 MB were written, and leaves nothing behind in the WAL."""
    payloads = [
        {**make_event("activity", f"u-{i}", f"r-{i}"), "data": [{"samples": "x" * 600_000}]}
        for i in range(8)
    ]

    async def deliver():
        for i, payload in enumerate(payloads):
            v, headers = _verified(signer, payload, f"w-{i}")
            await store.ingest_async(v, headers=headers)

    asyncio.run(deliver())
    writer = store._writer
    assert writer is not None and writer._raw is not None
    assert writer._raw.execute("PRAGMA wal_autocheckpoint").fetchone() == (0,)
    assert writer._checkpointer is not None and writer._checkpointer.ran.wait(10)
    database = store.engine.url.database
    with sqlite3.connect(database) as other:  # nothing left to copy: (not busy, n, n)
        busy, wal_frames, copied = other.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert busy == 0 and wal_frames == copied
    assert store.count_events() == 8
