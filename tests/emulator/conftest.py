"""Shared fixtures for the emulator tests: a running emulator and a real webhook receiver."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from terra_auth.emulator import Emulator


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A real HTTP server on 127.0.0.1 that records webhook posts and answers scripted codes."""

    url: str = ""
    received: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # answered in order, then 200
    hang: threading.Event | None = None  # when set, the handler blocks until the event
    cond: threading.Condition = field(default_factory=threading.Condition)

    def wait(self, n: int, timeout: float = 5.0) -> list[Received]:
        with self.cond:
            ok = self.cond.wait_for(lambda: len(self.received) >= n, timeout)
        assert ok, f"expected {n} webhook posts, got {len(self.received)}"
        return list(self.received)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            body = f"landed {self.path}".encode()
            with state.cond:
                state.received.append(Received(self.path, dict(self.headers.items()), b""))
                state.cond.notify_all()
            self.send_response(200)
            self.send_header("content-type", "text/html")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(length)
            if state.hang is not None and not state.hang.is_set():
                state.hang.wait(5)
            with state.cond:
                state.received.append(Received(self.path, dict(self.headers.items()), body))
                code = state.statuses.pop(0) if state.statuses else 200
                state.cond.notify_all()
            self.send_response(code)
            self.send_header("content-length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    if state.hang is not None:
        state.hang.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(seed=7, time_scale=0.001, deauth_delay=0.0) as emulator:
        yield emulator


@pytest.fixture
def http(emu: Emulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emu.url, timeout=5.0) as client:
        yield client


@pytest.fixture
def auth(emu: Emulator) -> dict[str, str]:
    account = emu.environments["testing"]
    return {"dev-id": account.dev_id, "x-api-key": account.api_key}
