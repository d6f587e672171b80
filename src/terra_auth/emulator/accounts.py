"""Emulated Terra accounts: one per environment, each with a dev-id, API key and signing secret.

Values are random at start, deterministic with a seed, or fixed by a JSON config file.

Example:
    >>> accounts = make_accounts(seed=1)
    >>> accounts["testing"].dev_id.startswith("emulator-testing-")
    True
    >>> "api_key" in repr(accounts["testing"]) and accounts["testing"].api_key not in repr(
    ...     accounts["testing"])
    True
"""

from __future__ import annotations

import json
import random
import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from terra_auth.environments import Environment
from terra_auth.errors import ConfigurationError
from terra_auth.secret import Secret

__all__ = [
    "CLOUD_PROVIDERS",
    "DEFAULT_ENABLED",
    "SDK_PROVIDERS",
    "Account",
    "load_config",
    "make_accounts",
]

#: Cloud providers the emulator knows (as in ``GET /integrations``).
CLOUD_PROVIDERS: tuple[str, ...] = (
    "FITBIT",
    "GARMIN",
    "OURA",
    "WITHINGS",
    "POLAR",
    "SUUNTO",
    "WAHOO",
    "WHOOP",
    "STRAVA",
    "GOOGLE",
    "COROS",
    "PELOTON",
    "ZWIFT",
    "MAPMYFITNESS",
    "EIGHT",
    "DEXCOM",
)
#: Providers only reachable through the mobile SDKs.
SDK_PROVIDERS: tuple[str, ...] = ("APPLE", "SAMSUNG", "HEALTH_CONNECT")
#: Providers enabled for an account unless configured otherwise.
DEFAULT_ENABLED: tuple[str, ...] = (
    "FITBIT",
    "GARMIN",
    "OURA",
    "WITHINGS",
    "POLAR",
    "WHOOP",
    "STRAVA",
    "SUUNTO",
    "GOOGLE",
    "APPLE",
    "SAMSUNG",
    "HEALTH_CONNECT",
)

_KEY_ALPHABET = string.ascii_letters + string.digits


@dataclass(slots=True)
class Account:
    """One emulated Terra environment of one developer. ``repr`` never shows the secrets."""

    environment: Environment
    dev_id: str
    api_key: str
    webhook_secret: str
    webhook_url: str | None = None
    #: connected-user cap (None = unlimited); testing and staging default to 50
    user_cap: int | None = None
    #: the legacy widget endpoint answers 410, as for accounts created after 2026-09-03
    legacy_widget_gone: bool = False
    #: providers enabled in the (emulated) dashboard
    enabled_providers: tuple[str, ...] = DEFAULT_ENABLED
    #: error style for this account only (None = the emulator's)
    error_style: str | None = None
    #: (secret, valid until unix time) kept after a rotation with overlap: signed with both
    previous_secrets: list[tuple[str, float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        # register the values so terra_auth.secret.mask() hides them in any output
        Secret(self.api_key)
        Secret(self.webhook_secret)

    def __repr__(self) -> str:
        return (
            f"Account(environment={self.environment.value!r}, dev_id={self.dev_id!r}, "
            f"api_key=Secret('**********'), webhook_secret=Secret('**********'))"
        )

    @property
    def api_key_fingerprint(self) -> str:
        """Fingerprint of the API key (safe to print)."""
        return Secret(self.api_key).fingerprint

    @property
    def secret_fingerprint(self) -> str:
        """Fingerprint of the signing secret (safe to print)."""
        return Secret(self.webhook_secret).fingerprint


def _random_values(rng: random.Random | None, env: Environment) -> tuple[str, str, str]:
    if rng is None:
        suffix = secrets.token_hex(3)
        key = "".join(secrets.choice(_KEY_ALPHABET) for _ in range(40))
        secret = secrets.token_hex(32)
    else:
        suffix = f"{rng.getrandbits(24):06x}"
        key = "".join(rng.choice(_KEY_ALPHABET) for _ in range(40))
        secret = f"{rng.getrandbits(256):064x}"
    return f"emulator-{env.value}-{suffix}", key, secret


def make_accounts(
    seed: int | None = None,
    config: Mapping[str, Any] | None = None,
    *,
    user_cap: int = 50,
) -> dict[str, Account]:
    """Three accounts (testing, staging, production), random, seeded or from ``config``.

    ``config`` is the parsed JSON config: ``{"accounts": {"testing": {"dev_id": ...,
    "api_key": ..., "webhook_secret": ..., "webhook_url": ..., "user_cap": ...,
    "legacy_widget_gone": ..., "enabled_providers": [...]}}}``; missing values are generated.
    """
    rng = random.Random(seed) if seed is not None else None
    configured = dict((config or {}).get("accounts") or {})
    unknown = [name for name in configured if name not in {e.value for e in Environment}]
    if unknown:
        raise ConfigurationError(
            f"emulator config names unknown environment(s): {', '.join(map(repr, unknown))}",
            hint="use the keys testing, staging and production under 'accounts'",
        )
    accounts: dict[str, Account] = {}
    for env in Environment:
        dev_id, key, secret = _random_values(rng, env)
        raw = configured.get(env.value) or {}
        if not isinstance(raw, Mapping):
            raise ConfigurationError(
                f"emulator config: accounts.{env.value} must be an object",
                hint='e.g. {"accounts": {"testing": {"dev_id": "emulator-testing-1"}}}',
            )
        cap = raw.get("user_cap", None if env is Environment.PRODUCTION else user_cap)
        providers = raw.get("enabled_providers", DEFAULT_ENABLED)
        unknown_p = [p for p in providers if p not in CLOUD_PROVIDERS + SDK_PROVIDERS]
        if unknown_p:
            raise ConfigurationError(
                f"emulator config: unknown provider(s) {', '.join(unknown_p)}",
                hint=f"known providers: {', '.join(CLOUD_PROVIDERS + SDK_PROVIDERS)}",
            )
        accounts[env.value] = Account(
            environment=env,
            dev_id=str(raw.get("dev_id", dev_id)),
            api_key=str(raw.get("api_key", key)),
            webhook_secret=str(raw.get("webhook_secret", secret)),
            webhook_url=raw.get("webhook_url"),
            user_cap=None if cap is None else int(cap),
            legacy_widget_gone=bool(raw.get("legacy_widget_gone", False)),
            enabled_providers=tuple(providers),
        )
    return accounts


def load_config(path: str | Path) -> dict[str, Any]:
    """Read an emulator JSON config file, with a clear error when it is missing or malformed."""
    file = Path(path)
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigurationError(
            f"emulator config file {str(file)!r} does not exist",
            hint="pass the path of a JSON file, or leave --config out",
        ) from None
    except json.JSONDecodeError as exc:
        raise ConfigurationError(
            f"emulator config file {str(file)!r} is not valid JSON (line {exc.lineno})",
            hint='the file must hold an object such as {"seed": 1, "accounts": {}}',
        ) from None
    if not isinstance(data, dict):
        raise ConfigurationError(
            f"emulator config file {str(file)!r} must hold a JSON object",
            hint='e.g. {"seed": 1, "accounts": {"testing": {}}}',
        )
    return data
