"""``terra-auth demo`` and ``terra-auth serve`` through the real entry point (subprocesses)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import httpx
import pytest

from .conftest import delivered

CMD = [sys.executable, "-m", "terra_auth"]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TERRA_")}
    env.update(extra)
    return env


@pytest.mark.slow
def test_demo_exit_after_prints_its_urls(tmp_path):
    done = subprocess.run(
        [*CMD, "demo", "--port", "0", "--exit-after", "0.5"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path, env=_env(),
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    service = re.search(r"open (http://127\.0\.0\.1:\d+)/", out)
    assert service, out
    assert f"{service.group(1)}/terra/webhooks" in out
    assert re.search(r"Terra emulator\s+http://127\.0\.0\.1:\d+/", out)
    assert "terra-auth demo stopped" in out
    assert "Traceback" not in done.stderr


def test_serve_without_credentials_is_a_clear_error(tmp_path):
    done = subprocess.run(
        [*CMD, "serve", "--port", "0"], capture_output=True, text=True, timeout=60,
        cwd=tmp_path, env=_env(),
    )
    assert done.returncode == 3
    assert done.stderr.startswith("error: ") and "TERRA_DEV_ID" in done.stderr
    assert "hint:" in done.stderr and "Traceback" not in done.stderr


def test_serve_refuses_demo_login_with_production(tmp_path):
    done = subprocess.run(
        [*CMD, "serve", "--port", "0", "--env", "production"], capture_output=True, text=True,
        timeout=60, cwd=tmp_path, env=_env(TERRA_SERVICE_DEMO="1"),
    )
    assert done.returncode == 3
    assert "demo login" in done.stderr and "production" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("command", ["demo", "serve"])
def test_an_unusable_sqlite_path_stops_the_service_with_a_hint(tmp_path, command, fake_secret):
    (tmp_path / "a-file").write_text("in the way")
    url = f"sqlite:///{tmp_path / 'a-file' / 'sub' / 'x.db'}"
    env = _env(TERRA_DEV_ID="dev-test", TERRA_API_KEY=fake_secret("key"), TERRA_ENV="testing")
    done = subprocess.run(
        [*CMD, command, "--port", "0", "--database-url", url] if command == "demo"
        else [*CMD, command, "--port", "0"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
        env={**env, "DATABASE_URL": url},
    )
    assert done.returncode == 3, done.stderr
    assert "a-file is a file, not a directory" in done.stderr and "hint:" in done.stderr
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr


@pytest.mark.slow
def test_serve_runs_the_service_and_stops_on_ctrl_c(tmp_path, emulator):
    (tmp_path / ".env.terra.testing").write_text(emulator.env_file_text("testing"))
    os.chmod(tmp_path / ".env.terra.testing", 0o600)
    account = emulator.environments["testing"]
    proc = subprocess.Popen(
        [*CMD, "serve", "--port", "0", "--log-level", "warning"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
        env=_env(DATABASE_URL=f"sqlite:///{tmp_path / 'serve.db'}"),
    )
    try:
        line = proc.stdout.readline()
        found = re.search(r"on (http://127\.0\.0\.1:\d+)/terra/", line)
        assert found, line + proc.stderr.read()
        url = found.group(1)
        with httpx.Client(base_url=url, timeout=10) as http:
            assert http.get("/terra/health").json()["environments"] == ["testing"]
            # no current_user configured: user endpoints refuse everyone
            assert http.post("/terra/widget-session").status_code == 401
            emulator.set_webhook_url("testing", f"{url}/terra/webhooks")
            before = delivered(emulator)
            emulator.connect("testing", provider="POLAR", reference_id="zoe")
            emulator.wait_for_deliveries(before + 1, timeout=10.0)
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    for value in (account.api_key, account.webhook_secret):
        assert value not in out and value not in err


@pytest.mark.slow
def test_demo_stops_cleanly_on_ctrl_c(tmp_path):
    proc = subprocess.Popen(
        [*CMD, "demo", "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, cwd=tmp_path, env=_env(),
    )
    try:
        line = proc.stdout.readline()
        found = re.search(r"open (http://127\.0\.0\.1:\d+)/", line)
        assert found, line + proc.stderr.read()
        page = httpx.get(f"{found.group(1)}/", timeout=10)
        assert page.status_code == 200 and "Log in" in page.text
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "terra-auth demo stopped" in out and "Traceback" not in err
