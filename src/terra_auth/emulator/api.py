"""Terra's data API (auth, users, integrations) as the emulator serves it.

Mounted under both ``/v2`` (legacy host shape) and ``/api/v2`` (new host shape), plus the new
widget-session endpoint (``/api/widget/session`` and ``/widget/api/session``) and the streaming
host's token endpoints under ``/streaming``.

Example:
    >>> from fastapi import FastAPI
    >>> from terra_auth.emulator.core import Engine
    >>> app = FastAPI(); add_api_routes(app, Engine(seed=1))
    >>> any(r.path == "/api/v2/auth/generateWidgetSession" for r in app.routes)
    True
"""

from __future__ import annotations

import base64
import binascii
import functools
import math
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response

from terra_auth.emulator import accounts as acc
from terra_auth.emulator.accounts import Account
from terra_auth.emulator.core import Engine, UserCapReached
from terra_auth.emulator.responses import (
    STYLE_HEADER,
    BadRequest,
    error_response,
    instance_of,
    json_response,
    read_json,
)
from terra_auth.errors import InvalidRequestError, NotFoundError
from terra_auth.secret import get_logger

__all__ = ["add_api_routes", "base_url", "style_for"]

_log = get_logger("terra_auth.emulator.api")

Handler = Callable[[Request], Awaitable[Response]]

_SESSION_FIELDS = (
    "providers",
    "language",
    "reference_id",
    "auth_success_redirect_url",
    "auth_failure_redirect_url",
    "samsung_app_url",
)
_NAMES = {
    "MAPMYFITNESS": "MapMyFitness",
    "HEALTH_CONNECT": "Health Connect",
    "EIGHT": "Eight Sleep",
}
_TYPES: dict[str, tuple[str, ...]] = {
    "FITBIT": ("activity", "body", "nutrition", "daily", "sleep"),
    "GARMIN": ("activity", "body", "daily", "sleep", "menstruation"),
    "OURA": ("activity", "daily", "sleep"),
    "APPLE": ("activity", "body", "nutrition", "daily", "sleep", "menstruation"),
}


def base_url(request: Request) -> str:
    """The emulator's own base URL as the client reached it (``http://host:port``)."""
    return str(request.base_url).rstrip("/")


def style_for(engine: Engine, request: Request, account: Account | None = None) -> str:
    """The error style of a request: header, then the account's, then the emulator's."""
    chosen = request.headers.get(STYLE_HEADER)
    if chosen in ("problem", "legacy", "forbidden"):
        return chosen
    if account is None:
        account = engine.by_dev_id.get(request.headers.get("dev-id", ""))
    if account is not None and account.error_style:
        return account.error_style
    return engine.error_style


def _wrap(engine: Engine, fn: Handler, *, widget: bool = False) -> Handler:
    """Turn BadRequest and the error tree into styled error responses."""

    @functools.wraps(fn)
    async def handler(request: Request) -> Response:
        try:
            return await fn(request)
        except BadRequest as exc:
            status, detail, creds, headers = exc.status, exc.detail, exc.credentials, exc.headers
        except UserCapReached as exc:
            status, detail, creds, headers = 403, exc.message, False, None
        except NotFoundError as exc:
            status, detail, creds, headers = 404, exc.message, False, None
        except InvalidRequestError as exc:
            status, detail, creds, headers = 400, exc.message, False, None
        except Exception:  # a bug in the emulator: answer in style, log it
            _log.exception("emulator error on %s %s", request.method, request.url.path)
            status, detail, creds, headers = 500, "emulator internal error", False, None
        if widget:  # the access.tryterra.co widget endpoint: always {status, message}
            return error_response("legacy", status, detail, "", headers=headers)
        instance = instance_of(request.url.path, request.url.query)
        style = style_for(engine, request)
        return error_response(style, status, detail, instance, credentials=creds, headers=headers)

    return handler


def _account(engine: Engine, request: Request, *, widget: bool = False) -> Account:
    account, reason = engine.authenticate(
        request.headers.get("dev-id"), request.headers.get("x-api-key")
    )
    if account is None:
        if widget:
            raise BadRequest(403, f"Forbidden: {reason}")
        raise BadRequest(401, reason, credentials=True)
    return account


def _str_field(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRequest(400, f"{name} must be a string")
    return value


def _flag(body: dict[str, Any], name: str) -> bool:
    """A boolean body field; the strings "true"/"false" are accepted (Terra's FAQ sends them)."""
    value = body.get(name, False)
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if not isinstance(value, bool):
        raise BadRequest(400, f"{name} must be true or false")
    return value


def _redirect_field(body: dict[str, Any], name: str) -> str | None:
    value = _str_field(body, name)
    if value is not None and "://" not in value:
        raise BadRequest(400, f"{name} must be an absolute URL or a deep link (scheme://...)")
    return value


def _providers(engine: Engine, account: Account, csv: str | None) -> tuple[str, ...]:
    if not csv:
        return account.enabled_providers
    names = [p.strip().upper() for p in csv.split(",") if p.strip()]
    unknown = [p for p in names if p not in acc.CLOUD_PROVIDERS + acc.SDK_PROVIDERS]
    if unknown:
        raise BadRequest(400, f"unknown provider(s) in providers: {', '.join(unknown)}")
    return tuple(dict.fromkeys(names))


def _user_or_404(engine: Engine, account: Account, user_id: str | None) -> Any:
    user = engine.state.find_user(account.environment.value, user_id or "")
    if user is None:
        raise BadRequest(404, "user not found")
    return user


def add_api_routes(app: FastAPI, engine: Engine) -> None:
    """Register the data API, the new widget endpoint and the streaming token endpoints."""

    async def integrations(request: Request) -> Response:
        return json_response(
            {
                "providers": list(acc.CLOUD_PROVIDERS),
                "sdk_providers": list(acc.SDK_PROVIDERS),
                "status": "success",
            }
        )

    async def integrations_detailed(request: Request) -> Response:
        sdk_raw = request.query_params.get("sdk")
        if sdk_raw not in (None, "true", "false", "True", "False", "1", "0"):
            raise BadRequest(400, "sdk must be true or false")
        sdk = sdk_raw in ("true", "True", "1")
        account = engine.by_dev_id.get(request.headers.get("dev-id", ""))
        names = acc.CLOUD_PROVIDERS + (acc.SDK_PROVIDERS if sdk else ())
        if account is not None:
            names = tuple(n for n in names if n in account.enabled_providers)
        icons = f"{base_url(request)}/api/v2/static/assets/img/app_icons"
        providers = [
            {
                "provider": name,
                "name": _NAMES.get(name, name.title()),
                "icon": f"{icons}/{name.lower()}.webp",
                "setup": "SDK" if name in acc.SDK_PROVIDERS else "API_KEYS_MANAGED",
                "enabled": True,
                "types": {
                    t: t in _TYPES.get(name, ("activity", "daily", "sleep"))
                    for t in ("activity", "body", "nutrition", "daily", "sleep", "menstruation")
                },
            }
            for name in names
        ]
        return json_response({"status": "success", "providers": providers})

    async def create_session(request: Request, account: Account) -> Response:
        body = await read_json(request, required=True)
        if not isinstance(body, dict):
            raise BadRequest(400, "the request body must be a JSON object")
        for name in _SESSION_FIELDS:
            _str_field(body, name)
        providers = _providers(engine, account, body.get("providers"))
        session = engine.state.new_session(
            account.environment.value,
            providers=providers,
            reference_id=body.get("reference_id"),
            success_url=_redirect_field(body, "auth_success_redirect_url"),
            failure_url=_redirect_field(body, "auth_failure_redirect_url"),
            language=body.get("language"),
            show_disconnect=_flag(body, "show_disconnect"),
        )
        return json_response(
            {
                "session_id": session.session_id,
                "url": f"{base_url(request)}/widget/session/{session.session_id}",
                "status": "success",
                "expires_in": 900,
            }
        )

    async def generate_widget_session(request: Request) -> Response:
        account = _account(engine, request)
        if account.legacy_widget_gone:
            raise BadRequest(
                410,
                "generateWidgetSession is not available to accounts created after 2026-09-03; "
                f"use POST {base_url(request)}/api/widget/session",
            )
        return await create_session(request, account)

    async def widget_session(request: Request) -> Response:
        return await create_session(request, _account(engine, request, widget=True))

    async def authenticate_user(request: Request) -> Response:
        account = _account(engine, request)
        body = await read_json(request, required=False)
        if body is None:
            body = {}
        if not isinstance(body, dict):
            raise BadRequest(400, "the request body must be a JSON object")
        resource = request.query_params.get("resource") or _str_field(body, "resource")
        if not resource:
            raise BadRequest(400, "resource is required (query parameter, e.g. ?resource=FITBIT)")
        provider = resource.strip().upper()
        if provider not in acc.CLOUD_PROVIDERS:
            raise BadRequest(404, f"resource {resource} does not exist")
        for name in ("language", "reference_id"):
            _str_field(body, name)
        flow = engine.state.new_flow(
            account.environment.value,
            provider=provider,
            reference_id=body.get("reference_id"),
            success_url=_redirect_field(body, "auth_success_redirect_url"),
            failure_url=_redirect_field(body, "auth_failure_redirect_url"),
        )
        return json_response(
            {
                "status": "success",
                "user_id": flow.user_id,
                "auth_url": f"{base_url(request)}/widget/login/{flow.flow_id}?state={flow.flow_id}",
            }
        )

    async def deauthenticate_user(request: Request) -> Response:
        account = _account(engine, request)
        user_id = request.query_params.get("user_id")
        if not user_id:
            raise BadRequest(400, "user_id is required (query parameter)")
        engine.deauthenticate(account.environment.value, user_id)
        return json_response({"status": "success"})

    async def auth_token(request: Request) -> Response:
        account = _account(engine, request)
        token = engine.state.new_mobile_token(
            account.environment.value, reference_id=request.query_params.get("reference_id")
        )
        return json_response({"status": "success", "token": token.token, "expires_in": 180})

    async def user_info(request: Request) -> Response:
        account = _account(engine, request)
        user_id = request.query_params.get("user_id")
        reference_id = request.query_params.get("reference_id")
        if user_id:
            user = _user_or_404(engine, account, user_id)
            public = user.public() | {"last_polled_at": None, "most_recent_data_at": None}
            return json_response({"user": public, "status": "success", "is_authenticated": True})
        if reference_id:
            users = engine.state.users_of(account.environment.value)
            return json_response([u.public() for u in users if u.reference_id == reference_id])
        raise BadRequest(400, "send user_id or reference_id as a query parameter")

    async def subscriptions(request: Request) -> Response:
        account = _account(engine, request)
        users = [u.public() for u in engine.state.users_of(account.environment.value)]
        page_raw = request.query_params.get("page")
        if page_raw is None:
            return json_response({"users": users, "status": "success"})
        try:
            page = int(page_raw)
            per_page = int(request.query_params.get("per_page", "500"))
        except ValueError:
            raise BadRequest(400, "page and per_page must be integers") from None
        if page < 0 or per_page < 1:
            raise BadRequest(400, "page must be >= 0 and per_page >= 1")
        max_page = max(0, math.ceil(len(users) / per_page) - 1)
        results = users[page * per_page : (page + 1) * per_page]
        following = page + 1 if page < max_page else None
        return json_response(
            {"data": {"next": following, "max_page": max_page, "results": results}}
        )

    async def bulk_user_info(request: Request) -> Response:
        account = _account(engine, request)
        body = await read_json(request, required=True)
        if not isinstance(body, list) or not all(isinstance(x, str) for x in body):
            raise BadRequest(400, "the body must be a JSON array of user_id strings")
        env = account.environment.value
        found = [u for u in (engine.state.find_user(env, i) for i in body) if u is not None]
        if body and not found:
            raise BadRequest(404, "none of the user ids exist")
        return json_response([u.public() for u in found])

    async def modify_user(request: Request) -> Response:
        account = _account(engine, request)
        user = _user_or_404(engine, account, request.path_params["user_id"])
        body = await read_json(request, required=True)
        if not isinstance(body, dict):
            raise BadRequest(400, "the request body must be a JSON object")
        if "reference_id" in body:
            user.reference_id = _str_field(body, "reference_id")
        if "active" in body:
            if not isinstance(body["active"], bool):
                raise BadRequest(400, "active must be true or false")
            user.active = body["active"]
        return json_response({"user": user.public(), "status": "success"})

    async def streaming_token(request: Request) -> Response:
        dev_id, api_key = request.headers.get("dev-id"), request.headers.get("x-api-key")
        auth = request.headers.get("authorization", "")
        if not (dev_id and api_key) and auth.lower().startswith("basic "):
            try:
                dev_id, _, api_key = base64.b64decode(auth[6:]).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                raise BadRequest(400, "malformed Basic authorization header") from None
        if not dev_id or not api_key:
            raise BadRequest(400, "dev-id and x-api-key headers (or Basic auth) are required")
        account, _ = engine.authenticate(dev_id, api_key)
        if account is None:
            raise BadRequest(403, "invalid credentials")
        env = account.environment.value
        if request.url.path.endswith("/auth/user"):
            user_id = request.query_params.get("id")
            if not user_id or engine.state.find_user(env, user_id) is None:
                raise BadRequest(403, "user not owned by this developer")
            token = engine.state.new_streaming_token(env, kind="user", user_id=user_id)
        else:
            token = engine.state.new_streaming_token(env, kind="developer", user_id=None)
        return json_response({"token": token.token})

    async def streaming_identify(request: Request) -> Response:
        """Simulates the socket's IDENTIFY: spends a streaming token (single use)."""
        body = await read_json(request, required=True)
        token_value = body.get("token") if isinstance(body, dict) else None
        if not isinstance(token_value, str):
            raise BadRequest(400, 'send {"token": "..."}')
        with engine.state.lock:
            engine.state.prune()
            token = engine.state.streaming_tokens.get(token_value)
            if token is None or token.expires_at <= engine.clock.now():
                raise BadRequest(403, "token expired or unknown")
            if token.used:
                raise BadRequest(403, "token already used")
            token.used = True
        return json_response({"status": "success", "kind": token.kind, "user_id": token.user_id})

    routes: list[tuple[str, Handler, str]] = [
        ("/integrations", integrations, "GET"),
        ("/integrations/detailed", integrations_detailed, "GET"),
        ("/auth/generateWidgetSession", generate_widget_session, "POST"),
        ("/auth/authenticateUser", authenticate_user, "POST"),
        ("/auth/deauthenticateUser", deauthenticate_user, "DELETE"),
        ("/auth/generateAuthToken", auth_token, "POST"),
        ("/auth/tokens", auth_token, "POST"),
        ("/userInfo", user_info, "GET"),
        ("/subscriptions", subscriptions, "GET"),
        ("/bulkUserInfo", bulk_user_info, "POST"),
        ("/users/{user_id}", modify_user, "PATCH"),
    ]
    for prefix in ("/v2", "/api/v2"):
        for path, fn, method in routes:
            app.add_api_route(prefix + path, _wrap(engine, fn), methods=[method])
    for path in ("/api/widget/session", "/widget/api/session"):
        app.add_api_route(path, _wrap(engine, widget_session, widget=True), methods=["POST"])
    for path in ("/streaming/auth/user", "/streaming/auth/developer"):
        app.add_api_route(path, _wrap(engine, streaming_token, widget=True), methods=["POST"])
    app.add_api_route(
        "/streaming/identify", _wrap(engine, streaming_identify, widget=True), methods=["POST"]
    )
