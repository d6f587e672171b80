"""The control plane under ``/_emulator/``: inspect and steer the emulator over HTTP.

Endpoints: ``POST reset``, ``GET state``, ``POST connect``, ``POST trigger``,
``POST webhook-url``, ``POST rotate-secret``, ``GET|POST|DELETE faults``, ``GET deliveries``,
``GET requests``, ``POST clock/advance``, ``POST error-style``, ``POST accounts/{env}``,
``GET accounts``, ``POST settings`` (``legacy_auth_error``, ``deauth_delay``, ``time_scale``).
No secret is ever returned, only fingerprints.

Example (curl):
    curl -X POST localhost:8787/_emulator/connect \\
         -d '{"environment": "testing", "provider": "FITBIT", "reference_id": "u1"}'
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response

from terra_auth.emulator.core import Engine, UserCapReached, check_style
from terra_auth.emulator.responses import BadRequest, json_response, read_json
from terra_auth.environments import Environment
from terra_auth.errors import ConfigurationError, InvalidRequestError, NotFoundError
from terra_auth.secret import mask

__all__ = ["account_view", "add_control_routes"]

Handler = Callable[[Request], Awaitable[Response]]


def account_view(engine: Engine, env: str) -> dict[str, Any]:
    """An account without its secrets."""
    a = engine.accounts[env]
    return {
        "environment": env,
        "dev_id": a.dev_id,
        "api_key_fingerprint": a.api_key_fingerprint,
        "webhook_secret_fingerprint": a.secret_fingerprint,
        "webhook_url": a.webhook_url,
        "user_cap": a.user_cap,
        "legacy_widget_gone": a.legacy_widget_gone,
        "enabled_providers": list(a.enabled_providers),
        "error_style": a.error_style or engine.error_style,
    }


def _guard(fn: Handler) -> Handler:
    @functools.wraps(fn)
    async def handler(request: Request) -> Response:
        try:
            return await fn(request)
        except BadRequest as exc:
            return json_response({"status": "error", "message": mask(exc.detail)}, exc.status)
        except NotFoundError as exc:
            return _problem(404, exc.message, exc.hint)
        except (InvalidRequestError, ConfigurationError) as exc:
            return _problem(409 if isinstance(exc, UserCapReached) else 400, exc.message, exc.hint)
        except (TypeError, ValueError) as exc:
            return _problem(
                400,
                f"a value in the request has the wrong type ({type(exc).__name__})",
                "see docs/emulator.md, section Control plane, for each field's type",
            )

    return handler


def _problem(status: int, message: str, hint: str | None) -> Response:
    return json_response(
        {"status": "error", "message": mask(message), "hint": mask(hint or "")}, status
    )


async def _object(request: Request) -> dict[str, Any]:
    body = await read_json(request, required=False)
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise BadRequest(400, "the request body must be a JSON object")
    return body


def _env(body: dict[str, Any], default: str | None = "testing") -> str:
    name = body.get("environment", default)
    if name is None:
        raise BadRequest(400, "environment is required (testing, staging or production)")
    return Environment.parse(str(name)).value


def add_control_routes(app: FastAPI, engine: Engine) -> None:
    """Register ``/_emulator/...``."""

    async def reset(request: Request) -> Response:
        engine.reset()
        return json_response({"status": "success"})

    async def state(request: Request) -> Response:
        snapshot = engine.state.snapshot()
        snapshot["accounts"] = [account_view(engine, e) for e in engine.accounts]
        snapshot["faults"] = [f.describe() for f in engine.faults.list()]
        return json_response(snapshot)

    async def accounts(request: Request) -> Response:
        return json_response([account_view(engine, e) for e in engine.accounts])

    async def configure_account(request: Request) -> Response:
        env = Environment.parse(request.path_params["environment"]).value
        body = await _object(request)
        account = engine.accounts[env]
        if "user_cap" in body:
            cap = body["user_cap"]
            if cap is not None and (not isinstance(cap, int) or cap < 0):
                raise BadRequest(400, "user_cap must be a non-negative integer or null")
            account.user_cap = cap
        if "legacy_widget_gone" in body:
            account.legacy_widget_gone = bool(body["legacy_widget_gone"])
        if "error_style" in body:
            style = body["error_style"]
            account.error_style = None if style is None else check_style(str(style))
        if "enabled_providers" in body:
            account.enabled_providers = tuple(
                engine.check_provider(str(p)) for p in body["enabled_providers"]
            )
        return json_response(account_view(engine, env))

    async def connect(request: Request) -> Response:
        body = await _object(request)
        provider = body.get("provider")
        if not isinstance(provider, str):
            raise BadRequest(400, "provider is required, e.g. FITBIT")
        user = engine.connect(
            _env(body),
            provider=provider,
            reference_id=body.get("reference_id"),
            scopes=body.get("scopes"),
            replaces_user_id=body.get("replaces_user_id"),
        )
        return json_response(user)

    async def trigger(request: Request) -> Response:
        body = await _object(request)
        user_id, event = body.get("user_id"), body.get("event")
        if not isinstance(user_id, str) or not isinstance(event, str):
            raise BadRequest(400, "user_id and event are required")
        result = engine.trigger(
            _env(body),
            user_id,
            event,
            scopes_added=str(body.get("scopes_added", "")),
            scopes_removed=str(body.get("scopes_removed", "")),
            message=body.get("message"),
            reason=body.get("reason"),
        )
        return json_response(result)

    async def webhook_url(request: Request) -> Response:
        body = await _object(request)
        envs = [_env(body)] if body.get("environment") else list(engine.accounts)
        for env in envs:
            engine.set_webhook_url(env, body.get("url"))
        return json_response([account_view(engine, e) for e in envs])

    async def rotate_secret(request: Request) -> Response:
        body = await _object(request)
        env = _env(body)
        overlap = float(body.get("overlap_seconds", 0) or 0)
        new_secret = body.get("new_secret")
        engine.rotate_secret(env, new_secret=new_secret, overlap_seconds=overlap)
        return json_response(account_view(engine, env))

    async def faults_list(request: Request) -> Response:
        return json_response([f.describe() for f in engine.faults.list()])

    async def faults_add(request: Request) -> Response:
        body = await _object(request)
        if not isinstance(body.get("path"), str) or not isinstance(body.get("kind"), str):
            raise BadRequest(400, "path and kind are required")
        fault = engine.faults.add(
            path=body["path"],
            kind=body["kind"],
            status=body.get("status"),
            latency=float(body.get("latency", 0.0)),
            retry_after=int(body.get("retry_after", 1)),
            count=body.get("count"),
            rate=body.get("rate"),
            method=body.get("method"),
        )
        return json_response(fault.describe())

    async def faults_clear(request: Request) -> Response:
        engine.faults.clear()
        return json_response({"status": "success"})

    async def deliveries(request: Request) -> Response:
        env = request.query_params.get("environment")
        items = list(engine.dispatcher.deliveries)
        if env:
            items = [d for d in items if d.environment == Environment.parse(env).value]
        return json_response([d.summary() for d in items])

    async def requests_log(request: Request) -> Response:
        return json_response(
            [
                {
                    "method": r.method,
                    "path": r.path,
                    "status": r.status,
                    "environment": r.environment,
                }
                for r in list(engine.state.requests)
            ]
        )

    async def clock_advance(request: Request) -> Response:
        body = await _object(request)
        seconds = body.get("seconds")
        if not isinstance(seconds, int | float) or seconds < 0:
            raise BadRequest(400, "seconds must be a non-negative number")
        engine.clock.advance(float(seconds))
        engine.state.prune()
        return json_response({"status": "success", "now": engine.clock.now()})

    async def error_style(request: Request) -> Response:
        body = await _object(request)
        style = check_style(str(body.get("style")))
        if body.get("environment"):
            engine.accounts[_env(body)].error_style = style
        else:
            engine.error_style = style
        return json_response({"status": "success", "style": style})

    async def settings(request: Request) -> Response:
        body = await _object(request)
        if "legacy_auth_error" in body:
            engine.legacy_auth_error = bool(body["legacy_auth_error"])
        for name in ("deauth_delay", "time_scale"):
            if name in body:
                value = body[name]
                if not isinstance(value, int | float) or value < 0:
                    raise BadRequest(400, f"{name} must be a non-negative number")
                if name == "time_scale":
                    engine.dispatcher.time_scale = float(value)
                setattr(engine, name, float(value))
        return json_response(
            {
                "error_style": engine.error_style,
                "legacy_auth_error": engine.legacy_auth_error,
                "deauth_delay": engine.deauth_delay,
                "time_scale": engine.dispatcher.time_scale,
            }
        )

    routes: list[tuple[str, Handler, str]] = [
        ("settings", settings, "POST"),
        ("reset", reset, "POST"),
        ("state", state, "GET"),
        ("accounts", accounts, "GET"),
        ("accounts/{environment}", configure_account, "POST"),
        ("connect", connect, "POST"),
        ("trigger", trigger, "POST"),
        ("webhook-url", webhook_url, "POST"),
        ("rotate-secret", rotate_secret, "POST"),
        ("faults", faults_list, "GET"),
        ("faults", faults_add, "POST"),
        ("faults", faults_clear, "DELETE"),
        ("deliveries", deliveries, "GET"),
        ("requests", requests_log, "GET"),
        ("clock/advance", clock_advance, "POST"),
        ("error-style", error_style, "POST"),
    ]
    for path, fn, method in routes:
        app.add_api_route(f"/_emulator/{path}", _guard(fn), methods=[method])
