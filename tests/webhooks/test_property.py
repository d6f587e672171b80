"""Hypothesis: arbitrary headers and bodies never raise anything but WebhookVerificationError,
and whatever sign_webhook produces, verify_webhook accepts."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from terra_auth.errors import WebhookVerificationError
from terra_auth.webhooks import sign_webhook, verify_webhook

from ._helpers import NOW, SECRET

SIG = sign_webhook(b"{}", SECRET, timestamp=NOW).split("v1=")[1]

# header fragments that reach deep into the parser, mixed with arbitrary text
fragment = st.one_of(
    st.sampled_from(["t", "v1", "v0", "T", "V1", " ", "=", ",", "", "\x00", "é", "١"]),
    st.sampled_from([str(NOW), str(NOW * 1000), "-1", "1.5", "9" * 30, SIG, SIG.upper()]),
    st.text(max_size=8),
)
header_text = st.one_of(
    st.text(max_size=60),
    st.lists(fragment, max_size=12).map("".join),
    st.lists(st.tuples(st.sampled_from(["t", "v1", "v0", "x"]), fragment), max_size=6).map(
        lambda kv: ",".join(f"{k}={v}" for k, v in kv)
    ),
)
header_value = st.one_of(header_text, st.binary(max_size=100))
headers = st.one_of(
    st.none(),
    header_value,
    st.dictionaries(
        st.sampled_from(["terra-signature", "X-Terra-Signature", "x-terra-trace-id", "other"]),
        header_value,
        max_size=3,
    ),
    st.lists(
        st.tuples(
            st.one_of(st.sampled_from(["terra-signature", b"x-terra-signature"]), st.text()),
            header_value,
        ),
        max_size=3,
    ),
    st.lists(st.integers(), max_size=3),
)
body = st.one_of(
    st.binary(max_size=60),
    st.text(max_size=60),
    st.sampled_from([b"{}", b'{"type":"auth"}', b'{"type":"deauth","user":{}}', b"[" * 5000]),
)
secrets = st.one_of(
    st.just(SECRET), st.text(max_size=20), st.lists(st.text(max_size=20), max_size=3)
)


@pytest.mark.slow
@settings(
    max_examples=10_000,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(body=body, headers=headers, secrets=secrets, now=st.integers(0, 2 * NOW))
def test_arbitrary_input_only_ever_raises_webhook_verification_error(
    body: bytes | str, headers: object, secrets: object, now: int
) -> None:
    try:
        verify_webhook(body, headers, secrets, now=now)  # type: ignore[arg-type]
    except WebhookVerificationError as exc:
        assert exc.reason
        assert SECRET not in str(exc)


event_body = st.fixed_dictionaries(
    {"type": st.text(max_size=30)},
    optional={"status": st.one_of(st.none(), st.text(max_size=10)), "x": st.integers()},
).map(lambda d: json.dumps(d).encode())


@settings(max_examples=500, deadline=None, database=None)
@given(body=event_body, secret=st.text(min_size=1, max_size=40), t=st.integers(0, 10**10))
def test_whatever_is_signed_verifies(body: bytes, secret: str, t: int) -> None:
    header = sign_webhook(body, secret, timestamp=t)
    try:
        verified = verify_webhook(body, header, secret, now=t)
    except WebhookVerificationError as exc:  # a known type without its required fields
        assert exc.reason == "invalid_body", exc
    else:
        assert verified.body == body
        assert verified.event.type == json.loads(body)["type"]
