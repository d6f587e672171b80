"""Canaries: a planted API key never shows in errors, reprs, logs, check results or CLI output.

Each test plants a unique key, runs success and failure paths, and searches everything a user
could see for the value.
"""

from __future__ import annotations

import dataclasses
import logging
import pickle
from pathlib import Path
from typing import Any

import pytest

from terra_auth.cli import main
from terra_auth.client import AsyncTerraClient, RetryPolicy, TerraClient
from terra_auth.errors import TerraAuthError
from terra_auth.secret import Secret


def everything_about(exc: BaseException) -> str:
    parts = [str(exc), repr(exc), repr(exc.args)]
    if isinstance(exc, TerraAuthError):
        parts.append(str(exc.hint))
    cause = exc.__cause__
    while cause is not None:
        parts += [str(cause), repr(cause)]
        cause = cause.__cause__
    return "\n".join(parts)


def test_key_never_leaks_from_the_client(
    emu: Any, creds: Any, fake_secret, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    real_key = creds.api_key.reveal()
    planted = fake_secret("canary")
    seen: list[str] = []
    with TerraClient(creds, retry=RetryPolicy(attempts=2, sleep=lambda _: None)) as client:
        seen.append(repr(client))
        seen.append(repr(client.generate_mobile_token()))
        seen.append(
            repr(client.generate_widget_session("c1", "http://localhost/a", "http://localhost/b"))
        )
        seen.append(client.check().model_dump_json())
        emu.inject_fault("/auth/generateAuthToken", kind="status", status=503, count=5)
        with pytest.raises(TerraAuthError) as info:
            client.generate_mobile_token()
        seen.append(everything_about(info.value))
    bad = dataclasses.replace(creds, api_key=Secret(planted))
    with TerraClient(bad) as client:
        seen.append(repr(client))
        seen.append(client.check().model_dump_json())
        for call in (client.generate_mobile_token, lambda: client.get_user("nobody")):
            with pytest.raises(TerraAuthError) as info:
                call()
            seen.append(everything_about(info.value))
    with pytest.raises(TypeError):
        pickle.dumps(bad)
    seen.append(caplog.text)
    seen += [r.getMessage() for r in caplog.records]
    text = "\n".join(seen)
    assert "Terra answered 401" in text and "Terra answered 503" in text  # the paths ran
    assert planted not in text and real_key not in text


@pytest.mark.anyio
async def test_key_never_leaks_from_the_async_client(
    emu: Any, creds: Any, fake_secret, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    planted = fake_secret("canary")
    bad = dataclasses.replace(creds, api_key=Secret(planted))
    async with AsyncTerraClient(bad) as client:
        result = await client.check()
        with pytest.raises(TerraAuthError) as info:
            await client.generate_widget_session("c1", "http://localhost/a", "http://localhost/b")
    text = "\n".join(
        [repr(client), result.model_dump_json(), everything_about(info.value), caplog.text]
    )
    assert "bad_credentials" in text and planted not in text


def test_key_never_leaks_from_the_cli(
    emu: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys, fake_secret
) -> None:
    emu.write_env_files(tmp_path)
    monkeypatch.chdir(tmp_path)
    env_file = tmp_path / ".env.terra.testing"
    real_key = emu.environments["testing"].api_key
    outputs: list[str] = []

    def run(*argv: str) -> int:
        try:
            main(list(argv))
        except SystemExit as exc:
            out, err = capsys.readouterr()
            outputs.extend([out, err])
            return int(exc.code or 0)
        raise AssertionError("main() always exits")

    codes = [
        run("generate-mobile-token", "--json"),
        run("users", "--json"),
        run("list-integrations"),
        run("users", "--user-id", "nobody"),
    ]
    planted = fake_secret("canary")
    env_file.write_text(env_file.read_text().replace(real_key, planted))
    codes += [
        run("generate-mobile-token"),
        run(
            "generate-widget-session",
            "--reference-id",
            "c",
            "--success-url",
            "http://localhost/a",
            "--failure-url",
            "http://localhost/b",
            "--json",
        ),
    ]
    assert codes == [0, 0, 0, 5, 4, 4]
    text = "\n".join(outputs)
    assert real_key not in text and planted not in text
