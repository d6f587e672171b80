"""The service on PostgreSQL: two service instances share one throwaway cluster.

A user connects through the first instance's webhook receiver, sees the connection through the
second, and disconnects through the second; the deauth webhook (delivered to the first) removes
it for both. Skips, saying why, without the PostgreSQL server binaries.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import httpx
import pytest

from terra_auth.environments import Environment
from terra_auth.service import create_app
from terra_auth.service.demo import BackgroundServer, bind_socket
from terra_auth.service.settings import ServiceSettings

from .conftest import delivered, header_user

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def _binary(name: str) -> str | None:
    found = shutil.which(name)
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found or (candidates[-1] if candidates else None)


@pytest.fixture(scope="module")
def pg_url():
    initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
    if not initdb or not pg_ctl:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    folder = Path(tempfile.mkdtemp(prefix="terra-service-pg-"))
    prefix: list[str] = []
    if os.geteuid() == 0:  # initdb refuses root
        account = next((n for n in ("postgres", "nobody") if _exists(n)), None)
        if account is None or not shutil.which("runuser"):
            pytest.skip("running as root without an unprivileged account for initdb")
        entry = pwd.getpwnam(account)
        os.chown(folder, entry.pw_uid, entry.pw_gid)
        prefix = ["runuser", "-u", account, "--"]
    sock = bind_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    sock.close()
    data = folder / "data"

    def run(*cmd: str) -> None:
        done = subprocess.run([*prefix, *cmd], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr

    run(initdb, "-D", str(data), "-U", "terra", "-A", "trust", "--no-sync", "-E", "UTF8",
        "--locale=C")
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
    run(pg_ctl, "-D", str(data), "-o", options, "-l", str(folder / "log"), "-w", "start")
    try:
        yield f"postgresql+psycopg://terra@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*prefix, pg_ctl, "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True, timeout=30)
        shutil.rmtree(folder, ignore_errors=True)


def _exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def test_two_service_instances_share_postgresql(pg_url, emulator):
    settings = ServiceSettings(database_url=pg_url)
    credentials = {Environment.TESTING: emulator.credentials("testing")}
    first = create_app(settings, current_user=header_user, credentials=credentials)
    second = create_app(settings, current_user=header_user, credentials=credentials)
    alice = {"x-test-user": "alice"}
    with BackgroundServer(first) as one, BackgroundServer(second) as two:
        emulator.set_webhook_url("testing", f"{one.url}/terra/webhooks")
        before = delivered(emulator)
        user = emulator.connect("testing", provider="FITBIT", reference_id="alice")
        emulator.wait_for_deliveries(before + 1, timeout=10.0)
        with httpx.Client(base_url=two.url, timeout=10) as http:
            rows = http.get("/terra/connections", headers=alice).json()
            assert [(r["user_id"], r["status"]) for r in rows] == [(user["user_id"], "connected")]
            assert http.get("/terra/connections", headers={"x-test-user": "bob"}).json() == []
            before = delivered(emulator)
            gone = http.delete(f"/terra/connections/{user['user_id']}", headers=alice)
            assert gone.status_code == 202
            emulator.wait_for_deliveries(before + 1, timeout=10.0)
            assert http.get("/terra/connections", headers=alice).json() == []
        with httpx.Client(base_url=one.url, timeout=10) as http:
            assert http.get("/terra/connections", headers=alice).json() == []
