"""check() tells apart bad credentials, an unreachable host, TLS, a timeout and a wrong base URL.

Every case is real: the emulator, a closed port, an https URL aimed at the plain-http emulator,
a socket that accepts and never answers, and a web server that serves HTML.
"""

from __future__ import annotations

import dataclasses
import http.server
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from terra_auth.client import AsyncTerraClient, TerraClient
from terra_auth.secret import Secret


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def silent_server() -> Iterator[str]:
    """Accepts connections (kernel backlog) and never answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield f"http://127.0.0.1:{s.getsockname()[1]}/api/v2"


@pytest.fixture
def html_server() -> Iterator[str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"<!doctype html><title>Welcome</title><p>a marketing page</p>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def run_check(creds: Any) -> Any:
    with TerraClient(creds) as client:
        return client.check()


def test_good_credentials(creds: Any) -> None:
    result = run_check(creds)
    assert result.ok and result.problem is None
    assert result.environment == "testing" and creds.key_fingerprint in result.message


def test_bad_credentials(creds: Any, fake_secret) -> None:
    key = fake_secret("wrong")
    result = run_check(dataclasses.replace(creds, api_key=Secret(key)))
    assert not result.ok and result.problem == "bad_credentials" and result.status_code == 401
    assert "one environment" in (result.hint or "")
    assert Secret(key).fingerprint in (result.hint or "")
    assert key not in result.model_dump_json()


def test_unreachable(creds: Any, closed_port: int) -> None:
    url = f"http://127.0.0.1:{closed_port}/api/v2"
    result = run_check(dataclasses.replace(creds, api_base_url=url))
    assert result.problem == "unreachable" and "TERRA_API_BASE_URL" in (result.hint or "")


def test_tls(emu: Any, creds: Any) -> None:
    url = emu.url.replace("http://", "https://") + "/api/v2"
    result = run_check(dataclasses.replace(creds, api_base_url=url))
    assert result.problem == "tls" and "https" in (result.hint or "")


def test_timeout(creds: Any, silent_server: str) -> None:
    quick = dataclasses.replace(creds, api_base_url=silent_server, timeout=0.2)
    result = run_check(quick)
    assert result.problem == "timeout" and "TERRA_TIMEOUT" in (result.hint or "")


@pytest.mark.parametrize("suffix", ["/api/v3", "", "/api"])
def test_wrong_base_url_on_the_emulator(emu: Any, creds: Any, suffix: str) -> None:
    result = run_check(dataclasses.replace(creds, api_base_url=emu.url + suffix))
    assert result.problem == "wrong_base_url", result
    assert "TERRA_API_BASE_URL" in (result.hint or "")


def test_wrong_base_url_serving_html(creds: Any, html_server: str) -> None:
    result = run_check(dataclasses.replace(creds, api_base_url=html_server))
    assert result.problem == "wrong_base_url" and "HTML" in result.message


def test_server_error_is_not_blamed_on_credentials(emu: Any, creds: Any) -> None:
    emu.inject_fault("/subscriptions", kind="status", status=503, count=1)
    result = run_check(creds)
    assert result.problem == "server_error"
    assert [r[2] for r in emu.requests] == [503]  # check() does not retry


def test_rate_limited_and_dropped_connections(emu: Any, creds: Any) -> None:
    emu.inject_fault("/subscriptions", kind="rate_limit", retry_after=5, count=1)
    assert run_check(creds).problem == "rate_limited"
    emu.inject_fault("/subscriptions", kind="drop", count=1)
    assert run_check(creds).problem in ("protocol", "unreachable")
    assert run_check(creds).ok


@pytest.mark.anyio
async def test_async_check(creds: Any, closed_port: int) -> None:
    async with AsyncTerraClient(creds) as client:
        assert (await client.check()).ok
    bad = dataclasses.replace(creds, api_base_url=f"http://127.0.0.1:{closed_port}")
    async with AsyncTerraClient(bad) as client:
        assert (await client.check()).problem == "unreachable"
