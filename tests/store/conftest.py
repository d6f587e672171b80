"""Fixtures for the store and the webhook receiver: SQLite stores, signed deliveries, a real
uvicorn server on a free port, and (for ``postgres`` tests) a throwaway PostgreSQL cluster."""

from __future__ import annotations

import asyncio
import glob
import itertools
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from terra_auth.store import Store
from terra_auth.webhooks import parse_event, sign_webhook
from terra_auth.webhooks.lifecycle import apply_changes, reduce_event

ENVIRONMENTS = ("testing", "staging", "production")


# -- signed deliveries ------------------------------------------------------------------------
def user(
    user_id: str,
    reference_id: str | None = "ref-1",
    provider: str = "GARMIN",
    scopes: str = "ACTIVITY_EXPORT",
) -> dict[str, Any]:
    return {
        "user_id": user_id,
        "provider": provider,
        "reference_id": reference_id,
        "scopes": scopes,
        "active": True,
        "last_webhook_update": None,
    }


def event(
    kind: str, user_id: str = "u-1", reference_id: str | None = "ref-1", **extra: Any
) -> dict[str, Any]:
    """A Terra lifecycle event body in the 2026 form."""
    u = user(
        user_id, reference_id, **{k: extra.pop(k) for k in ("provider", "scopes") if k in extra}
    )
    if kind == "auth":
        body = {
            "type": "auth",
            "status": "success",
            "user": u,
            "reference_id": reference_id,
            "message": "User has successfully authenticated",
            "version": "2022-03-16",
        }
    elif kind == "auth_cancelled":
        body = {
            "type": "auth_cancelled",
            "status": "error",
            "reason": "access_denied",
            "reference_id": reference_id,
            "flow_id": None,
        }
    elif kind == "permission_change":
        body = {
            "type": "permission_change",
            "status": "warning",
            "user": u,
            "scopes_added": extra.pop("scopes_added", ""),
            "scopes_removed": extra.pop("scopes_removed", ""),
            "message": "User permissions have been modified",
            "version": "2022-03-16",
        }
    elif kind == "user_reauth":
        old = extra.pop("old_user_id")
        body = {
            "type": "user_reauth",
            "status": "warning",
            "new_user": u,
            "old_user": user(old, reference_id),
            "version": "2022-03-16",
            "message": "User has reauthenticated and old ID has been deleted",
        }
    else:  # deauth, access_revoked, connection_error, or anything else
        body = {"type": kind, "status": "warning", "user": u, "message": kind}
    body.update(extra)
    return body


@dataclass
class Signer:
    """Signs bodies like Terra: ``terra-signature`` + ``X-Terra-Signature`` + a trace id."""

    secrets: dict[str, str]
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    def delivery(
        self,
        payload: dict[str, Any] | bytes,
        *,
        environment: str = "testing",
        trace_id: str | None = None,
        timestamp: int | None = None,
        secret: str | None = None,
    ) -> tuple[bytes, dict[str, str]]:
        body = (
            payload
            if isinstance(payload, bytes)
            else json.dumps(payload, separators=(",", ":")).encode()
        )
        sig = sign_webhook(body, secret or self.secrets[environment], timestamp=timestamp)
        headers = {
            "content-type": "application/json",
            "terra-signature": sig,
            "X-Terra-Signature": sig,
            "X-Terra-Trace-Id": trace_id or f"trace-{uuid.uuid4()}",
            "terra-reference": "ref-" + str(next(self._ids)),
        }
        return body, headers


@pytest.fixture
def webhook_secrets(fake_secret: Callable[[str], str]) -> dict[str, str]:
    return {env: fake_secret(f"whsec-{env}") for env in ENVIRONMENTS}


@pytest.fixture
def signer(webhook_secrets: dict[str, str]) -> Signer:
    return Signer(webhook_secrets)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(f"sqlite:///{tmp_path / 'terra-auth.db'}")
    s.upgrade()
    yield s
    s.close()


# -- a real HTTP server -------------------------------------------------------------------------
class ThreadServer(uvicorn.Server):
    """uvicorn in a thread; ``ready`` is set once it listens."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        self.ready.set()


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1 (a free port); yields the base URL."""
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY on accepted sockets only when the
    # listening socket says proto=TCP; without it every response waits ~40 ms (Nagle)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = ThreadServer(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    assert server.ready.wait(10), "the receiver did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture
def serve_app() -> Callable[[Any], Any]:
    return serve


# -- PostgreSQL ---------------------------------------------------------------------------------
def pg_binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgCluster:
    """A throwaway PostgreSQL cluster in a temporary directory (initdb + pg_ctl)."""

    def __init__(self) -> None:
        self.initdb = pg_binary("initdb")
        self.pg_ctl = pg_binary("pg_ctl")
        if not self.initdb or not self.pg_ctl:
            pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
        self.prefix: list[str] = []
        self.dir = Path(tempfile.mkdtemp(prefix="terra-auth-pg-"))
        if os.geteuid() == 0:  # initdb refuses to run as root: use an unprivileged account
            account = next((n for n in ("postgres", "nobody") if _has_user(n)), None)
            if account is None or not shutil.which("runuser"):
                pytest.skip("running as root with no unprivileged account for initdb")
            entry = pwd.getpwnam(account)
            os.chown(self.dir, entry.pw_uid, entry.pw_gid)
            self.prefix = ["runuser", "-u", account, "--"]
        self.data = self.dir / "data"
        self.port = free_port()
        self.url = f"postgresql+psycopg://terra@127.0.0.1:{self.port}/postgres"
        self._run(
            [
                self.initdb,
                "-D",
                str(self.data),
                "-U",
                "terra",
                "-A",
                "trust",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ]
        )

    def _run(self, cmd: list[str]) -> None:
        proc = subprocess.run(self.prefix + cmd, capture_output=True, text=True, timeout=60)
        if proc.returncode != 0:
            raise RuntimeError(f"{cmd[0]} failed: {proc.stdout}\n{proc.stderr}")

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._run(
            [
                self.pg_ctl,
                "-D",
                str(self.data),
                "-o",
                options,
                "-l",
                str(self.dir / "log"),
                "-w",
                "-t",
                "30",
                "start",
            ]
        )

    def stop(self) -> None:
        self._run([self.pg_ctl, "-D", str(self.data), "-m", "fast", "-w", "-t", "30", "stop"])

    def destroy(self) -> None:
        subprocess.run(
            self.prefix + [str(self.pg_ctl), "-D", str(self.data), "-m", "immediate", "stop"],
            capture_output=True,
            timeout=30,
        )
        shutil.rmtree(self.dir, ignore_errors=True)


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


@pytest.fixture(scope="module")
def pg_cluster() -> Iterator[PgCluster]:
    cluster = PgCluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture
def pg_store(pg_cluster: PgCluster) -> Iterator[Store]:
    """A fresh database in the cluster, migrated to head."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(
        f"host=127.0.0.1 port={pg_cluster.port} user=terra dbname=postgres", autocommit=True
    ) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    s = Store(pg_cluster.url.rsplit("/", 1)[0] + f"/{name}")
    s.upgrade()
    yield s
    s.close()


def wait_until(
    predicate: Callable[[], bool], timeout: float, cond: threading.Condition | None = None
) -> bool:
    """Wait on ``cond`` (or poll with short condition waits) until ``predicate()`` holds."""
    cond = cond or threading.Condition()
    deadline = time.monotonic() + timeout
    with cond:
        while not predicate():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            cond.wait(min(left, 0.05))
    return True


@pytest.fixture
def make_event() -> Callable[..., dict[str, Any]]:
    """``make_event("auth", "u-1", "ref-1")`` -> a lifecycle event body."""
    return event


# -- several service processes (python -m terra_auth.service.ingest) ---------------------------
def _summary(states):
    return sorted(
        (
            s.terra_user_id,
            s.reference_id,
            s.provider,
            str(s.environment),
            s.status,
            tuple(sorted(s.scopes)),
        )
        for s in states
    )


def _workload(make_event, users):
    """Per user: auth, permission_change, connection_error, then one of four endings."""
    plans = []
    for i in range(users):
        uid, ref = f"user-{i:04d}", f"ref-{i:04d}"
        steps = [
            make_event("auth", uid, ref, scopes="ACTIVITY_EXPORT"),
            make_event(
                "permission_change", uid, ref, scopes="ACTIVITY_EXPORT,SLEEP", scopes_added="SLEEP"
            ),
            make_event("connection_error", uid, ref),
        ]
        ending = i % 4
        if ending == 0:
            steps.append(make_event("deauth", uid, ref))
        elif ending == 1:
            steps.append(make_event("access_revoked", uid, ref))
        elif ending == 2:
            steps.append(make_event("auth", uid, ref, scopes="ACTIVITY_EXPORT,SLEEP"))
        else:
            steps.append(make_event("user_reauth", f"user-{i:04d}-b", ref, old_user_id=uid))
        plans.append(
            [
                (f"trace-{i:04d}-{n}", json.dumps(body, separators=(",", ":")).encode())
                for n, body in enumerate(steps)
            ]
        )
    return plans


def _reducer_alone(plans):
    state = {}
    at = datetime(2026, 7, 1, tzinfo=UTC)
    for plan in plans:
        for _, body in plan:
            at += timedelta(seconds=1)
            state = apply_changes(
                state, reduce_event(state, parse_event(body), environment="testing", received_at=at)
            )
    return _summary(state.values())


def _start_service(database_url, secret):
    env = {**os.environ, "TERRA_WEBHOOK_SECRET_TESTING": secret, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "terra_auth.service.ingest",
            "--database-url",
            database_url,
            "--environments",
            "testing",
            "--port",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        text=True,
    )
    line = proc.stdout.readline()  # blocks until the server is bound (or the process died)
    if not line.startswith("listening on "):
        proc.kill()
        raise RuntimeError(f"the service did not start: {line!r}")
    return proc, line.split()[-1].strip()


async def _send_all(plans, urls, secret, concurrency=24):
    """Each user's events in order; each event posted to both processes at the same time."""
    answers: dict[str, list[tuple[int, dict]]] = {}
    gate = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=2 * concurrency)
    async with httpx.AsyncClient(timeout=30, limits=limits, trust_env=False) as client:

        async def one_user(plan):
            async with gate:
                for trace_id, body in plan:
                    headers = {
                        "content-type": "application/json",
                        "terra-signature": sign_webhook(body, secret),
                        "X-Terra-Trace-Id": trace_id,
                    }
                    replies = await asyncio.gather(
                        *(
                            client.post(f"{u}/terra/webhooks", content=body, headers=headers)
                            for u in urls
                        )
                    )
                    answers[trace_id] = [(r.status_code, r.json()) for r in replies]

        await asyncio.gather(*(one_user(p) for p in plans))
    return answers


@pytest.fixture
def harness() -> Any:
    """Helpers to run service processes and a workload of deliveries against them."""
    from types import SimpleNamespace

    return SimpleNamespace(
        summary=_summary,
        workload=_workload,
        reducer_alone=_reducer_alone,
        start_service=_start_service,
        send_all=_send_all,
    )
