"""Credential commands: ``setup-environment``, ``environments`` and ``doctor``.

Secrets never travel as option values (they would land in shell history and ``ps``): they are
typed at hidden prompts or read from standard input (``--api-key-stdin``, then
``--webhook-secret-stdin``, one per line).

Example:
    $ printf '%s\\n%s\\n' "$KEY" "$SECRET" | terra-auth setup-environment staging \\
        --dev-id acme-staging-1 --api-key-stdin --webhook-secret-stdin
    $ terra-auth environments --json
    $ terra-auth doctor --fix
"""

from __future__ import annotations

import os
import stat
import sys
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import click

from terra_auth.cli._exit import EXIT_PROBLEMS
from terra_auth.cli._output import echo, echo_json, echo_table, json_option
from terra_auth.credential_files import (
    backup_file,
    ensure_gitignored,
    git,
    in_git_repo,
    write_private_file,
)
from terra_auth.environments import (
    SHARED_FILE,
    VARIABLES,
    Environment,
    TerraCredentials,
    environment_file,
)
from terra_auth.errors import ConfigurationError, TerraAuthError

__all__ = ["doctor", "environments", "setup_environment"]

_SAFE_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~+/=:@,-")

directory_option = click.option(
    "--directory",
    "-d",
    default=".",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder holding .env.terra and .env.terra.<env>.",
)


def _folder(directory: Path) -> Path:
    if not directory.is_dir():
        raise ConfigurationError(
            f"directory {directory} does not exist",
            hint="create it first or pass --directory with an existing folder",
        )
    return directory


# --- setup-environment ---------------------------------------------------------------------


def _interactive() -> bool:
    """Whether prompts can be shown (standard input is a terminal)."""
    return sys.stdin.isatty()


def _stdin_line(stream: TextIO, what: str, flag: str) -> str:
    line = stream.readline()
    value = line.rstrip("\r\n").strip()
    if not value:
        raise ConfigurationError(
            f"no {what} on standard input",
            hint=f"with {flag}, pipe the value as one line, e.g. "
            f"`printf '%s\\n' \"$VALUE\" | terra-auth setup-environment ... {flag}`",
        )
    return value


def _quote(value: str) -> str:
    """The value as written to the file: bare when safe, else quoted so it reads back exactly."""
    if value and set(value) <= _SAFE_CHARS:
        return value
    if "'" not in value:
        return f"'{value}'"
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")
    return f'"{escaped}"'


def render_env_file(
    environment: Environment, dev_id: str, api_key: str, webhook_secret: str | None
) -> str:
    """The text of ``.env.terra.<env>`` (only called with validated values)."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    lines = [
        f"# Terra credentials for the {environment.value} environment.",
        f"# Written by `terra-auth setup-environment` at {now}.",
        "# Keep this file private (mode 0600) and out of version control.",
        f"TERRA_DEV_ID={_quote(dev_id)}",
        f"TERRA_API_KEY={_quote(api_key)}",
    ]
    if webhook_secret:
        lines.append(f"TERRA_WEBHOOK_SECRET={_quote(webhook_secret)}")
    return "\n".join(lines) + "\n"


def _refuse_keys_of_other_environments(
    folder: Path,
    environment: Environment,
    api_key: str,
    webhook_secret: str | None,
    opt_outs: Any,
) -> None:
    """The shared_credentials guard, against the other environments' files in ``folder``."""
    from terra_auth.dotenv import dotenv_values

    if opt_outs.allow_shared_credentials:
        return
    for other in Environment:
        path = folder / environment_file(other)
        if other == environment or not path.is_file():
            continue
        try:
            values = dotenv_values(path)
        except ConfigurationError:
            continue  # doctor reports unreadable files
        theirs = {
            v
            for k, v in values.items()
            if v
            and k.removesuffix(f"_{other.suffix}")
            in {"TERRA_API_KEY", "TERRA_WEBHOOK_SECRET", "TERRA_WEBHOOK_SECRET_PREVIOUS"}
        }
        for label, value in (("API key", api_key), ("signing secret", webhook_secret)):
            if value and value in theirs:
                raise ConfigurationError(
                    f"this {label} is already used by {other.value!r} ({path.name})",
                    hint="each Terra environment has its own API key and signing secret: copy "
                    f"the {environment.value} ones from Terra's dashboard; if this is intended, "
                    "set TERRA_ALLOW_SHARED_CREDENTIALS=1",
                    guard="shared_credentials",
                )


@click.command("setup-environment")
@click.argument("env", metavar="ENV")
@click.option("--dev-id", help="The environment's dev-id (asked for when missing).")
@click.option(
    "--api-key-stdin",
    is_flag=True,
    help="Read the API key from the first line of standard input.",
)
@click.option(
    "--webhook-secret-stdin",
    is_flag=True,
    help="Read the webhook signing secret from the next line of standard input.",
)
@click.option("--no-webhook-secret", is_flag=True, help="Do not ask for a signing secret.")
@click.option(
    "--api-key",
    "api_key_option",
    metavar="KEY",
    help="Discouraged: the key lands in shell history; use --api-key-stdin.",
)
@directory_option
@click.option("--force", is_flag=True, help="Replace an existing file (a backup is kept).")
@json_option
def setup_environment(
    *,
    env: str,
    dev_id: str | None,
    api_key_stdin: bool,
    webhook_secret_stdin: bool,
    no_webhook_secret: bool,
    api_key_option: str | None,
    directory: Path,
    force: bool,
    as_json: bool,
) -> None:
    """Write .env.terra.ENV (mode 0600, atomically) from hidden prompts or standard input.

    ENV is testing, staging or production (aliases test, stage, prod). Scripts pipe secrets,
    one per line: the API key with --api-key-stdin, then the signing secret with
    --webhook-secret-stdin.

    \b
    Example:
      printf '%s\\n' "$KEY" | terra-auth setup-environment staging \\
          --dev-id acme-staging-1 --api-key-stdin --no-webhook-secret
    """
    from terra_auth import guards

    environment = Environment.parse(env)
    folder = _folder(directory)
    target = folder / environment_file(environment)
    if target.is_dir() or target.is_symlink():
        raise ConfigurationError(
            f"{target} is a directory or a symbolic link",
            hint="remove or rename it first; terra-auth writes a regular file there",
        )
    if target.exists() and not force:
        raise ConfigurationError(
            f"{target} already exists",
            hint="pass --force to replace it (the old file is kept as a .bak- copy), "
            "or edit it by hand",
        )
    if api_key_option is not None and api_key_stdin:
        raise click.UsageError("use either --api-key or --api-key-stdin, not both")
    if webhook_secret_stdin and no_webhook_secret:
        raise click.UsageError("use either --webhook-secret-stdin or --no-webhook-secret")
    interactive = _interactive()
    stdin = sys.stdin

    def need_terminal(what: str, flag: str) -> ConfigurationError:
        return ConfigurationError(
            f"standard input is not a terminal, so the {what} cannot be asked for",
            hint=f"pass {flag} (see `terra-auth setup-environment --help`)",
        )

    if dev_id is None:
        if not interactive:
            raise need_terminal("dev-id", "--dev-id")
        dev_id = click.prompt(f"{environment.value} dev-id", type=str).strip()
    if api_key_stdin:
        api_key = _stdin_line(stdin, "API key", "--api-key-stdin")
    elif api_key_option is not None:
        echo(
            "warning: --api-key puts the key in your shell history and process list; "
            "prefer --api-key-stdin or the hidden prompt",
            err=True,
        )
        api_key = api_key_option.strip()
    elif interactive:
        api_key = click.prompt(
            f"{environment.value} API key (hidden)", hide_input=True, type=str
        ).strip()
    else:
        raise need_terminal("API key", "--api-key-stdin")
    webhook_secret: str | None = None
    if webhook_secret_stdin:
        webhook_secret = _stdin_line(stdin, "webhook signing secret", "--webhook-secret-stdin")
    elif not no_webhook_secret and interactive:
        answer = click.prompt(
            f"{environment.value} webhook signing secret (hidden, empty to skip)",
            hide_input=True,
            default="",
            show_default=False,
            type=str,
        )
        webhook_secret = answer.strip() or None

    opt_outs = guards.OptOuts.resolve(os.environ)
    checks = [("TERRA_DEV_ID", dev_id), ("TERRA_API_KEY", api_key)]
    if webhook_secret:
        checks.append(("TERRA_WEBHOOK_SECRET", webhook_secret))
    for variable, value in checks:
        if not value:
            raise guards.missing_variable(variable, environment.value, [], empty_in="your input")
        guards.check_value(
            variable, value, environment.value, origin="your input", opt_outs=opt_outs
        )
    guards.check_dev_id(dev_id, environment.value, origin="your input", opt_outs=opt_outs)
    if webhook_secret and webhook_secret == api_key and not opt_outs.allow_shared_credentials:
        raise ConfigurationError(
            "the webhook signing secret is the same as the API key",
            hint="the signing secret is a separate value in Terra's dashboard "
            "(Connections > Destinations > Webhook)",
            guard="shared_credentials",
        )

    _refuse_keys_of_other_environments(folder, environment, api_key, webhook_secret, opt_outs)

    from terra_auth.secret import Secret

    key, secret = Secret(api_key), Secret(webhook_secret) if webhook_secret else None
    backup = backup_file(target) if target.exists() else None
    write_private_file(target, render_env_file(environment, dev_id, api_key, webhook_secret))
    ignored = ensure_gitignored(folder, target.name)
    summary: dict[str, Any] = {
        "environment": environment.value,
        "file": str(target),
        "mode": "0600",
        "dev_id": dev_id,
        "key_fingerprint": key.fingerprint,
        "webhook_secret_fingerprint": secret.fingerprint if secret else None,
        "backup": str(backup) if backup else None,
        "gitignore": ignored,
    }
    if as_json:
        echo_json(summary)
        return
    echo(f"wrote {target} (mode 0600)")
    echo(f"  dev-id          {dev_id}")
    echo(f"  API key         fingerprint {key.fingerprint}")
    echo(f"  signing secret  {f'fingerprint {secret.fingerprint}' if secret else 'none'}")
    if backup:
        echo(f"  backup          {backup} (mode 0600)")
    echo(f"  .gitignore      {ignored}")
    echo(f"next: terra-auth doctor --env {environment.value}")


# --- environments --------------------------------------------------------------------------


def _status_text(error: ConfigurationError | None, configured: bool) -> str:
    if not configured:
        return "not configured"
    if error is None:
        return "ok"
    return f"FAIL {error.guard or 'file'}"


@click.command("environments")
@directory_option
@json_option
def environments(directory: Path, as_json: bool) -> None:
    """List environments: source files, dev-id, key fingerprint, signing secrets, guards.

    Exits 0 when the configuration could be read, even if a guard fails (see `doctor`).

    \b
    Example:
      terra-auth environments --directory config --json
    """
    from terra_auth.environments import inspect_environments

    statuses = inspect_environments(directory=_folder(directory))
    rows: list[dict[str, Any]] = []
    for status in statuses:
        creds = status.credentials
        rows.append(
            {
                "environment": status.environment.value,
                "configured": status.configured,
                "files": [Path(f).name for f in status.files] if status.configured else [],
                "dev_id": creds.dev_id if creds else None,
                "key_fingerprint": creds.key_fingerprint if creds else None,
                "signing_secrets": len(creds.webhook_secrets) if creds else 0,
                "status": _status_text(status.error, status.configured),
                "guard": status.error.guard if status.error else None,
                "error": status.error.message if status.error else None,
                "hint": status.error.hint if status.error else None,
            }
        )
    if as_json:
        echo_json({"directory": str(directory), "environments": rows})
        return
    echo_table(
        ["environment", "files", "dev-id", "key", "secrets", "status"],
        [
            [
                r["environment"],
                ", ".join(r["files"]) or "-",
                r["dev_id"] or "-",
                r["key_fingerprint"] or "-",
                r["signing_secrets"] if r["key_fingerprint"] else "-",
                r["status"],
            ]
            for r in rows
        ],
    )
    for r in rows:
        if r["error"]:
            echo(f"{r['environment']}: {r['error']}")
            if r["hint"]:
                echo(f"  hint: {r['hint']}")


# --- doctor --------------------------------------------------------------------------------

_LEVELS = ("error", "warning", "fixed", "ok", "info", "skipped")


@dataclass
class Finding:
    """One doctor result; ``level`` is one of error, warning, fixed, ok, info, skipped."""

    level: str
    check: str
    message: str
    environment: str | None = None
    hint: str | None = None


def _known_variables() -> set[str]:
    from terra_auth.guards import GUARDS

    known = {"TERRA_ENV"}
    for name in VARIABLES:
        known.add(name)
        known.update(f"{name}_{e.suffix}" for e in Environment)
    known.update(g.variable for g in GUARDS.values() if g.variable)
    return known


def _credential_files(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.glob(f"{SHARED_FILE}*")
        if not p.name.endswith(".example") and (p.is_file() or p.is_symlink())
    )


def _check_files(folder: Path, fix: bool, findings: list[Finding]) -> list[Path]:
    from terra_auth.dotenv import read_dotenv

    files = _credential_files(folder)
    known = _known_variables()
    main_names = {SHARED_FILE, *(environment_file(e) for e in Environment)}
    for path in files:
        name = path.name
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            if fix:
                os.chmod(path, 0o600)
                findings.append(
                    Finding("fixed", "permissions", f"{name} was mode {mode:04o}; now 0600")
                )
            else:
                findings.append(
                    Finding(
                        "warning",
                        "permissions",
                        f"{name} is readable by group or others (mode {mode:04o})",
                        hint=f"run `chmod 600 {path}` or `terra-auth doctor --fix`",
                    )
                )
        else:
            findings.append(Finding("ok", "permissions", f"{name} is mode {mode:04o}"))
        if name not in main_names:
            if ".bak-" in name or ".tmp-" in name:
                findings.append(
                    Finding(
                        "info",
                        "files",
                        f"{name} is a backup or leftover copy holding credentials",
                        hint="delete it once you no longer need it",
                    )
                )
            continue
        try:
            entries = read_dotenv(path)
        except ConfigurationError as exc:
            findings.append(Finding("error", "syntax", exc.message, hint=exc.hint))
            continue
        own = next((e for e in Environment if environment_file(e) == name), None)
        for entry in entries:
            if entry.key.startswith("TERRA_") and entry.key not in known:
                findings.append(
                    Finding(
                        "warning",
                        "variables",
                        f"{name}, line {entry.line}: unknown variable {entry.key}",
                        hint="check the spelling; terra-auth ignores it",
                    )
                )
            if own is None:
                continue
            for other in Environment:
                if other != own and entry.key.endswith(f"_{other.suffix}"):
                    findings.append(
                        Finding(
                            "warning",
                            "variables",
                            f"{name}, line {entry.line}: {entry.key} belongs to "
                            f"{other.value!r}, not {own.value!r}; it is ignored here",
                            own.value,
                            hint=f"move it to {environment_file(other)}",
                        )
                    )
    return files


def _check_git(folder: Path, files: list[Path], fix: bool, findings: list[Finding]) -> None:
    in_repo = in_git_repo(folder)
    if in_repo is None:
        findings.append(Finding("skipped", "git", "git is not installed: git checks skipped"))
        return
    if not in_repo:
        findings.append(
            Finding("skipped", "git", f"{folder} is not in a git repository: git checks skipped")
        )
        return
    if not files:
        findings.append(Finding("ok", "git", "no credential files to check"))
        return
    for path in files:
        tracked = git(folder, "ls-files", "--error-unmatch", "--", path.name)
        if tracked is not None and tracked.returncode == 0:
            findings.append(
                Finding(
                    "error",
                    "git",
                    f"{path.name} is tracked by git",
                    hint=f"run `git rm --cached {path.name}`, commit, and rotate the keys in "
                    "Terra's dashboard: they are in the repository's history",
                )
            )
            continue
        ignored = git(folder, "check-ignore", "-q", "--", path.name)
        if ignored is not None and ignored.returncode == 0:
            findings.append(Finding("ok", "git", f"{path.name} is ignored by git"))
        elif fix:
            ensure_gitignored(folder, path.name)
            findings.append(
                Finding("fixed", "git", f"{path.name}: added .env.terra* to .gitignore")
            )
        else:
            findings.append(
                Finding(
                    "error",
                    "git",
                    f"{path.name} is not ignored by git (one `git add .` from being committed)",
                    hint="add `.env.terra*` to .gitignore, or run `terra-auth doctor --fix`",
                )
            )


def _check_credentials(creds: TerraCredentials, findings: list[Finding]) -> None:
    env = creds.environment.value
    findings.append(
        Finding(
            "ok",
            "guards",
            f"credentials load (dev-id {creds.dev_id}, key {creds.key_fingerprint}, "
            f"{len(creds.webhook_secrets)} signing secret(s)); every guard passes",
            env,
        )
    )
    now = datetime.now(UTC)
    if not creds.webhook_secrets:
        findings.append(
            Finding(
                "info",
                "webhooks",
                "no webhook signing secret: webhooks for this environment cannot be verified",
                env,
                hint="set TERRA_WEBHOOK_SECRET if this process receives webhooks",
            )
        )
    for secret in creds.webhook_secrets:
        if secret.not_after is not None and secret.not_after < now:
            findings.append(
                Finding(
                    "warning",
                    "rotation",
                    f"the previous signing secret expired at {secret.not_after.isoformat()}",
                    env,
                    hint="remove TERRA_WEBHOOK_SECRET_PREVIOUS and its _NOT_AFTER",
                )
            )
    from urllib.parse import urlsplit

    for label, url in (
        ("TERRA_API_BASE_URL", creds.api_base_url),
        ("TERRA_WIDGET_SESSION_URL", creds.widget_session_url),
    ):
        parts = urlsplit(url)
        if parts.scheme == "http" and parts.hostname not in {"127.0.0.1", "localhost", "::1"}:
            findings.append(
                Finding(
                    "warning",
                    "urls",
                    f"{label} uses plain http to {parts.hostname}: the API key travels unencrypted",
                    env,
                    hint="use https (plain http is meant for the local emulator only)",
                )
            )


def _check_online(loaded: list[TerraCredentials], findings: list[Finding]) -> None:
    try:
        from terra_auth.client import TerraClient
    except Exception as exc:  # ImportError, or a broken module being written
        findings.append(
            Finding(
                "error",
                "online",
                f"online checks are unavailable: terra_auth.client cannot be imported "
                f"({type(exc).__name__})",
                hint="install terra-auth with its dependencies (pip install terra-auth), "
                "or run doctor without --online",
            )
        )
        return
    for creds in loaded:
        env = creds.environment.value
        try:
            with TerraClient(creds) as client:
                result = client.check()
        except TerraAuthError as exc:
            findings.append(Finding("error", "online", exc.message, env, hint=exc.hint))
            continue
        if result.ok:
            findings.append(Finding("ok", "online", result.message, env))
        else:
            problem = f"{result.problem}: " if result.problem else ""
            findings.append(
                Finding("error", "online", f"{problem}{result.message}", env, hint=result.hint)
            )


@click.command("doctor")
@click.option("--env", "env", metavar="ENV", help="Check one environment (default: all).")
@directory_option
@click.option("--fix", is_flag=True, help="chmod credential files 0600; add them to .gitignore.")
@click.option("--online", is_flag=True, help="Also ask Terra whether each key works.")
@json_option
def doctor(env: str | None, directory: Path, fix: bool, online: bool, as_json: bool) -> None:
    """Check credential files, permissions, git, every guard and placeholders.

    Exits 1 when any check fails, 0 otherwise (warnings do not fail).

    \b
    Example:
      terra-auth doctor --env staging --fix
    """
    from terra_auth.environments import inspect_environments, load_credentials

    environment = Environment.parse(env) if env is not None else None
    folder = _folder(directory)
    findings: list[Finding] = []
    files = _check_files(folder, fix, findings)
    _check_git(folder, files, fix, findings)
    loaded: list[TerraCredentials] = []
    reported = {f.message for f in findings if f.level == "error"}

    def failed(exc: ConfigurationError, name: str) -> None:
        if exc.message not in reported:
            reported.add(exc.message)
            check = "guard " + exc.guard if exc.guard else "configuration"
            findings.append(Finding("error", check, exc.message, name, hint=exc.hint))

    if environment is not None:
        try:
            loaded.append(load_credentials(environment, directory=folder))
        except ConfigurationError as exc:
            failed(exc, environment.value)
        else:  # the same key in another environment is this environment's problem too
            for status in inspect_environments(directory=folder):
                error = status.error
                shared = error is not None and error.guard == "shared_credentials"
                if status.environment == environment and error is not None and shared:
                    failed(error, environment.value)
    else:
        statuses = inspect_environments(directory=folder)
        for status in statuses:
            if status.error is not None:
                failed(status.error, status.environment.value)
            elif status.credentials is not None:
                loaded.append(status.credentials)
        if not any(s.configured for s in statuses):
            findings.append(
                Finding(
                    "error",
                    "configuration",
                    "no Terra environment is configured",
                    hint="run `terra-auth setup-environment testing` (or staging, production)",
                )
            )
    for creds in loaded:
        _check_credentials(creds, findings)
    if online:
        _check_online(loaded, findings)
    errors = sum(f.level == "error" for f in findings)
    warnings = sum(f.level == "warning" for f in findings)
    if as_json:
        echo_json(
            {
                "ok": errors == 0,
                "errors": errors,
                "warnings": warnings,
                "findings": [asdict(f) for f in findings],
            }
        )
    else:
        order = {level: i for i, level in enumerate(_LEVELS)}
        ordered = sorted(findings, key=lambda f: order.get(f.level, 99))
        echo_table(
            ["status", "check", "env", "message"],
            [[f.level, f.check, f.environment or "-", f.message] for f in ordered],
        )
        shown: set[str] = set()
        for f in ordered:
            if f.hint and f.level in {"error", "warning"}:
                line = f"hint ({f.check}{', ' + f.environment if f.environment else ''}): {f.hint}"
                if line not in shown:  # one hint per cause, not one per file
                    shown.add(line)
                    echo(line)
        echo(f"{errors} error(s), {warnings} warning(s)")
    if errors:
        sys.exit(EXIT_PROBLEMS)
