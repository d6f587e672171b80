"""Signed Terra webhooks: verification, typed events and the connection lifecycle (pure).

No HTTP, no database, no web framework: feed it the raw body and the headers.

Example:
    >>> from terra_auth.webhooks import sign_webhook, verify_webhook
    >>> header = sign_webhook(b'{"type":"healthcheck"}', "whsec_test", timestamp=100)
    >>> verify_webhook(b'{"type":"healthcheck"}', header, "whsec_test", now=100).event.type
    'healthcheck'
"""

from __future__ import annotations

from terra_auth.webhooks.events import (
    AccessRevokedEvent,
    AuthCancelledEvent,
    AuthSuccessEvent,
    ConnectionErrorEvent,
    DataEvent,
    DeauthEvent,
    EventUser,
    GenericEvent,
    GoogleNoDatasourceEvent,
    HealthcheckEvent,
    LargeRequestProcessingEvent,
    LargeRequestSendingEvent,
    LegacyAuthErrorEvent,
    PermissionChangeEvent,
    S3PayloadEvent,
    TerraEvent,
    UserReauthEvent,
    WebhookEvent,
    parse_event,
)
from terra_auth.webhooks.lifecycle import (
    ConnectionChange,
    ConnectionState,
    Deduplicator,
    apply_changes,
    canonical_trace_id,
    dedup_key,
    reduce_event,
)
from terra_auth.webhooks.signature import (
    DEFAULT_TOLERANCE,
    VerifiedSignature,
    VerifiedWebhook,
    sign_webhook,
    verify_signature,
    verify_webhook,
)

__all__ = [
    "DEFAULT_TOLERANCE",
    "AccessRevokedEvent",
    "AuthCancelledEvent",
    "AuthSuccessEvent",
    "ConnectionChange",
    "ConnectionErrorEvent",
    "ConnectionState",
    "DataEvent",
    "DeauthEvent",
    "Deduplicator",
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
    "VerifiedSignature",
    "VerifiedWebhook",
    "WebhookEvent",
    "apply_changes",
    "canonical_trace_id",
    "dedup_key",
    "parse_event",
    "reduce_event",
    "sign_webhook",
    "verify_signature",
    "verify_webhook",
]
