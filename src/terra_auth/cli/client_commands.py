"""CLI commands for the client operations, named after the operations users know.

Each takes ``--env`` (credentials from ``load_credentials(env, directory=cwd)``) and ``--json``.
Errors are raised from the tree; ``cli/_exit.py`` turns them into a message, a hint and an exit
code.

Example:
    $ terra-auth generate-widget-session --env testing --reference-id user-42 \\
        --success-url https://app.example.com/ok --failure-url https://app.example.com/failed
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from terra_auth.cli._output import echo, echo_json, echo_table, json_option

if TYPE_CHECKING:
    from terra_auth.client import TerraClient
    from terra_auth.models import TerraUser

F = TypeVar("F", bound=Callable[..., Any])

env_option = click.option(
    "--env",
    "env",
    default=None,
    metavar="ENV",
    help="testing, staging or production (default: TERRA_ENV).",
)


def _client(env: str | None) -> TerraClient:
    from terra_auth.client import TerraClient
    from terra_auth.environments import load_credentials

    return TerraClient(load_credentials(env, directory=Path.cwd()))


def _redirect_options(func: F) -> F:
    func = click.option(
        "--failure-url", required=True, metavar="URL", help="Where Terra sends the user on failure."
    )(func)
    func = click.option(
        "--success-url", required=True, metavar="URL", help="Where Terra sends the user on success."
    )(func)
    func = click.option(
        "--reference-id", required=True, metavar="ID", help="Your id for the user."
    )(func)
    return func


@click.command("list-integrations")
@env_option
@click.option("--detailed", is_flag=True, help="Names, icons and setup of each provider.")
@click.option("--sdk/--no-sdk", default=None, help="Include (or leave out) SDK-only providers.")
@json_option
def list_integrations(env: str | None, detailed: bool, sdk: bool | None, as_json: bool) -> None:
    """List the providers Terra offers.

    \b
    Example:
      terra-auth list-integrations --detailed --json
    """
    with _client(env) as client:
        items = client.list_integrations(detailed=detailed, sdk=sdk)
    if as_json:
        echo_json([i.model_dump(mode="json", exclude_none=True) for i in items])
        return
    if detailed:
        rows = [[i.provider, i.name, i.enabled, i.setup] for i in items]
        echo_table(["provider", "name", "enabled", "setup"], rows)
    else:
        echo_table(
            ["provider", "sdk only"], [[i.provider, "yes" if i.sdk_only else ""] for i in items]
        )


@click.command("generate-widget-session")
@env_option
@_redirect_options
@click.option(
    "--provider", "providers", multiple=True, metavar="P", help="Offer only this provider (repeat)."
)
@click.option("--language", default=None, metavar="L", help="Widget language, e.g. en.")
@click.option("--show-disconnect", is_flag=True, default=None, help="Show disconnect buttons.")
@json_option
def generate_widget_session(
    *,
    env: str | None,
    reference_id: str,
    success_url: str,
    failure_url: str,
    providers: tuple[str, ...],
    language: str | None,
    show_disconnect: bool | None,
    as_json: bool,
) -> None:
    """Create a hosted-widget URL (valid 15 minutes); prints the URL.

    \b
    Example:
      terra-auth generate-widget-session --env staging --reference-id user-42 \\
        --success-url https://app.example.com/ok --failure-url https://app.example.com/failed \\
        --provider FITBIT --provider GARMIN
    """
    with _client(env) as client:
        session = client.generate_widget_session(
            reference_id,
            success_url,
            failure_url,
            providers=list(providers) or None,
            language=language,
            show_disconnect=show_disconnect,
        )
    if as_json:
        echo_json(session.model_dump(mode="json"))
        return
    echo(session.url)
    echo(
        f"session {session.session_id}, expires {session.expires_at:%Y-%m-%d %H:%M:%S} UTC",
        err=True,
    )


@click.command("generate-mobile-token")
@env_option
@click.option("--reference-id", default=None, metavar="ID", help="Bind the token to this user.")
@json_option
def generate_mobile_token(env: str | None, reference_id: str | None, as_json: bool) -> None:
    """Create a mobile-SDK token (3 minutes, single use); prints the token.

    \b
    Example:
      terra-auth generate-mobile-token --env staging --reference-id user-42
    """
    with _client(env) as client:
        token = client.generate_mobile_token(reference_id=reference_id)
    if as_json:
        echo_json(token.model_dump(mode="json"))
        return
    echo(token.token)
    echo(f"single use, expires {token.expires_at:%Y-%m-%d %H:%M:%S} UTC", err=True)


@click.command("authenticate-user")
@env_option
@click.option(
    "--provider", "--resource", "resource", required=True, metavar="P", help="e.g. FITBIT."
)
@_redirect_options
@click.option("--language", default=None, metavar="L", help="Login page language, e.g. en.")
@json_option
def authenticate_user(
    *,
    env: str | None,
    resource: str,
    reference_id: str,
    success_url: str,
    failure_url: str,
    language: str | None,
    as_json: bool,
) -> None:
    """Create a provider login link for one provider; prints the link.

    \b
    Example:
      terra-auth authenticate-user --provider FITBIT --reference-id user-42 \\
        --success-url https://app.example.com/ok --failure-url https://app.example.com/failed
    """
    with _client(env) as client:
        link = client.authenticate_user(
            resource, reference_id, success_url, failure_url, language=language
        )
    if as_json:
        echo_json(link.model_dump(mode="json"))
        return
    echo(link.auth_url)
    echo(f"Terra user {link.user_id}", err=True)


@click.command("deauthenticate-user")
@env_option
@click.argument("user_id")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation in production.")
@json_option
def deauthenticate_user(env: str | None, user_id: str, yes: bool, as_json: bool) -> None:
    """Disconnect a Terra user (asks first in production unless --yes).

    \b
    Example:
      terra-auth deauthenticate-user --env production --yes 3f2a9c1e-...
    """
    from terra_auth.environments import Environment

    with _client(env) as client:
        if client.environment == Environment.PRODUCTION and not yes:
            click.confirm(
                f"Disconnect Terra user {user_id} in PRODUCTION? Terra deletes its data",
                abort=True,
                err=True,
            )
        client.deauthenticate_user(user_id)
    if as_json:
        echo_json({"user_id": user_id, "environment": client.environment.value, "status": "ok"})
        return
    echo(f"disconnected {user_id} in {client.environment}; Terra sends a deauth webhook next")


def _user_rows(users: Iterable[TerraUser]) -> list[list[Any]]:
    return [
        [u.user_id, u.provider, u.reference_id, u.active, u.scopes, u.created_at] for u in users
    ]


@click.command("users")
@env_option
@click.option("--reference-id", default=None, metavar="ID", help="Only this user's connections.")
@click.option("--user-id", default=None, metavar="ID", help="Only this Terra user.")
@json_option
def users(env: str | None, reference_id: str | None, user_id: str | None, as_json: bool) -> None:
    """Look up Terra users (all, by reference id or by user id).

    \b
    Example:
      terra-auth users --env staging --reference-id user-42 --json
    """
    with _client(env) as client:
        if user_id is not None:
            found = [client.get_user(user_id)]
        elif reference_id is not None:
            found = client.find_users(reference_id)
        else:
            found = list(client.iter_users())
    if as_json:
        echo_json([u.model_dump(mode="json") for u in found])
        return
    columns = ["user_id", "provider", "reference_id", "active", "scopes", "created_at"]
    echo_table(columns, _user_rows(found))
    if not found:
        echo("no users", err=True)
