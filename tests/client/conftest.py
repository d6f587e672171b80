"""Fixtures for the client tests: a real emulator on a loopback port, and clients built on it.

One emulator per error style lives for the whole session (starting one costs a server thread);
each test gets it reset. Retries never really sleep: the policy's sleep records the waits.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from terra_auth.client import AsyncTerraClient, RetryPolicy, TerraClient
from terra_auth.environments import TerraCredentials


class Waits(list[float]):
    """The waits a retry policy asked for (recorded instead of slept)."""

    def __call__(self, delay: float) -> None:
        self.append(delay)

    async def async_sleep(self, delay: float) -> None:
        self.append(delay)


@pytest.fixture(scope="session")
def _emulators() -> Iterator[dict[str, Any]]:
    from terra_auth.emulator import Emulator

    started: dict[str, Any] = {}
    try:
        for style in ("problem", "legacy"):
            emu = Emulator(seed=7, error_style=style, time_scale=0.001)
            emu.__enter__()
            started[style] = emu
        yield started
    finally:
        for emu in started.values():
            emu.__exit__(None, None, None)


@pytest.fixture
def emu(_emulators: dict[str, Any]) -> Any:
    """The problem+json emulator, freshly reset."""
    emulator = _emulators["problem"]
    emulator.reset()
    return emulator


@pytest.fixture
def legacy_emu(_emulators: dict[str, Any]) -> Any:
    """The emulator answering errors as ``{"status": "error", "message": ...}``, reset."""
    emulator = _emulators["legacy"]
    emulator.reset()
    return emulator


@pytest.fixture(params=["problem", "legacy"])
def any_emu(request: pytest.FixtureRequest, _emulators: dict[str, Any]) -> Any:
    """Each error style in turn."""
    emulator = _emulators[request.param]
    emulator.reset()
    return emulator


@pytest.fixture
def creds(emu: Any) -> TerraCredentials:
    return emu.credentials("testing")  # type: ignore[no-any-return]


@pytest.fixture
def waits() -> Waits:
    return Waits()


@pytest.fixture
def policy(waits: Waits) -> RetryPolicy:
    return RetryPolicy(attempts=3, timeout=60.0, sleep=waits, async_sleep=waits.async_sleep)


@pytest.fixture
def client(creds: TerraCredentials, policy: RetryPolicy) -> Iterator[TerraClient]:
    with TerraClient(creds, retry=policy) as c:
        yield c


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def hits(emu: Any) -> Any:
    """``hits("/auth/tokens")``: how many requests the emulator logged for an endpoint."""

    def count(endpoint: str, emulator: Any = emu) -> int:
        return sum(1 for r in emulator.requests if r[1].endswith(endpoint))

    return count
