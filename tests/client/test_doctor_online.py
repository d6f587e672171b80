"""`terra-auth doctor --online` runs TerraClient.check() for each configured environment."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest

from terra_auth.cli import main


@pytest.fixture
def workdir(emu: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    emu.write_env_files(tmp_path)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def doctor(
    capsys: pytest.CaptureFixture[str], *extra: str
) -> tuple[int, list[dict[str, Any]], str]:
    try:
        main(["doctor", "--online", "--json", *extra])
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    online = [f for f in json.loads(out)["findings"] if f["check"] == "online"]
    return code, online, out + err


def edit(path: Path, old: str, new: str) -> None:
    path.write_text(path.read_text().replace(old, new))


def test_every_environment_is_checked_against_its_api(emu: Any, workdir: Path, capsys) -> None:
    _, online, text = doctor(capsys)
    assert {f["environment"] for f in online} == {"testing", "staging", "production"}
    assert all(f["level"] == "ok" for f in online), online
    assert sum(1 for r in emu.requests if r[1].endswith("/subscriptions")) == 3
    for account in emu.environments.values():
        assert account.api_key not in text


def test_a_refused_key_is_reported_with_the_environment_hint(
    emu: Any, workdir: Path, capsys, fake_secret
) -> None:
    real = emu.environments["staging"].api_key
    edit(workdir / ".env.terra.staging", real, fake_secret("stale"))
    code, online, text = doctor(capsys, "--env", "staging")
    (finding,) = online
    assert code == 1 and finding["level"] == "error"
    assert finding["message"].startswith("bad_credentials") and "one environment" in finding["hint"]
    assert real not in text


def test_unreachable_and_wrong_base_url(emu: Any, workdir: Path, capsys) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    edit(workdir / ".env.terra.testing", emu.url, f"http://127.0.0.1:{port}")
    edit(workdir / ".env.terra.staging", f"{emu.url}/api/v2", f"{emu.url}/api/v9")
    _, online, _ = doctor(capsys)
    by_env = {f["environment"]: f for f in online}
    assert by_env["testing"]["message"].startswith("unreachable")
    assert by_env["staging"]["message"].startswith("wrong_base_url")
    assert by_env["production"]["level"] == "ok"
