"""Canary: a planted secret never appears in errors, hints, reprs, results or logs."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from terra_auth.environments import SigningSecret
from terra_auth.errors import TerraAuthError
from terra_auth.secret import Secret
from terra_auth.webhooks import sign_webhook, verify_webhook

NOW = 1_780_000_000


def test_secret_never_leaks(
    fake_secret: Callable[[str], str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    canary = fake_secret("canary")
    old = fake_secret("canary-old")
    body = b'{"type":"healthcheck","status":"ok"}'
    good = sign_webhook(body, canary, timestamp=NOW)
    expired = SigningSecret(Secret(old), datetime.fromtimestamp(NOW - 1, UTC))
    texts: list[str] = []

    verified = verify_webhook(body, good, {"staging": [canary, expired]}, now=NOW)
    texts += [repr(verified), str(verified), repr(verified.event)]

    attempts = [
        (body, good, "fake-other-secret-0123456789", {}),  # bad_signature
        (body, sign_webhook(body, old, timestamp=NOW), [canary, expired], {}),  # expired
        (body, good, canary, {"now": NOW + 9999}),  # too_old
        (body, good.upper(), canary, {}),  # malformed (T=)
        (body, canary, canary, {}),  # secret passed where the header goes
        (canary, good, canary, {}),  # secret passed as the body
        (body, good + "," + canary, canary, {}),  # secret inside the header
        (body, {"terra-signature": good, "x-terra-signature": canary}, canary, {}),
        (body, good, [[canary]], {}),  # secrets of the wrong shape
        (body, good, {"nowhere": canary}, {}),  # unknown environment
        (body, good, canary, {"tolerance": -1}),
        (b'{"type":"deauth","user":{"user_id":"' + canary.encode() + b'"}}', None, canary, {}),
    ]
    for i, (b, header, secrets, kwargs) in enumerate(attempts):
        if header is None:
            header = sign_webhook(b, canary, timestamp=NOW)
        with pytest.raises(TerraAuthError) as caught:
            verify_webhook(b, header, secrets, **{"now": NOW, **kwargs})
        error = caught.value
        texts += [str(error), repr(error), str(error.hint), str(error.args), f"case {i}"]

    texts.append(caplog.text)
    joined = "\n".join(texts)
    assert canary not in joined
    assert old not in joined
