"""The ``terra-auth`` command.

Each sub-command lives in its own module and is imported only when it runs, so
``terra-auth --help`` stays fast. Nothing in the package imports this module.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

from terra_auth.cli._exit import run_main

__all__ = ["main"]

# command name -> "module:attribute"; each module owns its commands.
LAZY_COMMANDS: dict[str, str] = {
    # foundation: credentials
    "setup-environment": "terra_auth.cli.env_commands:setup_environment",
    "environments": "terra_auth.cli.env_commands:environments",
    "doctor": "terra_auth.cli.env_commands:doctor",
    # client operations
    "list-integrations": "terra_auth.cli.client_commands:list_integrations",
    "generate-widget-session": "terra_auth.cli.client_commands:generate_widget_session",
    "generate-mobile-token": "terra_auth.cli.client_commands:generate_mobile_token",
    "authenticate-user": "terra_auth.cli.client_commands:authenticate_user",
    "deauthenticate-user": "terra_auth.cli.client_commands:deauthenticate_user",
    "users": "terra_auth.cli.client_commands:users",
    # webhooks
    "verify-webhook": "terra_auth.cli.webhook_commands:verify_webhook",
    # emulator
    "emulator": "terra_auth.cli.emulator_commands:emulator",
    # service
    "serve": "terra_auth.cli.service_commands:serve",
    "demo": "terra_auth.cli.service_commands:demo",
    "db": "terra_auth.cli.store_commands:db",
    "events": "terra_auth.cli.store_commands:events",
    # leaked-credential scanning
    "scan": "terra_auth.cli.scan_commands:scan",
}

SHORT_HELP: dict[str, str] = {
    "setup-environment": "Write .env.terra.ENV with hidden input (mode 0600).",
    "environments": "List configured environments, fingerprints and guard status.",
    "doctor": "Check credential files, permissions, git and guards.",
    "list-integrations": "List the providers Terra offers.",
    "generate-widget-session": "Create a hosted-widget URL (valid 15 minutes).",
    "generate-mobile-token": "Create a mobile-SDK token (3 minutes, single use).",
    "authenticate-user": "Create a provider login link for one provider.",
    "deauthenticate-user": "Disconnect a Terra user.",
    "users": "Look up Terra users (all, or by reference id).",
    "verify-webhook": "Verify a signed webhook body and print the event.",
    "emulator": "Run the local Terra emulator.",
    "serve": "Run the connection service.",
    "demo": "Run the whole system offline: emulator, service and a demo page.",
    "db": "Database migrations.",
    "events": "Stored webhook events (replay).",
    "scan": "Find leaked Terra credentials in files and git history.",
}


class LazyGroup(click.Group):
    """A click group that imports a command's module only when that command runs."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(LAZY_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = LAZY_COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        command: Any = getattr(importlib.import_module(module_name), attribute)
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """`terra-auth --help` lists names and one-line help without importing anything."""
        rows = [(name, SHORT_HELP.get(name, "")) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="terra-auth", prog_name="terra-auth")
def cli() -> None:
    """terra-auth: Terra credentials, connection flows and webhooks, safely.

    Exit codes: 0 ok, 1 problems found, 2 usage error, 3 configuration error,
    4 Terra refused the credentials, 5 other Terra API error, 6 network error,
    7 webhook verification failed, 8 cancelled, 70 internal error.
    """


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: runs the CLI and maps errors to exit codes."""
    run_main(cli, argv)
