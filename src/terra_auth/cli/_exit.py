"""Exit codes and the one place that turns errors into messages.

Exit codes (documented in the README, stable):

====  =====================================================================
0     success
1     problems found (doctor errors, scan findings, failed checks)
2     usage error (unknown option, bad argument)
3     configuration error or invalid request (missing or malformed credentials, guards)
4     Terra refused the credentials (401/403)
5     any other Terra API error (404, 410, 429, 5xx)
6     network error (unreachable, TLS, timeout)
7     webhook verification failed
8     cancelled by the user
70    internal error (a bug: please report it)
====  =====================================================================
"""

from __future__ import annotations

import os
import sys
from typing import NoReturn

import click

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_USAGE = 2
EXIT_CONFIG = 3
EXIT_AUTH = 4
EXIT_API = 5
EXIT_NETWORK = 6
EXIT_WEBHOOK = 7
EXIT_CANCELLED = 8
EXIT_INTERNAL = 70


def exit_code_for(exc: BaseException) -> int:
    """The documented exit code for an exception of terra-auth's error tree."""
    from terra_auth import errors

    if isinstance(exc, errors.ConfigurationError | errors.InvalidRequestError):
        return EXIT_CONFIG
    if isinstance(exc, errors.AuthenticationError):
        return EXIT_AUTH
    if isinstance(exc, errors.TerraApiError):
        return EXIT_API
    if isinstance(exc, errors.TransportError):
        return EXIT_NETWORK
    if isinstance(exc, errors.WebhookVerificationError):
        return EXIT_WEBHOOK
    if isinstance(exc, errors.TerraAuthError):
        return EXIT_PROBLEMS
    return EXIT_INTERNAL


# an optional dependency's top-level module -> the extra that installs it
_EXTRA_FOR_MODULE = {
    "fastapi": "service",
    "starlette": "service",
    "uvicorn": "service",
    "sqlalchemy": "service",
    "alembic": "service",
    "itsdangerous": "service",
    "psycopg": "postgres",
    "flask": "flask",
    "werkzeug": "flask",
    "detect_secrets": "scan",
    "pathspec": "scan",
    "terra": "sdk",
    "rich": "rich",
}


def missing_extra(exc: ModuleNotFoundError) -> str | None:
    """The extra that provides the module ``exc`` could not import, if it is one of ours."""
    top = (exc.name or "").split(".")[0]
    return _EXTRA_FOR_MODULE.get(top)


def fail(message: str, *, code: int, hint: str | None = None) -> NoReturn:
    """Print ``error: message`` (and a hint) to stderr, masked, and exit with ``code``."""
    from terra_auth.secret import mask

    click.echo(f"error: {mask(message)}", err=True)
    if hint:
        click.echo(f"hint: {mask(hint)}", err=True)
    sys.exit(code)


def run_main(command: click.Command, argv: list[str] | None = None) -> NoReturn:
    """Run a click command; every terra-auth error becomes a message and an exit code."""
    from terra_auth.errors import TerraAuthError

    try:
        result = command.main(args=argv, prog_name="terra-auth", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("cancelled", err=True)
        sys.exit(EXIT_CANCELLED)
    except click.exceptions.ClickException as exc:
        exc.show()
        sys.exit(EXIT_USAGE if exc.exit_code == 2 else exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except TerraAuthError as exc:
        fail(str(exc), code=exit_code_for(exc), hint=exc.hint)
    except KeyboardInterrupt:
        click.echo("cancelled", err=True)
        sys.exit(EXIT_CANCELLED)
    except Exception as exc:
        debug = bool(os.environ.get("TERRA_AUTH_DEBUG"))
        missing = exc if isinstance(exc, ModuleNotFoundError) else None
        extra = missing_extra(missing) if missing is not None else None
        if missing is not None and extra is not None and not debug:
            fail(
                f"this command needs the optional package {missing.name!r}, which is not installed",
                code=EXIT_CONFIG,
                hint=f"pip install 'terra-auth[{extra}]' (or 'terra-auth[all]')",
            )
        if debug:
            raise
        fail(
            f"internal error ({type(exc).__name__}); this is a bug in terra-auth",
            code=EXIT_INTERNAL,
            hint="run again with TERRA_AUTH_DEBUG=1 to see the traceback, and report it",
        )
    # with standalone_mode=False, click returns ctx.exit(code)'s code instead of exiting
    sys.exit(result if isinstance(result, int) else EXIT_OK)
