"""terra-auth setup-environment: hidden prompts or stdin, atomic 0600 file, backup, .gitignore."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from terra_auth.cli import env_commands
from terra_auth.environments import load_credentials
from terra_auth.errors import ConfigurationError
from terra_auth.secret import Secret


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def setup_args(folder: Path, env: str = "staging", dev_id: str = "acme-staging-1", *extra: str):
    return ["setup-environment", env, "--dev-id", dev_id, "--directory", str(folder), *extra]


def test_stdin_writes_a_private_file_that_loads(config, invoke, fake_secret) -> None:
    key, whsec = fake_secret("key"), fake_secret("whsec")
    result = invoke(
        *setup_args(config.directory, "staging", "acme-staging-1", "--api-key-stdin", "--webhook-secret-stdin"),
        input=f"{key}\n{whsec}\n",
    )
    assert result.exit_code == 0, result.output
    target = config.directory / ".env.terra.staging"
    assert mode(target) == 0o600
    creds = load_credentials("staging", directory=config.directory, environ={})
    assert creds.dev_id == "acme-staging-1"
    assert creds.api_key.reveal() == key
    assert creds.webhook_secrets[0].value.reveal() == whsec
    # masked summary: fingerprints, never values
    assert f"fingerprint {Secret(key).fingerprint}" in result.stdout
    assert f"fingerprint {Secret(whsec).fingerprint}" in result.stdout
    assert key not in result.output and whsec not in result.output
    assert (config.directory / ".gitignore").read_text().splitlines()[-1] == ".env.terra*"
    assert not list(config.directory.glob("*.tmp-*"))


def test_values_needing_quotes_round_trip(config, invoke) -> None:
    key = "fake key with 'quote' $HOME \\ and # hash"
    result = invoke(
        *setup_args(config.directory, "testing", "acme-testing-1", "--api-key-stdin", "--no-webhook-secret",
                    ),
        input=key + "\n",
        env={"TERRA_ALLOW_MALFORMED_VALUES": "1"},
    )
    assert result.exit_code == 0, result.output
    creds = load_credentials(
        "testing", directory=config.directory, environ={}, allow_malformed_values=True
    )
    assert creds.api_key.reveal() == key
    assert creds.webhook_secrets == ()


def test_refuses_to_overwrite_then_force_keeps_a_backup(config, invoke, fake_secret) -> None:
    first, second = fake_secret("key"), fake_secret("key")
    args = setup_args(config.directory, "production", "acme-prod-1", "--api-key-stdin", "--no-webhook-secret")
    assert invoke(*args, input=first + "\n").exit_code == 0
    target = config.directory / ".env.terra.production"
    before = target.read_bytes()
    result = invoke(*args, input=second + "\n")
    assert isinstance(result.exception, ConfigurationError)
    assert "already exists" in str(result.exception) and "--force" in result.exception.hint
    assert target.read_bytes() == before
    result = invoke(*args, "--force", input=second + "\n")
    assert result.exit_code == 0, result.output
    backups = list(config.directory.glob(".env.terra.production.bak-*"))
    assert len(backups) == 1 and backups[0].read_bytes() == before and mode(backups[0]) == 0o600
    assert "backup" in result.stdout
    assert load_credentials("production", directory=config.directory, environ={}).api_key.reveal() == second
    # .gitignore was written once, not twice
    assert (config.directory / ".gitignore").read_text().count(".env.terra*") == 1


def test_gitignore_appended_without_trailing_newline(config, invoke, fake_secret) -> None:
    (config.directory / ".gitignore").write_text("node_modules/")
    result = invoke(
        *setup_args(config.directory, "testing", "acme-testing-1", "--api-key-stdin", "--no-webhook-secret"),
        input=fake_secret("key") + "\n",
    )
    assert result.exit_code == 0
    lines = (config.directory / ".gitignore").read_text().splitlines()
    assert lines[0] == "node_modules/" and lines[-1] == ".env.terra*"
    assert "added .env.terra*" in result.stdout


def test_gitignore_left_alone_when_git_already_ignores(git_repo, invoke, fake_secret) -> None:
    (git_repo.directory / ".gitignore").write_text(".env*\n")
    result = invoke(
        *setup_args(git_repo.directory, "testing", "acme-testing-1", "--api-key-stdin", "--no-webhook-secret"),
        input=fake_secret("key") + "\n",
    )
    assert result.exit_code == 0
    assert (git_repo.directory / ".gitignore").read_text() == ".env*\n"
    assert "already ignored" in result.stdout


def test_hidden_prompts(config, invoke, fake_secret, monkeypatch) -> None:
    monkeypatch.setattr(env_commands, "_interactive", lambda: True)
    key, whsec = fake_secret("key"), fake_secret("whsec")
    result = invoke(
        "setup-environment", "stage", "--directory", str(config.directory),
        input=f"acme-staging-7\n{key}\n{whsec}\n",
    )
    assert result.exit_code == 0, result.output
    assert "API key (hidden)" in result.output
    assert key not in result.output and whsec not in result.output
    creds = load_credentials("staging", directory=config.directory, environ={})
    assert (creds.dev_id, creds.api_key.reveal()) == ("acme-staging-7", key)


def test_no_terminal_and_no_stdin_flag_is_a_clear_error(config, invoke) -> None:
    result = invoke(*setup_args(config.directory))
    assert isinstance(result.exception, ConfigurationError)
    assert "not a terminal" in str(result.exception)
    assert "--api-key-stdin" in result.exception.hint
    assert not (config.directory / ".env.terra.staging").exists()


def test_api_key_flag_works_but_warns(config, invoke, fake_secret) -> None:
    result = invoke(*setup_args(config.directory, "testing", "acme-testing-1", "--api-key", fake_secret("key"), "--no-webhook-secret"))
    assert result.exit_code == 0
    assert "shell history" in result.stderr


@pytest.mark.parametrize(
    ("env", "dev_id", "key", "guard"),
    [
        ("testing", "acme-prod-1", "fake-key-0123456789abcdef", "dev_id_environment"),
        ("testing", "acme-testing-1", "<YOUR_API_KEY>", "placeholder_value"),
        ("testing", "acme-testing-1", "'fake-key-0123456789abcdef", "malformed_value"),
    ],
)
def test_guards_refuse_before_writing(config, invoke, env, dev_id, key, guard) -> None:
    result = invoke(*setup_args(config.directory, env, dev_id, "--api-key-stdin", "--no-webhook-secret"), input=key + "\n")
    assert isinstance(result.exception, ConfigurationError)
    assert result.exception.guard == guard
    assert not (config.directory / f".env.terra.{env}").exists()


def test_empty_stdin_and_unknown_environment(config, invoke) -> None:
    result = invoke(*setup_args(config.directory, "testing", "acme-testing-1", "--api-key-stdin"), input="\n")
    assert "no API key on standard input" in str(result.exception)
    result = invoke(*setup_args(config.directory, "qa", "acme-1", "--api-key-stdin"), input="k\n")
    assert "unknown Terra environment" in str(result.exception)


def test_atomic_write_failure_leaves_old_file_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / ".env.terra.testing"
    target.write_text("TERRA_DEV_ID=old\n")
    with pytest.raises(UnicodeEncodeError):
        env_commands.write_private_file(target, "TERRA_API_KEY=\ud800 broken\n")
    assert target.read_text() == "TERRA_DEV_ID=old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".env.terra.testing"]


def test_end_to_end_subprocess(config, cli_process, fake_secret) -> None:
    key = fake_secret("key")
    proc = cli_process(
        "setup-environment", "testing", "--dev-id", "acme-testing-1", "--api-key-stdin",
        "--no-webhook-secret", "--json", cwd=config.directory, input=key + "\n",
    )
    assert proc.returncode == 0, proc.stderr
    assert f'"key_fingerprint": "{Secret(key).fingerprint}"' in proc.stdout
    assert key not in proc.stdout + proc.stderr
    assert mode(config.directory / ".env.terra.testing") == 0o600
    proc = cli_process(
        "setup-environment", "testing", "--dev-id", "acme-testing-1", "--api-key-stdin",
        cwd=config.directory, input=key + "\n",
    )
    assert proc.returncode == 3
    assert proc.stderr.startswith("error: ") and "hint: pass --force" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_refuses_a_directory_or_symlink_in_the_way(config, invoke, fake_secret) -> None:
    (config.directory / ".env.terra.testing").mkdir()
    args = setup_args(config.directory, "testing", "acme-testing-1", "--api-key-stdin", "--no-webhook-secret", "--force")
    result = invoke(*args, input=fake_secret("key") + "\n")
    assert isinstance(result.exception, ConfigurationError)
    assert "is a directory or a symbolic link" in str(result.exception)
    assert (config.directory / ".env.terra.testing").is_dir()


def test_refuses_a_key_another_environment_already_uses(config, invoke) -> None:
    testing = config.add("testing")
    args = setup_args(config.directory, "production", "acme-prod-1", "--api-key-stdin", "--no-webhook-secret")
    result = invoke(*args, input=testing.api_key + "\n")
    assert isinstance(result.exception, ConfigurationError)
    assert result.exception.guard == "shared_credentials"
    assert "already used by 'testing' (.env.terra.testing)" in str(result.exception)
    assert not (config.directory / ".env.terra.production").exists()
    args = setup_args(config.directory, "staging", "acme-staging-1", "--api-key-stdin", "--webhook-secret-stdin")
    result = invoke(*args, input=f"fake-key-other-0123456789\n{testing.webhook_secret}\n")
    assert "this signing secret is already used by 'testing'" in str(result.exception)
    result = invoke(*args, input=f"fake-key-other-0123456789\n{testing.webhook_secret}\n",
                    env={"TERRA_ALLOW_SHARED_CREDENTIALS": "1"})
    assert result.exit_code == 0


def test_credential_files_module_writes_privately_and_ignores_once(tmp_path) -> None:
    from terra_auth.credential_files import ensure_gitignored, write_private_file

    target = tmp_path / ".env.terra.staging"
    write_private_file(target, "TERRA_DEV_ID=acme-staging-1\n")
    assert target.stat().st_mode & 0o777 == 0o600
    assert ensure_gitignored(tmp_path, target.name).startswith("created")
    assert ensure_gitignored(tmp_path, target.name) == "already ignored"
    assert (tmp_path / ".gitignore").read_text().count(".env.terra*") == 1
