"""terra-auth doctor: permissions, git, guards, placeholders; exit 1 on any error."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import pytest

from .conftest import git


def doctor(invoke, folder, *args):
    result = invoke("doctor", "--directory", str(folder), "--json", *args)
    data = json.loads(result.stdout)
    return result, data


def findings(data, level=None, check=None):
    return [
        f for f in data["findings"]
        if (level is None or f["level"] == level) and (check is None or f["check"] == check)
    ]


def ignored_repo(git_repo):
    (git_repo.directory / ".gitignore").write_text(".env.terra*\n")
    return git_repo


def test_healthy_configuration_exits_zero(git_repo, invoke) -> None:
    ignored_repo(git_repo)
    git_repo.add("testing")
    git_repo.add("staging")
    result, data = doctor(invoke, git_repo.directory)
    assert result.exit_code == 0, result.output
    assert data["ok"] is True and data["errors"] == 0
    assert {f["environment"] for f in findings(data, "ok", "guards")} == {"testing", "staging"}
    assert len(findings(data, "ok", "git")) == 2


def test_group_readable_file_warns_and_fix_chmods(git_repo, invoke) -> None:
    ignored_repo(git_repo)
    git_repo.add("testing")
    path = git_repo.directory / ".env.terra.testing"
    os.chmod(path, 0o644)
    result, data = doctor(invoke, git_repo.directory)
    assert result.exit_code == 0  # a warning, not an error
    (warning,) = findings(data, "warning", "permissions")
    assert "readable by group or others (mode 0644)" in warning["message"]
    result, data = doctor(invoke, git_repo.directory, "--fix")
    assert findings(data, "fixed", "permissions")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_not_a_git_repository_is_skipped_saying_so(config, invoke) -> None:
    config.add("testing")
    result, data = doctor(invoke, config.directory)
    assert result.exit_code == 0
    (skipped,) = findings(data, "skipped", "git")
    assert "not in a git repository" in skipped["message"]


def test_tracked_file_is_an_error(git_repo, invoke) -> None:
    git_repo.add("testing")
    git(git_repo.directory, "add", "-f", ".env.terra.testing")
    (git_repo.directory / ".gitignore").write_text(".env.terra*\n")
    result, data = doctor(invoke, git_repo.directory)
    assert result.exit_code == 1
    (error,) = findings(data, "error", "git")
    assert "tracked by git" in error["message"] and "git rm --cached" in error["hint"]


def test_not_ignored_is_an_error_and_fix_adds_gitignore(git_repo, invoke) -> None:
    git_repo.add("testing")
    result, data = doctor(invoke, git_repo.directory)
    assert result.exit_code == 1
    assert "not ignored by git" in findings(data, "error", "git")[0]["message"]
    result, data = doctor(invoke, git_repo.directory, "--fix")
    assert findings(data, "fixed", "git")
    result, data = doctor(invoke, git_repo.directory)
    assert result.exit_code == 0 and data["ok"]


@pytest.mark.parametrize(
    ("edit", "guard"),
    [
        (lambda a: a.file_text().replace(a.api_key, "changeme"), "placeholder_value"),
        (lambda a: a.file_text().replace(a.dev_id, "acme-prod-1"), "dev_id_environment"),
        (lambda a: f"TERRA_DEV_ID={a.dev_id}\n", "missing_variable"),
        (lambda a: a.file_text() + "TERRA_TIMEOUT=never\n", "invalid_value"),
    ],
)
def test_guard_failures_are_errors(git_repo, invoke, edit, guard) -> None:
    ignored_repo(git_repo)
    acct = git_repo.add("testing")
    git_repo.write(".env.terra.testing", edit(acct))
    result, data = doctor(invoke, git_repo.directory)
    assert result.exit_code == 1
    (error,) = findings(data, "error")
    assert error["check"] == f"guard {guard}" and error["environment"] == "testing"
    assert error["hint"]


def test_shared_key_reported_with_env_too(git_repo, invoke) -> None:
    ignored_repo(git_repo)
    testing, staging = git_repo.add("testing"), git_repo.add("staging")
    git_repo.write(".env.terra.staging", staging.file_text().replace(staging.api_key, testing.api_key))
    result, data = doctor(invoke, git_repo.directory, "--env", "staging")
    assert result.exit_code == 1
    assert findings(data, "error", "guard shared_credentials")


def test_env_option_missing_variable_and_nothing_configured(config, invoke) -> None:
    result, data = doctor(invoke, config.directory, "--env", "prod")
    assert result.exit_code == 1
    (error,) = findings(data, "error")
    assert "TERRA_DEV_ID and TERRA_API_KEY are missing for 'production'" in error["message"]
    assert "(TERRA_DEV_ID_PRODUCTION and TERRA_API_KEY_PRODUCTION)" not in error["message"]
    assert "TERRA_DEV_ID_PRODUCTION and TERRA_API_KEY_PRODUCTION" in error["hint"]
    assert error["message"].count("looked in") == 1
    result, data = doctor(invoke, config.directory)
    assert result.exit_code == 1
    assert findings(data, "error", "configuration")[0]["message"] == "no Terra environment is configured"


def test_syntax_error_and_unknown_variables(config, invoke) -> None:
    acct = config.add("staging")
    config.write(".env.terra.staging", acct.file_text() + "TERRA_APIKEY=x\nTERRA_DEV_ID_PRODUCTION=acme-prod-1\n")
    result, data = doctor(invoke, config.directory)
    messages = [f["message"] for f in findings(data, "warning", "variables")]
    assert any("line 5: unknown variable TERRA_APIKEY" in m for m in messages)
    assert any("TERRA_DEV_ID_PRODUCTION belongs to 'production'" in m for m in messages)
    config.write(".env.terra.staging", "TERRA_DEV_ID='unterminated\n")
    result, data = doctor(invoke, config.directory)
    assert result.exit_code == 1
    errors = findings(data, "error")
    assert len(errors) == 1 and "line 1: the single quote opened here is never closed" in errors[0]["message"]


def test_expired_previous_secret_and_plain_http_warn(config, invoke) -> None:
    acct = config.add("testing")
    config.write(
        ".env.terra.testing",
        acct.file_text()
        + "TERRA_WEBHOOK_SECRET_PREVIOUS=fake-whsec-previous-0123456789\n"
        + "TERRA_WEBHOOK_SECRET_PREVIOUS_NOT_AFTER=2020-01-01T00:00:00Z\n"
        + "TERRA_API_BASE_URL=http://terra.internal.example/api/v2\n",
    )
    result, data = doctor(invoke, config.directory)
    assert result.exit_code == 0
    assert "expired at 2020-01-01T00:00:00+00:00" in findings(data, "warning", "rotation")[0]["message"]
    assert "plain http" in findings(data, "warning", "urls")[0]["message"]


def test_table_output_and_exit_code_through_the_real_entry_point(config, cli_process) -> None:
    acct = config.add("testing")
    config.write(".env.terra.testing", acct.file_text().replace(acct.api_key, "<YOUR_API_KEY>"))
    proc = cli_process("doctor", cwd=config.directory)
    assert proc.returncode == 1
    assert "error    guard placeholder_value  testing" in proc.stdout
    assert "hint (guard placeholder_value, testing):" in proc.stdout
    assert proc.stdout.rstrip().endswith("1 error(s), 0 warning(s)")
    proc = cli_process("doctor", "--env", "qa", cwd=config.directory)
    assert proc.returncode == 3 and "unknown Terra environment 'qa'" in proc.stderr


def test_online_reports_a_client_that_cannot_be_imported(config, fake_secret) -> None:
    import subprocess

    config.add("testing")
    code = (
        "import sys; sys.modules['terra_auth.client'] = None\n"
        "from terra_auth.cli import main\n"
        "main(['doctor', '--online', '--json'])\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("TERRA_")}
    proc = subprocess.run([sys.executable, "-c", code], cwd=config.directory, capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 1, proc.stderr
    data = json.loads(proc.stdout)
    (error,) = findings(data, "error", "online")
    assert "terra_auth.client cannot be imported" in error["message"]


def test_online_unreachable_api_is_an_error(config, invoke) -> None:
    pytest.importorskip("terra_auth.client", reason="the client is not built yet")
    import socket

    with socket.socket() as sock:  # a free port with nothing listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    acct = config.add("testing")
    config.write(
        ".env.terra.testing",
        acct.file_text() + f"TERRA_API_BASE_URL=http://127.0.0.1:{port}/api/v2\nTERRA_TIMEOUT=2\nTERRA_CONNECT_TIMEOUT=1\n",
    )
    result, data = doctor(invoke, config.directory, "--online")
    assert result.exit_code == 1
    (error,) = findings(data, "error", "online")
    assert error["environment"] == "testing"
    assert acct.api_key not in result.output


def _emulator():
    try:
        from terra_auth.emulator import Emulator
    except Exception as exc:  # the emulator is built in parallel
        pytest.skip(f"terra_auth.emulator is not importable: {type(exc).__name__}")
    return Emulator


def test_online_against_the_emulator(config, cli_process) -> None:
    """doctor --online through the real entry point and the real client, against the emulator."""
    emulator = _emulator()
    with emulator(seed=7) as emu:
        for env in ("testing", "staging"):
            acct = emu.environments[env]
            config.write(
                f".env.terra.{env}",
                f"TERRA_DEV_ID={acct.dev_id}\nTERRA_API_KEY={acct.api_key}\n"
                f"TERRA_WEBHOOK_SECRET={acct.webhook_secret}\n"
                f"TERRA_API_BASE_URL={emu.url}/api/v2\n",
            )
        proc = cli_process("doctor", "--online", "--json", cwd=config.directory)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        data = json.loads(proc.stdout)
        assert {f["environment"] for f in findings(data, "ok", "online")} == {"testing", "staging"}
        # a wrong key for staging: Terra (the emulator) refuses it, doctor says so and exits 1
        acct = emu.environments["staging"]
        config.write(
            ".env.terra.staging",
            f"TERRA_DEV_ID={acct.dev_id}\nTERRA_API_KEY=fake-key-wrong-0123456789abcdef\n"
            f"TERRA_API_BASE_URL={emu.url}/api/v2\n",
        )
        proc = cli_process("doctor", "--online", "--json", cwd=config.directory)
        assert proc.returncode == 1
        (error,) = findings(json.loads(proc.stdout), "error", "online")
        assert error["environment"] == "staging" and "bad_credentials" in error["message"]
        assert acct.api_key not in proc.stdout


def test_one_hint_per_cause_not_per_file(tmp_path) -> None:
    from click.testing import CliRunner

    from terra_auth.cli import cli

    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    for env in ("testing", "staging"):
        path = tmp_path / f".env.terra.{env}"
        path.write_text(f"TERRA_DEV_ID=acme-{env}-1\nTERRA_API_KEY=k-{env}-{os.urandom(8).hex()}\n")
        path.chmod(0o600)
    result = CliRunner().invoke(cli, ["doctor", "--directory", str(tmp_path)])
    assert result.exit_code == 1
    assert result.output.count("is not ignored by git") == 2
    assert result.output.count("hint (git") == 1
