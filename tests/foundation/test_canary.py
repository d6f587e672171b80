"""Canary: unique planted secret values never appear in stdout, stderr, logs or exception text.

Every command runs on its success and failure paths (missing variable, unknown environment,
guard failures, malformed values, unreadable files), both through the real entry point (a
subprocess: nothing has been loaded, so masking cannot hide a leak) and in-process with
DEBUG logging captured.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import traceback
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from terra_auth.cli import cli

from .conftest import run_cli

CANARY_TAG = "c4n4ry" + secrets.token_hex(6)


def account(env: str, key: str, secret: str, dev_id: str | None = None) -> str:
    return (
        f"TERRA_DEV_ID={dev_id or f'acme-{env}-1'}\n"
        f"TERRA_API_KEY={key}\n"
        f"TERRA_WEBHOOK_SECRET={secret}\n"
    )


def c(label: str) -> str:
    return f"{CANARY_TAG}{label}{secrets.token_hex(6)}"


def write(folder: Path, name: str, text: str | bytes) -> None:
    path = folder / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    path.chmod(0o600)


Scenario = Callable[[Path], tuple[list[str], str | None, dict[str, str]]]


def healthy(folder: Path) -> None:
    for env in ("testing", "staging", "production"):
        write(folder, f".env.terra.{env}", account(env, c("key"), c("whsec")))
    write(
        folder,
        ".env.terra.staging",
        account("staging", c("key"), c("whsec"))
        + f"TERRA_WEBHOOK_SECRET_PREVIOUS={c('prev')}\n"
        + "TERRA_WEBHOOK_SECRET_PREVIOUS_NOT_AFTER=2020-01-01\n",
    )


def s_environments_ok(folder):
    healthy(folder)
    return ["environments"], None, {}


def s_environments_json_ok(folder):
    healthy(folder)
    return ["environments", "--json"], None, {"TERRA_ENV": "production"}


def s_doctor_ok(folder):
    healthy(folder)
    return ["doctor"], None, {}


def s_doctor_json_fix(folder):
    healthy(folder)
    (folder / ".env.terra.testing").chmod(0o644)
    return ["doctor", "--json", "--fix"], None, {}


def s_setup_ok(folder):
    return (
        ["setup-environment", "staging", "--dev-id", "acme-staging-1", "--api-key-stdin", "--webhook-secret-stdin"],
        f"{c('key')}\n{c('whsec')}\n",
        {},
    )


def s_setup_force(folder):
    healthy(folder)
    return (
        ["setup-environment", "testing", "--dev-id", "acme-testing-1", "--api-key-stdin", "--force", "--json"],
        f"{c('key')}\n",
        {},
    )


def s_setup_exists(folder):
    healthy(folder)
    return (
        ["setup-environment", "testing", "--dev-id", "acme-testing-1", "--api-key-stdin"],
        f"{c('key')}\n",
        {},
    )


def s_setup_dev_id_mismatch(folder):
    return (
        ["setup-environment", "testing", "--dev-id", "acme-prod-1", "--api-key-stdin", "--webhook-secret-stdin"],
        f"{c('key')}\n{c('whsec')}\n",
        {},
    )


def s_setup_malformed(folder):
    return (
        ["setup-environment", "testing", "--dev-id", "acme-testing-1", "--api-key-stdin", "--no-webhook-secret"],
        f"'{c('key')}\n",
        {},
    )


def s_setup_unknown_env(folder):
    return (["setup-environment", "qa", "--dev-id", "acme-1", "--api-key-stdin"], f"{c('key')}\n", {})


def s_setup_api_key_flag_same_as_secret(folder):
    value = c("key")
    return (
        ["setup-environment", "testing", "--dev-id", "acme-testing-1", "--api-key", value, "--webhook-secret-stdin"],
        f"{value}\n",
        {},
    )


def s_setup_key_of_another_environment(folder):
    key = c("key")
    write(folder, ".env.terra.testing", account("testing", key, c("whsec")))
    return (
        ["setup-environment", "staging", "--dev-id", "acme-staging-1", "--api-key-stdin", "--no-webhook-secret"],
        f"{key}\n",
        {},
    )


def s_missing_variable(folder):
    write(folder, ".env.terra.staging", f"TERRA_API_KEY={c('key')}\nTERRA_WEBHOOK_SECRET={c('whsec')}\n")
    return ["doctor"], None, {"TERRA_API_KEY_PRODUCTION": c("key")}


def s_missing_variable_environments(folder):
    write(folder, ".env.terra.staging", f"TERRA_API_KEY={c('key')}\n")
    return ["environments", "--json"], None, {}


def s_unknown_environment(folder):
    healthy(folder)
    return ["doctor", "--env", "qa"], None, {}


def s_unknown_terra_env(folder):
    healthy(folder)
    return ["environments"], None, {"TERRA_ENV": "qa"}


def s_guard_shared(folder):
    key = c("key")
    write(folder, ".env.terra.testing", account("testing", key, c("whsec")))
    write(folder, ".env.terra.staging", account("staging", key, c("whsec")))
    return ["doctor", "--json"], None, {}


def s_guard_shared_environments(folder):
    whsec = c("whsec")
    write(folder, ".env.terra.testing", account("testing", c("key"), whsec))
    write(folder, ".env.terra.staging", account("staging", c("key"), whsec))
    return ["environments"], None, {}


def s_guard_production(folder):
    healthy(folder)
    return ["doctor", "--env", "production"], None, {"TERRA_ENV": "testing"}


def s_guard_dev_id(folder):
    write(folder, ".env.terra.testing", account("testing", c("key"), c("whsec"), dev_id="acme-prod-9"))
    return ["doctor"], None, {}


def s_malformed_file(folder):
    write(folder, ".env.terra.testing", account("testing", f"\"'{c('key')}'\"", c("whsec")))
    return ["doctor"], None, {}


def s_malformed_process(folder):
    return ["environments"], None, {"TERRA_DEV_ID_STAGING": "acme-staging-1", "TERRA_API_KEY_STAGING": c("key") + " "}


def s_placeholder_next_to_canary(folder):
    write(folder, ".env.terra.testing", account("testing", c("key"), "changeme"))
    return ["doctor"], None, {}


def s_unreadable_not_utf8(folder):
    write(folder, ".env.terra.testing", f"TERRA_DEV_ID=acme-testing-1\nTERRA_API_KEY={c('key')}\xff\n".encode("latin-1"))
    return ["doctor"], None, {}


def s_unreadable_directory(folder):
    healthy(folder)
    (folder / ".env.terra.production").unlink()
    (folder / ".env.terra.production").mkdir()
    return ["environments"], None, {}


def s_syntax_error(folder):
    write(folder, ".env.terra.staging", f"TERRA_DEV_ID=acme-staging-1\n{c('key')}\nTERRA_API_KEY='{c('key')}\n")
    return ["doctor", "--env", "staging"], None, {}


def s_bad_setting(folder):
    write(folder, ".env.terra.testing", account("testing", c("key"), c("whsec")) + f"TERRA_TIMEOUT={c('t')}\nTERRA_API_BASE_URL={c('url')}\n")
    return ["doctor"], None, {}


def s_online_unreachable(folder):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    write(
        folder,
        ".env.terra.testing",
        account("testing", c("key"), c("whsec"))
        + f"TERRA_API_BASE_URL=http://127.0.0.1:{port}/api/v2\nTERRA_TIMEOUT=2\nTERRA_CONNECT_TIMEOUT=1\n",
    )
    return ["doctor", "--online"], None, {}


SCENARIOS: list[Scenario] = [
    s_environments_ok,
    s_environments_json_ok,
    s_doctor_ok,
    s_doctor_json_fix,
    s_setup_ok,
    s_setup_force,
    s_setup_exists,
    s_setup_dev_id_mismatch,
    s_setup_malformed,
    s_setup_unknown_env,
    s_setup_api_key_flag_same_as_secret,
    s_setup_key_of_another_environment,
    s_missing_variable,
    s_missing_variable_environments,
    s_unknown_environment,
    s_unknown_terra_env,
    s_guard_shared,
    s_guard_shared_environments,
    s_guard_production,
    s_guard_dev_id,
    s_malformed_file,
    s_malformed_process,
    s_placeholder_next_to_canary,
    s_unreadable_not_utf8,
    s_unreadable_directory,
    s_syntax_error,
    s_bad_setting,
    s_online_unreachable,
]


def _client_available() -> bool:
    try:
        import terra_auth.client  # noqa: F401
    except Exception:
        return False
    return True


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__[2:])
def test_canaries_never_leak(scenario: Scenario, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    if scenario is s_online_unreachable and not _client_available():
        pytest.skip("terra_auth.client is not importable yet")
    # 1. the real entry point, in a fresh process
    first = tmp_path / "subprocess"
    first.mkdir()
    args, stdin, env = scenario(first)
    proc = run_cli(*args, cwd=first, input=stdin, env=env)
    assert proc.returncode in {0, 1, 3}, proc.stderr
    assert "Traceback" not in proc.stderr
    assert CANARY_TAG not in proc.stdout, proc.stdout
    assert CANARY_TAG not in proc.stderr, proc.stderr

    # 2. in-process, with DEBUG logs captured and the exception (if any) inspected
    second = tmp_path / "in-process"
    second.mkdir()
    args, stdin, env = scenario(second)
    caplog.set_level(logging.DEBUG)
    cwd = os.getcwd()
    os.chdir(second)
    try:
        result = CliRunner().invoke(cli, args, input=stdin, env=env)
    finally:
        os.chdir(cwd)
    texts = [result.stdout, result.stderr, caplog.text]
    for record in caplog.records:
        texts.append(record.getMessage())
    exc = result.exception
    if exc is not None and not isinstance(exc, SystemExit):
        texts += [str(exc), repr(exc), str(getattr(exc, "hint", "")), "".join(traceback.format_exception(exc))]
        assert type(exc).__module__ == "terra_auth.errors", "".join(traceback.format_exception(exc))
    for text in texts:
        assert CANARY_TAG not in text, text


def test_the_canary_check_can_fail(tmp_path: Path) -> None:
    """A planted value printed on purpose is found (the assertion above is not vacuous)."""
    value = c("key")
    proc = run_cli("setup-environment", "testing", "--dev-id", value, "--api-key-stdin", "--no-webhook-secret", cwd=tmp_path, input=c("key") + "\n")
    assert proc.returncode == 0
    assert CANARY_TAG in proc.stdout  # the dev-id is not a secret: it is printed
