"""Agreement with Terra's own Python verifier (terra-python, test-only) on valid inputs,
and on the forgeries both must refuse."""

from __future__ import annotations

import json
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from terra_auth.errors import WebhookVerificationError
from terra_auth.webhooks import sign_webhook, verify_webhook

terra_verify = pytest.importorskip(
    "terra.utils.verify_signature", reason="terra-python (the 'sdk' extra) is not installed"
)

events = st.fixed_dictionaries(
    {"type": st.sampled_from(["healthcheck", "activity", "sleep", "something_new"])},
    optional={
        "status": st.sampled_from(["success", "warning"]),
        "note": st.text(max_size=40),
        "n": st.integers(),
        "data": st.lists(st.dictionaries(st.text(max_size=5), st.integers(), max_size=3)),
    },
)


@settings(max_examples=300, deadline=None, database=None)
@given(
    event=events,
    secret=st.text(min_size=1, max_size=50),
    indent=st.sampled_from([None, 2]),
    skew=st.integers(-290, 290),
    extra=st.sampled_from(["", ",v0=deadbeef", ",v1=" + "0" * 64]),
)
def test_both_accept_what_terra_signs(
    event: dict, secret: str, indent: int | None, skew: int, extra: str
) -> None:
    body = json.dumps(event, indent=indent, ensure_ascii=False)
    header = sign_webhook(body, secret, timestamp=int(time.time()) + skew) + extra
    assert terra_verify.verify_terra_webhook_signature(body, header, secret) is True
    verified = verify_webhook(body.encode("utf-8"), header, secret)
    assert verified.event.type == event["type"]


@pytest.mark.parametrize(
    "mutate",
    [
        lambda b, h: (b + " ", h),
        lambda b, h: (b, h.replace("v1=", "v1=0", 1)),
        lambda b, h: (b, h.split(",v1=")[0] + ",v1=" + h.split(",v1=")[1].upper()),
        lambda b, h: (b, h.replace("v1=", "v0=")),
        lambda b, h: (b, "t=1," + h.split(",", 1)[1]),
    ],
    ids=["changed-body", "changed-signature", "upper-case-hex", "only-v0", "old-timestamp"],
)
def test_both_refuse_forgeries(mutate) -> None:  # type: ignore[no-untyped-def]
    secret = "fake-agreement-secret-0123456789"
    body = '{"type":"healthcheck","status":"ok"}'
    body, header = mutate(body, sign_webhook(body, secret))
    with pytest.raises(terra_verify.WebhookVerificationError):
        terra_verify.verify_terra_webhook_signature(body, header, secret)
    with pytest.raises(WebhookVerificationError):
        verify_webhook(body, header, secret)


def test_where_terra_python_fails_we_answer_cleanly() -> None:
    """Terra's verifier raises TypeError on a non-ASCII signature (a 500); we say malformed."""
    secret = "fake-agreement-secret-0123456789"
    body = '{"type":"healthcheck"}'
    header = sign_webhook(body, secret) + "é"
    with pytest.raises(TypeError):
        terra_verify.verify_terra_webhook_signature(body, header.replace("v1=", "v1=é"), secret)
    with pytest.raises(WebhookVerificationError) as caught:
        verify_webhook(body, header, secret)
    assert caught.value.reason == "malformed_header"
    # and bytes bodies, which terra-python silently fails on, verify here
    good = sign_webhook(body, secret)
    assert verify_webhook(body.encode(), good, secret).event.type == "healthcheck"
