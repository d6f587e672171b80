"""The webhook receiver: a framework-agnostic core, a FastAPI router and a minimal app.

``handle_webhook`` checks the size, verifies the signature against every configured
environment's secrets, stores the event and applies the lifecycle reducer (one transaction, in
:meth:`terra_auth.store.Store.ingest`), and says what to answer:

====  ======================================================================================
200   ``{"status": "ok", "duplicate": false}`` (a repeated delivery: ``"duplicate": true``)
200   ``{"status": "unparsed", "error": "invalid_body"}``: correctly signed but not a Terra
      event this version understands; stored (type ``invalid_body``), applied to nothing,
      not retried by Terra; ``terra-auth events replay`` applies it after an upgrade
401   ``{"error": "<reason>"}``: forged, stale, unsigned or wrong-environment; nothing stored
413   ``{"error": "body_too_large"}``: over ``max_body_bytes``; nothing read beyond the limit
503   ``{"error": "store_unavailable"}`` with ``Retry-After``: the database is down; Terra retries
====  ======================================================================================

Example:
    >>> from terra_auth.store import Store
    >>> store = Store("sqlite:///:memory:"); store.upgrade()
    >>> handle_webhook(b"{}", {}, secrets={"testing": "whsec_x"}, store=store,
    ...                max_body_bytes=1024).status_code
    401
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import socket
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from terra_auth.errors import WebhookVerificationError
from terra_auth.secret import get_logger
from terra_auth.store import StoreUnavailable

if TYPE_CHECKING:
    from fastapi import APIRouter, FastAPI
    from starlette.responses import Response

    from terra_auth.store import Store
    from terra_auth.webhooks import VerifiedWebhook, WebhookEvent
    from terra_auth.webhooks.signature import SecretsArg, VerifiedSignature

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "WebhookCore",
    "WebhookResponse",
    "create_webhook_app",
    "handle_webhook",
    "handle_webhook_async",
    "json_response",
    "webhook_router",
]

_log = get_logger("terra_auth.service.ingest")

DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024
DEFAULT_RETRY_AFTER = 5
DEFAULT_MAX_THREADS = 8
WEBHOOK_PATH = "/terra/webhooks"
#: bodies up to this size are verified and parsed on the event loop when the store can take
#: them without blocking it (SQLite's writer thread); larger ones go to a worker thread
INLINE_MAX_BYTES = 64 * 1024


class WebhookResponse(NamedTuple):
    """What to answer: unpack as ``status, body, headers = handle_webhook(...)``."""

    status_code: int
    body: dict[str, Any]
    headers: dict[str, str] = {}


class _Lowered(dict[str, str]):
    """Request headers as one dict of lower-case names (the last value of a repeated one)."""


def _lower(headers: Mapping[str, str]) -> _Lowered:
    return _Lowered((str(k).lower(), str(v)) for k, v in headers.items())


def _scope_headers(scope: Mapping[str, Any]) -> _Lowered:
    """The ASGI request's headers, read once (ASGI names are already lower-case bytes)."""
    return _Lowered((k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"])


def _reject(status: int, error: str, **headers: str) -> WebhookResponse:
    return WebhookResponse(status, {"error": error}, dict(headers))


def _too_large(max_body_bytes: int) -> WebhookResponse:
    return WebhookResponse(
        413, {"error": "body_too_large", "max_bytes": max_body_bytes}, {"Connection": "close"}
    )


def declared_length(headers: Mapping[str, str]) -> int | None:
    """The Content-Length a request declares (None when absent or not a number).

    >>> declared_length({"Content-Length": "12"}), declared_length({})
    (12, None)
    """
    for name, value in headers.items():
        if name.lower() == "content-length":
            try:
                return int(str(value).strip())
            except ValueError:
                return None
    return None


def _unavailable(exc: StoreUnavailable, retry_after: int) -> WebhookResponse:
    _log.error("webhook not stored, answering 503: %s", exc)
    return WebhookResponse(
        503, {"error": "store_unavailable"}, {"Retry-After": str(int(retry_after))}
    )


class _Accepted(NamedTuple):
    """A delivery whose signature checked out, ready to store (``event`` None: unparsed)."""

    checked: VerifiedSignature
    event: WebhookEvent | None
    headers: dict[str, str]
    received_at: datetime


def _check(
    body: bytes,
    headers: Mapping[str, str],
    *,
    secrets: SecretsArg,
    max_body_bytes: int,
    tolerance: float,
    now: datetime | float | None,
) -> WebhookResponse | _Accepted:
    """Size, signature, timestamp, then parsing: the answer to give now, or what to store."""
    from terra_auth.webhooks import parse_event, verify_signature

    lowered = headers if type(headers) is _Lowered else _lower(headers)
    length = declared_length(lowered)
    if (length is not None and length > max_body_bytes) or len(body) > max_body_bytes:
        _log.warning("webhook refused: body over %d bytes", max_body_bytes)
        return _too_large(max_body_bytes)
    try:  # the signature and the time first: nothing is parsed before they pass
        checked = verify_signature(body, lowered, secrets, tolerance=tolerance, now=now)
    except WebhookVerificationError as exc:
        trace = lowered.get("x-terra-trace-id", "-")[:80]
        _log.warning("webhook rejected (%s), trace id %s", exc.reason, trace)
        return _reject(401, exc.reason)
    if checked.environment is None:  # secrets given without environments: refuse to guess
        _log.warning("webhook rejected (no_environment): secrets carry no environment")
        return _reject(401, "no_environment")
    received_at = datetime.now(UTC)
    try:
        event = parse_event(checked.body)
    except WebhookVerificationError as exc:
        # Signed by Terra but not an event this version understands: the same bytes would
        # never parse on a retry, so answer 200 (Terra retries every non-2xx) and keep them
        # for `terra-auth events replay` after an upgrade.
        _log.error(
            "signed webhook does not parse (%s), trace id %s: stored as invalid_body, "
            "applied to nothing, answered 200 so Terra does not retry it",
            exc.message,
            lowered.get("x-terra-trace-id", "-")[:80],
        )
        return _Accepted(checked, None, lowered, received_at)
    return _Accepted(checked, event, lowered, received_at)


def _stored(accepted: _Accepted, duplicate: bool) -> WebhookResponse:
    if accepted.event is None:
        return WebhookResponse(
            200, {"status": "unparsed", "error": "invalid_body", "duplicate": duplicate}, {}
        )
    return WebhookResponse(200, {"status": "ok", "duplicate": duplicate}, {})


def _verified(accepted: _Accepted) -> VerifiedWebhook:
    from terra_auth.webhooks import VerifiedWebhook

    checked = accepted.checked
    assert accepted.event is not None
    return VerifiedWebhook(
        checked.environment, accepted.event, checked.trace_id, checked.signed_at, checked.body
    )


def handle_webhook(
    body: bytes,
    headers: Mapping[str, str],
    *,
    secrets: SecretsArg,
    store: Store,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    tolerance: float = 300,
    retry_after: int = DEFAULT_RETRY_AFTER,
    now: datetime | float | None = None,
) -> WebhookResponse:
    """Verify, store and apply one webhook delivery; return what to answer (never raises
    for bad input or a database outage).

    ``secrets`` maps each served environment to its signing secret(s) (or its
    :class:`~terra_auth.environments.TerraCredentials`), so a webhook signed for another
    environment, or with no known secret, gets 401.
    """
    accepted = _check(
        body,
        headers,
        secrets=secrets,
        max_body_bytes=max_body_bytes,
        tolerance=tolerance,
        now=now,
    )
    if isinstance(accepted, WebhookResponse):
        return accepted
    try:
        if accepted.event is None:
            result = store.ingest_unparsed(
                accepted.checked, received_at=accepted.received_at, headers=accepted.headers
            )
        else:
            result = store.ingest(
                _verified(accepted), received_at=accepted.received_at, headers=accepted.headers
            )
    except StoreUnavailable as exc:
        return _unavailable(exc, retry_after)
    return _stored(accepted, result.duplicate)


async def handle_webhook_async(
    body: bytes,
    headers: Mapping[str, str],
    *,
    secrets: SecretsArg,
    store: Store,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    tolerance: float = 300,
    retry_after: int = DEFAULT_RETRY_AFTER,
    now: datetime | float | None = None,
) -> WebhookResponse:
    """:func:`handle_webhook` on the event loop: verification and parsing run inline (cheap
    for small bodies), the transaction through :meth:`Store.ingest_async` (on SQLite, the
    writer thread's next group commit).

    >>> await handle_webhook_async(body, headers, secrets=..., store=store)  # doctest: +SKIP
    WebhookResponse(status_code=200, body={'status': 'ok', 'duplicate': False}, headers={})
    """
    accepted = _check(
        body,
        headers,
        secrets=secrets,
        max_body_bytes=max_body_bytes,
        tolerance=tolerance,
        now=now,
    )
    if isinstance(accepted, WebhookResponse):
        return accepted
    try:
        if accepted.event is None:
            result = await store.ingest_unparsed_async(
                accepted.checked, received_at=accepted.received_at, headers=accepted.headers
            )
        else:
            result = await store.ingest_async(
                _verified(accepted), received_at=accepted.received_at, headers=accepted.headers
            )
    except StoreUnavailable as exc:
        return _unavailable(exc, retry_after)
    return _stored(accepted, result.duplicate)


@dataclass
class WebhookCore:
    """The receiver's configuration, shared by every adapter.

    ``store`` is a :class:`~terra_auth.store.Store` or a callable returning one (so an app
    can open its store at startup).
    """

    store: Store | Callable[[], Store]
    secrets: SecretsArg
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    tolerance: float = 300
    retry_after: int = DEFAULT_RETRY_AFTER

    def get_store(self) -> Store:
        """The store (a factory is called on every request, so it may change over time)."""
        from terra_auth.store import Store

        candidate = self.store
        return candidate if isinstance(candidate, Store) else candidate()

    def handle(self, body: bytes, headers: Mapping[str, str]) -> WebhookResponse:
        """:func:`handle_webhook` with this configuration."""
        try:
            store = self.get_store()
        except StoreUnavailable as exc:
            _log.error("webhook not stored, answering 503: %s", exc)
            return WebhookResponse(
                503, {"error": "store_unavailable"}, {"Retry-After": str(int(self.retry_after))}
            )
        return handle_webhook(
            body,
            headers,
            secrets=self.secrets,
            store=store,
            max_body_bytes=self.max_body_bytes,
            tolerance=self.tolerance,
            retry_after=self.retry_after,
        )


async def read_capped(
    request: Any, limit: int, headers: Mapping[str, str] | None = None
) -> bytes | None:
    """The request body, or None as soon as it grows past ``limit`` (the rest is not read).

    ``headers``: the request's headers when already read (lower-case names).
    """
    declared = declared_length(request.headers if headers is None else headers)
    if declared is not None and declared > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


_OK_JSON = {
    False: b'{"status":"ok","duplicate":false}',
    True: b'{"status":"ok","duplicate":true}',
}


def json_response(result: WebhookResponse) -> Response:
    """A Starlette response for ``result`` (the common ``ok`` bodies are pre-rendered).

    >>> json_response(WebhookResponse(200, {"status": "ok", "duplicate": False})).body
    b'{"status":"ok","duplicate":false}'
    """
    from starlette.responses import Response

    body = result.body
    if len(body) == 2 and body.get("status") == "ok" and type(body.get("duplicate")) is bool:
        content = _OK_JSON[body["duplicate"]]
    else:
        content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    return Response(content, result.status_code, result.headers, "application/json")


def _disconnect_type() -> type[Exception]:
    from starlette.requests import ClientDisconnect

    return ClientDisconnect


def webhook_router(
    get_core: Callable[[], WebhookCore] | None = None,
    *,
    store: Store | Callable[[], Store] | None = None,
    secrets: SecretsArg | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    tolerance: float = 300,
    retry_after: int = DEFAULT_RETRY_AFTER,
    path: str = WEBHOOK_PATH,
    max_threads: int = DEFAULT_MAX_THREADS,
) -> APIRouter:
    """A FastAPI router with ``POST /terra/webhooks`` (``path``).

    Pass ``get_core`` (a callable returning a :class:`WebhookCore`), or the core's fields
    (``store``, ``secrets``, ...). The body is streamed with a size cap; verification and the
    database transaction run in at most ``max_threads`` worker threads (enough for SQLite's
    group commit; more only adds GIL contention and latency).
    """
    import anyio
    import anyio.to_thread
    from fastapi import APIRouter, Request, Response

    if get_core is None:
        if store is None or secrets is None:
            raise TypeError("webhook_router() needs get_core, or store= and secrets=")
        core = WebhookCore(store, secrets, max_body_bytes, tolerance, retry_after)

        def get_core() -> WebhookCore:
            return core

    resolve = get_core
    router = APIRouter()

    limiter: anyio.CapacityLimiter | None = None

    async def receive_terra_webhook(request: Request) -> Response:
        nonlocal limiter
        current = resolve()
        headers = _scope_headers(request.scope)  # read once, already lower-case
        try:
            body = await read_capped(request, current.max_body_bytes, headers)
        except _disconnect_type():  # the sender went away mid-body: nothing to answer or store
            _log.warning("webhook sender disconnected before the body was complete")
            return json_response(WebhookResponse(400, {"error": "incomplete_body"}))
        if body is None:
            _log.warning("webhook refused: body over %d bytes", current.max_body_bytes)
            return json_response(_too_large(current.max_body_bytes))
        try:
            store = current.get_store()
        except StoreUnavailable as exc:
            return json_response(_unavailable(exc, current.retry_after))
        if len(body) <= INLINE_MAX_BYTES and getattr(store, "fast_path", False):
            # small body on SQLite: verify and parse here (microseconds), store through the
            # writer thread's group commit; no thread-pool hop for this request
            result = await handle_webhook_async(
                body,
                headers,
                secrets=current.secrets,
                store=store,
                max_body_bytes=current.max_body_bytes,
                tolerance=current.tolerance,
                retry_after=current.retry_after,
            )
        else:  # large bodies (hashing, parsing) and PostgreSQL (blocking round trips): a thread
            if limiter is None:  # created in the serving event loop, on first use
                limiter = anyio.CapacityLimiter(max_threads)
            result = await anyio.to_thread.run_sync(
                functools.partial(
                    handle_webhook,
                    body,
                    headers,
                    secrets=current.secrets,
                    store=store,
                    max_body_bytes=current.max_body_bytes,
                    tolerance=current.tolerance,
                    retry_after=current.retry_after,
                ),
                limiter=limiter,
            )
        return json_response(result)

    # FastAPI resolves string annotations in this module's globals, where fastapi is not
    # imported (so that the Flask adapter works without it): give it the real class.
    receive_terra_webhook.__annotations__["request"] = Request
    receive_terra_webhook.__annotations__["return"] = Response  # else /openapi.json fails
    router.add_api_route(
        path, receive_terra_webhook, methods=["POST"], summary="Receive a signed Terra webhook"
    )
    return router


def create_webhook_app(
    store: Store | Callable[[], Store],
    secrets: SecretsArg,
    *,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    tolerance: float = 300,
    retry_after: int = DEFAULT_RETRY_AFTER,
    bare_endpoint: bool = False,
) -> FastAPI:
    """A minimal FastAPI app serving only ``POST /terra/webhooks``.

    With ``bare_endpoint=True`` it also serves ``POST /bare``, which reads the body the same
    way and answers 200 without verifying or storing (the benchmark's baseline).
    """
    from fastapi import FastAPI, Request, Response

    core = WebhookCore(store, secrets, max_body_bytes, tolerance, retry_after)
    app = FastAPI(title="terra-auth webhook receiver", docs_url=None, redoc_url=None)
    app.include_router(webhook_router(lambda: core))
    app.state.webhook_core = core
    if bare_endpoint:

        async def bare(request: Request) -> Response:
            # the same header read, body read and response rendering as the real route
            body = await read_capped(request, core.max_body_bytes, _scope_headers(request.scope))
            if body is None:
                return json_response(_too_large(core.max_body_bytes))
            return json_response(WebhookResponse(200, {"status": "ok", "duplicate": False}))

        bare.__annotations__["request"] = Request
        bare.__annotations__["return"] = Response
        app.add_api_route("/bare", bare, methods=["POST"], include_in_schema=False)

    return app


# -- python -m terra_auth.service.ingest: the receiver alone, for tests and benchmarks -----------
def _secrets_from_environ(environments: list[str], environ: Mapping[str, str]) -> dict[str, str]:
    from terra_auth.environments import Environment
    from terra_auth.errors import ConfigurationError

    found: dict[str, str] = {}
    for name in environments:
        env = Environment.parse(name)
        value = environ.get(f"TERRA_WEBHOOK_SECRET_{env.suffix}")
        if value is None and len(environments) == 1:
            value = environ.get("TERRA_WEBHOOK_SECRET")
        if not value:
            raise ConfigurationError(
                f"no webhook signing secret for {env.value!r}",
                hint=f"set TERRA_WEBHOOK_SECRET_{env.suffix}",
            )
        found[env.value] = value
    return found


def _freeze_startup_heap() -> None:
    """Import what the first delivery would, then move every object alive now out of the
    garbage collector's reach (``gc.freeze``): a full collection no longer walks the
    frameworks' hundreds of thousands of objects (measured: 40 ms pauses, the p99 latency)."""
    import gc

    import starlette.responses  # noqa: F401

    import terra_auth.webhooks.lifecycle  # noqa: F401

    gc.collect()
    gc.freeze()


def main(argv: list[str] | None = None) -> None:
    """Serve the receiver alone; prints ``listening on http://HOST:PORT`` once bound."""
    import uvicorn

    from terra_auth.store import Store

    parser = argparse.ArgumentParser(prog="python -m terra_auth.service.ingest")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--environments", default="testing")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--max-body-bytes", type=int, default=DEFAULT_MAX_BODY_BYTES)
    parser.add_argument("--upgrade", action="store_true", help="run migrations first")
    parser.add_argument("--bare", action="store_true", help="also serve POST /bare")
    args = parser.parse_args(argv)
    secrets = _secrets_from_environ(args.environments.split(","), os.environ)
    store = Store(args.database_url) if args.database_url else Store()
    if args.upgrade:
        store.upgrade()
    app = create_webhook_app(
        store, secrets, max_body_bytes=args.max_body_bytes, bare_endpoint=args.bare
    )
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY on accepted sockets only when the
    # listening socket says proto=TCP; without it every response waits ~40 ms (Nagle)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    sock.listen(2048)  # connections queue from now on, so "listening" is true when printed
    host, port = sock.getsockname()[:2]
    config = uvicorn.Config(app, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    _freeze_startup_heap()
    print(f"listening on http://{host}:{port}", flush=True)
    try:
        server.run(sockets=[sock])
    finally:
        store.close()


if __name__ == "__main__":
    from terra_auth.cli._exit import exit_code_for, fail
    from terra_auth.errors import TerraAuthError

    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
    except TerraAuthError as exc:  # a bad URL or path, a missing secret: a message, no traceback
        fail(str(exc), code=exit_code_for(exc), hint=exc.hint)
