"""The connection service's user endpoints, as a ratio to a bare endpoint of the same app.

One run starts the emulator and the service (uvicorn on loopback, SQLite in a temp folder), then
times, in alternating rounds against ``GET /terra/health`` (no auth, no store, no Terra call):
``GET /terra/connections`` (a store read), ``POST /terra/widget-session`` and the success landing
page (each a call to the emulator). It reports requests per second, p50/p99 latency and the
throughput ratio, the demo's start-up time and the process's resident memory, and writes the
figures into docs/service.md.

    python benchmarks/bench_service_app.py [--rounds 5] [--per-round 100]
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from fastapi import Request

from terra_auth.emulator import Emulator
from terra_auth.environments import Environment
from terra_auth.service import create_app
from terra_auth.service.demo import BackgroundServer, Demo, bind_socket
from terra_auth.service.settings import ServiceSettings

DOCS = Path(__file__).resolve().parent.parent / "docs" / "service.md"
START, END = "<!-- bench:service-app:start -->", "<!-- bench:service-app:end -->"


def header_user(request: Request) -> str | None:
    return request.headers.get("x-user")


def timed(http: httpx.Client, method: str, path: str, n: int, **kw) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        r = http.request(method, path, **kw)
        out.append(time.perf_counter() - t)
        assert r.status_code < 400, (path, r.status_code, r.text[:200])
    return out


def p(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--per-round", type=int, default=100)
    args = parser.parse_args()

    starts = []
    for _ in range(3):
        t = time.perf_counter()
        with Demo(port=0):
            starts.append(time.perf_counter() - t)

    rows = []
    with tempfile.TemporaryDirectory() as tmp, Emulator(seed=1, time_scale=0.001) as emu:
        sock = bind_socket("127.0.0.1", 0)  # proto=IPPROTO_TCP: TCP_NODELAY on accept
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        settings = ServiceSettings(database_url=f"sqlite:///{tmp}/bench.db", public_url=url)
        app = create_app(
            settings, current_user=header_user,
            credentials={Environment.TESTING: emu.credentials("testing")},
        )
        with BackgroundServer(app, sock=sock):
            emu.set_webhook_url("testing", f"{url}/terra/webhooks")
            users = [emu.connect("testing", provider=p_, reference_id="alice")
                     for p_ in ("FITBIT", "OURA", "GARMIN")]
            emu.wait_for_deliveries(3, timeout=10)
            user = {"x-user": "alice"}
            cases = [
                ("GET /terra/connections", "GET", "/terra/connections", {"headers": user}),
                ("POST /terra/widget-session", "POST", "/terra/widget-session", {"headers": user}),
                ("GET /terra/connected (landing)", "GET", "/terra/connected",
                 {"headers": user, "params": {"user_id": users[0]["user_id"]}}),
            ]
            with httpx.Client(base_url=url, timeout=10) as http:
                timed(http, "GET", "/terra/health", 50)
                for name, method, path, kw in cases:
                    timed(http, method, path, 20, **kw)
                    base_all, case_all, ratios = [], [], []
                    for _ in range(args.rounds):
                        b = timed(http, "GET", "/terra/health", args.per_round)
                        c = timed(http, method, path, args.per_round, **kw)
                        base_all += b
                        case_all += c
                        ratios.append(sum(b) / sum(c))
                    rows.append((
                        name,
                        len(case_all) / sum(case_all),
                        p(case_all, 0.5) * 1000,
                        p(case_all, 0.99) * 1000,
                        len(base_all) / sum(base_all),
                        statistics.median(ratios),
                    ))
            import psutil

            rss = psutil.Process().memory_info().rss / 2**20

    lines = [
        START,
        f"Measured by `python benchmarks/bench_service_app.py` ({time.strftime('%Y-%m-%d')}, "
        f"{args.rounds} rounds x {args.per_round} sequential requests over loopback, "
        "SQLite, the emulator as Terra):",
        "",
        "| endpoint | req/s | p50 ms | p99 ms | bare /terra/health req/s | ratio to bare |",
        "|---|---|---|---|---|---|",
    ]
    for name, rps, p50, p99, base, ratio in rows:
        lines.append(f"| `{name}` | {rps:.0f} | {p50:.2f} | {p99:.2f} | {base:.0f} | {ratio:.2f} |")
    lines += [
        "",
        f"`terra-auth demo` start-up (emulator + service + SQLite migration), median of 3: "
        f"{statistics.median(starts) * 1000:.0f} ms. Resident memory of the process (service, "
        f"emulator and the benchmark client together) after the run: {rss:.0f} MiB.",
        END,
    ]
    block = "\n".join(lines)
    print(block)
    text = DOCS.read_text()
    if START in text:
        text = re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: block, text, flags=re.S)
        DOCS.write_text(text)


if __name__ == "__main__":
    main()
