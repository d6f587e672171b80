"""Typed Terra webhook events, discriminated on ``type`` (and ``status`` for ``auth``).

Connection-lifecycle events get their own model; data events (``activity``, ``sleep``, ...)
become a :class:`DataEvent` and any other type a :class:`GenericEvent`: an unknown type is never
an error. Extra fields are always allowed, and :attr:`TerraEvent.raw` keeps the dict as sent.

Example:
    >>> event = parse_event(b'{"type":"auth_cancelled","status":"error","reference_id":"u1"}')
    >>> type(event).__name__, event.reference_id
    ('AuthCancelledEvent', 'u1')
    >>> parse_event({"type": "something_new", "x": 1}).type
    'something_new'
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Annotated, Any, Literal, TypeAlias

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    TypeAdapter,
    ValidationError,
)
from pydantic_core import from_json

from terra_auth.errors import WebhookVerificationError

__all__ = [
    "DATA_EVENT_TYPES",
    "AccessRevokedEvent",
    "AuthCancelledEvent",
    "AuthSuccessEvent",
    "ConnectionErrorEvent",
    "DataEvent",
    "DeauthEvent",
    "EventUser",
    "GenericEvent",
    "GoogleNoDatasourceEvent",
    "HealthcheckEvent",
    "LargeRequestProcessingEvent",
    "LargeRequestSendingEvent",
    "LegacyAuthErrorEvent",
    "PermissionChangeEvent",
    "S3PayloadEvent",
    "TerraEvent",
    "UserReauthEvent",
    "WebhookEvent",
    "parse_event",
    "split_scopes",
]

#: Types that carry health data; they pass through untouched as :class:`DataEvent`.
DATA_EVENT_TYPES = frozenset(
    {
        "activity",
        "athlete",
        "body",
        "daily",
        "menstruation",
        "nutrition",
        "sleep",
        "planned_workout",
        "hormone",
        "health_observation",
        "lab_report.completed",
        "lab_report.failed",
    }
)


def split_scopes(scopes: str | list[str] | None) -> frozenset[str]:
    """Terra's comma-separated scopes (``""`` and ``None`` mean none) as a set.

    >>> sorted(split_scopes("activity:read, sleep:read,"))
    ['activity:read', 'sleep:read']
    """
    if not scopes:
        return frozenset()
    parts = scopes.split(",") if isinstance(scopes, str) else scopes
    return frozenset(p.strip() for p in parts if isinstance(p, str) and p.strip())


class EventUser(BaseModel):
    """The TerraUser object inside events (``user``, ``new_user``, ``old_user``)."""

    model_config = ConfigDict(extra="allow")

    user_id: str = Field(min_length=1)
    provider: str = Field(min_length=1)
    reference_id: str | None = None
    scopes: str | list[str] | None = None
    active: bool | None = None
    created_at: str | None = None
    last_webhook_update: str | None = None

    @property
    def scope_set(self) -> frozenset[str]:
        """``scopes`` as a set of scope names."""
        return split_scopes(self.scopes)


class TerraEvent(BaseModel):
    """Fields every event shares; ``raw`` is the dict exactly as Terra sent it."""

    model_config = ConfigDict(extra="allow")

    type: str
    status: str | None = None
    _raw: dict[str, Any] | None = PrivateAttr(default=None)

    @property
    def raw(self) -> dict[str, Any]:
        """The event as sent (for data events: the untouched payload); for an event built
        in code rather than parsed, its JSON form."""
        if self._raw is None:
            return self.model_dump(mode="json")
        return self._raw


class AuthSuccessEvent(TerraEvent):
    """``auth`` with status ``success``: a user connected (or reconnected)."""

    type: Literal["auth"]
    status: Literal["success"]
    user: EventUser
    message: str | None = None
    reference_id: str | None = None  # top level in the docs and the 2025 schema
    widget_session_id: str | None = None
    flow_id: str | None = None
    version: str | None = None


class LegacyAuthErrorEvent(TerraEvent):
    """The pre-2026 failed-auth form: ``auth`` with status ``error`` (no connection made)."""

    type: Literal["auth"]
    status: Literal["error"]
    user: EventUser | None = None
    provider: str | None = None
    message: str | None = None
    reason: str | None = None
    reference_id: str | None = None
    widget_session_id: str | None = None


class AuthCancelledEvent(TerraEvent):
    """``auth_cancelled`` (2026): the flow failed or was cancelled; there is no user."""

    type: Literal["auth_cancelled"]
    flow_id: str | None = None
    reason: str | None = None
    reference_id: str | None = None


class _UserEvent(TerraEvent):
    user: EventUser
    message: str | None = None


class DeauthEvent(_UserEvent):
    """``deauth``: the user disconnected (through the API or the widget)."""

    type: Literal["deauth"]


class AccessRevokedEvent(_UserEvent):
    """``access_revoked``: the provider revoked Terra's access."""

    type: Literal["access_revoked"]


class ConnectionErrorEvent(_UserEvent):
    """``connection_error``: the provider refused Terra (401/403/412); ask for a reconnect."""

    type: Literal["connection_error"]


class GoogleNoDatasourceEvent(_UserEvent):
    """``google_no_datasource`` (legacy): a Google Fit user without a data source."""

    type: Literal["google_no_datasource"]


class PermissionChangeEvent(_UserEvent):
    """``permission_change``: ``scopes_added`` / ``scopes_removed`` are CSV (may be ``""``)."""

    type: Literal["permission_change"]
    version: str | None = None
    scopes_added: str | list[str] | None = ""
    scopes_removed: str | list[str] | None = ""

    @property
    def added(self) -> frozenset[str]:
        """The scopes granted by this change."""
        return split_scopes(self.scopes_added)

    @property
    def removed(self) -> frozenset[str]:
        """The scopes withdrawn by this change."""
        return split_scopes(self.scopes_removed)


class UserReauthEvent(TerraEvent):
    """``user_reauth``: ``new_user`` replaces ``old_user`` (which Terra deletes)."""

    type: Literal["user_reauth"]
    new_user: EventUser
    old_user: EventUser | None = None
    message: str | None = None
    version: str | None = None


class HealthcheckEvent(TerraEvent):
    """``healthcheck`` (legacy, informational)."""

    type: Literal["healthcheck"]
    creation_timestamp: str | None = None
    trend_percentage: float | None = None
    sent_webhooks_last_hour: int | None = None


class LargeRequestProcessingEvent(TerraEvent):
    """``large_request_processing``: data for ``reference`` will follow."""

    type: Literal["large_request_processing"]
    user: EventUser | None = None
    reference: str | None = None
    message: str | None = None


class LargeRequestSendingEvent(TerraEvent):
    """``large_request_sending``: ``expected_payloads`` chunks for ``reference`` follow."""

    type: Literal["large_request_sending"]
    user: EventUser | None = None
    reference: str | None = None
    message: str | None = None
    expected_payloads: int | None = None


class S3PayloadEvent(TerraEvent):
    """``s3_payload``: the data is at ``url`` (pre-signed) for ``expires_in`` seconds."""

    type: Literal["s3_payload"]
    url: str
    expires_in: int | None = None


class DataEvent(TerraEvent):
    """A health-data event (``activity``, ``sleep``, ...); use :attr:`raw` for the payload."""

    user: EventUser | None = None
    version: str | None = None


class GenericEvent(TerraEvent):
    """Any other type: kept whole (``raw`` and extra fields), never an error."""


def _tag(value: Any) -> str:
    if isinstance(value, Mapping):
        kind, status = value.get("type"), value.get("status")
    else:
        kind, status = getattr(value, "type", None), getattr(value, "status", None)
    if kind == "auth":
        if status == "success":
            return "auth"
        return "auth_error" if status == "error" else "generic"
    if kind in _TAGGED:
        return str(kind)
    if kind in DATA_EVENT_TYPES:
        return "data"
    return "generic"


_TAGGED = frozenset(
    {
        "auth_cancelled",
        "deauth",
        "access_revoked",
        "connection_error",
        "google_no_datasource",
        "permission_change",
        "user_reauth",
        "healthcheck",
        "large_request_processing",
        "large_request_sending",
        "s3_payload",
    }
)

WebhookEvent: TypeAlias = Annotated[
    Annotated[AuthSuccessEvent, Tag("auth")]
    | Annotated[LegacyAuthErrorEvent, Tag("auth_error")]
    | Annotated[AuthCancelledEvent, Tag("auth_cancelled")]
    | Annotated[DeauthEvent, Tag("deauth")]
    | Annotated[AccessRevokedEvent, Tag("access_revoked")]
    | Annotated[ConnectionErrorEvent, Tag("connection_error")]
    | Annotated[GoogleNoDatasourceEvent, Tag("google_no_datasource")]
    | Annotated[PermissionChangeEvent, Tag("permission_change")]
    | Annotated[UserReauthEvent, Tag("user_reauth")]
    | Annotated[HealthcheckEvent, Tag("healthcheck")]
    | Annotated[LargeRequestProcessingEvent, Tag("large_request_processing")]
    | Annotated[LargeRequestSendingEvent, Tag("large_request_sending")]
    | Annotated[S3PayloadEvent, Tag("s3_payload")]
    | Annotated[DataEvent, Tag("data")]
    | Annotated[GenericEvent, Tag("generic")],
    Discriminator(_tag),
]

_adapter: TypeAdapter[WebhookEvent] = TypeAdapter(WebhookEvent)


def _invalid(message: str) -> WebhookVerificationError:
    error = WebhookVerificationError("invalid_body", message)
    error.hint = "the body is signed but is not a Terra event this version understands"
    return error


def _loads(data: bytes | bytearray | str) -> Any:
    """JSON via pydantic-core (Rust, about 1.5x faster than ``json``), falling back to the
    standard library for what it refuses but ``json`` reads (a BOM, lone surrogate escapes)."""
    try:
        return from_json(data)
    except ValueError:
        pass
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError
        raise _invalid("the body is not valid JSON") from exc


def parse_event(data: bytes | str | Mapping[str, Any]) -> WebhookEvent:
    """Parse a (verified) webhook body into its typed event.

    Raises :class:`~terra_auth.errors.WebhookVerificationError` (reason ``invalid_body``) when
    the body is not a JSON object with a string ``type``, or a known type lacks a required
    field (the message names the field, never its value).
    """
    if isinstance(data, bytes | bytearray | str):
        data = _loads(data)
    if not isinstance(data, Mapping):
        raise _invalid("the body is not a JSON object")
    raw = data if isinstance(data, dict) else dict(data)
    if not isinstance(raw.get("type"), str):
        raise _invalid('the body has no string "type" field')
    try:
        event = _adapter.validate_python(raw)
    except ValidationError as exc:
        fields = sorted({".".join(str(p) for p in err["loc"][1:]) or "?" for err in exc.errors()})
        raise _invalid(
            f"the {raw['type'][:60]!r} event is missing or has a wrong type for: "
            f"{', '.join(fields[:10])}"
        ) from None
    except RecursionError as exc:
        raise _invalid("the body is nested too deeply") from exc
    event._raw = raw
    return event
