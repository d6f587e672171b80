"""Export the rules as a gitleaks configuration (TOML), for teams that already run gitleaks.

The regexes are the same strings the scanner uses (RE2-compatible). What a regex cannot say is
approximated with gitleaks' own features: placeholders become ``stopwords``, names that hold
something about a key (``..._FINGERPRINT``) an allowlist, and "near a dev-id or a Terra host"
a composite rule (``[[rules.required]]``, gitleaks 8.28 or later) on a ``terra-context`` rule
that is never reported by itself.

Example:
    >>> import tomllib
    >>> config = tomllib.loads(export_gitleaks())
    >>> "terra-dev-id-shape" in {rule["id"] for rule in config["rules"]}
    True
"""

from __future__ import annotations

from terra_auth import __version__
from terra_auth.scan.rules import (
    CONTEXT_LINES,
    CONTEXT_PATTERN,
    KIND_DEV_ID,
    NOT_A_SECRET_NAME_PATTERN,
    PLACEHOLDER_WORDS,
    RULES,
    Rule,
)

__all__ = ["export_gitleaks"]

CONTEXT_RULE_ID = "terra-context"
_ASSIGNMENT_AFTER_NAME = r"""["'\]]{0,2}\s*(?:=>|:=|::|=|:)"""


def _literal(pattern: str) -> str:
    """A TOML multi-line literal string (no escaping needed for regexes)."""
    if "'''" in pattern:  # pragma: no cover - guarded by a test over every rule
        raise ValueError("a rule pattern cannot contain three single quotes")
    return f"'''{pattern}'''"


def _string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _array(items: list[str]) -> str:
    return "[" + ", ".join(items) + "]"


def _rule_block(rule: Rule) -> list[str]:
    lines = [
        "[[rules]]",
        f"id = {_string(rule.id)}",
        f"description = {_string(rule.description)}",
        f"regex = {_literal(rule.pattern)}",
        f"secretGroup = {rule.secret_group}",
        f"entropy = {rule.min_entropy}",
        f"keywords = {_array([_string(k) for k in rule.keywords])}",
        f"tags = {_array([_string('terra'), _string(rule.kind), _string(rule.confidence)])}",
    ]
    stopwords = [w for w in PLACEHOLDER_WORDS if w.replace("-", "").replace("_", "").isalnum()]
    lines += ["[rules.allowlist]", f"stopwords = {_array([_string(w) for w in stopwords])}"]
    if rule.kind != KIND_DEV_ID and "name" in rule.regex.groupindex:
        anywhere, at_end = NOT_A_SECRET_NAME_PATTERN.split("|(?:", 1)
        name_end = "(?i)(?:" + at_end.removesuffix("$") + _ASSIGNMENT_AFTER_NAME
        regexes = _array([_literal(anywhere), _literal(name_end)])
        lines += ['regexTarget = "match"', f"regexes = {regexes}"]
    if rule.needs_context:
        lines += [
            "[[rules.required]]",
            f"id = {_string(CONTEXT_RULE_ID)}",
            f"withinLines = {CONTEXT_LINES}",
        ]
    return lines


def export_gitleaks() -> str:
    """The gitleaks TOML for every Terra rule, extending gitleaks' default rules."""
    out = [
        f"# Terra credential rules exported by terra-auth {__version__} (terra-auth scan",
        "# --export gitleaks). Values containing placeholder words are ignored; rules that need",
        "# Terra context use composite rules (gitleaks 8.28+; older versions ignore the",
        "# requirement and report more).",
        'title = "terra-auth: Terra credentials"',
        "",
        "[extend]",
        "useDefault = true",
        "",
        "[[rules]]",
        f"id = {_string(CONTEXT_RULE_ID)}",
        f"description = {_string('Terra context: a dev-id, a Terra host or a Terra() call')}",
        f"regex = {_literal('(?im)' + CONTEXT_PATTERN.removeprefix('(?i)'))}",
        "skipReport = true",
        "",
    ]
    for rule in RULES:
        out += [*_rule_block(rule), ""]
    return "\n".join(out)
