"""Fixtures shared by every test layer.

- The process environment is cleaned of ``TERRA_*`` variables for each test, so a developer's
  own credentials never leak into (or change) a test run.
- ``terra_shared_dir`` is Terra's reference material (``../shared`` beside the repository, or
  ``$TERRA_SHARED_DIR``); tests that need it skip, saying why, when it is absent.
- ``fake_secret`` makes unique, random, obviously fake values: nothing real-looking is committed.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _clean_terra_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith("TERRA_") and name != "TERRA_SHARED_DIR":
            monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    yield


def shared_dir() -> Path | None:
    """Terra's reference files, or None when they are not on this machine."""
    configured = os.environ.get("TERRA_SHARED_DIR")
    candidate = Path(configured) if configured else REPO_ROOT.parent / "shared"
    return candidate if (candidate / "terra-openapi").is_dir() else None


@pytest.fixture(scope="session")
def terra_shared_dir() -> Path:
    found = shared_dir()
    if found is None:
        pytest.skip(
            "Terra's reference files are absent: put them in ../shared beside the repository "
            "or point TERRA_SHARED_DIR at them"
        )
    return found


@pytest.fixture(scope="session")
def terra_openapi_dir(terra_shared_dir: Path) -> Path:
    return terra_shared_dir / "terra-openapi"


@pytest.fixture
def fake_secret() -> Callable[[str], str]:
    """``fake_secret("key")`` -> a unique random value such as ``fake-key-3f9a...``."""

    def make(label: str = "secret") -> str:
        return f"fake-{label}-{secrets.token_hex(16)}"

    return make
