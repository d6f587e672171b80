"""Benchmark webhook verification on a 2 KB body (loopback-free, bounded, standalone).

    python benchmarks/bench_webhooks.py [--rounds 101] [--calls 1000] [--no-docs]

Every figure is a ratio to a baseline measured in the same run, interleaved round by round
(the minimum over rounds is kept, so other load on the machine matters less):

- ``verify_signature`` / ``verify_webhook`` against the bare floor, ``hmac.digest`` plus
  ``hmac.compare_digest`` (goal for the signature check: at least 0.75 of the floor's rate);
- against terra-python's ``verify_terra_webhook_signature`` (goal: at least 1.2x as fast),
  and ``verify_webhook`` (which also parses and types the event) against terra-python plus
  ``json.loads``;
- ``verify_webhook`` against the floor plus pydantic-core's ``from_json`` of the same body,
  the least a verifier parsing with pydantic-core can cost;
- a three-environment secret map whose first entry matches, against a single secret
  (goal: at most 1.1x the cost).

The figures are written into docs/webhooks.md between the bench markers.
"""

from __future__ import annotations

import argparse
import gc
import hmac
import json
import platform
import re
import secrets
import sys
import time
from collections.abc import Callable
from pathlib import Path

from pydantic_core import from_json

from terra_auth.environments import Environment, SigningSecret, TerraCredentials
from terra_auth.secret import Secret
from terra_auth.webhooks import sign_webhook, verify_signature, verify_webhook

DOCS = Path(__file__).resolve().parent.parent / "docs" / "webhooks.md"
BODY_SIZE = 2048
TIME_BUDGET_S = 60.0


def make_body() -> bytes:
    """A realistic ``activity`` event padded to exactly 2 KB."""
    user = {
        "user_id": "40f7b0e1-89e2-43ac-a5b8-1e29c8d47cad",
        "provider": "GARMIN",
        "reference_id": "your-user-123",
        "scopes": "ACTIVITY_EXPORT,HEALTH_EXPORT",
        "active": True,
        "last_webhook_update": None,
    }
    event: dict = {"type": "activity", "version": "2022-03-16", "user": user, "data": []}
    i = 0
    while True:
        sample = {
            "metadata": {"name": "Run", "summary_id": f"s-{i}", "type": 8},
            "distance_data": {"steps": 4000 + i, "distance_meters": 3012.5},
            "heart_rate_data": {"avg_hr_bpm": 140, "max_hr_bpm": 171},
        }
        trial = json.dumps({**event, "data": [*event["data"], sample]}, separators=(",", ":"))
        if len(trial) > BODY_SIZE:
            break
        event["data"].append(sample)
        i += 1
    event["pad"] = ""
    base = len(json.dumps(event, separators=(",", ":")))
    event["pad"] = "x" * (BODY_SIZE - base)
    body = json.dumps(event, separators=(",", ":")).encode()
    assert len(body) == BODY_SIZE, len(body)
    return body


def per_call(func: Callable[[], object], calls: int) -> float:
    gc_was = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter()
        for _ in range(calls):
            func()
        return (time.perf_counter() - start) / calls
    finally:
        if gc_was:
            gc.enable()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=101)
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--no-docs", action="store_true", help="do not update docs/webhooks.md")
    args = parser.parse_args()

    body = make_body()
    secret = f"fake-bench-{secrets.token_hex(16)}"
    others = [f"fake-bench-{secrets.token_hex(16)}" for _ in range(2)]
    now = int(time.time())
    header = sign_webhook(body, secret, timestamp=now)
    headers = {
        "content-type": "application/json",
        "user-agent": "Terra",
        "terra-signature": header,
        "x-terra-signature": header,
        "x-terra-trace-id": "0f4c2a8e-1b7d-4e53-9a61-2c3d4e5f6a7b",
    }
    key = secret.encode()
    signature = header.split("v1=")[1].encode()
    three = {"production": secret, "staging": others[0], "testing": others[1]}
    loaded = {  # the shape load_all_environments() returns
        Environment(env): TerraCredentials(
            environment=Environment(env),
            dev_id=f"bench-{env}",
            api_key=Secret(f"fake-key-{secrets.token_hex(8)}"),
            webhook_secrets=(SigningSecret(Secret(value)),),
        )
        for env, value in three.items()
    }
    text = body.decode()

    def floor() -> bool:
        mac = hmac.digest(key, str(now).encode() + b"." + body, "sha256")
        return hmac.compare_digest(mac.hex().encode(), signature)

    cases: dict[str, Callable[[], object]] = {
        "floor": floor,
        "verify_signature": lambda: verify_signature(body, header, secret, now=now),
        "verify_signature, headers dict": lambda: verify_signature(body, headers, secret, now=now),
        "verify_signature, 3-env map": lambda: verify_signature(body, header, three, now=now),
        "verify_signature, 3 TerraCredentials": lambda: verify_signature(
            body, header, loaded, now=now
        ),
        "verify_webhook": lambda: verify_webhook(body, header, secret, now=now),
        "verify_webhook, 3-env map": lambda: verify_webhook(body, header, three, now=now),
        "json.loads": lambda: json.loads(body),
        "pydantic_core.from_json": lambda: from_json(body, cache_strings="keys"),
    }
    try:
        from terra.utils.verify_signature import verify_terra_webhook_signature
    except ImportError:
        print("terra-python is not installed: its comparisons are skipped", file=sys.stderr)
    else:
        cases["terra-python"] = lambda: verify_terra_webhook_signature(text, header, secret)
        cases["terra-python + json.loads"] = lambda: (
            verify_terra_webhook_signature(text, header, secret),
            json.loads(text),
        )

    for func in cases.values():  # warm caches, and check every case really accepts
        assert func()
    best = dict.fromkeys(cases, float("inf"))
    deadline = time.monotonic() + TIME_BUDGET_S
    rounds = 0
    for _ in range(args.rounds):
        for name, func in cases.items():
            best[name] = min(best[name], per_call(func, args.calls))
        rounds += 1
        if time.monotonic() > deadline:
            break

    rate = {name: 1 / seconds for name, seconds in best.items()}
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on {platform.python_implementation()} "
        f"{platform.python_version()}, {platform.machine()}: a {BODY_SIZE}-byte `activity` "
        f"body, best of {rounds} interleaved rounds of {args.calls} calls each.",
        "",
        "| what | µs per call | verifications/s |",
        "|---|---:|---:|",
    ]
    lines += [f"| {n} | {best[n] * 1e6:.2f} | {rate[n]:,.0f} |" for n in cases]
    lines += ["", "| ratio | measured | goal |", "|---|---:|---|"]

    def ratio(label: str, value: float, goal: str) -> None:
        lines.append(f"| {label} | {value:.2f} | {goal} |")

    ratio(
        "`verify_signature` rate / floor rate", rate["verify_signature"] / rate["floor"], ">= 0.75"
    )
    ratio(
        "`verify_webhook` rate / floor rate",
        rate["verify_webhook"] / rate["floor"],
        "(parses JSON)",
    )
    ratio(
        "`verify_webhook` rate / (floor + `from_json`) rate",
        (best["floor"] + best["pydantic_core.from_json"]) / best["verify_webhook"],
        "(the parsing floor)",
    )
    if "terra-python" in cases:
        ratio(
            "`verify_signature` speed-up over terra-python",
            rate["verify_signature"] / rate["terra-python"],
            ">= 1.2",
        )
        ratio(
            "`verify_webhook` speed-up over terra-python + `json.loads`",
            rate["verify_webhook"] / rate["terra-python + json.loads"],
            "(both parse)",
        )
    ratio(
        "3-env map cost / one secret (`verify_signature`)",
        best["verify_signature, 3-env map"] / best["verify_signature"],
        "<= 1.1",
    )
    ratio(
        "3 `TerraCredentials` (Environment keys) cost / one secret (`verify_signature`)",
        best["verify_signature, 3 TerraCredentials"] / best["verify_signature"],
        "<= 1.1",
    )
    ratio(
        "3-env map cost / one secret (`verify_webhook`)",
        best["verify_webhook, 3-env map"] / best["verify_webhook"],
        "<= 1.1",
    )
    report = "\n".join(lines)
    print(report)
    if not args.no_docs and DOCS.exists():
        page = DOCS.read_text(encoding="utf-8")
        block = f"<!-- bench:start -->\n{report}\n<!-- bench:end -->"
        page = re.sub(
            r"<!-- bench:start -->.*?<!-- bench:end -->", lambda _: block, page, flags=re.S
        )
        DOCS.write_text(page, encoding="utf-8")
        print(f"\nwritten into {DOCS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
