"""`terra-auth verify-webhook` through the real entry point (a subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from terra_auth.webhooks import sign_webhook

BODY = (
    b'{"type":"deauth","status":"success","message":"User has deauthenticated",'
    b'"user":{"user_id":"u-1","provider":"GARMIN","reference_id":"r-1"}}'
)


@pytest.fixture
def envs(fake_secret: Callable[[str], str]) -> dict[str, str]:
    """Three configured environments, each with its own fake signing secret."""
    return {env: fake_secret(f"whsec-{env}") for env in ("testing", "staging", "production")}


def run(
    args: list[str],
    envs: dict[str, str],
    cwd: Path,
    stdin: bytes | None = None,
) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TERRA_")}
    for env, secret in envs.items():
        suffix = env.upper()
        environ[f"TERRA_DEV_ID_{suffix}"] = f"acme-{env}-1"
        environ[f"TERRA_API_KEY_{suffix}"] = f"fake-key-{env}-{secret[-12:]}"
        environ[f"TERRA_WEBHOOK_SECRET_{suffix}"] = secret
    result = subprocess.run(
        [sys.executable, "-m", "terra_auth", "verify-webhook", *args],
        input=stdin,
        capture_output=True,
        cwd=cwd,
        env=environ,
        timeout=60,
        check=False,
    )
    out = subprocess.CompletedProcess(
        result.args, result.returncode, result.stdout.decode(), result.stderr.decode()
    )
    for secret in envs.values():  # canary: no secret in any output
        assert secret not in out.stdout + out.stderr
    return out


def write(tmp_path: Path, body: bytes = BODY) -> Path:
    path = tmp_path / "body.json"
    path.write_bytes(body)
    return path


def test_names_the_environment_that_signed(tmp_path: Path, envs: dict[str, str]) -> None:
    header = sign_webhook(BODY, envs["production"])
    result = run(["--signature", header, str(write(tmp_path))], envs, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "signed by production" in result.stdout
    assert "event: deauth (DeauthEvent)" in result.stdout
    assert '"user_id": "u-1"' in result.stdout


def test_json_output_and_stdin(tmp_path: Path, envs: dict[str, str]) -> None:
    header = sign_webhook(BODY, envs["staging"])
    result = run(["--env", "staging", "--json", "--signature", header, "-"], envs, tmp_path, BODY)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["verified"] is True
    assert data["environment"] == "staging"
    assert data["event_type"] == "deauth"
    assert data["event_class"] == "DeauthEvent"
    assert data["event"]["user"]["reference_id"] == "r-1"


def test_wrong_environment_fails_with_exit_7_and_the_reason(
    tmp_path: Path, envs: dict[str, str]
) -> None:
    header = sign_webhook(BODY, envs["production"])
    result = run(["--env", "staging", "--signature", header, str(write(tmp_path))], envs, tmp_path)
    assert result.returncode == 7
    assert "error: bad_signature" in result.stderr
    assert "hint:" in result.stderr
    assert "Traceback" not in result.stderr


def test_json_failure_and_trailing_newline_hint(tmp_path: Path, envs: dict[str, str]) -> None:
    header = sign_webhook(BODY, envs["testing"])
    path = write(tmp_path, BODY + b"\n")  # as an editor would save it
    result = run(["--json", "--signature", header, str(path)], envs, tmp_path)
    assert result.returncode == 7
    assert json.loads(result.stdout) == {
        "verified": False,
        "reason": "bad_signature",
        "message": "no v1 signature matches the body",
    }
    assert "newline" in result.stderr


def test_stale_capture_and_tolerance_none(tmp_path: Path, envs: dict[str, str]) -> None:
    header = sign_webhook(BODY, envs["testing"], timestamp=int(time.time()) - 3600)
    path = str(write(tmp_path))
    stale = run(["--signature", header, path], envs, tmp_path)
    assert stale.returncode == 7
    assert "too_old" in stale.stderr
    ok = run(["--tolerance", "none", "--signature", header, path], envs, tmp_path)
    assert ok.returncode == 0, ok.stderr


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        ([], 2, "--signature"),
        (["--signature", "t=1,v1=00", "--tolerance", "-5"], 2, "seconds"),
        (["--signature", "t=1,v1=00", "missing.json"], 2, "missing.json"),
    ],
    ids=["no-signature", "bad-tolerance", "missing-file"],
)
def test_usage_errors(
    tmp_path: Path, envs: dict[str, str], args: list[str], code: int, words: str
) -> None:
    result = run(args, envs, tmp_path, b"{}")
    assert result.returncode == code
    assert words in result.stderr


def test_no_environment_configured_is_a_configuration_error(tmp_path: Path) -> None:
    result = run(["--signature", "t=1,v1=00", str(write(tmp_path))], {}, tmp_path)
    assert result.returncode == 3
    assert "error:" in result.stderr
    assert "Traceback" not in result.stderr
