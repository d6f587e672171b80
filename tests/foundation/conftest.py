"""Fixtures for the foundation tests: temporary credential folders with fake values."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner

from terra_auth.cli import cli

ENVS = ("testing", "staging", "production")


@dataclass
class Account:
    """One environment's fake credentials."""

    environment: str
    dev_id: str
    api_key: str
    webhook_secret: str

    def file_text(self, *, suffixed: bool = False) -> str:
        s = f"_{self.environment.upper()}" if suffixed else ""
        return (
            f"# {self.environment}\n"
            f"TERRA_DEV_ID{s}={self.dev_id}\n"
            f"TERRA_API_KEY{s}={self.api_key}\n"
            f"TERRA_WEBHOOK_SECRET{s}={self.webhook_secret}\n"
        )


@dataclass
class Config:
    """A folder with .env.terra.<env> files for some environments."""

    directory: Path
    accounts: dict[str, Account] = field(default_factory=dict)

    def write(self, name: str, text: str, mode: int = 0o600) -> Path:
        path = self.directory / name
        path.write_text(text, encoding="utf-8")
        os.chmod(path, mode)
        return path

    def add(self, environment: str, *, write: bool = True) -> Account:
        tag = secrets.token_hex(4)
        account = Account(
            environment,
            f"acme-{environment}-{tag}",
            f"fake-key-{environment}-{secrets.token_hex(16)}",
            f"fake-whsec-{environment}-{secrets.token_hex(16)}",
        )
        self.accounts[environment] = account
        if write:
            self.write(f".env.terra.{environment}", account.file_text())
        return account

    def secret_values(self) -> list[str]:
        return [v for a in self.accounts.values() for v in (a.api_key, a.webhook_secret)]


@pytest.fixture
def config(tmp_path: Path) -> Config:
    folder = tmp_path / "project"
    folder.mkdir()
    return Config(folder)


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def invoke(runner: CliRunner) -> Callable[..., object]:
    """invoke(*args, input=None, env=None) -> click Result (stdout and stderr separate)."""

    def run(*args: str, input: str | None = None, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
        return runner.invoke(cli, list(args), input=input, env=env)

    return run


def run_cli(
    *args: str, cwd: Path, input: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The real entry point in a subprocess: python -m terra_auth ..."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("TERRA_")}
    base.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "terra_auth", *args],
        cwd=cwd,
        input=input,
        capture_output=True,
        text=True,
        env=base,
        timeout=60,
    )


@pytest.fixture
def cli_process() -> Callable[..., subprocess.CompletedProcess[str]]:
    return run_cli


def git(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "-c", "user.email=t@example.invalid", "-c", "user.name=t", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        check=True,
    )


@pytest.fixture
def git_repo(config: Config) -> Config:
    """The config folder as a fresh git repository (no commits)."""
    git(config.directory, "init", "-q", ".")
    return config
