"""``terra-auth verify-webhook``: check a saved webhook body against a signature header.

Secrets come from the configured environments (``--env`` for one, else every configured one),
so the output names the environment whose secret signed the body.

Example:
    $ terra-auth verify-webhook --signature 't=1723808700,v1=da46...' body.json
    verified: signed by staging at 2024-08-16T11:45:00+00:00
    event: auth (AuthSuccessEvent)
"""

from __future__ import annotations

from pathlib import Path
from typing import IO, Any

import click

from terra_auth.cli._output import echo, echo_json, json_option

__all__ = ["verify_webhook"]


def _tolerance(value: str) -> float | None:
    if value.strip().lower() in {"none", "off"}:
        return None
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if seconds < 0:
        raise click.BadParameter("give seconds >= 0, or 'none' to turn the check off")
    return seconds


def _secrets(env: str | None) -> Any:
    from terra_auth.environments import load_all_environments, load_credentials

    if env is not None:
        creds = load_credentials(env, directory=Path.cwd())
        return {creds.environment: creds}
    return load_all_environments(directory=Path.cwd())


@click.command("verify-webhook")
@click.option("--env", "env", default=None, metavar="ENV", help="Only this environment's secrets.")
@click.option(
    "--signature",
    "signature",
    default=None,
    metavar="HEADER",
    help="The terra-signature header value, t=<unix>,v1=<hex>.",
)
@click.option(
    "--tolerance",
    default="300",
    show_default=True,
    metavar="SECONDS",
    help="Accepted clock difference; 'none' verifies old captures.",
)
@json_option
@click.argument("body", type=click.File("rb"), default="-", metavar="[FILE|-]")
def verify_webhook(
    env: str | None, signature: str | None, tolerance: str, as_json: bool, body: IO[bytes]
) -> None:
    """Verify a saved webhook body (FILE, or - for stdin) and print the event.

    Prints which environment's secret signed it; exit code 7 with the reason code when
    verification fails.
    """
    from terra_auth.errors import WebhookVerificationError
    from terra_auth.webhooks import verify_webhook as verify

    if not signature:
        raise click.UsageError("pass the terra-signature header value with --signature")
    limit = _tolerance(tolerance)
    raw = body.read()
    secrets = _secrets(env)
    try:
        verified = verify(raw, signature, secrets, tolerance=limit)
    except WebhookVerificationError as exc:
        hint = exc.hint
        if exc.reason == "bad_signature" and raw.endswith(b"\n"):
            hint = (
                "the file ends with a newline: if an editor added it, the bytes differ from "
                "what Terra signed"
            )
        if as_json:
            echo_json({"verified": False, "reason": exc.reason, "message": exc.message})
        failure = WebhookVerificationError(exc.reason, f"{exc.reason}: {exc.message}")
        failure.hint = hint
        raise failure from None
    event = verified.event
    fields = event.model_dump(mode="json", exclude_none=False)
    environment = verified.environment.value if verified.environment else None
    if as_json:
        echo_json(
            {
                "verified": True,
                "environment": environment,
                "signed_at": verified.signed_at.isoformat(),
                "trace_id": verified.trace_id,
                "event_type": event.type,
                "event_class": type(event).__name__,
                "event": fields,
            }
        )
        return
    echo(
        f"verified: signed by {environment or 'a configured secret'} at "
        f"{verified.signed_at.isoformat()}"
    )
    echo(f"event: {event.type} ({type(event).__name__})")
    import json

    echo(json.dumps(fields, indent=2, default=str))
