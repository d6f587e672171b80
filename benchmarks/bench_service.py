"""Webhook ingestion: events/s and p99 latency vs a bare endpoint of the same app; resident memory.

    python benchmarks/bench_service.py [--quick] [--no-docs]

Runs the receiver alone (``python -m terra_auth.service.ingest --bare``) as a separate process on
127.0.0.1 with SQLite, then with a throwaway PostgreSQL cluster (skipped when initdb/pg_ctl are
missing). For 2 KB and 1 MB signed bodies it measures ``POST /terra/webhooks`` (verify + store +
reduce, one transaction) and ``POST /bare`` (reads the body the same way, answers 200, nothing
else) with the same client and concurrency, and prints the ratio. Every request carries a new
trace id, so every webhook is really stored. Bounded: a fixed count per case and a time cap.
The figures are written between the markers in docs/persistence.md.
"""

from __future__ import annotations

import argparse
import asyncio
import glob
import json
import os
import pwd
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import psutil

from terra_auth.webhooks import sign_webhook

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "persistence.md"
START, END = "<!-- bench_service:start -->", "<!-- bench_service:end -->"
ROUNDS = 3
SECRET = "bench-" + uuid.uuid4().hex  # generated per run, never stored


# -- a throwaway PostgreSQL ----------------------------------------------------------------------
def _pg_bin(name):
    found = shutil.which(name)
    if found:
        return found
    hits = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return hits[-1] if hits else None


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Postgres:
    def __init__(self):
        self.initdb, self.pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
        self.dir = Path(tempfile.mkdtemp(prefix="bench-pg-"))
        self.prefix = []
        if os.geteuid() == 0:
            entry = pwd.getpwnam("postgres" if _user("postgres") else "nobody")
            os.chown(self.dir, entry.pw_uid, entry.pw_gid)
            self.prefix = ["runuser", "-u", entry.pw_name, "--"]
        self.port = _free_port()
        data = str(self.dir / "data")
        self._run(
            [
                self.initdb,
                "-D",
                data,
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
        # durable settings (fsync on): the figures are what a real deployment would see
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c max_connections=100"
        self._run([self.pg_ctl, "-D", data, "-o", opts, "-l", str(self.dir / "log"), "-w", "start"])
        self.data = data
        self.url = f"postgresql+psycopg://terra@127.0.0.1:{self.port}/postgres"

    def _run(self, cmd):
        subprocess.run(self.prefix + cmd, check=True, capture_output=True, timeout=60)

    def close(self):
        subprocess.run(
            self.prefix + [self.pg_ctl, "-D", self.data, "-m", "immediate", "stop"],
            capture_output=True,
        )
        shutil.rmtree(self.dir, ignore_errors=True)


def _user(name):
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


# -- the service under test ----------------------------------------------------------------------
def start_service(database_url):
    env = {**os.environ, "TERRA_WEBHOOK_SECRET_TESTING": SECRET, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "terra_auth.service.ingest",
            "--database-url",
            database_url,
            "--upgrade",
            "--bare",
            "--port",
            "0",
            "--max-body-bytes",
            str(4 * 1024 * 1024),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        text=True,
    )
    line = proc.stdout.readline()
    if not line.startswith("listening on "):
        proc.kill()
        raise RuntimeError(f"service did not start: {line!r}")
    return proc, line.split()[-1].strip()


def make_bodies(count, size):
    bodies = []
    for i in range(count):
        payload = {
            "type": "activity",
            "version": "2022-03-16",
            "user": {
                "user_id": f"bench-{i % 50}",
                "provider": "GARMIN",
                "reference_id": f"r-{i % 50}",
            },
            "data": [{"samples": ""}],
        }
        pad = size - len(json.dumps(payload, separators=(",", ":")))
        payload["data"][0]["samples"] = "x" * max(0, pad)
        bodies.append(json.dumps(payload, separators=(",", ":")).encode())
    return bodies


class RawConnection:
    """A minimal keep-alive HTTP/1.1 client (asyncio streams): cheap, so the client is not
    what limits the bare endpoint on a small machine."""

    def __init__(self, host, port):
        self.host, self.port = host, port
        self.reader = self.writer = None

    async def post(self, path, body, headers):
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        head = [
            f"POST {path} HTTP/1.1",
            f"Host: {self.host}:{self.port}",
            f"Content-Length: {len(body)}",
        ]
        head += [f"{k}: {v}" for k, v in headers.items()]
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        await self.writer.drain()
        status_line = await self.reader.readline()
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        await self.reader.readexactly(length)
        return int(status_line.split()[1])

    def close(self):
        if self.writer is not None:
            self.writer.close()


async def load(url, path, bodies, concurrency, cap_seconds):
    host, port = url.removeprefix("http://").split(":")
    latencies, statuses = [], {}
    queue = list(bodies)
    queue.reverse()
    deadline = time.perf_counter() + cap_seconds

    async def worker():
        conn = RawConnection(host, int(port))
        try:
            while queue and time.perf_counter() < deadline:
                body = queue.pop()
                headers = {
                    "Content-Type": "application/json",
                    "terra-signature": sign_webhook(body, SECRET),
                    "X-Terra-Trace-Id": uuid.uuid4().hex,
                }
                t0 = time.perf_counter()
                status = await conn.post(path, body, headers)
                latencies.append(time.perf_counter() - t0)
                statuses[status] = statuses.get(status, 0) + 1
        finally:
            conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
    return {
        "n": len(latencies),
        "rate": len(latencies) / elapsed,
        "p99_ms": p99 * 1000,
        "median_ms": statistics.median(latencies) * 1000,
        "statuses": statuses,
    }


class RssSampler:
    """Peak resident memory of a process while load runs (sampled every 20 ms)."""

    def __init__(self, pid):
        self.proc = psutil.Process(pid)
        self.peak = self.proc.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self.proc.memory_info().rss)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def run_backend(name, database_url, cases):
    proc, url = start_service(database_url)
    rows = []
    try:
        idle = psutil.Process(proc.pid).memory_info().rss
        for label, size, count, concurrency in cases:
            bodies = make_bodies(count, size)
            warm = make_bodies(max(4, count // 10), size)  # warm-up: both routes, own bodies
            asyncio.run(load(url, "/bare", warm, concurrency, 10))
            asyncio.run(load(url, "/terra/webhooks", warm, concurrency, 10))
            # interleaved rounds, medians: other load on a shared machine hits both sides alike
            bare_runs, real_runs = [], []
            per_round = max(1, count // ROUNDS)
            with RssSampler(proc.pid) as rss:
                for k in range(ROUNDS):
                    part = bodies[k * per_round : (k + 1) * per_round]
                    bare_runs.append(asyncio.run(load(url, "/bare", part, concurrency, 20)))
                    real = asyncio.run(load(url, "/terra/webhooks", part, concurrency, 20))
                    assert set(real["statuses"]) == {200}, real["statuses"]
                    real_runs.append(real)
            ratios = [r["rate"] / b["rate"] for r, b in zip(real_runs, bare_runs)]

            def med(runs, key):
                return statistics.median(r[key] for r in runs)

            rows.append(
                {
                    "backend": name,
                    "body": label,
                    "n": sum(r["n"] for r in real_runs),
                    "concurrency": concurrency,
                    "rate": med(real_runs, "rate"),
                    "bare_rate": med(bare_runs, "rate"),
                    "ratio": statistics.median(ratios),
                    "p99_ms": med(real_runs, "p99_ms"),
                    "bare_p99_ms": med(bare_runs, "p99_ms"),
                    "rss_idle_mb": idle / 2**20,
                    "rss_peak_mb": rss.peak / 2**20,
                }
            )
            r = rows[-1]
            print(
                f"{name:10} {label:5} n={r['n']:4}  {r['rate']:8.1f} ev/s "
                f"vs bare {r['bare_rate']:8.1f}  "
                f"ratio {r['ratio']:.2f}  p99 {r['p99_ms']:7.1f} ms (bare {r['bare_p99_ms']:.1f})  "
                f"RSS {r['rss_idle_mb']:.0f} -> {r['rss_peak_mb']:.0f} MB",
                flush=True,
            )
    finally:
        proc.terminate()
        proc.wait(10)
    return rows


def write_doc(rows, meta):
    lines = [
        START,
        "",
        f"Measured {meta} (`python benchmarks/bench_service.py`).",
        "",
        "| database | body | events | events/s | bare endpoint /s | ratio | p99 ms | bare p99 ms "
        "| RSS idle -> peak MB |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['backend']} | {r['body']} | {r['n']} | {r['rate']:.0f} | {r['bare_rate']:.0f} | "
            f"**{r['ratio']:.2f}** | {r['p99_ms']:.1f} | {r['bare_p99_ms']:.1f} | "
            f"{r['rss_idle_mb']:.0f} -> {r['rss_peak_mb']:.0f} |"
        )
    lines += ["", END]
    text = DOC.read_text() if DOC.exists() else ""
    block = "\n".join(lines)
    if START in text and END in text:
        text = re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: block, text, flags=re.S)
    else:
        text += "\n" + block + "\n"
    DOC.write_text(text)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer requests")
    parser.add_argument("--no-docs", action="store_true", help="do not update docs/persistence.md")
    parser.add_argument("--backends", default="sqlite,postgresql", help="comma-separated")
    args = parser.parse_args()
    backends = set(args.backends.lower().split(","))
    scale = 0.25 if args.quick else 1.0
    cases = [("2 KB", 2048, int(2000 * scale), 16), ("1 MB", 1024 * 1024, int(60 * scale) or 8, 4)]
    rows = []
    load_before = os.getloadavg()[0]
    if "sqlite" in backends:
        with tempfile.TemporaryDirectory(prefix="bench-sqlite-") as tmp:
            rows += run_backend("SQLite", f"sqlite:///{tmp}/bench.db", cases)
    if "postgresql" not in backends:
        pass
    elif _pg_bin("initdb") and _pg_bin("pg_ctl"):
        pg = Postgres()
        try:
            rows += run_backend("PostgreSQL", pg.url, cases)
        finally:
            pg.close()
    else:
        print("PostgreSQL skipped: initdb/pg_ctl not found")
    meta = (
        f"{time.strftime('%Y-%m-%d', time.gmtime())}, {psutil.cpu_count()} CPUs, loopback, "
        "one uvicorn worker, client concurrency 16 (2 KB) / 4 (1 MB), both routes warmed up, "
        "median of 3 interleaved rounds; ratio = webhook events/s over bare endpoint "
        "requests/s; machine load average "
        f"{load_before:.1f} before the run (other work shares these CPUs, so absolute figures vary "
        "between runs; the ratios are measured side by side)"
    )
    if not args.no_docs:
        write_doc(rows, meta)
        print(f"figures written to {DOC.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
