"""Signed Terra webhooks: verification, typed events and the connection lifecycle (pure).

Example:
    >>> from terra_auth.webhooks import sign_webhook, verify_webhook
    >>> header = sign_webhook(b'{"type":"healthcheck"}', "whsec_test", timestamp=100)
    >>> verify_webhook(b'{"type":"healthcheck"}', header, "whsec_test", now=100).event.type
    'healthcheck'
"""

from __future__ import annotations

from terra_auth.webhooks.events import GenericEvent, WebhookEvent, parse_event
from terra_auth.webhooks.signature import VerifiedWebhook, sign_webhook, verify_webhook

__all__ = [
    "GenericEvent",
    "VerifiedWebhook",
    "WebhookEvent",
    "parse_event",
    "sign_webhook",
    "verify_webhook",
]
