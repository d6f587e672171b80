"""Terra credential rules, defined once for every front end.

The CLI scanner, the detect-secrets plugin and the gitleaks export all read :data:`RULES`.
Each rule's ``pattern`` is valid in both Python's ``re`` and Go's RE2 (no look-arounds, no
back-references) and names the secret with the group ``secret``. The context logic that a
regex cannot express (placeholders, entropy, "near a dev-id or a Terra host", a dev-id and a key
found together) lives in :func:`scan_text`, which every Python front end calls.

Example:
    >>> dev_id = "acme-" + "staging-" + "Q7xP2mLk9A"     # built at run time, never a literal
    >>> [(m.kind, m.environment, m.confidence) for m in scan_text(f"TERRA_DEV_ID={dev_id}")]
    [('dev-id', <Environment.STAGING: 'staging'>, 'medium')]
"""

from __future__ import annotations

import math
import posixpath
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

from terra_auth.environments import Environment

__all__ = [
    "CONFIDENCES",
    "CONTEXT_LINES",
    "CONTEXT_PATTERN",
    "KINDS",
    "NOT_A_SECRET_NAME_PATTERN",
    "PLACEHOLDER_WORDS",
    "RULES",
    "Rule",
    "RuleMatch",
    "environment_from_words",
    "is_placeholder",
    "scan_text",
    "shannon_entropy",
]

KIND_DEV_ID = "dev-id"
KIND_API_KEY = "api-key"
KIND_SIGNING_SECRET = "signing-secret"  # noqa: S105 (a kind's name)
KIND_ADMIN_TOKEN = "admin-token"  # noqa: S105
KIND_DATA_TOKEN = "data-token"  # noqa: S105
KINDS = (KIND_DEV_ID, KIND_API_KEY, KIND_SIGNING_SECRET, KIND_ADMIN_TOKEN, KIND_DATA_TOKEN)
#: from weakest to strongest
CONFIDENCES = ("low", "medium", "high")

#: lines within this distance of a Terra marker count as "near" it
CONTEXT_LINES = 8

# -- pattern pieces (RE2 and Python alike) ------------------------------------------------
_ENV_WORDS = r"testing|test|staging|stage|production|prod"
# a name may be followed by two closing quotes/brackets: "x-api-key": / headers["x-api-key"] =
_ASSIGN = r"""["'\]]{0,2}\s*(?:=>|:=|::|=|:)\s*(?P<quote>["'`]?)"""
_KEY = r"(?P<secret>[A-Za-z0-9_\-+/=]{16,200})"
_END = r"""(?:["'`\s,;})\]]|$)"""
_TERRA_NAME = r"[A-Za-z0-9_.-]{0,40}terra[A-Za-z0-9_.-]{0,40}?"
_NAME_TAIL = r"[A-Za-z0-9_]{0,30}"


@dataclass(frozen=True, slots=True)
class Rule:
    """One detection rule. One of ``keywords`` (lower case) must be on a line for it to run."""

    id: str
    kind: str
    description: str
    pattern: str
    keywords: tuple[str, ...]
    #: when set, a line must also hold one of these (a cheap second filter, not exported)
    also: tuple[str, ...] = ()
    confidence: str = "medium"
    #: the match counts only near a dev-id, a Terra host or a ``Terra(...)`` call (or anywhere
    #: in a ``.env`` file that mentions Terra)
    needs_context: bool = False
    min_entropy: float = 3.0
    regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "regex", re.compile(self.pattern))

    @property
    def secret_group(self) -> int:
        """The index of the ``secret`` group (gitleaks' ``secretGroup``)."""
        return self.regex.groupindex["secret"]


RULES: tuple[Rule, ...] = (
    Rule(
        id="terra-admin-token",
        kind=KIND_ADMIN_TOKEN,
        description="Terra admin API personal access token (terra_at_ prefix)",
        pattern=r"\b(?P<secret>terra_at_[A-Za-z0-9_-]{16,200})",
        keywords=("terra_at_",),
        confidence="high",
    ),
    Rule(
        id="terra-data-token",
        kind=KIND_DATA_TOKEN,
        description="Terra data token (terra_dt_ prefix)",
        pattern=r"\b(?P<secret>terra_dt_[A-Za-z0-9_-]{16,200})",
        keywords=("terra_dt_",),
        confidence="high",
    ),
    Rule(
        id="terra-signing-secret-assignment",
        kind=KIND_SIGNING_SECRET,
        description="Terra webhook signing secret assigned to a Terra-named variable or key",
        pattern=rf"(?i)(?P<name>\b{_TERRA_NAME}(?:secret|signing[_.-]?key){_NAME_TAIL})"
        rf"{_ASSIGN}{_KEY}{_END}",
        keywords=("terra",),
        also=("secret", "signing"),
    ),
    Rule(
        id="terra-api-key-assignment",
        kind=KIND_API_KEY,
        description="Terra API key assigned to a Terra-named variable, header or key",
        pattern=rf"(?i)(?P<name>\b{_TERRA_NAME}(?:api[_.-]?key|[_.-]key){_NAME_TAIL})"
        rf"{_ASSIGN}{_KEY}{_END}",
        keywords=("terra",),
        also=("key",),
    ),
    Rule(
        id="terra-api-key-in-context",
        kind=KIND_API_KEY,
        description="API key (api_key, apiKey, x-api-key) near a dev-id, Terra host or Terra()",
        pattern=rf"(?i)(?P<name>\b(?:x[_-]?)?api[_.-]?key)\b{_ASSIGN}{_KEY}{_END}",
        keywords=("apikey", "api_key", "api-key", "api.key"),
        needs_context=True,
    ),
    Rule(
        id="terra-api-key-header-call",
        kind=KIND_API_KEY,
        description="x-api-key header set by a call (headers.set, addHeader) near Terra context",
        pattern=rf"""(?i)["'](?P<name>x-api-key)["']\s*,\s*["'`]{_KEY}["'`]""",
        keywords=("x-api-key",),
        needs_context=True,
    ),
    Rule(
        id="terra-api-key-swift-header",
        kind=KIND_API_KEY,
        description="x-api-key header set with setValue(_:forHTTPHeaderField:) near Terra context",
        pattern=rf"""(?i)setValue\(\s*"{_KEY}"\s*,\s*forHTTPHeaderField:\s*"(?P<name>x-api-key)\"""",
        keywords=("x-api-key",),
        needs_context=True,
    ),
    Rule(
        id="terra-signing-secret-in-context",
        kind=KIND_SIGNING_SECRET,
        description="Webhook signing secret near a Terra dev-id, host or Terra() call",
        pattern=rf"(?i)(?P<name>\b(?:webhook|signing)[_.-]?secret){_NAME_TAIL}{_ASSIGN}{_KEY}{_END}",
        keywords=("secret",),
        needs_context=True,
    ),
    Rule(
        id="terra-dev-id-assignment",
        kind=KIND_DEV_ID,
        description="Terra dev-id assigned to a dev-id variable, header or key",
        pattern=r"(?i)(?P<name>\b(?:[A-Za-z0-9_.-]{0,40}terra[_.-]?)?dev[_.-]?id(?:_[A-Za-z]{1,12})?)"
        rf"\b{_ASSIGN}(?P<secret>[A-Za-z0-9][A-Za-z0-9_-]{{5,80}}){_END}",
        keywords=("devid", "dev_id", "dev-id", "dev.id"),
        confidence="medium",
        min_entropy=2.5,
    ),
    Rule(
        id="terra-dev-id-header-call",
        kind=KIND_DEV_ID,
        description="dev-id header set by a call (headers.set, addHeader, setValue)",
        pattern=r"""(?i)["'](?P<name>dev-id)["']\s*,\s*["'`](?P<secret>[A-Za-z0-9][A-Za-z0-9_-]{5,80})["'`]""",
        keywords=("dev-id",),
        min_entropy=2.5,
    ),
    Rule(
        id="terra-dev-id-swift-header",
        kind=KIND_DEV_ID,
        description="dev-id header set with setValue(_:forHTTPHeaderField:)",
        pattern=r"""(?i)setValue\(\s*"(?P<secret>[A-Za-z0-9][A-Za-z0-9_-]{5,80})"\s*,\s*"""
        r"""forHTTPHeaderField:\s*"(?P<name>dev-id)\"""",
        keywords=("dev-id",),
        min_entropy=2.5,
    ),
    Rule(
        id="terra-dev-id-shape",
        kind=KIND_DEV_ID,
        description="A Terra dev-id by its shape: <slug>-<testing|staging|prod>-<10 characters>",
        pattern=r"\b(?P<secret>[a-z0-9]{2,40}(?:-[a-z0-9]{1,40}){0,4}-"
        r"(?:testing|staging|production|prod)-[A-Za-z0-9]{10})\b",
        keywords=("-testing-", "-staging-", "-prod-", "-production-"),
        confidence="low",
        min_entropy=2.5,
    ),
)

_RULE_ORDER = {rule.id: index for index, rule in enumerate(RULES)}

# a dev-id whose value has Terra's shape (assigned values may use aliases and any suffix length)
_DEV_ID_SHAPE = re.compile(
    rf"(?i)^[a-z0-9][a-z0-9-]{{0,60}}?-(?P<env>{_ENV_WORDS})-(?P<suffix>[a-z0-9]{{6,32}})$"
)
#: lines that put a match in Terra's context: a Terra host, a dev-id name, a Terra(...) call
CONTEXT_PATTERN = (
    r"(?i)tryterra\.co|\bdev[_-]?id\b|terra[_-]?dev[_-]?id|\bterra[A-Za-z0-9_]{0,20}\s*\(\{?"
    r"|^\s*\[?terra\]?\s*:|^\s*\[terra\]"
)
_CONTEXT = re.compile(CONTEXT_PATTERN)
_DOTENV_CONTEXT = re.compile(r"(?i)terra")
_ENV_NAMES = frozenset(_ENV_WORDS.split("|"))
_ENV_IN_WORDS = re.compile(rf"(?i)(?:^|[^a-z])({_ENV_WORDS})(?:$|[^a-z])")
#: names that hold something about a key rather than the key itself
NOT_A_SECRET_NAME_PATTERN = (
    r"(?i)(?:fingerprint|hash|digest|checksum|integrity|cache|public)"  # noqa: S105
    r"|(?:sha\d*|path|file|url|uri|name|length|len|header|var|env|field|param|prefix|ref|id)$"
)
_NOT_A_SECRET_NAME = re.compile(NOT_A_SECRET_NAME_PATTERN)
PLACEHOLDER_WORDS = (
    "xxxx",
    "...",
    "\u2026",
    "***",
    "your",
    "example",
    "placeholder",
    "changeme",
    "change-me",
    "change_me",
    "dummy",
    "fake",
    "redacted",
    "sample",
    "replace",
    "insert",
    "todo",
    "<",
    ">",
    "${",
    "{{",
    "$(",
)
_CAMEL_CASE_WORDS = re.compile(r"^[a-z]+(?:[A-Z][a-z]+)+$|^(?:[A-Z][a-z]+){2,}$")
_CODE_SUFFIXES = frozenset(
    f".{suffix}"
    for suffix in [
        "py",
        "pyi",
        "js",
        "jsx",
        "mjs",
        "cjs",
        "ts",
        "tsx",
        "swift",
        "kt",
        "kts",
        "java",
        "go",
        "rb",
        "rs",
        "php",
        "cs",
        "scala",
        "dart",
        "c",
        "h",
        "cc",
        "cpp",
        "m",
        "mm",
        "lua",
        "ex",
        "exs",
    ]
)
_COMMENT_OR_STRING = re.compile(r"""["'`#]|//|^\s*\*""")


@dataclass(frozen=True, slots=True)
class RuleMatch:
    """A rule that fired on one line. ``value`` is the raw secret: never print it."""

    rule: Rule
    line: int
    column: int
    value: str = field(repr=False)
    kind: str
    confidence: str
    environment: Environment | None = None
    name: str | None = None


def shannon_entropy(value: str) -> float:
    """Bits per character of ``value``.

    >>> round(shannon_entropy("aaaa"), 2), round(shannon_entropy("abcd"), 2)
    (0.0, 2.0)
    """
    if not value:
        return 0.0
    counts = Counter(value)
    size = len(value)
    return max(0.0, -sum(n / size * math.log2(n / size) for n in counts.values()))


def is_placeholder(value: str) -> bool:
    """Whether ``value`` is documentation, a template or a dummy rather than a credential.

    >>> is_placeholder("<YOUR_API_KEY>"), is_placeholder("your-api-key"), is_placeholder("xxxx")
    (True, True, True)
    """
    lowered = value.lower()
    if any(word in lowered for word in PLACEHOLDER_WORDS):
        return True
    if lowered.count("x") * 3 >= len(lowered):  # sk_xxx_xxx, XXXX-XXXX-1234
        return True
    # one repeated character, or a run like 0123456789 / abcdefgh
    if len(set(lowered)) <= 2:
        return True
    return lowered in "0123456789abcdefghijklmnopqrstuvwxyz" or lowered in "1234567890"


def environment_from_words(text: str) -> Environment | None:
    """The environment named by a word in ``text`` (``TERRA_API_KEY_STAGING`` -> staging)."""
    found = _ENV_IN_WORDS.search(text)
    return Environment.parse(found.group(1)) if found else None


def _looks_random(value: str, min_entropy: float) -> bool:
    has_letter = any(c.isalpha() for c in value)
    has_digit = any(c.isdigit() for c in value)
    return has_letter and has_digit and shannon_entropy(value) >= min_entropy


def _bump(confidence: str) -> str:
    return CONFIDENCES[min(CONFIDENCES.index(confidence) + 1, len(CONFIDENCES) - 1)]


def _basename(path: str) -> str:
    return posixpath.basename(path.replace("\\", "/"))


def _file_environment(path: str) -> Environment | None:
    """The environment a config file is named for: ``.env.terra.staging``, ``production.yaml``."""
    for part in re.split(r"[._-]", _basename(path).lower()):
        if part in _ENV_NAMES:
            return Environment.parse(part)
    return None


def _is_dotenv(path: str) -> bool:
    name = _basename(path).lower()
    return name.startswith(".env") or name.endswith(".env")


def _is_code(path: str) -> bool:
    """Whether ``path`` names source code (by ``os.path.splitext`` rules: ``.bashrc`` has none)."""
    name = path.rpartition("/")[2].rpartition("\\")[2].lstrip(".")
    dot = name.rfind(".")
    return dot != -1 and name[dot:].lower() in _CODE_SUFFIXES


@dataclass(slots=True)
class _Candidate:
    match: RuleMatch
    weak: bool  # a dev-id that is not shaped: reported only beside a key


def _check(
    rule: Rule, found: re.Match[str], line: str, lineno: int, code: bool
) -> _Candidate | None:
    """Apply the context-free checks to one regex match; None when it is not a finding."""
    value = found.group("secret")
    groups = rule.regex.groupindex
    name = found.group("name") if "name" in groups else None
    quoted = bool(found.group("quote")) if "quote" in groups else True
    if is_placeholder(value):
        return None
    if name and rule.kind != KIND_DEV_ID and _NOT_A_SECRET_NAME.search(name):
        return None
    if not quoted and code and not _COMMENT_OR_STRING.search(line[: found.start()]):
        return None  # an identifier in code (api_key=settings_value), not a literal
    environment: Environment | None = None
    confidence = rule.confidence
    weak = False
    if rule.kind == KIND_DEV_ID:
        shaped = _DEV_ID_SHAPE.match(value)
        if rule.id == "terra-dev-id-shape":
            suffix = value.rsplit("-", 1)[1]
            mixed = any(c.isupper() for c in suffix) and any(c.islower() for c in suffix)
            if not mixed or _CAMEL_CASE_WORDS.match(suffix):  # --vscode-testing-iconPassed
                return None
        if shaped:
            environment = Environment.parse(shaped.group("env"))
        elif _looks_random(value, rule.min_entropy):
            weak, confidence = True, "low"
        else:
            return None
        if environment is None and name:
            environment = environment_from_words(name)
    elif rule.kind in (KIND_ADMIN_TOKEN, KIND_DATA_TOKEN):
        if shannon_entropy(value[9:]) < rule.min_entropy:
            return None
    else:
        if not _looks_random(value, rule.min_entropy):
            return None
        if name:
            environment = environment_from_words(name)
    return _Candidate(
        RuleMatch(
            rule=rule,
            line=lineno,
            column=found.start("secret") + 1,
            value=value,
            kind=rule.kind,
            confidence=confidence,
            environment=environment,
            name=name,
        ),
        weak=weak,
    )


def scan_text(text: str, path: str = "") -> list[RuleMatch]:
    """Every Terra credential in ``text``; ``path`` (for file-type logic) may be empty.

    >>> scan_text("TERRA_API_KEY=${TERRA_API_KEY}  # placeholders are not findings")
    []
    """
    candidates: list[_Candidate] = []
    code: bool | None = None
    for rule, start, line in _lines_to_check(text):
        if code is None:
            code = _is_code(path)
        for found in rule.regex.finditer(line):
            lineno = text.count("\n", 0, start) + 1
            candidate = _check(rule, found, line, lineno, code)
            if candidate is not None:
                candidates.append(candidate)
    if not candidates:
        return []
    lines = [line.rstrip("\r") for line in text.split("\n")]
    dotenv = _is_dotenv(path)
    candidates = _dedupe(candidates)
    dev_id_lines = [c.match.line for c in candidates if c.match.kind == KIND_DEV_ID]
    file_has_context = dotenv and bool(_DOTENV_CONTEXT.search(text))
    kept = [
        c
        for c in candidates
        if not c.match.rule.needs_context
        or file_has_context
        or _near_context(lines, c.match.line, dev_id_lines)
    ]
    has_key = any(c.match.kind in (KIND_API_KEY, KIND_SIGNING_SECRET) for c in kept)
    kept = [c for c in kept if not c.weak or has_key]
    has_dev_id = any(c.match.kind == KIND_DEV_ID for c in kept)
    file_env = _file_environment(path) if path and not code else None
    results: list[RuleMatch] = []
    for c in kept:
        m = c.match
        confidence = m.confidence
        if has_key and has_dev_id and m.kind in (KIND_DEV_ID, KIND_API_KEY, KIND_SIGNING_SECRET):
            confidence = _bump(confidence)
        environment = m.environment or _nearest_dev_id_env(kept, m.line) or file_env
        results.append(replace(m, confidence=confidence, environment=environment))
    return results


_ASCII_LOWER = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}
#: what finds candidate lines in the lowered text: substrings (``str.find``, the fastest here)
#: and two regexes starting with a literal, where a substring alone stops on common words
#: (``device``) or needs three passes (``-testing-``, ``-staging-``, ``-prod``)
_FINDERS: tuple[str | re.Pattern[str], ...] = (
    "terra",
    "api",
    "secret",
    re.compile(r"dev[_.-]?id"),
    re.compile(r"-(?:testing|staging|prod)"),
)


def _finds(finder: str | re.Pattern[str], keyword: str) -> bool:
    return finder in keyword if isinstance(finder, str) else bool(finder.search(keyword))


#: each finder with the keywords (of any rule) it finds; every keyword has one
_FINDER_KEYWORDS = tuple(
    (finder, tuple(sorted({k for r in RULES for k in r.keywords if _finds(finder, k)})))
    for finder in _FINDERS
)
if {k for r in RULES for k in r.keywords} - {k for _, ks in _FINDER_KEYWORDS for k in ks}:
    raise AssertionError("every rule keyword must be found by one of _FINDERS")  # pragma: no cover


#: every keyword and "also" word, in a fixed order: a line's words decide which rules run on it
_WORDS = tuple(sorted({w for r in RULES for w in (*r.keywords, *r.also)}))
_RULES_FOR_WORDS: dict[tuple[str, ...], tuple[int, ...]] = {}


def _rules_for(words: tuple[str, ...]) -> tuple[int, ...]:
    """The indexes of the rules to run on a line holding exactly ``words`` (cached)."""
    found = _RULES_FOR_WORDS.get(words)
    if found is None:
        present = set(words)
        found = tuple(
            index
            for index, rule in enumerate(RULES)
            if not present.isdisjoint(rule.keywords)
            and (not rule.also or not present.isdisjoint(rule.also))
        )
        if len(_RULES_FOR_WORDS) < 4096:  # bounded: at most one entry per word combination
            _RULES_FOR_WORDS[words] = found
    return found


def lowered(text: str) -> str:
    """``text`` in lower case, offsets unchanged (ASCII-only lowering when lower() resizes)."""
    low = text.lower()
    if len(low) != len(text):  # a few non-ASCII characters change length when lowered
        low = text.translate(_ASCII_LOWER)
    return low


def keyword_lines(low: str) -> list[int]:
    """The start offsets (ascending) of the lines of ``low`` holding any rule's keyword.

    One pass per finder over the whole text; a line is checked for that finder's keywords only
    when the finder hits it, and the search goes on after the line.

    >>> keyword_lines("a = 1\\nTERRA_DEV_ID = 2\\nb = 3\\nsecret".lower())
    [6, 29]
    """
    starts: set[int] = set()
    size = len(low)
    for finder, keywords in _FINDER_KEYWORDS:
        if isinstance(finder, str):
            pos = low.find(finder)
            while pos != -1:
                start = low.rfind("\n", 0, pos) + 1
                end = low.find("\n", pos)
                if end == -1:
                    end = size
                if start not in starts and any(k in low[start:end] for k in keywords):
                    starts.add(start)
                pos = low.find(finder, end)
        else:
            found = finder.search(low)
            while found is not None:
                pos = found.start()
                start = low.rfind("\n", 0, pos) + 1
                end = low.find("\n", pos)
                if end == -1:
                    end = size
                if start not in starts and any(k in low[start:end] for k in keywords):
                    starts.add(start)
                found = finder.search(low, end)
    return sorted(starts)


def _lines_to_check(text: str) -> Iterator[tuple[Rule, int, str]]:
    """``(rule, offset, line)`` for each line holding one of the rule's keywords, rule by rule.

    Candidate lines are found once for all rules (:func:`keyword_lines`); only those lines are
    split out, and the words on each decide which rules run on it. Lines end at ``\\n`` (as
    git and editors count them); a trailing ``\\r`` is dropped.
    """
    low = lowered(text)
    starts = keyword_lines(low)
    if not starts:
        return
    size = len(text)
    runs: list[tuple[int, int, int, str]] = []
    for order, start in enumerate(starts):
        end = low.find("\n", start)
        if end == -1:
            end = size
        low_line = low[start:end]
        indexes = _rules_for(tuple([w for w in _WORDS if w in low_line]))
        if indexes:
            line = text[start:end].rstrip("\r")
            runs.extend((index, order, start, line) for index in indexes)
    runs.sort()
    for index, _, start, line in runs:
        yield RULES[index], start, line


def _dedupe(candidates: list[_Candidate]) -> list[_Candidate]:
    """One match per (line, value): the earliest, most specific rule wins."""
    best: dict[tuple[int, str], _Candidate] = {}
    for c in candidates:
        key = (c.match.line, c.match.value)
        current = best.get(key)
        if current is None or _RULE_ORDER[c.match.rule.id] < _RULE_ORDER[current.match.rule.id]:
            best[key] = c
    return sorted(best.values(), key=lambda c: (c.match.line, c.match.column))


def _near_context(lines: list[str], lineno: int, dev_id_lines: list[int]) -> bool:
    if any(abs(lineno - other) <= CONTEXT_LINES for other in dev_id_lines):
        return True
    start = max(0, lineno - 1 - CONTEXT_LINES)
    stop = min(len(lines), lineno + CONTEXT_LINES)
    return any(_CONTEXT.search(lines[i]) for i in range(start, stop))


def _nearest_dev_id_env(kept: list[_Candidate], lineno: int) -> Environment | None:
    envs = [
        (abs(c.match.line - lineno), c.match.environment)
        for c in kept
        if c.match.kind == KIND_DEV_ID and c.match.environment is not None
    ]
    near = [e for distance, e in sorted(envs, key=lambda t: t[0]) if distance <= CONTEXT_LINES]
    if near:
        return near[0]
    distinct = {e for _, e in envs}
    return distinct.pop() if len(distinct) == 1 else None
