"""``terra-auth demo``: the emulator, the service with the demo login, SQLite and a web page.

Everything listens on the loopback interface and nothing reaches Terra. The emulator and the
service never import each other; this module wires them together over HTTP.

Example:
    >>> with Demo(port=0) as demo:                       # doctest: +SKIP
    ...     print(demo.url, demo.emulator_url)
"""

from __future__ import annotations

import contextlib
import secrets
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from terra_auth.environments import Environment
from terra_auth.errors import ConfigurationError
from terra_auth.secret import Secret, get_logger
from terra_auth.service.core import masked_url

__all__ = ["BackgroundServer", "Demo", "bind_socket", "run_demo"]

log = get_logger("terra_auth.service.demo")
_START_TIMEOUT = 20.0


class BackgroundServer:
    """An ASGI app served by uvicorn in a background thread; returns once it accepts connections.

    >>> with BackgroundServer(app) as server:           # doctest: +SKIP
    ...     httpx.get(server.url + "/terra/health")
    """

    def __init__(
        self,
        app: Any,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        sock: socket.socket | None = None,
        log_level: str = "warning",
    ) -> None:
        import uvicorn

        self._own_socket = sock is None
        self.sock = sock if sock is not None else bind_socket(host, port)
        bound_host, self.port = self.sock.getsockname()[:2]
        self.url = f"http://{_shown_host(str(bound_host))}:{self.port}"
        started = threading.Event()

        class Server(uvicorn.Server):
            async def startup(self, sockets: list[socket.socket] | None = None) -> None:
                await super().startup(sockets=sockets)
                started.set()

        config = uvicorn.Config(app, log_level=log_level, lifespan="on", access_log=False)
        self.server = Server(config)
        self._thread = threading.Thread(
            target=self.server.run,
            kwargs={"sockets": [self.sock]},
            name="terra-service",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + _START_TIMEOUT
        while not started.wait(0.05):
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise ConfigurationError(
                    "the service did not start (its startup failed)",
                    hint="run with TERRA_AUTH_DEBUG=1 and --log-level debug to see why",
                )

    def stop(self) -> None:
        """Ask uvicorn to finish and wait for the thread (idempotent)."""
        self.server.should_exit = True
        self._thread.join(_START_TIMEOUT)
        if self._own_socket:
            self.sock.close()

    def __enter__(self) -> BackgroundServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _shown_host(host: str) -> str:
    if host in ("0.0.0.0", "", "::"):  # noqa: S104 (shown as loopback, not bound)
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


class Demo:
    """The whole system offline: an in-process emulator and the service on one port."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        database_url: str | None = None,
        environment: str | Environment = Environment.TESTING,
        log_level: str = "warning",
    ) -> None:
        self.environment = Environment.parse(environment)
        if self.environment is Environment.PRODUCTION:
            raise ConfigurationError(
                "the demo never runs against production", hint="use --env testing or staging"
            )
        self.host = host
        self.port = port
        self.database_url = database_url
        self.log_level = log_level
        self.url = ""
        self.emulator_url = ""
        self._stack = contextlib.ExitStack()

    def start(self) -> Demo:
        """Start the emulator and the service; returns once both accept connections."""
        from terra_auth.emulator import Emulator
        from terra_auth.service.fastapi_app import create_app
        from terra_auth.service.settings import ServiceSettings

        try:
            sock = bind_socket(self.host, self.port)
            self._stack.callback(sock.close)
            self.port = sock.getsockname()[1]
            self.url = f"http://{_shown_host(self.host)}:{self.port}"
            database_url = self.database_url
            if database_url is None:
                folder = self._stack.enter_context(
                    tempfile.TemporaryDirectory(prefix="terra-demo-")
                )
                database_url = f"sqlite:///{Path(folder) / 'terra-auth-demo.db'}"
            self.database_url = database_url
            emulator = self._stack.enter_context(Emulator(webhook_url=f"{self.url}/terra/webhooks"))
            self.emulator = emulator
            self.emulator_url = emulator.url
            credentials = emulator.credentials(self.environment.value)
            settings = ServiceSettings(
                environments=(self.environment,),
                database_url=database_url,
                public_url=self.url,
                demo=True,
                session_key=Secret(secrets.token_urlsafe(32)),
            )
            app = create_app(settings, credentials={self.environment: credentials})
            core = app.state.terra
            core.start()  # now, so a bad --database-url is a clear error, not a uvicorn traceback
            self._stack.callback(core.close)
            server = BackgroundServer(app, sock=sock, log_level=self.log_level)
            self._stack.callback(server.stop)
        except BaseException:
            self._stack.close()
            raise
        return self

    def stop(self) -> None:
        """Stop the service, then the emulator, and remove the temporary database."""
        self._stack.close()

    def __enter__(self) -> Demo:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def bind_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY only on accepted sockets whose proto
    # says TCP; with proto 0, keep-alive responses wait ~40 ms on Nagle + delayed ACK
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigurationError(
            f"cannot listen on {host}:{port} ({exc.strerror or exc})",
            hint="pick another --port (or --port 0 for any free port)",
        ) from None
    sock.listen(128)
    return sock


def run_demo(
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    database_url: str | None = None,
    exit_after: float | None = None,
    open_browser: bool = False,
    echo: Callable[[str], None] = print,
) -> None:
    """Run the demo until Ctrl-C (or ``exit_after`` seconds), printing the URLs it serves."""
    stop = threading.Event()
    with Demo(host=host, port=port, database_url=database_url) as demo:
        echo(f"terra-auth demo: open {demo.url}/ in a browser")
        echo(f"  service         {demo.url}/  (demo login, API under {demo.url}/terra/)")
        echo(f"  webhooks        {demo.url}/terra/webhooks  (signed by the emulator)")
        echo(f"  Terra emulator  {demo.emulator_url}/  (hosted widget and API)")
        echo(f"  database        {masked_url(str(demo.database_url))}")
        echo("Press Ctrl-C to stop." if exit_after is None else f"Stopping after {exit_after:g} s.")
        if open_browser:
            import webbrowser

            webbrowser.open(f"{demo.url}/")
        try:
            stop.wait(exit_after)
        except KeyboardInterrupt:
            echo("stopping...")
    echo("terra-auth demo stopped")
