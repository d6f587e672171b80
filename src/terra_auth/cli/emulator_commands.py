"""``terra-auth emulator``: run the local Terra emulator in the foreground.

Example:
    terra-auth emulator --port 8787 --seed 1 --write-env . \\
        --webhook-url http://127.0.0.1:8000/terra/webhooks
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType

import click

from terra_auth.cli._output import echo, echo_table

__all__ = ["emulator"]


@click.command("emulator")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=8787, show_default=True, type=click.IntRange(0, 65535), help="0 = any free."
)
@click.option("--webhook-url", default=None, help="Where every environment's webhooks go.")
@click.option(
    "--write-env",
    "write_env",
    default=None,
    type=click.Path(file_okay=False, path_type=Path),
    help="Write .env.terra.<env> files here (mode 0600, never overwriting).",
)
@click.option("--seed", default=None, type=int, help="Deterministic accounts and ids.")
@click.option(
    "--config",
    "config",
    default=None,
    type=click.Path(dir_okay=False, path_type=Path),
    help="JSON config (accounts, seed, error_style).",
)
@click.option(
    "--error-style",
    default="problem",
    show_default=True,
    type=click.Choice(["problem", "legacy", "forbidden"]),
    help="How credential and request errors look.",
)
@click.option(
    "--time-scale", default=1.0, show_default=True, type=float, help="Scales webhook retry delays."
)
@click.option("--legacy-auth-error", is_flag=True, help="Failed auth as type=auth,status=error.")
@click.option("--legacy-widget-gone", is_flag=True, help="Legacy widget endpoint answers 410.")
@click.option("--show-secrets", is_flag=True, help="Print API keys and signing secrets unmasked.")
@click.option(
    "--json", "as_json", is_flag=True, help="Print the startup details as one line of JSON."
)
def emulator(
    *,
    host: str,
    port: int,
    webhook_url: str | None,
    write_env: Path | None,
    seed: int | None,
    config: Path | None,
    error_style: str,
    time_scale: float,
    legacy_auth_error: bool,
    legacy_widget_gone: bool,
    show_secrets: bool,
    as_json: bool,
) -> None:
    """Run the local Terra emulator (Ctrl-C to stop)."""
    from terra_auth.emulator import Emulator
    from terra_auth.errors import InvalidRequestError

    if time_scale <= 0:
        raise InvalidRequestError("--time-scale must be > 0", hint="e.g. --time-scale 0.01")
    if write_env is not None and not write_env.is_dir():
        raise InvalidRequestError(
            f"--write-env directory {str(write_env)!r} does not exist",
            hint="create it first, or pass an existing directory",
        )
    emu = Emulator(
        seed=seed,
        config=config,
        webhook_url=webhook_url,
        error_style=error_style,
        time_scale=time_scale,
        host=host,
        port=port,
        legacy_auth_error=legacy_auth_error,
        legacy_widget_gone=legacy_widget_gone,
    )
    emu.start()
    try:
        written = emu.write_env_files(write_env) if write_env is not None else []
        _report(emu, written, show_secrets=show_secrets, as_json=as_json)
        _serve_until_signal()
    finally:
        emu.stop()
    echo("emulator stopped", err=True)


def _report(emu: object, written: list[Path], *, show_secrets: bool, as_json: bool) -> None:
    from terra_auth.emulator import Emulator

    assert isinstance(emu, Emulator)
    rows = []
    for env, account in emu.environments.items():
        key = account.api_key if show_secrets else f"****** ({account.api_key_fingerprint})"
        secret = (
            account.webhook_secret if show_secrets else f"****** ({account.secret_fingerprint})"
        )
        rows.append(
            {
                "environment": env,
                "dev_id": account.dev_id,
                "api_key": key,
                "webhook_secret": secret,
                "webhook_url": account.webhook_url or "-",
            }
        )
    # click.echo (not the masking echo) only for values the user asked to see unmasked
    out = click.echo if show_secrets else echo
    if as_json:
        import json

        data = {
            "url": emu.url,
            "api_base_url": f"{emu.url}/api/v2",
            "widget_session_url": f"{emu.url}/api/widget/session",
            "streaming_url": f"{emu.url}/streaming",
            "control_url": f"{emu.url}/_emulator/",
            "accounts": rows,
            "env_files": [str(p) for p in written],
        }
        line = json.dumps(data, separators=(",", ":"))  # one line, for scripts
        if show_secrets:
            click.echo(line)
        else:
            echo(line)
        return
    out(f"Terra emulator listening on {emu.url}")
    out(f"  data API:        {emu.url}/api/v2  (also {emu.url}/v2)")
    out(f"  widget sessions: {emu.url}/api/widget/session")
    out(f"  control plane:   {emu.url}/_emulator/state")
    columns = ["environment", "dev_id", "api_key", "webhook_secret", "webhook_url"]
    if show_secrets:
        for row in rows:
            click.echo("  " + "  ".join(str(row[c]) for c in columns))
    else:
        echo_table(columns, rows)
    for path in written:
        out(f"wrote {path}")
    if not show_secrets:
        out("secrets are masked; --show-secrets prints them, --write-env DIR saves them")
    out("press Ctrl-C to stop")


def _serve_until_signal() -> None:
    stop = threading.Event()

    def handle(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, handle)
    try:
        while not stop.wait(3600):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
