"""A finding as reported: where, what, and the value masked. It never holds the secret.

Example:
    >>> mask_value("abcdefghijklmnop1234")
    'ab************34'
    >>> mask_value("terra_at_" + "k" * 18 + "34")
    'terra_at_************34'
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from typing import Any

from terra_auth.scan.rules import RuleMatch

__all__ = ["Finding", "fingerprint_of", "mask_value"]

_STARS = "*" * 12
_KNOWN_PREFIXES = ("terra_at_", "terra_dt_")


def mask_value(value: str) -> str:
    """At most the first 2 and last 2 characters of a secret (a public prefix is kept)."""
    prefix = next((p for p in _KNOWN_PREFIXES if value.startswith(p)), "")
    body = value[len(prefix) :]
    if prefix:
        return f"{prefix}{_STARS}{body[-2:]}" if len(body) >= 12 else f"{prefix}{_STARS}"
    if len(body) >= 12:
        return f"{body[:2]}{_STARS}{body[-2:]}"
    if len(body) >= 6:
        return f"{body[:1]}{_STARS}{body[-1:]}"
    return _STARS


def fingerprint_of(kind: str, value: str) -> str:
    """A stable identifier for baselines: 16 hex digits of SHA-256 over the kind and value.

    The same secret gets the same fingerprint in any file or commit, so a baseline entry
    keeps accepting a known value when it moves.
    """
    digest = hashlib.sha256(f"terra-auth-scan:v1:{kind}:{value}".encode())
    return digest.hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Finding:
    """One reported credential: ``masked`` and ``fingerprint`` stand in for the value."""

    path: str
    line: int
    column: int
    kind: str
    rule: str
    environment: str | None
    confidence: str
    masked: str
    fingerprint: str
    commit: str | None = None

    @classmethod
    def from_match(cls, match: RuleMatch, path: str, commit: str | None = None) -> Finding:
        """Build a finding from a rule match; the raw value goes no further than this."""
        return cls(
            path=path,
            line=match.line,
            column=match.column,
            kind=match.kind,
            rule=match.rule.id,
            environment=match.environment.value if match.environment else None,
            confidence=match.confidence,
            masked=mask_value(match.value),
            fingerprint=fingerprint_of(match.kind, match.value),
            commit=commit,
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (the same fields, in order)."""
        return asdict(self)
