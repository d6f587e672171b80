"""Leaked-credential scanning for Terra dev-ids, API keys, signing secrets and tokens.

The rules live once in :mod:`terra_auth.scan.rules`; the CLI (``terra-auth scan``), the
detect-secrets plugin and the gitleaks export all use them.

Example:
    >>> from terra_auth.scan import scan_paths
    >>> result = scan_paths(["src"])                       # doctest: +SKIP
    >>> [f"{f.path}:{f.line} {f.kind} {f.masked}" for f in result.findings]  # doctest: +SKIP
"""

from __future__ import annotations

from terra_auth.scan.findings import Finding, fingerprint_of, mask_value
from terra_auth.scan.rules import RULES, Rule, RuleMatch, scan_text
from terra_auth.scan.scanner import ScanResult, scan_git_history, scan_paths, scan_staged

__all__ = [
    "RULES",
    "Finding",
    "Rule",
    "RuleMatch",
    "ScanResult",
    "fingerprint_of",
    "mask_value",
    "scan_git_history",
    "scan_paths",
    "scan_staged",
    "scan_text",
]
