"""The hosted widget: HTML pages, provider-login pages, redirects, and the mobile-SDK simulation.

A session's ``url`` (``/widget/session/<uuid>``) lists the session's providers; choosing a
provider and an outcome (connect, cancel, deny) creates a user or not and redirects the browser
to the success or failure URL with ``user_id``, ``resource`` and ``reference_id`` (the literal
``null`` when none). Pages are self-contained: they load nothing from the internet.

Example:
    >>> add_query("https://app.example/done?x=1", {"user_id": "u", "reference_id": None})
    'https://app.example/done?x=1&user_id=u&reference_id=null'
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from terra_auth.emulator.accounts import SDK_PROVIDERS
from terra_auth.emulator.core import Engine, UserCapReached
from terra_auth.emulator.responses import BadRequest, json_response, read_json
from terra_auth.emulator.state import AuthFlow, WidgetSession
from terra_auth.errors import InvalidRequestError

__all__ = ["OUTCOMES", "add_query", "add_widget_routes"]

OUTCOMES = ("connect", "cancel", "deny")
_REASONS = {"cancel": "user_cancelled", "deny": "access_denied"}

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:34rem;margin:2rem auto;padding:0 1rem}"
    "form{display:flex;gap:.5rem;align-items:center;margin:.4rem 0;padding:.5rem;"
    "border:1px solid #ccc;border-radius:6px}form strong{flex:1}"
    "button{padding:.3rem .8rem}.error{color:#a00}"
)


def add_query(url: str, params: Mapping[str, str | None]) -> str:
    """Append query parameters (None becomes the literal ``null``, as Terra does)."""
    parts = urlsplit(url)
    extra = urlencode({k: "null" if v is None else v for k, v in params.items()})
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>",
        status_code=status,
    )


def _error_page(message: str, status: int) -> HTMLResponse:
    return _page(
        "Terra emulator: link not valid",
        f"<p class=error id=error>{html.escape(message)}</p><p>Ask the app for a new link.</p>",
        status,
    )


def _choices(action: str, providers: tuple[str, ...]) -> str:
    rows = []
    for provider in providers:
        p = html.escape(provider)
        buttons = "".join(
            f'<button type=submit name=outcome value={o} data-provider="{p}" '
            f"data-outcome={o}>{o.title()}</button>"
            for o in OUTCOMES
        )
        rows.append(
            f'<form method=post action="{html.escape(action)}" data-provider="{p}">'
            f'<strong>{p}</strong><input type=hidden name=provider value="{p}">{buttons}</form>'
        )
    return "".join(rows)


async def _form(request: Request) -> dict[str, str]:
    raw = (await request.body()).decode("utf-8", "replace")
    return {k: v[0] for k, v in parse_qs(raw).items()}


def add_widget_routes(app: FastAPI, engine: Engine) -> None:
    """Register the hosted-widget pages and the mobile-SDK simulation endpoint."""

    def base(request: Request) -> str:
        return str(request.base_url).rstrip("/")

    async def demo_page(request: Request) -> Response:
        outcome = "success" if request.url.path.endswith("success") else "failure"
        items = "".join(
            f"<li><code>{html.escape(k)}</code> = <code id={html.escape(k)}>"
            f"{html.escape(v)}</code></li>"
            for k, v in request.query_params.items()
        )
        return _page(f"Terra emulator: connection {outcome}", f"<ul>{items}</ul>")

    def finish(
        request: Request,
        *,
        env: str,
        provider: str,
        outcome: str,
        reference_id: str | None,
        success_url: str | None,
        failure_url: str | None,
        widget_session_id: str | None = None,
        flow_id: str | None = None,
        user_id: str | None = None,
    ) -> Response:
        success = success_url or f"{base(request)}/widget/session/demo/success"
        failure = failure_url or f"{base(request)}/widget/session/demo/failure"
        reason = _REASONS.get(outcome)
        if reason is None:
            if provider in SDK_PROVIDERS:  # connected later through the mobile SDK
                target = add_query(
                    success, {"user_id": None, "resource": provider, "reference_id": reference_id}
                )
                return RedirectResponse(target, status_code=302)
            try:
                user = engine.connect(
                    env,
                    provider=provider,
                    reference_id=reference_id,
                    user_id=user_id,
                    widget_session_id=widget_session_id,
                    flow_id=flow_id,
                )
            except UserCapReached:
                reason = "user_limit_reached"
            else:
                target = add_query(
                    success,
                    {
                        "user_id": user["user_id"],
                        "resource": provider,
                        "reference_id": reference_id,
                    },
                )
                return RedirectResponse(target, status_code=302)
        engine.fail_connection(
            env,
            provider=provider,
            reference_id=reference_id,
            reason=reason,
            widget_session_id=widget_session_id,
            flow_id=flow_id,
        )
        target = add_query(
            failure, {"resource": provider, "reference_id": reference_id, "reason": reason}
        )
        return RedirectResponse(target, status_code=302)

    def live_session(session_id: str) -> tuple[WidgetSession | None, HTMLResponse | None]:
        engine.state.prune()
        session = engine.state.sessions.get(session_id)
        if session is None:
            return None, _error_page("This widget session does not exist or has expired.", 404)
        if session.expires_at <= engine.clock.now():
            return None, _error_page("This widget session has expired (15 minutes).", 410)
        if session.used:
            return None, _error_page("This widget session has already been used.", 410)
        return session, None

    async def session_page(request: Request) -> Response:
        session_id = request.path_params["session_id"]
        session, error = live_session(session_id)
        if error is not None:
            return error
        assert session is not None
        connected = ""
        if session.show_disconnect and session.reference_id is not None:
            rows = [
                f'<form method=post action="/widget/session/{session_id}/disconnect" '
                f'data-connected="{html.escape(u.provider)}"><strong>{html.escape(u.provider)}'
                f'</strong> connected<input type=hidden name=user_id value="{u.user_id}">'
                "<button type=submit data-outcome=disconnect>Disconnect</button></form>"
                for u in engine.state.users_of(session.environment)
                if u.reference_id == session.reference_id
            ]
            connected = "<h2>Connected</h2>" + "".join(rows) if rows else ""
        return _page(
            "Connect a wearable (Terra emulator)",
            connected
            + "<p>Choose a provider and what the user does on its login page.</p>"
            + _choices(f"/widget/session/{session_id}", session.providers),
        )

    async def session_disconnect(request: Request) -> Response:
        session_id = request.path_params["session_id"]
        form = await _form(request)
        session, error = live_session(session_id)
        if error is not None:
            return error
        assert session is not None
        user = engine.state.find_user(session.environment, form.get("user_id", ""))
        if not session.show_disconnect or user is None or user.reference_id != session.reference_id:
            return _error_page("This connection cannot be disconnected from this session.", 400)
        engine.deauthenticate(session.environment, user.user_id)
        return RedirectResponse(f"/widget/session/{session_id}", status_code=303)

    async def session_submit(request: Request) -> Response:
        session_id = request.path_params["session_id"]
        form = await _form(request)
        with engine.state.lock:
            found, error = live_session(session_id)
            if error is not None:
                return error
            assert found is not None
            provider, outcome = form.get("provider", ""), form.get("outcome", "")
            if provider not in found.providers or outcome not in OUTCOMES:
                return _error_page("Choose one of the listed providers and an outcome.", 400)
            found.used = True
        return finish(
            request,
            env=found.environment,
            provider=provider,
            outcome=outcome,
            reference_id=found.reference_id,
            success_url=found.success_url,
            failure_url=found.failure_url,
            widget_session_id=found.session_id,
        )

    def live_flow(flow_id: str) -> tuple[AuthFlow | None, HTMLResponse | None]:
        engine.state.prune()
        flow = engine.state.flows.get(flow_id)
        if flow is None:
            return None, _error_page("This login link does not exist or has expired.", 404)
        if flow.used:
            return None, _error_page("This login link has already been used.", 410)
        return flow, None

    async def login_page(request: Request) -> Response:
        flow_id = request.path_params["flow_id"]
        flow, error = live_flow(flow_id)
        if error is not None:
            return error
        assert flow is not None
        provider = flow.provider
        return _page(
            f"Log in to {provider} (Terra emulator)",
            "<p>Simulated provider login. Choose what the user does.</p>"
            + _choices(f"/widget/login/{flow_id}", (provider,)),
        )

    async def login_submit(request: Request) -> Response:
        flow_id = request.path_params["flow_id"]
        form = await _form(request)
        with engine.state.lock:
            found, error = live_flow(flow_id)
            if error is not None:
                return error
            assert found is not None
            outcome = form.get("outcome", "")
            if outcome not in OUTCOMES:
                return _error_page("Choose an outcome: connect, cancel or deny.", 400)
            found.used = True
        return finish(
            request,
            env=found.environment,
            provider=found.provider,
            outcome=outcome,
            reference_id=found.reference_id,
            success_url=found.success_url,
            failure_url=found.failure_url,
            flow_id=found.flow_id,
            user_id=found.user_id,
        )

    async def mobile_connect(request: Request) -> Response:
        try:
            body = await read_json(request, required=True)
        except BadRequest as exc:
            return json_response({"status": "error", "message": exc.detail}, 400)
        if not isinstance(body, dict) or not isinstance(body.get("token"), str):
            return json_response({"status": "error", "message": 'send {"token": ...}'}, 400)
        provider = str(body.get("provider") or "APPLE").upper()
        if provider not in SDK_PROVIDERS:
            return json_response(
                {
                    "status": "error",
                    "message": f"provider must be one of {', '.join(SDK_PROVIDERS)}",
                },
                400,
            )
        with engine.state.lock:
            engine.state.prune()
            token = engine.state.mobile_tokens.get(body["token"])
            if token is None or token.expires_at <= engine.clock.now():
                return json_response(
                    {"status": "error", "message": "token expired or unknown"}, 401
                )
            if token.used:
                return json_response({"status": "error", "message": "token already used"}, 409)
            token.used = True
        reference_id = token.reference_id or body.get("reference_id")
        try:
            user = engine.connect(token.environment, provider=provider, reference_id=reference_id)
        except InvalidRequestError as exc:
            return json_response({"status": "error", "message": exc.message}, 403)
        return json_response({"status": "success", "user": user})

    app.add_api_route("/widget/session/demo/success", demo_page, methods=["GET"])
    app.add_api_route("/widget/session/demo/failure", demo_page, methods=["GET"])
    app.add_api_route("/widget/session/{session_id}", session_page, methods=["GET"])
    app.add_api_route("/widget/session/{session_id}", session_submit, methods=["POST"])
    app.add_api_route(
        "/widget/session/{session_id}/disconnect", session_disconnect, methods=["POST"]
    )
    app.add_api_route("/widget/login/{flow_id}", login_page, methods=["GET"])
    app.add_api_route("/widget/login/{flow_id}", login_submit, methods=["POST"])
    app.add_api_route("/mobile-sdk/connect", mobile_connect, methods=["POST"])
