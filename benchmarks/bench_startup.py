"""Whole-process start-up of the CLI, as ratios to `python -c pass` measured in the same run.

    python benchmarks/bench_startup.py [--runs 20] [--no-write]

Measures `terra-auth --help` (goal <= 6x) and `terra-auth environments` on a generated demo
configuration of three environments (goal <= 25x), interleaving the commands so that machine
noise hits all of them alike, and writes the figures into docs/credentials.md between the
`bench_startup` markers. Loopback only: nothing here touches the network.
"""

from __future__ import annotations

import argparse
import os
import platform
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "credentials.md"
BEGIN, END = "<!-- bench_startup:begin -->", "<!-- bench_startup:end -->"
GOALS = {"terra-auth --help": 6.0, "terra-auth environments": 25.0}
MAX_SECONDS = 120.0


def demo_config(folder: Path) -> None:
    """Three environments with fake, random values (mode 0600)."""
    for env in ("testing", "staging", "production"):
        path = folder / f".env.terra.{env}"
        path.write_text(
            f"TERRA_DEV_ID=demo-{env}-{secrets.token_hex(4)}\n"
            f"TERRA_API_KEY=fake-key-{secrets.token_hex(16)}\n"
            f"TERRA_WEBHOOK_SECRET=fake-whsec-{secrets.token_hex(16)}\n"
        )
        path.chmod(0o600)
    (folder / ".env.terra").write_text("TERRA_TIMEOUT=20\n")


def terra_auth_command() -> list[str]:
    """The console script next to this interpreter, else `python -m terra_auth`."""
    script = Path(sys.executable).with_name("terra-auth")
    return [str(script)] if script.exists() else [sys.executable, "-m", "terra_auth"]


def run_once(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    proc = subprocess.run(command, cwd=cwd, env=env, capture_output=True, check=False)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{command} failed ({proc.returncode}): {proc.stderr.decode()[:500]}")
    return elapsed


def measure(runs: int) -> tuple[dict[str, list[float]], int]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TERRA_")}
    tool = terra_auth_command()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        demo_config(folder)
        commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "terra-auth --help": [*tool, "--help"],
            "terra-auth environments": [*tool, "environments"],
        }
        times: dict[str, list[float]] = {name: [] for name in commands}
        for command in commands.values():  # warm the file cache
            run_once(command, folder, env)
        deadline = time.monotonic() + MAX_SECONDS
        done = 0
        for _ in range(runs):
            for name, command in commands.items():
                times[name].append(run_once(command, folder, env))
            done += 1
            if time.monotonic() > deadline:
                break
    return times, done


def report(times: dict[str, list[float]], runs: int) -> str:
    base = statistics.median(times["python -c pass"])
    lines = [
        f"Measured by `python benchmarks/bench_startup.py` ({runs} interleaved runs each, median; "
        f"Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs):",
        "",
        "| command | median | ratio to `python -c pass` | goal |",
        "|---|---|---|---|",
    ]
    for name, samples in times.items():
        median = statistics.median(samples)
        ratio = median / base
        goal = GOALS.get(name)
        met = "met" if goal is not None and ratio <= goal else "MISSED"
        verdict = "baseline" if goal is None else f"<= {goal:g}x ({met})"
        lines.append(f"| `{name}` | {median * 1000:.1f} ms | {ratio:.2f}x | {verdict} |")
    return "\n".join(lines)


def write_doc(text: str) -> None:
    if not DOC.exists():
        print(f"{DOC} is missing; figures not written")
        return
    content = DOC.read_text(encoding="utf-8")
    if BEGIN not in content or END not in content:
        print(f"{DOC} has no {BEGIN} ... {END} markers; figures not written")
        return
    head, rest = content.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    DOC.write_text(f"{head}{BEGIN}\n{text}\n{END}{tail}", encoding="utf-8")
    print(f"figures written to {DOC.relative_to(ROOT)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="runs per command (max 200)")
    parser.add_argument("--no-write", action="store_true", help="do not update the docs page")
    args = parser.parse_args()
    times, runs = measure(max(1, min(args.runs, 200)))
    text = report(times, runs)
    print(text)
    if not args.no_write:
        write_doc(text)


if __name__ == "__main__":
    main()
