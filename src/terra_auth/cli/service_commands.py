"""``terra-auth serve`` and ``terra-auth demo``.

Example:
    $ terra-auth demo --port 8000            # everything offline; open http://127.0.0.1:8000/
    $ terra-auth serve --env staging --port 8080
"""

from __future__ import annotations

import contextlib
import gc
import os

import click

from terra_auth.cli._output import echo

__all__ = ["demo", "serve"]


@click.command()
@click.option(
    "--env",
    "envs",
    multiple=True,
    metavar="ENV",
    help="Environment to serve (repeatable; the first creates sessions). "
    "Default: TERRA_SERVICE_ENVIRONMENTS, else TERRA_ENV, else testing.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
)
def serve(envs: tuple[str, ...], host: str, port: int, log_level: str) -> None:
    """Run the connection service (uvicorn) with settings from the environment."""
    import uvicorn

    from terra_auth.service.core import served_environments
    from terra_auth.service.demo import bind_socket
    from terra_auth.service.fastapi_app import create_app
    from terra_auth.service.settings import ServiceSettings

    settings = ServiceSettings.from_env()
    sock = bind_socket(host, port)  # bound first, so --port 0 prints the real port
    port = sock.getsockname()[1]
    changes: dict[str, object] = {}
    if envs:
        changes["environments"] = served_environments(envs)
    if not os.environ.get("TERRA_SERVICE_PUBLIC_URL"):
        if host not in ("127.0.0.1", "localhost", "::1"):
            echo(
                "warning: TERRA_SERVICE_PUBLIC_URL is not set; widget redirects will point at "
                f"http://127.0.0.1:{port}, which only works on this machine",
                err=True,
            )
        shown = "127.0.0.1" if host in ("0.0.0.0", "") else host  # noqa: S104
        changes["public_url"] = f"http://{shown}:{port}"
        changes["success_url"] = os.environ.get("TERRA_SERVICE_SUCCESS_URL") or None
        changes["failure_url"] = os.environ.get("TERRA_SERVICE_FAILURE_URL") or None
    if changes:
        settings = settings.with_overrides(**changes)
    try:
        app = create_app(settings)
        core = app.state.terra
        core.start()  # open clients and the store now: problems are clear errors, not tracebacks
        try:
            echo(
                f"terra-auth service on {settings.public_url}/terra/ "
                f"(environments: {', '.join(e.value for e in settings.environments)})"
            )
            config = uvicorn.Config(app, log_level=log_level, lifespan="on")
            # start-up objects never die: keep them out of full collections (p99 pauses)
            gc.freeze()
            with contextlib.suppress(KeyboardInterrupt):  # uvicorn re-raises Ctrl-C at exit
                uvicorn.Server(config).run(sockets=[sock])
            echo("terra-auth service stopped")
        finally:
            core.close()
    finally:
        sock.close()


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--database-url",
    default=None,
    help="SQLAlchemy URL of the store (default: SQLite in a temporary folder).",
)
@click.option(
    "--exit-after",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    metavar="SECONDS",
    help="Stop after this many seconds (smoke tests).",
)
@click.option("--open/--no-open", "open_browser", default=False, help="Open a browser.")
def demo(
    host: str, port: int, database_url: str | None, exit_after: float | None, open_browser: bool
) -> None:
    """Run the whole system offline: the emulator, the service and a demo page."""
    from terra_auth.service.demo import run_demo

    run_demo(
        host=host,
        port=port,
        database_url=database_url,
        exit_after=exit_after,
        open_browser=open_browser,
        echo=echo,
    )
