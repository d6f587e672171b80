"""Typed models for what Terra's auth endpoints answer.

Every model tolerates extra fields (Terra adds fields over time) and is frozen. Tokens are hidden
from ``repr`` so a logged model never shows one.

Example:
    >>> s = WidgetSession.from_wire({"url": "https://w/s/1", "session_id": "1", "expires_in": 900})
    >>> s.expires_in, s.expires_at > s.received_at
    (900, True)
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "AuthLink",
    "CheckResult",
    "Integration",
    "MobileToken",
    "StreamingToken",
    "TerraUser",
    "WidgetSession",
]


def _now() -> datetime:
    return datetime.now(UTC)


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)


class WidgetSession(_Model):
    """A hosted-widget session: open ``url`` in the user's browser before ``expires_at``."""

    url: str
    session_id: str
    expires_in: int = 900
    received_at: datetime = Field(default_factory=_now)
    expires_at: datetime

    @classmethod
    def from_wire(
        cls, data: dict[str, Any], *, received_at: datetime | None = None
    ) -> WidgetSession:
        """Build from Terra's JSON; ``expires_at`` is computed from ``expires_in`` at receipt."""
        at = received_at or _now()
        expires_in = int(data.get("expires_in") or 900)
        fields = {**data, "expires_in": expires_in}
        return cls(**fields, received_at=at, expires_at=at + timedelta(seconds=expires_in))


class MobileToken(_Model):
    """A single-use mobile-SDK token (180 s). ``token`` is hidden from ``repr``."""

    token: str = Field(repr=False)
    expires_in: int = 180
    reference_id: str | None = None
    received_at: datetime = Field(default_factory=_now)
    expires_at: datetime

    @classmethod
    def from_wire(cls, data: dict[str, Any], *, reference_id: str | None = None) -> MobileToken:
        """Build from Terra's JSON, remembering the ``reference_id`` the token was bound to."""
        at = _now()
        expires_in = int(data.get("expires_in") or 180)
        fields = {**data, "expires_in": expires_in}
        fields.setdefault("reference_id", reference_id)
        return cls(**fields, received_at=at, expires_at=at + timedelta(seconds=expires_in))


class AuthLink(_Model):
    """A provider login link for one user (``authenticate_user``)."""

    user_id: str
    auth_url: str


class Integration(_Model):
    """A provider Terra offers. The basic list only knows ``provider`` and ``sdk_only``."""

    provider: str
    name: str | None = None
    icon: str | None = None
    setup: str | None = None
    enabled: bool | None = None
    sdk_only: bool = False
    types: dict[str, Any] | None = None


class TerraUser(_Model):
    """One user-provider connection on Terra's side. ``scopes`` is Terra's comma-separated text."""

    user_id: str
    provider: str
    reference_id: str | None = None
    scopes: str | None = None
    active: bool | None = None
    created_at: datetime | None = None
    last_webhook_update: datetime | None = None

    @field_validator("scopes", mode="before")
    @classmethod
    def _scopes_as_text(cls, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return ",".join(str(v) for v in value)
        return value

    @field_validator("created_at", "last_webhook_update", mode="before")
    @classmethod
    def _lenient_time(cls, value: Any) -> Any:
        """A timestamp Terra spells oddly becomes None rather than failing the whole list."""
        if isinstance(value, str):
            try:
                return datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                return None
        return value

    @property
    def scope_set(self) -> frozenset[str]:
        """The scopes as a set (empty when Terra sent none)."""
        return frozenset(s.strip() for s in (self.scopes or "").split(",") if s.strip())


class StreamingToken(_Model):
    """A single-use token for Terra's streaming socket. ``token`` is hidden from ``repr``."""

    token: str = Field(repr=False)
    kind: Literal["user", "developer"]
    user_id: str | None = None


class CheckResult(_Model):
    """The outcome of :meth:`TerraClient.check`; ``problem`` is a short code when not ``ok``.

    Problems: ``bad_credentials``, ``unreachable``, ``tls``, ``timeout``, ``protocol`` (the
    connection broke), ``wrong_base_url``, ``server_error``, ``rate_limited``, ``unexpected``.
    """

    ok: bool
    problem: str | None = None
    message: str
    hint: str | None = None
    environment: str | None = None
    base_url: str | None = None
    key_fingerprint: str | None = None
    status_code: int | None = None
    elapsed_ms: float | None = None
