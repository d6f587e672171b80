"""The client's CLI commands against the emulator, through the real entry point.

Most run in-process (``terra_auth.cli.main``, as the console script does); one runs the installed
``python -m terra_auth`` as a subprocess. Credentials come from ``.env.terra.<env>`` files the
emulator writes into the working directory.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from terra_auth.cli import main

OK = "http://localhost:8000/ok"


@pytest.fixture
def workdir(emu: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    emu.write_env_files(tmp_path)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        main(list(argv))
    except SystemExit as exc:
        code = int(exc.code or 0)
    else:  # pragma: no cover - main always exits
        code = 0
    out, err = capsys.readouterr()
    return code, out, err


def test_list_integrations(workdir: Path, capsys) -> None:
    code, out, _ = run(capsys, "list-integrations", "--env", "testing")
    assert code == 0 and "FITBIT" in out and "APPLE" in out
    code, out, _ = run(capsys, "list-integrations", "--env", "testing", "--detailed", "--json")
    data = json.loads(out)
    assert code == 0 and any(p["provider"] == "GARMIN" and p["icon"] for p in data)


def test_generate_widget_session(emu: Any, workdir: Path, capsys) -> None:
    code, out, err = run(
        capsys,
        "generate-widget-session",
        "--env",
        "testing",
        "--reference-id",
        "u-1",
        "--success-url",
        OK,
        "--failure-url",
        OK,
        "--provider",
        "fitbit",
        "--provider",
        "oura",
        "--language",
        "en",
    )
    assert code == 0 and out.strip().startswith(emu.url + "/widget/session/")
    assert "expires" in err
    code, out, _ = run(
        capsys,
        "generate-widget-session",
        "--reference-id",
        "u-1",
        "--success-url",
        OK,
        "--failure-url",
        OK,
        "--json",
    )
    assert code == 0 and json.loads(out)["expires_in"] == 900


def test_generate_mobile_token(emu: Any, workdir: Path, capsys) -> None:
    code, out, _ = run(capsys, "generate-mobile-token", "--env", "testing", "--reference-id", "u-2")
    assert code == 0 and len(out.strip()) >= 32
    assert [r[1] for r in emu.requests][-1].endswith("/auth/tokens")
    code, out, _ = run(capsys, "generate-mobile-token", "--json")
    assert code == 0 and json.loads(out)["expires_in"] == 180


def test_authenticate_user(emu: Any, workdir: Path, capsys) -> None:
    code, out, err = run(
        capsys,
        "authenticate-user",
        "--provider",
        "GARMIN",
        "--reference-id",
        "u-3",
        "--success-url",
        OK,
        "--failure-url",
        OK,
    )
    assert code == 0 and out.startswith(emu.url) and "Terra user" in err


def test_users_and_deauthenticate(emu: Any, workdir: Path, capsys) -> None:
    user = emu.connect("testing", provider="FITBIT", reference_id="u-4")
    code, out, _ = run(capsys, "users", "--env", "testing")
    assert code == 0 and user["user_id"] in out
    code, out, _ = run(capsys, "users", "--reference-id", "u-4", "--json")
    assert code == 0 and [u["user_id"] for u in json.loads(out)] == [user["user_id"]]
    code, out, _ = run(capsys, "users", "--user-id", user["user_id"], "--json")
    assert code == 0 and json.loads(out)[0]["provider"] == "FITBIT"
    code, out, _ = run(capsys, "deauthenticate-user", user["user_id"])
    assert code == 0 and "disconnected" in out
    code, _, err = run(capsys, "users", "--user-id", user["user_id"])
    assert code == 5 and "user not found" in err and "hint:" in err


def test_deauthenticate_asks_in_production(
    emu: Any, workdir: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = emu.connect("production", provider="OURA", reference_id="p-1")
    monkeypatch.setattr(sys, "stdin", io.StringIO("n\n"))
    code, _, err = run(capsys, "deauthenticate-user", "--env", "production", user["user_id"])
    assert code == 8 and "PRODUCTION" in err
    assert not any(r[1].endswith("deauthenticateUser") for r in emu.requests)
    monkeypatch.setattr(sys, "stdin", io.StringIO("y\n"))
    code, out, _ = run(capsys, "deauthenticate-user", "--env", "production", user["user_id"])
    assert code == 0 and "production" in out
    user2 = emu.connect("production", provider="OURA", reference_id="p-2")
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    code, out, _ = run(
        capsys, "deauthenticate-user", "--env", "production", "--yes", "--json", user2["user_id"]
    )
    assert code == 0 and json.loads(out)["status"] == "ok"


def test_failures_exit_non_zero_with_message_and_hint(emu: Any, workdir: Path, capsys) -> None:
    code, _, err = run(
        capsys,
        "generate-widget-session",
        "--reference-id",
        "u",
        "--success-url",
        "ftp://x",
        "--failure-url",
        OK,
    )
    assert code == 3 and "success_url" in err and "hint:" in err and "Traceback" not in err
    emu.inject_fault("/auth/generateAuthToken", kind="status", status=410, count=1)
    code, _, err = run(capsys, "generate-mobile-token")
    assert code == 5 and "410" in err and "hint:" in err
    (workdir / ".env.terra.testing").write_text(
        (workdir / ".env.terra.testing").read_text().replace("TERRA_API_KEY=", "TERRA_API_KEY=x")
    )
    code, _, err = run(capsys, "generate-mobile-token")
    assert code == 4 and "one environment" in err


@pytest.mark.slow
def test_real_entry_point_subprocess(emu: Any, workdir: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "terra_auth", "generate-mobile-token", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=workdir,
        env={"PATH": "/usr/bin:/bin", "HOME": str(workdir)},
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["expires_in"] == 180
