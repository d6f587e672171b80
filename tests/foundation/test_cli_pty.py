"""setup-environment on a real terminal (a pseudo-terminal): prompts work, secrets are not echoed."""

from __future__ import annotations

import fcntl
import os
import select
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from terra_auth.environments import load_credentials

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux pty")


def _read_until(fd: int, marker: bytes, seen: bytearray, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while marker not in seen:
        left = deadline - time.monotonic()
        assert left > 0, f"timed out waiting for {marker!r}; got {bytes(seen)!r}"
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the child closed the terminal
                chunk = b""
            if not chunk:
                assert marker in seen, f"terminal closed before {marker!r}; got {bytes(seen)!r}"
            seen += chunk


def _controlling_terminal() -> None:  # runs in the child before exec
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def test_hidden_prompts_on_a_terminal(tmp_path: Path, fake_secret) -> None:
    key, whsec = fake_secret("key"), fake_secret("whsec")
    master, slave = os.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TERRA_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "terra_auth", "setup-environment", "staging"],
        cwd=tmp_path,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        preexec_fn=_controlling_terminal,  # the pty becomes its controlling terminal
    )
    os.close(slave)
    seen = bytearray()
    try:
        _read_until(master, b"dev-id: ", seen)
        os.write(master, b"acme-staging-5\n")
        _read_until(master, b"API key (hidden): ", seen)
        os.write(master, key.encode() + b"\n")
        _read_until(master, b"empty to skip): ", seen)
        os.write(master, whsec.encode() + b"\n")
        _read_until(master, b"next: terra-auth doctor", seen)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    transcript = bytes(seen).decode(errors="replace")
    assert "acme-staging-5" in transcript  # the dev-id is echoed as typed
    assert key not in transcript and whsec not in transcript  # hidden input is not
    creds = load_credentials("staging", directory=tmp_path, environ={})
    assert creds.api_key.reveal() == key
    assert creds.webhook_secrets[0].value.reveal() == whsec
