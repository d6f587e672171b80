"""Start-up stays light: `terra-auth --help` and `environments` import neither httpx nor pydantic."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

PROBE = """
import json, sys
from terra_auth.cli import main
try:
    main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
heavy = sorted(m for m in ("httpx", "pydantic", "rich", "fastapi", "sqlalchemy") if m in sys.modules)
print("PROBE" + json.dumps({"code": code, "heavy": heavy}))
"""


def probe(*args: str, cwd: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TERRA_")}
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=60
    )
    line = next(x for x in proc.stdout.splitlines() if x.startswith("PROBE"))
    return json.loads(line[len("PROBE"):]) | {"stdout": proc.stdout}


def test_help_imports_neither_httpx_nor_pydantic(tmp_path: Path) -> None:
    got = probe("--help", cwd=tmp_path)
    assert got["code"] == 0
    assert "setup-environment" in got["stdout"] and "doctor" in got["stdout"]
    assert got["heavy"] == []


def test_environments_and_doctor_stay_light(config) -> None:
    config.add("testing")
    got = probe("environments", cwd=config.directory)
    assert got["code"] == 0 and "testing" in got["stdout"]
    assert got["heavy"] == []
    got = probe("doctor", cwd=config.directory)
    assert got["code"] == 0
    assert "httpx" not in got["heavy"] and "pydantic" not in got["heavy"]
