"""The known-answer vector of terra-api.md section 6.2."""

from __future__ import annotations

import pytest

from terra_auth.errors import WebhookVerificationError
from terra_auth.webhooks import sign_webhook, verify_webhook

SECRET = "whsec_test"  # the published test vector's secret, not a credential
BODY = b'{"type":"auth","status":"success"}'
T = 1723808700
EXPECTED = "da461831d52bbcc2cebeb4a2048a56e013726c049d784421bd4b27686f469964"


def test_sign_webhook_matches_the_known_answer() -> None:
    assert sign_webhook(BODY, SECRET, timestamp=T) == f"t={T},v1={EXPECTED}"


def test_str_body_signs_like_its_utf8_bytes() -> None:
    assert sign_webhook(BODY.decode(), SECRET, timestamp=T) == f"t={T},v1={EXPECTED}"


def test_verify_accepts_the_known_answer_signature() -> None:
    # the vector's body is an "auth" success without its required user: the signature passes
    # (reason is not bad_signature) and only then the body is refused as invalid_body
    with pytest.raises(WebhookVerificationError) as caught:
        verify_webhook(BODY, f"t={T},v1={EXPECTED}", SECRET, now=T + 10)
    assert caught.value.reason == "invalid_body"
    assert "user" in str(caught.value)


def test_verify_accepts_a_complete_event_signed_like_the_vector() -> None:
    body = b'{"type":"auth","status":"success","user":{"user_id":"u-1","provider":"GARMIN"}}'
    header = sign_webhook(body, SECRET, timestamp=T)
    verified = verify_webhook(body, header, SECRET, now=T + 10)
    assert verified.event.type == "auth"
    assert verified.signed_at.timestamp() == T
    assert verified.body == body
    assert verified.environment is None
