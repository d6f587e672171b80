"""Environment names and hosts, credential loading, guards.

Configuration knows nothing of HTTP: this module reads files and variables, never the network.

Example:
    >>> Environment.parse("prod")
    <Environment.PRODUCTION: 'production'>
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

from terra_auth.errors import ConfigurationError
from terra_auth.secret import Secret

__all__ = [
    "DEFAULT_API_BASE_URL",
    "DEFAULT_STREAMING_URL",
    "DEFAULT_WIDGET_SESSION_URL",
    "Environment",
    "SigningSecret",
    "TerraCredentials",
]

#: Terra's data API v2 on the new host (backward compatible with api.tryterra.co/v2).
DEFAULT_API_BASE_URL = "https://access.tryterra.co/api/v2"
#: The new widget-session endpoint, as Terra's docs give it (the OpenAPI file says
#: /widget/api/session; both are served by the emulator, and the URL is configurable).
DEFAULT_WIDGET_SESSION_URL = "https://access.tryterra.co/api/widget/session"
#: The streaming host's token endpoints (/auth/user?id=, /auth/developer).
DEFAULT_STREAMING_URL = "https://ws.tryterra.co"


class Environment(enum.StrEnum):
    """One of Terra's three environments."""

    TESTING = "testing"
    STAGING = "staging"
    PRODUCTION = "production"

    @classmethod
    def parse(cls, name: str | Environment) -> Environment:
        """Normalise a name or alias (``test``, ``stage``, ``prod``), case-insensitively."""
        if isinstance(name, Environment):
            return name
        key = str(name).strip().lower()
        found = _ALIASES.get(key)
        if found is None:
            valid = ", ".join(e.value for e in cls)
            raise ConfigurationError(
                f"unknown Terra environment {name!r}",
                hint=f"use one of: {valid} (aliases: test, stage, prod)",
            )
        return found

    @property
    def suffix(self) -> str:
        """The suffix of per-environment variables, e.g. ``STAGING`` in ``TERRA_DEV_ID_STAGING``."""
        return self.value.upper()


_ALIASES: dict[str, Environment] = {
    "testing": Environment.TESTING,
    "test": Environment.TESTING,
    "staging": Environment.STAGING,
    "stage": Environment.STAGING,
    "production": Environment.PRODUCTION,
    "prod": Environment.PRODUCTION,
}


@dataclass(frozen=True, slots=True)
class SigningSecret:
    """A webhook signing secret, optionally accepted only until ``not_after`` (rotation)."""

    value: Secret
    not_after: datetime | None = None

    def is_valid_at(self, moment: datetime) -> bool:
        """Whether this secret may still verify a webhook signed at ``moment``."""
        return self.not_after is None or moment <= self.not_after


@dataclass(frozen=True, slots=True)
class TerraCredentials:
    """Everything needed to talk to one Terra environment. Immutable; never shows a secret.

    ``sources`` names the files and variables the values came from (for error messages
    and ``terra-auth environments``), never the values.
    """

    environment: Environment
    dev_id: str
    api_key: Secret
    webhook_secrets: tuple[SigningSecret, ...] = ()
    api_base_url: str = DEFAULT_API_BASE_URL
    widget_session_url: str = DEFAULT_WIDGET_SESSION_URL
    streaming_url: str = DEFAULT_STREAMING_URL
    allowed_redirect_hosts: tuple[str, ...] = ()
    timeout: float = 30.0
    connect_timeout: float = 10.0
    use_legacy_widget: bool = False
    sources: tuple[str, ...] = field(default=(), compare=False)

    @property
    def key_fingerprint(self) -> str:
        """The API key's fingerprint (8 hex digits), safe to print."""
        return self.api_key.fingerprint

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError(
            "TerraCredentials cannot be pickled (they hold secrets); pass the environment "
            "name and call load_credentials() in the other process"
        )
