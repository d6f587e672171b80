"""Shared values for the webhook tests: fake secrets generated at run time, a fixed clock."""

from __future__ import annotations

import json
import secrets

NOW = 1_780_000_000  # 2026-05-28, a fixed "now" injected into verify_webhook


def fake(label: str) -> str:
    return f"fake-{label}-{secrets.token_hex(16)}"


SECRET = fake("whsec")
STAGING_SECRET = fake("whsec-staging")
PRODUCTION_SECRET = fake("whsec-production")
TESTING_SECRET = fake("whsec-testing")
OLD_SECRET = fake("whsec-old")
ALL_SECRETS = (SECRET, STAGING_SECRET, PRODUCTION_SECRET, TESTING_SECRET, OLD_SECRET)

USER = {
    "user_id": "40f7b0e1-89e2-43ac-a5b8-1e29c8d47cad",
    "provider": "GARMIN",
    "reference_id": "your-user-123",
    "scopes": "ACTIVITY_EXPORT,HEALTH_EXPORT",
    "active": True,
    "last_webhook_update": None,
}
AUTH_EVENT = {
    "type": "auth",
    "status": "success",
    "message": "User has successfully authenticated",
    "widget_session_id": "3e982b74-1a94-4d9a-b6a3-f92c6e4d21b5",
    "reference_id": "your-user-123",
    "version": "2022-03-16",
    "user": USER,
}
BODY = json.dumps(AUTH_EVENT, separators=(",", ":")).encode()
