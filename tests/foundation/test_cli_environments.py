"""terra-auth environments: a table (or JSON) of environments, fingerprints and guard status."""

from __future__ import annotations

import json

from terra_auth.secret import Secret


def test_table_lists_every_environment(config, invoke) -> None:
    testing, staging = config.add("testing"), config.add("staging")
    config.write(".env.terra", "TERRA_TIMEOUT=5\n")
    result = invoke("environments", "--directory", str(config.directory))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["environment", "files", "dev-id", "key", "secrets", "status"]
    row = next(line for line in lines if line.startswith("staging"))
    assert ".env.terra.staging, .env.terra" in row
    assert staging.dev_id in row and Secret(staging.api_key).fingerprint in row
    assert row.split()[-1] == "ok"
    assert next(line for line in lines if line.startswith("production")).endswith("not configured")
    assert testing.api_key not in result.output and staging.api_key not in result.output


def test_json_and_guard_status(config, invoke) -> None:
    testing = config.add("testing")
    staging = config.add("staging")
    config.write(".env.terra.staging", staging.file_text().replace(staging.api_key, testing.api_key))
    result = invoke("environments", "--directory", str(config.directory), "--json")
    assert result.exit_code == 0  # listing succeeds; doctor is the command that fails
    data = json.loads(result.stdout)
    by_env = {e["environment"]: e for e in data["environments"]}
    assert by_env["staging"]["status"] == "FAIL shared_credentials"
    assert by_env["testing"]["guard"] == "shared_credentials"
    assert "TERRA_ALLOW_SHARED_CREDENTIALS" in by_env["staging"]["hint"]
    assert by_env["production"]["configured"] is False
    assert by_env["testing"]["signing_secrets"] == 1
    assert testing.api_key not in result.stdout


def test_table_prints_errors_and_hints(config, invoke) -> None:
    config.write(".env.terra.production", "TERRA_DEV_ID=acme-prod-1\n")
    result = invoke("environments", "--directory", str(config.directory))
    assert "FAIL missing_variable" in result.stdout
    assert "production: TERRA_API_KEY is missing for 'production'" in result.stdout
    assert "hint: run `terra-auth setup-environment production`" in result.stdout


def test_subprocess_with_process_variables(config, cli_process) -> None:
    env = {
        "TERRA_DEV_ID_STAGING": "acme-staging-1",
        "TERRA_API_KEY_STAGING": "fake-key-staging-0123456789abcdef",
    }
    proc = cli_process("environments", "--json", cwd=config.directory, env=env)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    staging = next(e for e in data["environments"] if e["environment"] == "staging")
    assert staging["status"] == "ok" and staging["files"] == []
    assert "fake-key-staging" not in proc.stdout
    proc = cli_process("environments", "--directory", "missing-folder", cwd=config.directory)
    assert proc.returncode == 3 and "does not exist" in proc.stderr
