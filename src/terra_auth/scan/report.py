"""Reports for people (text), scripts (JSON) and code-scanning tools (SARIF 2.1.0).

Every report shows values masked, with a fingerprint; none ever holds a whole secret.

Example:
    >>> print(render_text([], files_scanned=3))
    no Terra credentials found (3 files scanned)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from terra_auth import __version__
from terra_auth.scan.findings import Finding
from terra_auth.scan.rules import RULES

__all__ = ["render_json", "render_sarif", "render_text"]

_SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_SARIF_LEVEL = {"high": "error", "medium": "error", "low": "warning"}
_FIX = (
    "Rotate the credential in Terra's dashboard (or `terra environments rotate-api-key`), "
    "remove it from the file and its history, and load it from the environment or a "
    ".env.terra.<env> file that git ignores."
)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _where(f: Finding) -> str:
    commit = f"{f.commit[:12]} " if f.commit else ""
    return f"{commit}{f.path}:{f.line}:{f.column}"


def render_text(
    findings: Sequence[Finding], *, files_scanned: int, accepted: int = 0, skipped: int = 0
) -> str:
    """One line per finding, then a summary line."""
    lines = [
        f"{_where(f)}: {f.kind} env={f.environment or 'unknown'} confidence={f.confidence} "
        f"value={f.masked} fingerprint={f.fingerprint} rule={f.rule}"
        for f in findings
    ]
    extra = []
    if accepted:
        extra.append(f"{accepted} accepted by the baseline")
    if skipped:
        extra.append(f"{skipped} binary or large files skipped")
    tail = f" ({_count(files_scanned, 'file')} scanned{''.join('; ' + e for e in extra)})"
    if findings:
        files = len({(f.commit, f.path) for f in findings})
        found = _count(len(findings), "possible Terra credential")
        lines.append(f"{found} in {_count(files, 'file')}{tail}")
        lines.append(f"fix: {_FIX}")
    else:
        lines.append(f"no Terra credentials found{tail}")
    return "\n".join(lines)


def render_json(
    findings: Sequence[Finding], *, files_scanned: int, accepted: int = 0, skipped: int = 0
) -> str:
    """``{"version": 1, "findings": [...], "summary": {...}}``, values masked."""
    document = {
        "version": 1,
        "tool": f"terra-auth {__version__}",
        "findings": [f.to_dict() for f in findings],
        "summary": {
            "findings": len(findings),
            "accepted_by_baseline": accepted,
            "files_scanned": files_scanned,
            "files_skipped": skipped,
        },
    }
    return json.dumps(document, indent=2)


def _sarif_rule(rule_id: str, kind: str, description: str) -> dict[str, Any]:
    return {
        "id": rule_id,
        "name": rule_id.replace("-", " ").title().replace(" ", ""),
        "shortDescription": {"text": description},
        "fullDescription": {"text": f"{description} (kind: {kind})."},
        "help": {"text": _FIX},
        "properties": {"tags": ["security", "secret", "terra", kind]},
    }


def render_sarif(findings: Sequence[Finding]) -> str:
    """A SARIF 2.1.0 log with one run, every rule, and one result per finding."""
    rules = [_sarif_rule(r.id, r.kind, r.description) for r in RULES]
    index = {r.id: i for i, r in enumerate(RULES)}
    results = []
    for f in findings:
        result: dict[str, Any] = {
            "ruleId": f.rule,
            "ruleIndex": index[f.rule],
            "level": _SARIF_LEVEL.get(f.confidence, "warning"),
            "message": {
                "text": f"Possible Terra {f.kind} ({f.masked}), environment "
                f"{f.environment or 'unknown'}, confidence {f.confidence}"
            },
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": f.path},
                        "region": {"startLine": f.line, "startColumn": f.column},
                    }
                }
            ],
            "partialFingerprints": {"terraAuthScan/v1": f.fingerprint},
            "properties": {
                "kind": f.kind,
                "environment": f.environment,
                "confidence": f.confidence,
                "masked": f.masked,
            },
        }
        if f.commit:
            result["properties"]["commit"] = f.commit
        results.append(result)
    log = {
        "$schema": _SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "terra-auth scan",
                        "version": __version__,
                        "informationUri": "https://pypi.org/project/terra-auth/",
                        "rules": rules,
                    }
                },
                "results": results,
            }
        ],
    }
    return json.dumps(log, indent=2)
