"""The FastAPI adapter: ``create_app`` (a whole service) and ``terra_router`` (mount into yours).

Example:
    >>> from fastapi import FastAPI                                   # doctest: +SKIP
    >>> def current_user(request: Request) -> str | None:             # doctest: +SKIP
    ...     return request.session.get("user_id")
    >>> app = FastAPI()                                                # doctest: +SKIP
    >>> app.include_router(terra_router(current_user=current_user))   # doctest: +SKIP
"""

import secrets
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Annotated, Any, cast
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from terra_auth.environments import Environment, TerraCredentials
from terra_auth.errors import TerraAuthError
from terra_auth.secret import Secret, get_logger
from terra_auth.service import pages
from terra_auth.service.auth import DEMO_COOKIE, DemoLogin, load_current_user, no_user
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

__all__ = ["TerraRouter", "build_router", "create_app", "terra_router"]

log = get_logger("terra_auth.service")
CurrentUser = Callable[..., Any]


def _problem_response(exc: BaseException) -> JSONResponse:
    problem = problem_for(exc)
    headers = {**problem.headers, "Cache-Control": "no-store"}
    return JSONResponse(problem.body, status_code=problem.status, headers=headers)


def _unauthenticated() -> JSONResponse:
    return JSONResponse(
        {"error": "unauthenticated", "detail": "log in first"},
        status_code=401,
        headers={"Cache-Control": "no-store"},
    )


def _html(body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(body, status_code=status, headers=pages.PAGE_HEADERS)


_NO_STORE = {"Cache-Control": "no-store"}


async def _call(fn: Callable[[], Any], status: int | Callable[[Any], int] = 200) -> JSONResponse:
    """Run a core operation in the threadpool; its result or its error as JSON, never cached.

    ``status`` is the success status, or a function of the result giving it.
    """
    try:
        result = await run_in_threadpool(fn)
    except TerraAuthError as exc:
        return _problem_response(exc)
    code = status(result) if callable(status) else status
    return JSONResponse(result, status_code=code, headers=_NO_STORE)


class TerraRouter(APIRouter):
    """An APIRouter carrying its :class:`ServiceCore` (``router.core``), e.g. to list a user's
    connections from your own pages with ``router.core.connections(user_id)``."""

    core: ServiceCore


def build_router(
    core: ServiceCore,
    *,
    current_user: CurrentUser = no_user,
    prefix: str = "/terra",
    home_url: str | None = None,
    manage_lifespan: bool = True,
) -> TerraRouter:
    """The routes of the service around an existing :class:`ServiceCore`."""

    @asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        await run_in_threadpool(core.start)
        try:
            yield
        finally:
            await run_in_threadpool(core.close)

    router = TerraRouter(lifespan=lifespan if manage_lifespan else None)
    router.core = core
    User = Annotated[str | None, Depends(current_user)]
    home = home_url or f"{core.settings.public_url}/"

    @router.post(f"{prefix}/widget-session", tags=["terra"])
    async def widget_session(user: User) -> Any:
        """A Terra widget URL for the current user (the reference id is never taken from the
        request)."""
        if user is None:
            return _unauthenticated()
        return await _call(lambda: core.widget_session(user))

    @router.post(f"{prefix}/mobile-token", tags=["terra"])
    async def mobile_token(user: User) -> Any:
        """A mobile-SDK token ``{token, expires_at, reference_id}``, rate limited per user."""
        if user is None:
            return _unauthenticated()
        return await _call(lambda: core.mobile_token(user))

    @router.get(f"{prefix}/connections", tags=["terra"])
    async def connections(user: User, include_disconnected: bool = False) -> Any:
        """The current user's connections: provider, status, scopes, since, last event."""
        if user is None:
            return _unauthenticated()
        return await _call(
            lambda: core.connections(user, include_disconnected=include_disconnected)
        )

    @router.delete(
        f"{prefix}/connections/{{terra_user_id}}",
        status_code=202,
        tags=["terra"],
        responses={200: {"description": "Terra no longer knew the user: disconnected here"}},
    )
    async def disconnect(terra_user_id: str, user: User) -> Any:
        """Deauthenticate one of the current user's connections through Terra (404 if not
        theirs): 202 until Terra's webhook confirms; 200 ``disconnected`` when Terra no longer
        knew the user."""
        if user is None:
            return _unauthenticated()
        return await _call(lambda: core.disconnect(user, terra_user_id), disconnect_status)

    async def landing(request: Request, user: str | None, outcome: str) -> HTMLResponse:
        query = {k: v for k, v in request.query_params.items() if k == "user_id"}
        result = await run_in_threadpool(core.landing, user, outcome, query)
        status = 200 if result.logged_in else 401
        return _html(pages.landing_page(result, home_url=home, prefix=prefix), status)

    @router.get(f"{prefix}/connected", include_in_schema=False)
    async def connected(request: Request, user: User) -> HTMLResponse:
        return await landing(request, user, "success")

    @router.get(f"{prefix}/failed", include_in_schema=False)
    async def failed(request: Request, user: User) -> HTMLResponse:
        return await landing(request, user, "failure")

    @router.get(f"{prefix}/assets/app.js", include_in_schema=False)
    async def app_js() -> Response:
        return Response(pages.APP_JS, media_type="text/javascript", headers=_ASSET_HEADERS)

    @router.get(f"{prefix}/assets/app.css", include_in_schema=False)
    async def app_css() -> Response:
        return Response(pages.APP_CSS, media_type="text/css", headers=_ASSET_HEADERS)

    @router.get(f"{prefix}/health", tags=["terra"])
    async def health() -> dict[str, Any]:
        """Liveness: the environments served (no secrets)."""
        return {"status": "ok", "environments": [e.value for e in core.settings.environments]}

    webhooks = _webhook_router(core, prefix)
    if webhooks is not None:
        router.include_router(webhooks)
    return router


_ASSET_HEADERS = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}


def _webhook_router(core: ServiceCore, prefix: str) -> APIRouter | None:
    """The webhook receiver (``service/ingest.py``), mounted at ``{prefix}/webhooks``."""
    try:
        from terra_auth.service import ingest
    except ImportError:
        log.warning("webhook receiver not available (terra_auth.service.ingest missing)")
        return None

    def store() -> "Store":
        return cast("Store", core.store)

    router: APIRouter = ingest.webhook_router(
        store=store,
        secrets={env: creds.webhook_secrets for env, creds in core.credentials.items()},
        max_body_bytes=core.settings.webhook_max_bytes,
        tolerance=core.settings.webhook_tolerance,
        path=f"{prefix}/webhooks",
    )
    return router


def terra_router(
    settings: ServiceSettings | None = None,
    *,
    current_user: CurrentUser,
    credentials: Mapping[Environment, TerraCredentials] | None = None,
    clients: Mapping[Environment, ClientLike] | None = None,
    store: StoreLike | None = None,
    prefix: str = "/terra",
    home_url: str = "/",
) -> TerraRouter:
    """The service's routes to ``include_router`` into an existing FastAPI app.

    ``current_user`` is a FastAPI dependency returning the logged-in user's id or ``None``.
    The Terra clients and the store open with the app's lifespan and close on shutdown.
    """
    settings = settings or ServiceSettings.from_env()
    core = ServiceCore(
        settings, resolve_credentials(settings, credentials), clients=clients, store=store
    )
    return build_router(core, current_user=current_user, prefix=prefix, home_url=home_url)


def create_app(
    settings: ServiceSettings | None = None,
    *,
    current_user: CurrentUser | None = None,
    credentials: Mapping[Environment, TerraCredentials] | None = None,
    clients: Mapping[Environment, ClientLike] | None = None,
    store: StoreLike | None = None,
    title: str = "terra-auth service",
) -> FastAPI:
    """A FastAPI app serving the connection service (and, in demo mode, the demo page).

    Raises :class:`ConfigurationError` (with a hint) for missing credentials or for the demo
    login with production. ``app.state.terra`` is the :class:`ServiceCore`.
    """
    settings = settings or ServiceSettings.from_env()
    core = ServiceCore(
        settings, resolve_credentials(settings, credentials), clients=clients, store=store
    )
    login = (
        DemoLogin(settings.session_key or Secret(secrets.token_urlsafe(32)))
        if settings.demo
        else None
    )
    if current_user is None:
        if settings.current_user:
            current_user = load_current_user(settings.current_user)
        elif login is not None:
            current_user = _demo_current_user(login)
        else:
            log.warning(
                "no current_user configured: user endpoints answer 401 (webhooks still work); "
                "pass current_user= or set TERRA_SERVICE_CURRENT_USER"
            )
            current_user = no_user
    app = FastAPI(title=title, docs_url="/docs" if settings.demo else None, redoc_url=None)
    app.state.terra = core
    app.include_router(build_router(core, current_user=current_user, home_url="/"))
    if login is not None:
        _add_demo_routes(app, login, current_user)
    return app


def _demo_current_user(login: DemoLogin) -> CurrentUser:
    def current_user(request: Request) -> str | None:
        return login.read(request.cookies.get(DEMO_COOKIE))

    return current_user


def _add_demo_routes(app: FastAPI, login: DemoLogin, current_user: CurrentUser) -> None:
    User = Annotated[str | None, Depends(current_user)]

    @app.get("/", include_in_schema=False)
    async def index(user: User) -> HTMLResponse:
        return _html(pages.demo_page(user, demo_login=True))

    @app.post("/demo/login", include_in_schema=False)
    async def demo_login(request: Request) -> Response:
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        try:
            name = login.issue((form.get("username") or [""])[0])
        except TerraAuthError as exc:
            return _html(pages.message_page("Cannot log in", exc.message), 400)
        response = RedirectResponse("/", status_code=303)
        secure = request.url.scheme == "https"
        response.set_cookie(DEMO_COOKIE, name, **login.cookie_options(secure=secure))
        return response

    @app.post("/demo/logout", include_in_schema=False)
    async def demo_logout() -> Response:
        response = RedirectResponse("/", status_code=303)
        response.delete_cookie(DEMO_COOKIE, path="/")
        return response
