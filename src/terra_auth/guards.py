"""Guards: refuse credential mix-ups with a clear error, unless explicitly opted out.

Every guard raises :class:`~terra_auth.errors.ConfigurationError` with ``guard=<name>`` and a
``hint``. A guard with an opt-out is skipped when its keyword argument is true (e.g.
``load_credentials("staging", allow_dev_id_mismatch=True)``) or its variable is set to
``1``/``true``/``yes``/``on`` in the process environment (``TERRA_ALLOW_DEV_ID_MISMATCH=1``).
Messages name variables, environments and files, never values.

Example:
    >>> try:
    ...     check_dev_id("acme-prod-1234", "testing", origin="env", opt_outs=OptOuts())
    ... except ConfigurationError as exc:
    ...     print(exc.guard, "|", exc)
    dev_id_environment | TERRA_DEV_ID for 'testing' (env) names the 'production' environment
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields

from terra_auth.errors import ConfigurationError

__all__ = [
    "GUARDS",
    "Guard",
    "OptOuts",
    "check_dev_id",
    "check_production_mismatch",
    "check_shared_credentials",
    "check_value",
    "environment_words",
    "missing_variable",
    "parse_flag",
]


@dataclass(frozen=True, slots=True)
class Guard:
    """A guard's name, its opt-out keyword and variable (``None``: cannot be turned off)."""

    name: str
    keyword: str | None
    variable: str | None
    description: str


GUARDS: dict[str, Guard] = {
    g.name: g
    for g in (
        Guard(
            "dev_id_environment",
            "allow_dev_id_mismatch",
            "TERRA_ALLOW_DEV_ID_MISMATCH",
            "the dev-id names another environment than the one loaded",
        ),
        Guard(
            "shared_credentials",
            "allow_shared_credentials",
            "TERRA_ALLOW_SHARED_CREDENTIALS",
            "the same API key or signing secret appears in two environments",
        ),
        Guard(
            "production_mismatch",
            "allow_production_mismatch",
            "TERRA_ALLOW_PRODUCTION_MISMATCH",
            "production credentials loaded in a process whose TERRA_ENV is another environment",
        ),
        Guard(
            "placeholder_value",
            "allow_placeholders",
            "TERRA_ALLOW_PLACEHOLDERS",
            "a value is a placeholder (<YOUR_API_KEY>, changeme, xxx..., your_api_key, ...)",
        ),
        Guard(
            "malformed_value",
            "allow_malformed_values",
            "TERRA_ALLOW_MALFORMED_VALUES",
            "a value has surrounding whitespace, quotes left in, or control characters",
        ),
        Guard(
            "missing_variable",
            None,
            None,
            "a required variable (TERRA_DEV_ID, TERRA_API_KEY) is missing or empty",
        ),
        Guard(
            "invalid_value",
            None,
            None,
            "a setting cannot be read (a URL, timeout, boolean or date)",
        ),
    )
}

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


def parse_flag(name: str, raw: str) -> bool:
    """Read a boolean variable (``1/true/yes/on``, ``0/false/no/off`` or empty).

    >>> parse_flag("TERRA_ALLOW_PLACEHOLDERS", "Yes")
    True
    """
    word = raw.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ConfigurationError(
        f"{name} is not a boolean",
        hint=f"set {name} to 1, true, yes or on (or 0, false, no, off)",
        guard="invalid_value",
    )


@dataclass(frozen=True, slots=True)
class OptOuts:
    """Which guards are turned off. Build it with :meth:`resolve`.

    >>> OptOuts.resolve({"TERRA_ALLOW_PLACEHOLDERS": "1"}).allow_placeholders
    True
    """

    allow_dev_id_mismatch: bool = False
    allow_shared_credentials: bool = False
    allow_production_mismatch: bool = False
    allow_placeholders: bool = False
    allow_malformed_values: bool = False

    @classmethod
    def resolve(cls, environ: Mapping[str, str], **keywords: bool) -> OptOuts:
        """Keyword arguments that are true win; otherwise the ``TERRA_ALLOW_*`` variables."""
        values: dict[str, bool] = {}
        by_keyword = {g.keyword: g for g in GUARDS.values() if g.keyword}
        for item in fields(cls):
            guard = by_keyword[item.name]
            assert guard.variable is not None
            from_env = parse_flag(guard.variable, environ.get(guard.variable, ""))
            values[item.name] = bool(keywords.get(item.name)) or from_env
        unknown = set(keywords) - set(values)
        if unknown:
            raise TypeError(f"unknown opt-out(s): {', '.join(sorted(unknown))}")
        return cls(**values)


def _opt_out_hint(guard: str) -> str:
    g = GUARDS[guard]
    return f"if this is intended, pass {g.keyword}=True or set {g.variable}=1"


# --- placeholders and malformed values -------------------------------------------------------

_PLACEHOLDER_WORDS = {
    "changeme",
    "change-me",
    "change_me",
    "replaceme",
    "replace-me",
    "replace_me",
    "placeholder",
    "todo",
    "tbd",
    "secret",
    "none",
    "null",
    "undefined",
    "example",
    "dummy",
    "your_api_key",
    "your-api-key",
    "your_dev_id",
    "your-dev-id",
    "your_webhook_secret",
    "api_key",
    "dev_id",
}
_PLACEHOLDER_PATTERNS = (
    re.compile(r"<[^<>]*>"),  # <YOUR_API_KEY>
    re.compile(r"\$\{[^}]*\}|^\$[A-Za-z_][A-Za-z0-9_]*$"),  # ${TERRA_API_KEY}: not expanded
    re.compile(r"^xxx|^[x_.*-]{3,}$", re.IGNORECASE),  # xxx..., XXXX-XXXX
    re.compile(r"\.\.\.|\u2026"),  # ... or an ellipsis
    re.compile(r"(?i)(your|my)[-_ ]?(api[-_ ]?key|dev[-_ ]?id|secret|key|token)"),
    re.compile(r"(?i)(insert|put|paste|enter)[-_ ].*(here|key|secret|id)"),
)


def _placeholder_reason(value: str) -> str | None:
    word = value.strip().strip("'\"").lower()
    if word in _PLACEHOLDER_WORDS:
        return "a placeholder word"
    if re.fullmatch(r"(.)\1{3,}", word):
        return "one repeated character"
    for pattern in _PLACEHOLDER_PATTERNS:
        if pattern.search(value):
            return "a placeholder pattern (like <...>, xxx, ..., your_api_key or ${VAR})"
    return None


def _malformed_reason(value: str) -> str | None:
    if value != value.strip():
        return "it has leading or trailing whitespace"
    if value[:1] in {"'", '"', "`"} or value[-1:] in {"'", '"', "`"}:
        return "it still has quote characters around it"
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in value):
        return "it contains whitespace or control characters"
    return None


def check_value(
    variable: str, value: str, environment: str, *, origin: str, opt_outs: OptOuts
) -> None:
    """Refuse a malformed or placeholder credential value (the message never shows it).

    >>> try:
    ...     check_value("TERRA_API_KEY", "changeme", "staging", origin="env", opt_outs=OptOuts())
    ... except ConfigurationError as exc:
    ...     print(exc.guard)
    placeholder_value
    """
    where = f"{variable} for {environment!r} ({origin})"
    malformed = _malformed_reason(value)
    if malformed and not opt_outs.allow_malformed_values:
        raise ConfigurationError(
            f"{where} is malformed: {malformed}",
            hint="copy the value again from Terra's dashboard without spaces or quotes; "
            + _opt_out_hint("malformed_value"),
            guard="malformed_value",
        )
    placeholder = _placeholder_reason(value)
    if placeholder and not opt_outs.allow_placeholders:
        raise ConfigurationError(
            f"{where} is {placeholder}, not a real value",
            hint="put the real value from Terra's dashboard there "
            f"(or run `terra-auth setup-environment {environment}`); "
            + _opt_out_hint("placeholder_value"),
            guard="placeholder_value",
        )


# --- dev-id naming another environment --------------------------------------------------------

_ENVIRONMENT_WORDS = {
    "test": "testing",
    "testing": "testing",
    "stage": "staging",
    "staging": "staging",
    "stg": "staging",
    "prod": "production",
    "production": "production",
    "prd": "production",
    "live": "production",
}


def environment_words(dev_id: str) -> set[str]:
    """The environments a dev-id's words name (``acme-prod-x1`` -> ``{"production"}``).

    >>> sorted(environment_words("acme_Testing.42"))
    ['testing']
    """
    words = re.split(r"[^a-z0-9]+", dev_id.lower())
    return {_ENVIRONMENT_WORDS[w] for w in words if w in _ENVIRONMENT_WORDS}


def check_dev_id(dev_id: str, environment: str, *, origin: str, opt_outs: OptOuts) -> None:
    """Refuse a dev-id that names only other environments than ``environment``."""
    named = environment_words(dev_id)
    if not named or environment in named or opt_outs.allow_dev_id_mismatch:
        return
    others = ", ".join(repr(n) for n in sorted(named))
    raise ConfigurationError(
        f"TERRA_DEV_ID for {environment!r} ({origin}) names the {others} environment",
        hint=f"use the dev-id of the {environment} environment from Terra's dashboard, or load "
        f"the environment the dev-id belongs to; {_opt_out_hint('dev_id_environment')}",
        guard="dev_id_environment",
    )


# --- production in a process declared as something else ----------------------------------------


def check_production_mismatch(environment: str, declared: str | None, opt_outs: OptOuts) -> None:
    """Refuse production credentials when ``TERRA_ENV`` declares another environment."""
    if environment != "production" or declared in (None, "production"):
        return
    if opt_outs.allow_production_mismatch:
        return
    raise ConfigurationError(
        f"production credentials requested in a process whose TERRA_ENV is {declared!r}",
        hint="set TERRA_ENV=production for production processes, or load "
        f"{declared!r} credentials; {_opt_out_hint('production_mismatch')}",
        guard="production_mismatch",
    )


# --- the same key or secret in two environments ------------------------------------------------


def check_shared_credentials(
    secrets_by_environment: Mapping[str, Sequence[tuple[str, object]]], opt_outs: OptOuts
) -> None:
    """Refuse one secret used by two environments.

    ``secrets_by_environment`` maps an environment to ``(label, secret)`` pairs, where
    ``secret`` compares by value (a :class:`~terra_auth.secret.Secret`).
    """
    if opt_outs.allow_shared_credentials:
        return
    seen: list[tuple[str, str, object]] = []
    for environment, items in secrets_by_environment.items():
        for label, secret in items:
            for other_env, other_label, other in seen:
                if other_env != environment and other == secret:
                    raise ConfigurationError(
                        f"the {other_label} of {other_env!r} is also the {label} of "
                        f"{environment!r}",
                        hint="each Terra environment has its own API key and signing secret: "
                        "copy the right one from Terra's dashboard; "
                        + _opt_out_hint("shared_credentials"),
                        guard="shared_credentials",
                    )
            seen.append((environment, label, secret))


# --- missing variables -------------------------------------------------------------------------


def missing_variable(
    variable: str, environment: str, consulted: Sequence[str], *, empty_in: str | None = None
) -> ConfigurationError:
    """The error for a missing (or empty) required variable, naming every place consulted."""
    names = variable.split(" and ")
    suffixed = " and ".join(f"{n}_{environment.upper()}" for n in names)
    verb = "are" if len(names) > 1 else "is"
    if empty_in:
        message = f"{variable} for {environment!r} {verb} empty ({empty_in})"
    else:
        message = f"{variable} {verb} missing for {environment!r}; looked in: " + "; ".join(
            consulted
        )
    return ConfigurationError(
        message,
        hint=f"run `terra-auth setup-environment {environment}`, or set {suffixed} "
        f"in the environment or {variable} in .env.terra.{environment}",
        guard="missing_variable",
    )
