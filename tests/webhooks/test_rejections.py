"""A table of malformed, forged and replayed webhooks: each is refused with the right reason,
by WebhookVerificationError and nothing else, and no message ever shows a secret."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from terra_auth.environments import SigningSecret
from terra_auth.errors import WebhookVerificationError
from terra_auth.secret import Secret
from terra_auth.webhooks import sign_webhook, verify_webhook

from ._helpers import (
    ALL_SECRETS,
    BODY,
    NOW,
    OLD_SECRET,
    PRODUCTION_SECRET,
    SECRET,
    STAGING_SECRET,
)

GOOD = sign_webhook(BODY, SECRET, timestamp=NOW)
SIG = GOOD.split("v1=")[1]


def signed(body: bytes | str, secret: str = SECRET, t: int = NOW) -> str:
    return sign_webhook(body, secret, timestamp=t)


@dataclass
class Case:
    id: str
    reason: str
    header: Any = GOOD
    body: Any = BODY
    secrets: Any = SECRET
    kwargs: dict[str, Any] = field(default_factory=dict)


CASES = [
    # missing header
    Case("empty-header", "missing_header", header=""),
    Case("blank-header", "missing_header", header="   "),
    Case("no-headers", "missing_header", header=None),
    Case("headers-without-signature", "missing_header", header={"content-type": "json"}),
    Case("empty-pairs", "missing_header", header=[]),
    # malformed header
    Case("no-equals", "malformed_header", header="garbage"),
    Case("no-timestamp", "malformed_header", header=f"v1={SIG}"),
    Case("duplicate-t-same", "malformed_header", header=f"t={NOW},t={NOW},v1={SIG}"),
    Case("duplicate-t-different", "malformed_header", header=f"t={NOW},v1={SIG},t={NOW - 1}"),
    Case("non-ascii-letter", "malformed_header", header=GOOD + "é"),
    Case("non-ascii-digits", "malformed_header", header=f"t=١٧٨٠٠٠٠٠٠٠,v1={SIG}"),
    Case(
        "non-ascii-bytes-header",
        "malformed_header",
        header=[(b"terra-signature", GOOD.encode() + b"\xff")],
    ),
    Case("emoji", "malformed_header", header=f"t={NOW},v1={SIG}🙂"),
    Case("huge-header", "malformed_header", header=GOOD + ",v0=" + "a" * 10_000),
    Case("empty-t", "malformed_header", header=f"t=,v1={SIG}"),
    Case("empty-v1", "malformed_header", header=f"t={NOW},v1="),
    Case("t-not-a-number", "malformed_header", header=f"t=abc,v1={SIG}"),
    Case("t-negative", "malformed_header", header=f"t=-{NOW},v1={SIG}"),
    Case("t-fraction", "malformed_header", header=f"t={NOW}.5,v1={SIG}"),
    Case("t-25-digits", "malformed_header", header=f"t={'9' * 25},v1={SIG}"),
    Case("t-absurd", "malformed_header", header=signed(BODY, t=10**15)),
    Case("trailing-comma", "malformed_header", header=GOOD + ","),
    Case("leading-comma", "malformed_header", header="," + GOOD),
    Case("semicolons", "malformed_header", header=f"t={NOW};v1={SIG}"),
    Case("nul-byte", "malformed_header", header=f"t={NOW}\x00,v1={SIG}"),
    Case("upper-case-T", "malformed_header", header=f"T={NOW},v1={SIG}"),
    Case(
        "conflicting-headers",
        "malformed_header",
        header={"terra-signature": GOOD, "X-Terra-Signature": signed(BODY, t=NOW - 1)},
    ),
    Case(
        "conflicting-pairs",
        "malformed_header",
        header=[("X-Terra-Signature", GOOD), ("x-terra-signature", f"t={NOW},v1={'0' * 64}")],
    ),
    Case("not-headers", "malformed_header", header=[1, 2, 3]),
    # no v1
    Case("timestamp-only", "no_v1", header=f"t={NOW}"),
    Case("only-v0", "no_v1", header=f"t={NOW},v0={SIG}"),
    Case("only-v2", "no_v1", header=f"t={NOW},v2={SIG}"),
    Case("upper-case-scheme", "no_v1", header=f"t={NOW},V1={SIG}"),
    # forged
    Case("upper-case-hex", "bad_signature", header=f"t={NOW},v1={SIG.upper()}"),
    Case("wrong-secret", "bad_signature", secrets="fake-not-the-secret-0123456789"),
    Case("zeros", "bad_signature", header=f"t={NOW},v1={'0' * 64}"),
    Case("truncated-signature", "bad_signature", header=f"t={NOW},v1={SIG[:-1]}"),
    Case("space-in-signature", "bad_signature", header=f"t={NOW},v1={SIG[:10]} {SIG[10:]}"),
    Case("timestamp-swapped", "bad_signature", header=f"t={NOW - 1},v1={SIG}"),
    Case("v0-right-v1-wrong", "bad_signature", header=f"t={NOW},v0={SIG},v1={'1' * 64}"),
    Case(
        "another-environments-secret",
        "bad_signature",
        header=signed(BODY, STAGING_SECRET),
        secrets={"production": PRODUCTION_SECRET, "testing": SECRET},
    ),
    Case(
        "re-serialised-body",
        "bad_signature",
        body=json.dumps(json.loads(BODY), indent=2).encode(),
    ),
    Case("re-ordered-keys", "bad_signature", body=json.dumps(json.loads(BODY), sort_keys=True)),
    Case("truncated-body", "bad_signature", body=BODY[:-1]),
    Case("trailing-newline", "bad_signature", body=BODY + b"\n"),
    Case("empty-body", "bad_signature", body=b""),
    Case("body-of-another-event", "bad_signature", body=BODY.replace(b"auth", b"deauth", 1)),
    Case("python-bytes-repr", "bad_signature", body=str(BODY)),
    # expired (rotation)
    Case(
        "rotated-out-secret",
        "expired_secret",
        header=signed(BODY, OLD_SECRET),
        secrets=[SECRET, SigningSecret(Secret(OLD_SECRET), datetime.fromtimestamp(NOW - 60, UTC))],
    ),
    Case(
        "rotated-out-in-env-map",
        "expired_secret",
        header=signed(BODY, OLD_SECRET),
        secrets={
            "staging": [
                STAGING_SECRET,
                SigningSecret(Secret(OLD_SECRET), datetime.fromtimestamp(NOW - 1, UTC)),
            ],
            "production": PRODUCTION_SECRET,
        },
    ),
    # replayed or delayed
    Case("stale", "too_old", header=signed(BODY, t=NOW - 301)),
    Case("replayed-an-hour-later", "too_old", kwargs={"now": NOW + 3600}),
    Case("replayed-a-year-later", "too_old", kwargs={"now": datetime(2027, 6, 1, tzinfo=UTC)}),
    Case("tolerance-zero", "too_old", kwargs={"now": NOW + 1, "tolerance": 0}),
    Case("future", "too_new", header=signed(BODY, t=NOW + 301)),
    Case("far-future", "too_new", header=signed(BODY, t=NOW + 10**9)),
    Case("milliseconds", "timestamp_in_milliseconds", header=signed(BODY, t=NOW * 1000)),
    # no secret configured
    Case("no-secret-list", "no_secret", secrets=[]),
    Case("empty-secret", "no_secret", secrets=""),
    Case("empty-env-map", "no_secret", secrets={}),
    Case("env-map-of-empty-lists", "no_secret", secrets={"staging": [], "production": []}),
    # a good signature on a body that is not an event
    Case("signed-invalid-json", "invalid_body", body=b"{not json", header=signed(b"{not json")),
    Case("signed-json-array", "invalid_body", body=b"[1,2]", header=signed(b"[1,2]")),
    Case("signed-no-type", "invalid_body", body=b'{"a":1}', header=signed(b'{"a":1}')),
    Case("signed-type-not-str", "invalid_body", body=b'{"type":1}', header=signed(b'{"type":1}')),
    Case(
        "signed-not-utf8",
        "invalid_body",
        body=b'{"type":"\xff"}',
        header=signed(b'{"type":"\xff"}'),
    ),
    Case("signed-deep-nesting", "invalid_body", body=b"[" * 100_000, header=signed(b"[" * 100_000)),
    Case(
        "signed-deauth-without-user",
        "invalid_body",
        body=b'{"type":"deauth","status":"success"}',
        header=signed(b'{"type":"deauth","status":"success"}'),
    ),
    Case("body-not-bytes", "invalid_body", body=12345),
    Case("body-lone-surrogate", "invalid_body", body='{"type":"\udc80"}'),
]


def test_the_table_is_big_enough() -> None:
    assert len(CASES) >= 40
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_rejected_with_the_right_reason(case: Case) -> None:
    kwargs = {"now": NOW, **case.kwargs}
    with pytest.raises(WebhookVerificationError) as caught:
        verify_webhook(case.body, case.header, case.secrets, **kwargs)
    error = caught.value
    assert type(error) is WebhookVerificationError
    assert error.reason == case.reason, str(error)
    text = f"{error} {error.hint} {error!r} {error.args}"
    for secret in ALL_SECRETS:
        assert secret not in text
    assert error.message  # a sentence, not just the code


@pytest.mark.parametrize("reason", sorted({c.reason for c in CASES}), ids=lambda r: r)
def test_every_reason_is_documented(reason: str) -> None:
    from pathlib import Path

    docs = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"
    assert f"`{reason}`" in docs.read_text(encoding="utf-8")
