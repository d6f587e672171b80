"""The Flask adapter: ``terra_blueprint(...)``, sharing the core with the FastAPI app.

Example:
    >>> from flask import Flask, session                                   # doctest: +SKIP
    >>> app = Flask(__name__)                                              # doctest: +SKIP
    >>> bp = terra_blueprint(current_user=lambda: session.get("user_id"))  # doctest: +SKIP
    >>> app.register_blueprint(bp)                                         # doctest: +SKIP
    >>> bp.core.close()   # at shutdown (Flask has no lifespan)            # doctest: +SKIP
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, cast

from flask import Blueprint, Response, request
from flask.sansio.blueprints import BlueprintSetupState

from terra_auth.environments import Environment, TerraCredentials
from terra_auth.errors import TerraAuthError
from terra_auth.secret import get_logger
from terra_auth.service import pages
from terra_auth.service.core import (
    ClientLike,
    ServiceCore,
    StoreLike,
    disconnect_status,
    problem_for,
    resolve_credentials,
)
from terra_auth.service.settings import ServiceSettings

if TYPE_CHECKING:
    from terra_auth.store import Store

__all__ = ["TerraBlueprint", "terra_blueprint"]

log = get_logger("terra_auth.service")


class TerraBlueprint(Blueprint):
    """A Flask blueprint carrying its :class:`ServiceCore` (``.core``; call ``.core.close()``
    at shutdown)."""

    core: ServiceCore


def _json(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(
        json.dumps(data),
        status=status,
        headers={**(headers or {}), "Cache-Control": "no-store"},
        mimetype="application/json",
    )


def _problem(exc: BaseException) -> Response:
    problem = problem_for(exc)
    return _json(problem.body, problem.status, problem.headers)


def _html(body: str, status: int = 200) -> Response:
    return Response(body, status=status, headers=pages.PAGE_HEADERS, mimetype="text/html")


def terra_blueprint(
    settings: ServiceSettings | None = None,
    *,
    current_user: Callable[[], str | None],
    credentials: Mapping[Environment, TerraCredentials] | None = None,
    clients: Mapping[Environment, ClientLike] | None = None,
    store: StoreLike | None = None,
    url_prefix: str = "/terra",
    home_url: str = "/",
    name: str = "terra",
) -> TerraBlueprint:
    """The service's routes as a Flask blueprint.

    ``current_user()`` returns the logged-in user's id or ``None`` (read your own session).
    The Terra clients and the store open when the blueprint is registered.
    """
    settings = settings or ServiceSettings.from_env()
    core = ServiceCore(
        settings, resolve_credentials(settings, credentials), clients=clients, store=store
    )
    bp = TerraBlueprint(name, __name__, url_prefix=url_prefix)
    bp.core = core

    def start(_state: BlueprintSetupState) -> None:
        core.start()

    bp.record_once(start)

    def run(fn: Callable[[str], Any], status: int | Callable[[Any], int] = 200) -> Response:
        user = current_user()
        if user is None:
            return _json({"error": "unauthenticated", "detail": "log in first"}, 401)
        try:
            result = fn(user)
            return _json(result, status(result) if callable(status) else status)
        except TerraAuthError as exc:  # StoreUnavailable included: 503
            return _problem(exc)

    @bp.post("/widget-session")
    def widget_session() -> Response:
        return run(core.widget_session)

    @bp.post("/mobile-token")
    def mobile_token() -> Response:
        return run(core.mobile_token)

    @bp.get("/connections")
    def connections() -> Response:
        include = request.args.get("include_disconnected", "").lower() in ("1", "true")
        return run(lambda user: core.connections(user, include_disconnected=include))

    @bp.delete("/connections/<terra_user_id>")
    def disconnect(terra_user_id: str) -> Response:
        return run(lambda user: core.disconnect(user, terra_user_id), disconnect_status)

    def landing(outcome: str) -> Response:
        query = {"user_id": request.args.get("user_id", "")}
        result = core.landing(current_user(), outcome, query)
        html = pages.landing_page(result, home_url=home_url, prefix=url_prefix)
        return _html(html, 200 if result.logged_in else 401)

    @bp.get("/connected")
    def connected() -> Response:
        return landing("success")

    @bp.get("/failed")
    def failed() -> Response:
        return landing("failure")

    @bp.get("/assets/app.js")
    def app_js() -> Response:
        return Response(pages.APP_JS, mimetype="text/javascript")

    @bp.get("/assets/app.css")
    def app_css() -> Response:
        return Response(pages.APP_CSS, mimetype="text/css")

    @bp.get("/health")
    def health() -> Response:
        return _json({"status": "ok", "environments": [e.value for e in settings.environments]})

    _add_webhook_route(bp, core)
    return bp


def _add_webhook_route(bp: TerraBlueprint, core: ServiceCore) -> None:
    try:
        from terra_auth.service import ingest
    except ImportError:
        log.warning("webhook receiver not available (terra_auth.service.ingest missing)")
        return
    secrets = {env: creds.webhook_secrets for env, creds in core.credentials.items()}

    limit = core.settings.webhook_max_bytes

    @bp.post("/webhooks")
    def webhooks() -> Response:
        declared = request.content_length
        # over the declared limit nothing is read: handle_webhook answers 413 from the header
        too_large = declared is not None and declared > limit
        body = b"" if too_large else request.stream.read(limit + 1)
        status, answer, headers = ingest.handle_webhook(
            body,
            dict(request.headers),
            secrets=secrets,
            store=cast("Store", core.store),
            max_body_bytes=limit,
            tolerance=core.settings.webhook_tolerance,
        )
        return _json(answer, status, headers)
