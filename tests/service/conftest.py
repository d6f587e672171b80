"""Fixtures: the real emulator in-process, and the real service on a free loopback port.

The service under test runs in uvicorn (real HTTP), with a real SQLite file, real Terra
clients talking to the emulator, and the emulator's signed webhooks flowing back to it. The
"host application" authenticates users with an ``X-Test-User`` header (the pluggable
``current_user`` dependency), which is what a host app's own auth would do.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import Request

from terra_auth.environments import Environment
from terra_auth.service import ServiceCore, create_app
from terra_auth.service.demo import BackgroundServer, bind_socket
from terra_auth.service.settings import ServiceSettings

TEST_USER_HEADER = "x-test-user"


def header_user(request: Request) -> str | None:
    """The host application's authentication, for tests: a trusted header."""
    return request.headers.get(TEST_USER_HEADER) or None


def as_user(name: str) -> dict[str, str]:
    return {TEST_USER_HEADER: name}


@pytest.fixture
def emulator() -> Iterator[Any]:
    from terra_auth.emulator import Emulator

    with Emulator(seed=7, time_scale=0.001, deauth_delay=0.05) as emu:
        yield emu


@dataclass
class RunningService:
    url: str
    core: ServiceCore
    http: httpx.Client
    settings: ServiceSettings

    @property
    def store(self) -> Any:
        return self.core.store


@pytest.fixture
def make_service(emulator: Any, tmp_path: Path) -> Iterator[Callable[..., RunningService]]:
    """``make_service(**settings)`` -> a running service wired to the emulator."""
    stack: list[tuple[BackgroundServer, httpx.Client]] = []
    counter = itertools.count()

    def make(
        *, current_user: Any = header_user, environments: tuple[str, ...] = ("testing",), **changes: Any
    ) -> RunningService:
        sock = bind_socket("127.0.0.1", 0)
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        envs = tuple(Environment.parse(e) for e in environments)
        settings = ServiceSettings(
            environments=envs,
            database_url=f"sqlite:///{tmp_path / f'service-{next(counter)}.db'}",
            public_url=url,
            **changes,
        )
        credentials = {env: emulator.credentials(env.value) for env in envs}
        app = create_app(settings, current_user=current_user, credentials=credentials)
        server = BackgroundServer(app, sock=sock)
        for env in envs:
            emulator.set_webhook_url(env.value, f"{url}/terra/webhooks")
        http = httpx.Client(base_url=url, timeout=10.0, follow_redirects=False)
        stack.append((server, http))
        return RunningService(url, app.state.terra, http, settings)

    yield make
    for server, http in reversed(stack):
        http.close()
        server.stop()


@pytest.fixture
def service(make_service: Callable[..., RunningService]) -> RunningService:
    return make_service()


def connect_via_emulator(emulator: Any, service: RunningService, reference_id: str, provider: str = "FITBIT") -> dict[str, Any]:
    """Connect a wearable as Terra would (auth webhook signed and delivered) and wait for it."""
    before = delivered(emulator)
    user = emulator.connect("testing", provider=provider, reference_id=reference_id)
    emulator.wait_for_deliveries(before + 1, timeout=10.0)
    return user


def delivered(emulator: Any) -> int:
    """How many webhooks the service has acknowledged so far."""
    return len([d for d in emulator.deliveries if d.delivered])


@pytest.fixture
def all_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    return caplog
