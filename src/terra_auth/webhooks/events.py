"""Typed Terra webhook events (first cut: every event parses as a GenericEvent)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

from terra_auth.errors import WebhookVerificationError

__all__ = ["GenericEvent", "WebhookEvent", "parse_event"]


class GenericEvent(BaseModel):
    """Any event: ``type`` plus every other field as sent."""

    model_config = ConfigDict(extra="allow", frozen=True)

    type: str


WebhookEvent = GenericEvent


def parse_event(data: bytes | str | Mapping[str, Any]) -> WebhookEvent:
    """Parse a webhook body (already verified) into its event."""
    if isinstance(data, bytes | str):
        data = json.loads(data)
    if not isinstance(data, Mapping) or not isinstance(data.get("type"), str):
        raise WebhookVerificationError("invalid_body", "the body is not a Terra event")
    return GenericEvent.model_validate(dict(data))
