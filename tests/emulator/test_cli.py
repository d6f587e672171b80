"""``terra-auth emulator`` through the real entry point, as a subprocess."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest


def _start(*args: str) -> tuple[subprocess.Popen[str], str, list[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "terra_auth", "emulator", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if "Ctrl-C" in line or line.startswith("{"):
                ready.set()
        ready.set()

    threading.Thread(target=read, daemon=True).start()
    assert ready.wait(20), "the emulator did not print its banner"
    match = re.search(r"listening on (http://\S+)", "".join(lines))
    assert match, "".join(lines)
    return proc, match.group(1), lines


def _stop(proc: subprocess.Popen[str]) -> tuple[int, str]:
    proc.terminate()
    _, err = proc.communicate(timeout=20)
    return proc.returncode, err


def test_cli_serves_masks_secrets_and_writes_env_files(tmp_path: Path) -> None:
    proc, url, lines = _start("--seed", "3", "--write-env", str(tmp_path))
    try:
        assert httpx.get(f"{url}/v2/integrations").status_code == 200
        env_text = (tmp_path / ".env.terra.testing").read_text()
        key = re.search(r"TERRA_API_KEY=(\S+)", env_text).group(1)  # type: ignore[union-attr]
        secret = re.search(r"TERRA_WEBHOOK_SECRET=(\S+)", env_text).group(1)  # type: ignore[union-attr]
        dev_id = re.search(r"TERRA_DEV_ID=(\S+)", env_text).group(1)  # type: ignore[union-attr]
        r = httpx.post(f"{url}/api/v2/auth/generateAuthToken", headers={"dev-id": dev_id, "x-api-key": key})
        assert r.status_code == 200
        assert f"TERRA_API_BASE_URL={url}/api/v2" in env_text
        assert (tmp_path / ".env.terra.production").stat().st_mode & 0o777 == 0o600
    finally:
        code, err = _stop(proc)
    out = "".join(lines)
    assert code == 0, err
    assert dev_id in out and "emulator-staging-" in out
    assert key not in out + err and secret not in out + err


def test_cli_show_secrets_prints_them(tmp_path: Path) -> None:
    proc, url, lines = _start("--seed", "3", "--show-secrets", "--write-env", str(tmp_path))
    try:
        env_text = (tmp_path / ".env.terra.testing").read_text()
    finally:
        _stop(proc)
    key = re.search(r"TERRA_API_KEY=(\S+)", env_text).group(1)  # type: ignore[union-attr]
    assert key in "".join(lines)


def test_cli_never_overwrites_env_files(tmp_path: Path) -> None:
    (tmp_path / ".env.terra.testing").write_text("TERRA_DEV_ID=mine\n")
    proc, _, lines = _start("--write-env", str(tmp_path))
    _stop(proc)
    assert (tmp_path / ".env.terra.testing").read_text() == "TERRA_DEV_ID=mine\n"
    assert ".env.terra.testing" not in "".join(lines)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--write-env", "/nonexistent/dir"], "does not exist"),
        (["--config", "/nonexistent.json"], "does not exist"),
        (["--time-scale", "0"], "time-scale"),
    ],
)
def test_cli_bad_input_is_a_clear_error(args: list[str], needle: str) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "terra_auth", "emulator", "--port", "0", *args],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert r.returncode == 3
    assert needle in r.stderr and "hint:" in r.stderr and "Traceback" not in r.stderr


def test_cli_config_file_fixes_the_accounts(tmp_path: Path, fake_secret) -> None:
    key = fake_secret("key")
    config = tmp_path / "emu.json"
    config.write_text(
        json.dumps({"accounts": {"testing": {"dev_id": "emulator-testing-fixed", "api_key": key}}})
    )
    proc, url, lines = _start("--config", str(config))
    try:
        r = httpx.post(
            f"{url}/v2/auth/generateAuthToken",
            headers={"dev-id": "emulator-testing-fixed", "x-api-key": key},
        )
        assert r.status_code == 200
    finally:
        _stop(proc)
    assert key not in "".join(lines) and "emulator-testing-fixed" in "".join(lines)


def test_cli_json_banner_for_scripts() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "terra_auth", "emulator", "--port", "0", "--json", "--seed", "3"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        data = json.loads(proc.stdout.readline())
        assert httpx.get(data["api_base_url"] + "/integrations").status_code == 200
        assert data["widget_session_url"].endswith("/api/widget/session")
        assert [a["environment"] for a in data["accounts"]] == ["testing", "staging", "production"]
        assert all(a["api_key"].startswith("******") for a in data["accounts"])
    finally:
        code, _ = _stop(proc)
    assert code == 0
