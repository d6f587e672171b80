"""Webhook payloads for the connection lifecycle, in Terra's 2026 form (and the legacy one).

Every payload validates against ``terra-openapi/schemas/core`` (``legacy/`` for the legacy
failed-auth form).

Example:
    >>> auth_cancelled(flow_id="f1", reason="access_denied", reference_id=None)["type"]
    'auth_cancelled'
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "EVENT_TYPES",
    "VERSION",
    "access_revoked",
    "auth_cancelled",
    "auth_error_legacy",
    "auth_success",
    "connection_error",
    "deauth",
    "permission_change",
    "user_reauth",
]

VERSION = "2022-03-16"

#: Lifecycle events the emulator can send (``trigger``).
EVENT_TYPES: tuple[str, ...] = (
    "auth",
    "auth_cancelled",
    "deauth",
    "user_reauth",
    "access_revoked",
    "connection_error",
    "permission_change",
)


def auth_success(
    user: dict[str, Any],
    *,
    widget_session_id: str | None = None,
    flow_id: str | None = None,
) -> dict[str, Any]:
    """``auth`` / ``success`` for a newly connected user."""
    return {
        "type": "auth",
        "status": "success",
        "message": "User has successfully authenticated",
        "user": user,
        "reference_id": user.get("reference_id"),
        "widget_session_id": widget_session_id,
        "flow_id": flow_id,
        "version": VERSION,
    }


def auth_cancelled(
    *, flow_id: str | None, reason: str | None, reference_id: str | None
) -> dict[str, Any]:
    """The 2026 failed/cancelled-auth event: no user."""
    return {
        "type": "auth_cancelled",
        "status": "error",
        "flow_id": flow_id,
        "reason": reason,
        "reference_id": reference_id,
    }


def auth_error_legacy(
    user: dict[str, Any],
    *,
    reason: str,
    reference_id: str | None,
    widget_session_id: str | None,
) -> dict[str, Any]:
    """The pre-2026 failed-auth event: ``type: auth, status: error`` with the deleted user."""
    return {
        "type": "auth",
        "status": "error",
        "user": user,
        "provider": user["provider"],
        "message": "User failed to authenticate and has been deleted",
        "reason": reason,
        "reference_id": reference_id or "",
        "widget_session_id": widget_session_id or "",
        "version": VERSION,
    }


def user_reauth(new_user: dict[str, Any], old_user: dict[str, Any] | None) -> dict[str, Any]:
    """``user_reauth``: the old user id is replaced by the new one."""
    return {
        "type": "user_reauth",
        "status": "warning",
        "message": "User has reauthenticated and old ID has been deleted",
        "new_user": new_user,
        "old_user": old_user,
        "version": VERSION,
    }


def deauth(user: dict[str, Any]) -> dict[str, Any]:
    """``deauth`` after a deauthentication."""
    return {
        "type": "deauth",
        "status": "success",
        "message": "User has deauthenticated",
        "user": user,
        "version": VERSION,
    }


def access_revoked(user: dict[str, Any]) -> dict[str, Any]:
    """``access_revoked``: the user revoked access on the provider's side."""
    return {
        "type": "access_revoked",
        "status": "warning",
        "message": "User revoked access",
        "user": user,
        "version": VERSION,
    }


def connection_error(user: dict[str, Any], message: str | None = None) -> dict[str, Any]:
    """``connection_error``: the provider answered 401/403/412."""
    return {
        "type": "connection_error",
        "status": "warning",
        "message": message or "User connection degraded",
        "user": user,
        "version": VERSION,
    }


def permission_change(
    user: dict[str, Any], *, scopes_added: str, scopes_removed: str
) -> dict[str, Any]:
    """``permission_change`` with the user's current scopes and the CSV differences."""
    return {
        "type": "permission_change",
        "status": "warning",
        "message": "User permissions have been modified",
        "user": user,
        "version": VERSION,
        "scopes_added": scopes_added,
        "scopes_removed": scopes_removed,
    }
