"""Baselines: a JSON file of accepted findings, matched by fingerprint (never by value).

Example:
    >>> import tempfile, pathlib
    >>> file = pathlib.Path(tempfile.mkdtemp()) / "terra-scan-baseline.json"
    >>> write_baseline(file, [])
    >>> load_baseline(file)
    frozenset()
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path

from terra_auth.errors import ConfigurationError
from terra_auth.scan.findings import Finding

__all__ = ["BASELINE_VERSION", "load_baseline", "split_known", "write_baseline"]

BASELINE_VERSION = 1
_HINT = "create one with: terra-auth scan --baseline FILE --update-baseline"


def load_baseline(path: str | Path) -> frozenset[str]:
    """The accepted fingerprints in a baseline file."""
    file = Path(path)
    try:
        document = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigurationError(
            f"baseline file {str(path)!r} does not exist", hint=_HINT
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(
            f"cannot read baseline file {str(path)!r} ({type(exc).__name__})", hint=_HINT
        ) from None
    except json.JSONDecodeError as exc:
        raise ConfigurationError(
            f"baseline file {str(path)!r} is not valid JSON (line {exc.lineno})", hint=_HINT
        ) from None
    entries = document.get("findings") if isinstance(document, dict) else None
    if not isinstance(entries, list) or not all(
        isinstance(e, dict) and isinstance(e.get("fingerprint"), str) for e in entries
    ):
        raise ConfigurationError(
            f"baseline file {str(path)!r} has no 'findings' list of objects with a 'fingerprint'",
            hint=_HINT,
        )
    return frozenset(e["fingerprint"] for e in entries)


def write_baseline(path: str | Path, findings: Iterable[Finding]) -> None:
    """Write ``findings`` (masked, with fingerprints) as the new baseline."""
    entries = sorted(
        (
            {
                "fingerprint": f.fingerprint,
                "path": f.path,
                "line": f.line,
                "kind": f.kind,
                "environment": f.environment,
                "masked": f.masked,
                **({"commit": f.commit} if f.commit else {}),
            }
            for f in findings
        ),
        key=lambda e: (str(e["path"]), int(str(e["line"])), str(e["fingerprint"])),
    )
    document = {"version": BASELINE_VERSION, "generated_by": "terra-auth scan", "findings": entries}
    try:
        Path(path).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(
            f"cannot write baseline file {str(path)!r} ({exc.strerror or type(exc).__name__})",
            hint="check that the folder exists and is writable",
        ) from None


def split_known(
    findings: Sequence[Finding], accepted: frozenset[str]
) -> tuple[list[Finding], list[Finding]]:
    """``(new, known)``: findings not in the baseline, and those it accepts."""
    new = [f for f in findings if f.fingerprint not in accepted]
    known = [f for f in findings if f.fingerprint in accepted]
    return new, known
