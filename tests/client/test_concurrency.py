"""Concurrency: the async client under 200 concurrent calls, the sync client shared by threads."""

from __future__ import annotations

import asyncio
import dataclasses
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from terra_auth.client import AsyncTerraClient, RetryPolicy, TerraClient

OK = "http://localhost:8000/ok"


@pytest.mark.anyio
async def test_200_concurrent_widget_sessions(emu: Any, creds: Any) -> None:
    async with AsyncTerraClient(creds, retry=RetryPolicy.off()) as client:
        sessions = await asyncio.gather(
            *(client.generate_widget_session(f"user-{i}", OK, OK) for i in range(200))
        )
    assert len({s.session_id for s in sessions}) == 200
    assert sum(1 for r in emu.requests if r[1] == "/api/widget/session" and r[2] == 200) == 200


def test_threads_share_one_client_and_the_410_memory(
    emu: Any, creds: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(emu.environments["testing"], "legacy_widget_gone", True)
    legacy = dataclasses.replace(creds, use_legacy_widget=True)

    def legacy_hits() -> int:
        return sum(1 for r in emu.requests if r[1].endswith("/auth/generateWidgetSession"))

    with TerraClient(legacy) as client, ThreadPoolExecutor(8) as pool:
        first = list(pool.map(lambda i: client.generate_widget_session(f"a{i}", OK, OK), range(8)))
        after_first = legacy_hits()
        second = list(pool.map(lambda i: client.generate_widget_session(f"b{i}", OK, OK), range(8)))
    assert len({s.session_id for s in first + second}) == 16
    assert 1 <= after_first <= 8  # threads that raced the first 410 each saw one
    assert legacy_hits() == after_first  # then nobody asks the legacy endpoint again
