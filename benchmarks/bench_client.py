"""Client overhead per generate_widget_session, as a ratio to a bare httpx POST.

Both hit the same emulator endpoint over loopback in the same run, interleaved call by call; the
figure compares median call latencies (robust to other work on a shared machine). Then the
async client runs 200 concurrent widget sessions and must finish without an error. Figures are
written into docs/client.md.

    python benchmarks/bench_client.py [--calls 1500] [--concurrent 200]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import socket
import statistics
import time
from pathlib import Path

import httpx

from terra_auth._request import auth_headers
from terra_auth.client import AsyncTerraClient, RetryPolicy, TerraClient
from terra_auth.emulator import Emulator

DOCS = Path(__file__).resolve().parent.parent / "docs" / "client.md"
OK = "http://localhost:8000/ok"
BODY = {
    "reference_id": "bench-user",
    "auth_success_redirect_url": OK,
    "auth_failure_redirect_url": OK,
}


def bare_round(http: httpx.Client, url: str, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        response = http.post(url, json=BODY)
        response.raise_for_status()
        response.json()["url"]
    return (time.perf_counter() - start) / n


def client_round(client: TerraClient, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        client.generate_widget_session("bench-user", OK, OK).url
    return (time.perf_counter() - start) / n


def in_memory(creds: object, n: int, rounds: int) -> tuple[float, float]:
    """Per-call seconds (bare, ours) through an in-memory transport: the client's own cost."""
    answer = {"session_id": "s", "url": "https://w/s", "status": "success", "expires_in": 900}

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=answer)

    bare_times, ours_times = [], []
    with (
        httpx.Client(transport=httpx.MockTransport(handler), headers=auth_headers(creds)) as http,
        TerraClient(creds, transport=httpx.MockTransport(handler)) as client,  # type: ignore[arg-type]
    ):
        url = client.credentials.widget_session_url
        for _ in range(rounds):
            bare_times.append(bare_round(http, url, n))
            ours_times.append(client_round(client, n))
    return statistics.median(bare_times), statistics.median(ours_times)


async def concurrent(emu: Emulator, count: int) -> tuple[int, int, float]:
    creds = emu.credentials("testing")
    errors = 0
    start = time.perf_counter()
    async with AsyncTerraClient(creds, retry=RetryPolicy.off()) as client:
        results = await asyncio.gather(
            *(client.generate_widget_session(f"user-{i}", OK, OK) for i in range(count)),
            return_exceptions=True,
        )
    elapsed = time.perf_counter() - start
    errors = sum(1 for r in results if isinstance(r, BaseException))
    ok = len({r.session_id for r in results if not isinstance(r, BaseException)})
    return ok, errors, elapsed


def write_docs(text: str) -> None:
    if not DOCS.exists():
        return
    content = DOCS.read_text()
    block = f"<!-- bench:start -->\n{text}\n<!-- bench:end -->"
    content, n = re.subn(r"<!-- bench:start -->.*?<!-- bench:end -->", block, content, flags=re.S)
    if n:
        DOCS.write_text(content)


def interleaved(
    plain: httpx.Client, tuned: httpx.Client, client: TerraClient, url: str, n: int
) -> tuple[list[float], list[float], list[float]]:
    """Per-call seconds for the three sides, call by call in rotating order (drift cancels)."""
    times: list[list[float]] = [[], [], []]
    steps = [
        lambda: plain.post(url, json=BODY).json()["url"],
        lambda: tuned.post(url, json=BODY).json()["url"],
        lambda: client.generate_widget_session("bench-user", OK, OK).url,
    ]
    clock = time.perf_counter
    for i in range(n):
        for k in range(3):
            side = (i + k) % 3
            start = clock()
            steps[side]()
            times[side].append(clock() - start)
    return times[0], times[1], times[2]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=1500)
    parser.add_argument("--concurrent", type=int, default=200)
    args = parser.parse_args()

    with Emulator(seed=1, time_scale=0.001) as emu:
        creds = emu.credentials("testing")
        url = creds.widget_session_url
        nodelay = httpx.HTTPTransport(socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)])
        with (
            httpx.Client(headers=auth_headers(creds)) as plain,
            httpx.Client(headers=auth_headers(creds), transport=nodelay) as tuned,
            TerraClient(creds) as client,
        ):
            interleaved(plain, tuned, client, url, 50)  # warm up the connection pools
            bare, same, ours = interleaved(plain, tuned, client, url, args.calls)
        ok, errors, elapsed = asyncio.run(concurrent(emu, args.concurrent))
        mem_bare, mem_ours = in_memory(creds, 200, 9)

    med = statistics.median
    ratio = med(ours) / med(same)
    lines = [
        f"- measured {time.strftime('%Y-%m-%d')}: {args.calls} calls per side, interleaved call "
        "by call, in-process emulator over loopback (2 shared cores, other work running)",
        f"- bare httpx POST, default client: median {med(bare) * 1e3:.3f} ms per call",
        f"- bare httpx POST, TCP_NODELAY like ours: median {med(same) * 1e3:.3f} ms",
        f"- TerraClient.generate_widget_session: median {med(ours) * 1e3:.3f} ms",
        f"- **overhead ratio (median call vs the bare POST with the same socket options): "
        f"{ratio:.3f}x** (goal <= 1.15x); vs a default bare httpx client "
        f"{med(ours) / med(bare):.3f}x; ratio of means "
        f"{statistics.fmean(ours) / statistics.fmean(same):.3f}x",
        f"- the client's own cost (in-memory transport, no network): bare httpx "
        f"{mem_bare * 1e6:.0f} us, TerraClient {mem_ours * 1e6:.0f} us per call",
        f"- AsyncTerraClient, {args.concurrent} concurrent widget sessions: {ok} distinct, "
        f"{errors} errors, {elapsed:.2f} s",
    ]
    text = "\n".join(lines)
    print(text)
    write_docs(text)
    if errors or ok != args.concurrent:
        raise SystemExit("the concurrent run had errors")


if __name__ == "__main__":
    main()
