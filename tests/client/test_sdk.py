"""terra_auth.sdk.official_client: Terra's own SDK, configured from our credentials."""

from __future__ import annotations

import builtins
from pathlib import Path
from typing import Any

import pytest

from terra_auth.errors import ConfigurationError
from terra_auth.sdk import official_client

pytest.importorskip("terra", reason="the 'sdk' extra (terra-python) is not installed")


def test_official_sdk_runs_against_the_emulator(emu: Any, creds: Any) -> None:
    terra = official_client(creds)
    assert "FITBIT" in terra.integrations.fetch().providers
    token = terra.authentication.generateauthtoken()
    assert token.expires_in == 180
    assert [r[1] for r in emu.requests] == [
        "/api/v2/integrations",
        "/api/v2/auth/generateAuthToken",
    ]


def test_official_sdk_from_an_environment_name(emu: Any, tmp_path: Path) -> None:
    emu.write_env_files(tmp_path)
    terra = official_client("testing", directory=tmp_path)
    session = terra.authentication.generatewidgetsession(
        reference_id="u1", auth_success_redirect_url="http://localhost:8000/ok"
    )
    assert session.url.startswith(emu.url)


def test_missing_extra_is_a_clear_error(creds: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_terra(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "terra" or name.startswith("terra."):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_terra)
    with pytest.raises(ConfigurationError) as info:
        official_client(creds)
    assert "terra-auth[sdk]" in (info.value.hint or "")
