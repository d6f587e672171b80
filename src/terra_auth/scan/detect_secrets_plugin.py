"""A detect-secrets plugin running terra-auth's Terra rules.

detect-secrets asks plugins about one line at a time; the Terra rules need the whole file (a
key counts near a dev-id or a Terra host, and a dev-id and a key together raise confidence).
So the plugin scans the whole file once with :func:`terra_auth.scan.rules.scan_text` and
answers each line from that result: detect-secrets finds exactly what ``terra-auth scan`` finds.
Without a readable file (``detect-secrets scan --string``), the context snippet is used.

Use it with detect-secrets' own command line::

    plugin=$(python -c 'import terra_auth.scan.detect_secrets_plugin as m; print(m.__file__)')
    detect-secrets scan --plugin "$plugin"

Example:
    >>> TerraCredentialDetector().secret_type
    'Terra Credential'
"""

from __future__ import annotations

import os
import re
from collections.abc import Generator, Iterable
from typing import Any

from detect_secrets.core.potential_secret import PotentialSecret
from detect_secrets.plugins.base import RegexBasedDetector

from terra_auth.scan.rules import RULES, RuleMatch, scan_text
from terra_auth.scan.scanner import DEFAULT_MAX_BYTES, text_of

__all__ = ["TerraCredentialDetector"]


class TerraCredentialDetector(RegexBasedDetector):
    """Terra dev-ids, API keys, signing secrets and terra_at_/terra_dt_ tokens."""

    secret_type = "Terra Credential"  # noqa: S105 (a plugin's label)
    #: the same compiled patterns the scanner uses (detect-secrets' RegexBasedDetector contract)
    denylist: tuple[re.Pattern[str], ...] = tuple(rule.regex for rule in RULES)

    def __init__(self) -> None:
        self._cache: dict[str, tuple[tuple[int, int], list[RuleMatch]]] = {}

    def analyze_string(self, string: str) -> Generator[str, None, None]:
        """Every secret value on one line taken alone."""
        for match in scan_text(string):
            yield match.value

    def _file_matches(self, filename: str) -> list[RuleMatch] | None:
        try:
            stat = os.stat(filename)
        except OSError:
            return None
        key = (stat.st_mtime_ns, stat.st_size)
        cached = self._cache.get(filename)
        if cached is not None and cached[0] == key:
            return cached[1]
        try:
            with open(filename, "rb") as handle:
                data = handle.read(DEFAULT_MAX_BYTES + 1)
        except OSError:
            return None
        text = text_of(data, DEFAULT_MAX_BYTES)
        matches = [] if text is None else scan_text(text, filename)
        self._cache = {filename: (key, matches)}  # detect-secrets reads one file at a time
        return matches

    def analyze_line(
        self,
        filename: str,
        line: str,
        line_number: int = 0,
        context: Any = None,
        **kwargs: Any,
    ) -> set[PotentialSecret]:
        """The findings of the whole-file scan on ``line_number`` (or of the context snippet)."""
        matches = self._file_matches(filename) if os.path.isfile(filename) else None
        if matches is not None:
            found: Iterable[RuleMatch] = (m for m in matches if m.line == line_number)
        elif context is not None and getattr(context, "lines", None):
            snippet = scan_text("\n".join(context.lines), filename)
            found = (m for m in snippet if m.line == context.target_index + 1)
        else:
            found = scan_text(line, filename)
        return {
            PotentialSecret(
                type=self.secret_type,
                filename=filename,
                secret=m.value,
                line_number=line_number,
            )
            for m in found
        }
