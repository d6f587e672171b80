"""The emulator's ASGI app (trace headers, request log, faults around FastAPI) and its server.

Example:
    >>> from terra_auth.emulator.core import Engine
    >>> app = create_app(Engine(seed=1))
    >>> type(app).__name__
    'EmulatorApp'
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import uuid
from collections.abc import Callable
from typing import Any

from terra_auth.emulator.accounts import Account
from terra_auth.emulator.core import Engine
from terra_auth.emulator.faults import Fault, normalize_path
from terra_auth.emulator.responses import STYLE_HEADER, error_body, instance_of
from terra_auth.emulator.state import RequestRecord

__all__ = ["EmulatorApp", "create_app"]

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[Message], Any]


class EmulatorApp:
    """ASGI wrapper: trace headers, the request log, and injected faults, around FastAPI."""

    def __init__(self, engine: Engine, inner: Any) -> None:
        self.engine = engine
        self.inner = inner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.inner(scope, receive, send)
            return
        engine = self.engine
        method: str = scope["method"]
        path: str = scope["path"]
        dev_id = style = None
        for name, value in scope["headers"]:
            if name == b"dev-id":
                dev_id = value.decode("latin-1")
            elif name == STYLE_HEADER.encode():
                style = value.decode("latin-1")
        account = engine.by_dev_id.get(dev_id) if dev_id else None
        env = account.environment.value if account is not None else None
        extra = [
            (b"x-terra-trace-id", str(uuid.uuid4()).encode()),
            (b"terra-reference", str(uuid.uuid4()).encode()),
        ]
        status = 500
        logged = False

        async def send_with_headers(message: Message) -> None:
            nonlocal status, logged
            if message["type"] == "http.response.start":
                status = message["status"]
                message = dict(message, headers=[*message.get("headers", ()), *extra])
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                # log before the last byte leaves, so a caller that has its answer sees the line
                engine.state.log_request(RequestRecord(method, path, status, env))
                logged = True
            await send(message)

        try:
            fault = engine.faults.match(method, path, engine.state.rng_random)
            if fault is not None and await self._fault(
                fault,
                scope=scope,
                receive=receive,
                send=send_with_headers,
                style=style,
                account=account,
            ):
                if fault.kind == "drop":
                    status = 0  # no answer at all: logged as status 0
                return
            await self.inner(scope, receive, send_with_headers)
        finally:
            if not logged:
                engine.state.log_request(RequestRecord(method, path, status, env))

    async def _fault(
        self,
        fault: Fault,
        *,
        scope: Scope,
        receive: Receive,
        send: Send,
        style: str | None,
        account: Account | None,
    ) -> bool:
        """Apply a fault; True when it answered (or dropped) the request itself."""
        if fault.kind == "latency":
            await asyncio.sleep(fault.latency)
            return False
        if fault.kind == "drop":
            transport = getattr(getattr(receive, "__self__", None), "transport", None)
            if transport is not None:
                transport.close()
                return True
            raise ConnectionResetError("emulator fault: connection dropped")
        style = style if style in ("problem", "legacy", "forbidden") else None
        if style is None:
            style = (account.error_style if account else None) or self.engine.error_style
        if normalize_path(scope["path"]) == "/api/widget/session" or scope["path"].startswith(
            "/streaming/"
        ):
            style = "legacy"  # these hosts answer {status, message}, never problem+json
        instance = instance_of(scope["path"], scope.get("query_string", b""))
        headers: list[tuple[bytes, bytes]] = []
        if fault.kind == "rate_limit":
            status, body, media = error_body(style, 429, "rate limit exceeded", instance)
            headers = [
                (b"retry-after", str(fault.retry_after).encode()),
                (b"x-terra-ratelimit-rule", b"r2"),
                (b"x-terra-ratelimit-limit", b"6000"),
                (b"x-terra-ratelimit-remaining", b"0"),
                (b"x-terra-ratelimit-reset-after", str(fault.retry_after).encode()),
            ]
        else:
            status, body, media = error_body(
                style, fault.status, "emulator fault: injected error", instance
            )
        raw = json.dumps(body).encode()
        headers += [(b"content-type", media.encode()), (b"content-length", str(len(raw)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": raw})
        return True


def create_app(engine: Engine) -> EmulatorApp:
    """The emulator's ASGI app for an engine (FastAPI inside :class:`EmulatorApp`)."""
    from fastapi import FastAPI
    from starlette.exceptions import HTTPException
    from starlette.requests import Request
    from starlette.responses import Response

    from terra_auth.emulator.api import add_api_routes, style_for
    from terra_auth.emulator.control import add_control_routes
    from terra_auth.emulator.responses import error_response
    from terra_auth.emulator.widget import add_widget_routes

    inner = FastAPI(title="Terra emulator", docs_url=None, redoc_url=None, openapi_url=None)

    async def unknown_route(request: Request, exc: Exception) -> Response:
        """404/405 in the request's error style, naming what was asked."""
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        what = f"{request.method} {request.url.path}"
        detail = {
            404: f"no such endpoint: {what}",
            405: f"method not allowed: {what}",
        }.get(status, f"emulator error on {what}")
        instance = instance_of(request.url.path, request.url.query)
        return error_response(style_for(engine, request), status, detail, instance)

    inner.add_exception_handler(HTTPException, unknown_route)
    add_api_routes(inner, engine)
    add_widget_routes(inner, engine)
    add_control_routes(inner, engine)
    return EmulatorApp(engine, inner)


class _Server:
    """uvicorn.Server that signals a threading.Event once it listens."""

    def __init__(self, app: Any, sock: socket.socket) -> None:
        import uvicorn

        self.started = threading.Event()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.wake: asyncio.Event | None = None
        started = self.started

        holder = self

        class Server(uvicorn.Server):
            async def startup(self, sockets: list[socket.socket] | None = None) -> None:
                holder.loop = asyncio.get_running_loop()
                holder.wake = asyncio.Event()
                await super().startup(sockets=sockets)
                started.set()

            async def main_loop(self) -> None:
                # uvicorn's loop polls every 0.1 s; this one also wakes at once on stop()
                counter = 0
                wake = holder.wake
                assert wake is not None
                should_exit = await self.on_tick(counter)
                while not should_exit:
                    counter = (counter + 1) % 864000
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(wake.wait(), 0.1)
                    should_exit = await self.on_tick(counter)

        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            http="h11",
            timeout_graceful_shutdown=2,
        )
        self.server = Server(config)
        self.sock = sock
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [sock]}, name="terra-emulator", daemon=True
        )
