"""Benchmark the emulator: widget-session creation vs a bare endpoint, and memory over time.

    python benchmarks/bench_emulator.py [--requests 3000] [--sessions 100000]

1. Throughput over loopback: ``POST /api/widget/session`` on the emulator versus a bare FastAPI
   endpoint returning a constant (same server setup: uvicorn h11 in a thread of its own process),
   measured in the same run with the same client; printed as a ratio (goal >= 0.5).
2. Memory: resident set size (psutil) of a process creating 100,000 widget sessions through the
   emulator's ASGI app at one session per emulated second (sessions expire after 900 s and are
   pruned), after 1,000 versus after 100,000 sessions (goal <= 1.5x).

Figures are printed and written into docs/emulator.md between the bench markers. Bounded: a few
thousand requests and at most ~60 s of session creation. Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import re
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "emulator.md"
BODY = json.dumps({"reference_id": "bench-user", "providers": "FITBIT,GARMIN"}).encode()


def _serve(kind: str, queue: mp.Queue, stop: mp.Event) -> None:  # type: ignore[type-arg]
    sys.path.insert(0, str(ROOT / "src"))
    from terra_auth.emulator import Emulator
    from terra_auth.emulator.app import _Server

    if kind == "emulator":
        emu = Emulator(seed=1)
        emu.start()
        account = emu.environments["testing"]
        queue.put((emu.url, account.dev_id, account.api_key))
        stop.wait()
        emu.stop()
        return
    import socket

    from fastapi import FastAPI

    app = FastAPI()

    @app.post("/const")
    async def const() -> dict[str, str]:
        return {"status": "success"}

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    server = _Server(app, sock)  # same uvicorn setup as the emulator
    server.thread.start()
    server.started.wait(10)
    queue.put((f"http://127.0.0.1:{sock.getsockname()[1]}", None, None))
    stop.wait()
    server.server.should_exit = True
    server.thread.join(5)


def _load(url: str, headers: dict[str, str], n: int, threads: int) -> float:
    """Requests per second for n keep-alive POSTs from raw-socket clients in threads.

    A minimal HTTP/1.1 client (prebuilt request bytes, Content-Length framing) keeps the client's
    own cost small, so the figure reflects the server.
    """
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    request = (
        f"POST {parts.path} HTTP/1.1\r\nhost: {host}:{port}\r\n{head}"
        f"content-length: {len(BODY)}\r\n\r\n"
    ).encode() + BODY
    per = n // threads
    errors: list[str] = []

    def worker() -> None:
        sock = socket.create_connection((host, port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buffer = b""
        try:
            for _ in range(per):
                sock.sendall(request)
                while b"\r\n\r\n" not in buffer:
                    buffer += sock.recv(65536)
                header, _, buffer = buffer.partition(b"\r\n\r\n")
                if not header.startswith(b"HTTP/1.1 200"):
                    errors.append(header.split(b"\r\n", 1)[0].decode())
                length = int(re.search(rb"(?i)content-length: *(\d+)", header).group(1))  # type: ignore[union-attr]
                while len(buffer) < length:
                    buffer += sock.recv(65536)
                buffer = buffer[length:]
        finally:
            sock.close()

    workers = [threading.Thread(target=worker) for _ in range(threads)]
    started = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise SystemExit(f"benchmark requests failed: {errors[:3]}")
    return per * threads / elapsed


def throughput(n: int, threads: int, rounds: int) -> dict[str, float]:
    ctx = mp.get_context("spawn")
    results: dict[str, list[float]] = {"bare": [], "emulator": []}
    procs = {}
    for kind in results:
        queue, stop = ctx.Queue(), ctx.Event()
        proc = ctx.Process(target=_serve, args=(kind, queue, stop), daemon=True)
        proc.start()
        procs[kind] = (proc, stop, queue.get(timeout=30))
    try:
        for _ in range(rounds):
            for kind, (_, _, (url, dev_id, key)) in procs.items():
                if kind == "bare":
                    target, headers = f"{url}/const", {"content-type": "application/json"}
                else:
                    target = f"{url}/api/widget/session"
                    headers = {
                        "dev-id": dev_id,
                        "x-api-key": key,
                        "content-type": "application/json",
                    }
                _load(target, headers, max(200, n // 10), threads)  # warm-up
                results[kind].append(_load(target, headers, n, threads))
    finally:
        for proc, stop, _ in procs.values():
            stop.set()
            proc.join(10)
    best = {k: max(v) for k, v in results.items()}
    return {
        "bare_rps": best["bare"],
        "emulator_rps": best["emulator"],
        "ratio": best["emulator"] / best["bare"],
    }


def _memory(sessions: int, budget: float, queue: mp.Queue) -> None:  # type: ignore[type-arg]
    sys.path.insert(0, str(ROOT / "src"))
    import psutil

    from terra_auth.emulator import Emulator

    emu = Emulator(seed=1)
    account = emu.environments["testing"]
    headers = [
        (b"host", b"bench"),
        (b"dev-id", account.dev_id.encode()),
        (b"x-api-key", account.api_key.encode()),
        (b"content-type", b"application/json"),
    ]
    scope_base = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/widget/session",
        "raw_path": b"/api/widget/session",
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "server": ("bench", 80),
        "client": ("127.0.0.1", 1234),
    }
    process = psutil.Process()
    marks: dict[int, float] = {}

    async def run() -> int:
        done = 0
        started = time.perf_counter()
        while done < sessions and time.perf_counter() - started < budget:
            delivered = False

            async def receive() -> dict[str, object]:
                nonlocal delivered
                if delivered:
                    return {"type": "http.disconnect"}
                delivered = True
                return {"type": "http.request", "body": BODY, "more_body": False}

            status: list[int] = []

            async def send(message: dict[str, object]) -> None:
                if message["type"] == "http.response.start":
                    status.append(int(message["status"]))  # type: ignore[call-overload]

            await emu.app(dict(scope_base), receive, send)
            assert status == [200], status
            emu.clock.advance(1.0)  # one session per emulated second
            done += 1
            if done in (1_000, 10_000, 50_000, 100_000):
                marks[done] = process.memory_info().rss / 2**20
        return done

    done = asyncio.run(run())
    queue.put({"done": done, "rss_mb": marks, "live_sessions": len(emu.engine.state.sessions)})


def memory(sessions: int, budget: float) -> dict[str, object]:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_memory, args=(sessions, budget, queue), daemon=True)
    proc.start()
    result = queue.get(timeout=budget + 60)
    proc.join(10)
    return result


def write_doc(text: str) -> None:
    if not DOC.exists():
        return
    doc = DOC.read_text()
    block = f"<!-- bench:start -->\n{text}\n<!-- bench:end -->"
    new = re.sub(r"<!-- bench:start -->.*?<!-- bench:end -->", block, doc, flags=re.S)
    DOC.write_text(new)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--sessions", type=int, default=100_000)
    parser.add_argument("--budget", type=float, default=90.0, help="max seconds for sessions")
    parser.add_argument("--no-doc", action="store_true", help="do not update docs/emulator.md")
    args = parser.parse_args()

    t = throughput(args.requests, args.threads, args.rounds)
    print(f"bare FastAPI constant endpoint: {t['bare_rps']:.0f} req/s")
    print(f"emulator widget-session create: {t['emulator_rps']:.0f} req/s")
    print(f"ratio: {t['ratio']:.2f} (goal >= 0.5)")
    m = memory(args.sessions, args.budget)
    rss: dict[int, float] = m["rss_mb"]  # type: ignore[assignment]
    first, last = rss.get(1_000), rss.get(max(rss))
    growth = last / first if first and last else float("nan")
    print(f"sessions created: {m['done']}, alive at the end: {m['live_sessions']}")
    print("RSS MiB: " + ", ".join(f"{k}: {v:.1f}" for k, v in sorted(rss.items())))
    print(f"RSS after {max(rss)} / after 1000: {growth:.2f}x (goal <= 1.5)")
    cpus = os.cpu_count()
    text = "\n".join(
        [
            f"Measured {time.strftime('%Y-%m-%d')} on {cpus} CPUs by"
            f" `python benchmarks/bench_emulator.py` ({args.requests} requests x"
            f" {args.rounds} rounds, {args.threads} keep-alive client threads):",
            "",
            "| figure | value |",
            "|---|---|",
            f"| bare FastAPI endpoint returning a constant | {t['bare_rps']:.0f} req/s |",
            f"| `POST /api/widget/session` on the emulator | {t['emulator_rps']:.0f} req/s |",
            f"| ratio (goal >= 0.5) | **{t['ratio']:.2f}** |",
            f"| RSS after 1,000 sessions | {first:.1f} MiB |",
            f"| RSS after {max(rss):,} sessions | {last:.1f} MiB |",
            f"| growth (goal <= 1.5x) | **{growth:.2f}x** |",
            "",
            f"Sessions were created through the emulator's ASGI app at one per emulated second"
            f" (the clock advanced, no sleeping); {m['live_sessions']} were alive at the end,"
            " the rest pruned after 900 s.",
        ]
    )
    if not args.no_doc:
        write_doc(text)


if __name__ == "__main__":
    main()
