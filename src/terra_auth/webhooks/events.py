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
    Tag,
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

    @property
    def raw(self) -> dict[str, Any]:
        """The event as sent (for data events: the untouched payload); for an event built
        in code rather than parsed, its JSON form."""
        private = self.__pydantic_private__
        if private is None or "raw" not in private:
            return self.model_dump(mode="json")
        return private["raw"]  # type: ignore[no-any-return]


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


def _invalid(message: str) -> WebhookVerificationError:
    error = WebhookVerificationError("invalid_body", message)
    error.hint = "the body is signed but is not a Terra event this version understands"
    return error


def _loads(data: bytes | bytearray | str) -> Any:
    """JSON via pydantic-core (Rust, about twice as fast as ``json``), falling back to the
    standard library for what it refuses but ``json`` reads (a BOM, lone surrogate escapes).
    Only keys are interned (``cache_strings="keys"``): values rarely repeat, and looking
    them up costs more than it saves."""
    try:
        return from_json(data, cache_strings="keys")
    except ValueError:
        pass
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError
        raise _invalid("the body is not valid JSON") from exc


#: tag (see ``_tag``) -> the pydantic-core validator of its class, called directly: the
#: same validation as ``TypeAdapter(WebhookEvent)`` without the Python discriminator call
_VALIDATORS: dict[str, Any] = {
    "auth": AuthSuccessEvent.__pydantic_validator__,
    "auth_error": LegacyAuthErrorEvent.__pydantic_validator__,
    "auth_cancelled": AuthCancelledEvent.__pydantic_validator__,
    "deauth": DeauthEvent.__pydantic_validator__,
    "access_revoked": AccessRevokedEvent.__pydantic_validator__,
    "connection_error": ConnectionErrorEvent.__pydantic_validator__,
    "google_no_datasource": GoogleNoDatasourceEvent.__pydantic_validator__,
    "permission_change": PermissionChangeEvent.__pydantic_validator__,
    "user_reauth": UserReauthEvent.__pydantic_validator__,
    "healthcheck": HealthcheckEvent.__pydantic_validator__,
    "large_request_processing": LargeRequestProcessingEvent.__pydantic_validator__,
    "large_request_sending": LargeRequestSendingEvent.__pydantic_validator__,
    "s3_payload": S3PayloadEvent.__pydantic_validator__,
    "data": DataEvent.__pydantic_validator__,
    "generic": GenericEvent.__pydantic_validator__,
}
_BY_TYPE: dict[str, Any] = {
    **{kind: _VALIDATORS[kind] for kind in _TAGGED},
    **dict.fromkeys(DATA_EVENT_TYPES, _VALIDATORS["data"]),
}
_set_slot = object.__setattr__


def parse_event(data: bytes | str | Mapping[str, Any]) -> WebhookEvent:
    """Parse a (verified) webhook body into its typed event.

    Raises :class:`~terra_auth.errors.WebhookVerificationError` (reason ``invalid_body``) when
    the body is not a JSON object with a string ``type``, or a known type lacks a required
    field (the message names the field, never its value).

    The dict as sent is kept in the model's ``__pydantic_private__`` (read by
    :attr:`TerraEvent.raw`; kept by ``==``, ``model_copy`` and pickling) rather than in a
    declared private attribute, whose per-instance initialisation runs Python code.
    """
    if type(data) is bytes or isinstance(data, bytes | bytearray | str):
        data = _loads(data)
    if type(data) is dict:
        raw = data
    elif isinstance(data, Mapping):
        raw = dict(data)
    else:
        raise _invalid("the body is not a JSON object")
    kind = raw.get("type")
    if not isinstance(kind, str):
        raise _invalid('the body has no string "type" field')
    try:
        validator = _BY_TYPE.get(kind)  # every type but auth (and unknown types)
        event = (validator or _VALIDATORS[_tag(raw)]).validate_python(raw)
    except ValidationError as exc:
        fields = sorted({".".join(str(p) for p in err["loc"]) or "?" for err in exc.errors()})
        raise _invalid(
            f"the {kind[:60]!r} event is missing or has a wrong type for: {', '.join(fields[:10])}"
        ) from None
    except RecursionError as exc:
        raise _invalid("the body is nested too deeply") from exc
    _set_slot(event, "__pydantic_private__", {"raw": raw})
    return event  # type: ignore[no-any-return]
