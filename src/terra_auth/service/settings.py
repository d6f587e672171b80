"""Service configuration, read from ``TERRA_SERVICE_*`` variables and ``DATABASE_URL``.

Service settings are kept apart from Terra credentials: this module never reads a dev-id, API
key or signing secret (those come from :mod:`terra_auth.environments`). The only secrets here
are the service's own keys (reference-id key, demo cookie key), held as :class:`Secret`.

Example:
    >>> s = ServiceSettings.from_env({"TERRA_SERVICE_ENVIRONMENTS": "testing,staging"})
    >>> [e.value for e in s.environments]
    ['testing', 'staging']
    >>> s.success_url
    'http://127.0.0.1:8000/terra/connected'
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit

from terra_auth.environments import Environment
from terra_auth.errors import ConfigurationError
from terra_auth.secret import Secret

__all__ = ["DEFAULT_DATABASE_URL", "ServiceSettings"]

DEFAULT_DATABASE_URL = "sqlite:///terra-auth.db"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
_IMPORT_PATH = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")

#: variable name -> what it sets (documented in docs/service.md)
VARIABLES: dict[str, str] = {
    "DATABASE_URL": "SQLAlchemy URL of the store (default sqlite:///terra-auth.db)",
    "TERRA_SERVICE_ENVIRONMENTS": "environments served, comma-separated; the first one creates "
    "sessions and tokens (default: TERRA_ENV, else testing)",
    "TERRA_SERVICE_PUBLIC_URL": "the service's own base URL, used for the landing pages",
    "TERRA_SERVICE_SUCCESS_URL": "redirect after a successful widget login (default: "
    "<public url>/terra/connected)",
    "TERRA_SERVICE_FAILURE_URL": "redirect after a failed widget login (default: "
    "<public url>/terra/failed)",
    "TERRA_SERVICE_REFERENCE_KEY": "server key: when set, reference ids are an HMAC of the user id",
    "TERRA_SERVICE_WEBHOOK_MAX_BYTES": "largest webhook body accepted (default 10485760)",
    "TERRA_SERVICE_WEBHOOK_TOLERANCE": "seconds a webhook signature stays valid (default 300)",
    "TERRA_SERVICE_MOBILE_TOKEN_LIMIT": "mobile tokens per user per window (default 5)",
    "TERRA_SERVICE_MOBILE_TOKEN_WINDOW": "the rate-limit window in seconds (default 60)",
    "TERRA_SERVICE_CURRENT_USER": "module:function returning the current user id (for serve)",
    "TERRA_SERVICE_AUTO_MIGRATE": "1 (default) upgrades the database schema at startup; 0 "
    "leaves it to `terra-auth db upgrade`",
    "TERRA_SERVICE_DEMO": "1 enables the demo login (refused with production)",
    "TERRA_SERVICE_SESSION_KEY": "signing key of the demo login cookie (random if unset)",
}


@dataclass(frozen=True, slots=True)
class ServiceSettings:
    """Everything the service needs besides Terra credentials. Immutable; no secret shown."""

    environments: tuple[Environment, ...] = (Environment.TESTING,)
    database_url: str = field(default=DEFAULT_DATABASE_URL, repr=False)  # may hold a password
    public_url: str = "http://127.0.0.1:8000"
    success_url: str | None = None
    failure_url: str | None = None
    reference_key: Secret | None = None
    webhook_max_bytes: int = 10 * 1024 * 1024
    webhook_tolerance: int = 300
    mobile_token_limit: int = 5
    mobile_token_window: float = 60.0
    current_user: str | None = None
    auto_migrate: bool = True
    demo: bool = False
    session_key: Secret | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not self.environments:
            raise ConfigurationError(
                "no Terra environment is served",
                hint="set TERRA_SERVICE_ENVIRONMENTS, e.g. TERRA_SERVICE_ENVIRONMENTS=testing",
            )
        object.__setattr__(
            self, "environments", tuple(Environment.parse(e) for e in self.environments)
        )
        object.__setattr__(self, "public_url", self.public_url.rstrip("/"))
        _check_url("TERRA_SERVICE_PUBLIC_URL", self.public_url)
        if self.success_url is None:
            object.__setattr__(self, "success_url", f"{self.public_url}/terra/connected")
        if self.failure_url is None:
            object.__setattr__(self, "failure_url", f"{self.public_url}/terra/failed")
        _check_url("TERRA_SERVICE_SUCCESS_URL", str(self.success_url))
        _check_url("TERRA_SERVICE_FAILURE_URL", str(self.failure_url))
        for name, value in (
            ("TERRA_SERVICE_WEBHOOK_MAX_BYTES", self.webhook_max_bytes),
            ("TERRA_SERVICE_WEBHOOK_TOLERANCE", self.webhook_tolerance),
            ("TERRA_SERVICE_MOBILE_TOKEN_LIMIT", self.mobile_token_limit),
            ("TERRA_SERVICE_MOBILE_TOKEN_WINDOW", self.mobile_token_window),
        ):
            if value <= 0:
                raise ConfigurationError(
                    f"{name} must be positive (got {value})", hint=f"set {name} to a number > 0"
                )
        if self.current_user is not None and not _IMPORT_PATH.match(self.current_user):
            raise ConfigurationError(
                f"TERRA_SERVICE_CURRENT_USER is not an import path: {self.current_user!r}",
                hint="write it as package.module:function, e.g. myapp.auth:current_user",
            )
        if self.demo and Environment.PRODUCTION in self.environments:
            raise ConfigurationError(
                "the demo login cannot be enabled while the production environment is served",
                hint="unset TERRA_SERVICE_DEMO, or serve only testing/staging",
                guard="demo_login_production",
            )

    @property
    def primary_environment(self) -> Environment:
        """The environment that creates widget sessions and mobile tokens (the first served)."""
        return self.environments[0]

    def with_overrides(self, **changes: object) -> ServiceSettings:
        """A copy with some fields changed (validated again).

        >>> ServiceSettings().with_overrides(demo=True).demo
        True
        """
        return replace(self, **changes)  # type: ignore[arg-type]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ServiceSettings:
        """Read the service variables (see ``VARIABLES``) from ``environ`` or ``os.environ``."""
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            value = env.get(name)
            return value.strip() if value is not None and value.strip() else None

        names = get("TERRA_SERVICE_ENVIRONMENTS") or get("TERRA_ENV") or "testing"
        environments = tuple(Environment.parse(part) for part in names.split(",") if part.strip())
        reference_key = get("TERRA_SERVICE_REFERENCE_KEY")
        session_key = get("TERRA_SERVICE_SESSION_KEY")
        return cls(
            environments=environments,
            database_url=get("DATABASE_URL") or DEFAULT_DATABASE_URL,
            public_url=get("TERRA_SERVICE_PUBLIC_URL") or "http://127.0.0.1:8000",
            success_url=get("TERRA_SERVICE_SUCCESS_URL"),
            failure_url=get("TERRA_SERVICE_FAILURE_URL"),
            reference_key=Secret(reference_key) if reference_key else None,
            webhook_max_bytes=_int(env, "TERRA_SERVICE_WEBHOOK_MAX_BYTES", 10 * 1024 * 1024),
            webhook_tolerance=_int(env, "TERRA_SERVICE_WEBHOOK_TOLERANCE", 300),
            mobile_token_limit=_int(env, "TERRA_SERVICE_MOBILE_TOKEN_LIMIT", 5),
            mobile_token_window=float(_int(env, "TERRA_SERVICE_MOBILE_TOKEN_WINDOW", 60)),
            current_user=get("TERRA_SERVICE_CURRENT_USER"),
            auto_migrate=_bool(env, "TERRA_SERVICE_AUTO_MIGRATE", default=True),
            demo=_bool(env, "TERRA_SERVICE_DEMO"),
            session_key=Secret(session_key) if session_key else None,
        )


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        return int(raw.replace("_", ""))
    except ValueError:
        raise ConfigurationError(
            f"{name} must be a whole number (got {raw[:20]!r})",
            hint=f"set {name} to e.g. {default}",
        ) from None


def _bool(env: Mapping[str, str], name: str, *, default: bool = False) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ConfigurationError(
        f"{name} must be true or false (got {raw[:20]!r})", hint=f"set {name}=1 or {name}=0"
    )


def _check_url(name: str, url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme in ("http", "https") and parts.netloc:
        return
    raise ConfigurationError(
        f"{name} is not an absolute URL: {url[:80]!r}",
        hint=f"set {name} to a full URL such as https://app.example.com/terra/connected",
    )
