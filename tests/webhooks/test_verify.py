"""What verify_webhook accepts: header shapes, secrets (rotation, environments), time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from terra_auth.environments import Environment, SigningSecret, TerraCredentials
from terra_auth.errors import ConfigurationError, WebhookVerificationError
from terra_auth.secret import Secret
from terra_auth.webhooks import (
    AuthSuccessEvent,
    VerifiedWebhook,
    sign_webhook,
    verify_webhook,
)

from ._helpers import (
    BODY,
    NOW,
    OLD_SECRET,
    PRODUCTION_SECRET,
    SECRET,
    STAGING_SECRET,
    TESTING_SECRET,
)

GOOD = sign_webhook(BODY, SECRET, timestamp=NOW)


def test_verified_webhook_carries_the_event_time_and_raw_body() -> None:
    verified = verify_webhook(BODY, GOOD, SECRET, now=NOW)
    assert isinstance(verified, VerifiedWebhook)
    assert isinstance(verified.event, AuthSuccessEvent)
    assert verified.event.user.user_id == "40f7b0e1-89e2-43ac-a5b8-1e29c8d47cad"
    assert verified.signed_at == datetime.fromtimestamp(NOW, UTC)
    assert verified.body == BODY
    assert verified.trace_id is None
    assert verified.environment is None


@pytest.mark.parametrize(
    "headers",
    [
        {"terra-signature": GOOD},
        {"Terra-Signature": GOOD},
        {"X-Terra-Signature": GOOD},
        {"x-terra-signature": GOOD, "terra-signature": GOOD},
        {"X-TERRA-SIGNATURE": GOOD, "Content-Type": "application/json"},
        [("x-terra-signature", GOOD), ("terra-signature", GOOD)],
        [(b"x-terra-signature", GOOD.encode()), (b"content-type", b"application/json")],
        (("Terra-Signature", GOOD),),
        GOOD,
        GOOD.encode(),
        f"  {GOOD}  ",
    ],
    ids=lambda h: type(h).__name__,
)
def test_header_shapes(headers: object) -> None:
    assert verify_webhook(BODY, headers, SECRET, now=NOW).event.type == "auth"  # type: ignore[arg-type]


def test_wsgi_environ_and_django_meta() -> None:
    environ = {
        "REQUEST_METHOD": "POST",
        "wsgi.input": object(),
        "HTTP_X_TERRA_SIGNATURE": GOOD,
        "HTTP_X_TERRA_TRACE_ID": "trace-3",
    }
    verified = verify_webhook(BODY, environ, SECRET, now=NOW)
    assert verified.trace_id == "trace-3"


def test_starlette_and_werkzeug_headers() -> None:
    from starlette.datastructures import Headers
    from werkzeug.datastructures import Headers as WerkzeugHeaders

    raw = [(b"x-terra-signature", GOOD.encode()), (b"x-terra-trace-id", b"trace-1")]
    assert verify_webhook(BODY, Headers(raw=raw), SECRET, now=NOW).trace_id == "trace-1"
    werk = WerkzeugHeaders([("X-Terra-Signature", GOOD), ("X-Terra-Trace-Id", "trace-2")])
    assert verify_webhook(BODY, werk, SECRET, now=NOW).trace_id == "trace-2"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("7b1f0c", "7b1f0c"),
        ("  7b1f0c:chunk:2 ", "7b1f0c:chunk:2"),
        ("", None),
        ("x" * 300, None),
        ("bad\nid", None),
        ("tracé", None),
    ],
)
def test_trace_id_is_read_case_insensitively_and_sanitised(
    value: str, expected: str | None
) -> None:
    headers = {"terra-signature": GOOD, "X-TERRA-TRACE-ID": value}
    assert verify_webhook(BODY, headers, SECRET, now=NOW).trace_id == expected


def test_several_v1_any_may_match_and_other_schemes_are_ignored() -> None:
    sig = GOOD.split("v1=")[1]
    for header in (
        f"t={NOW},v1={'0' * 64},v1={sig}",
        f"t={NOW},v1={sig},v1={'0' * 64}",
        f"v0=abc,t={NOW},v1={sig},v2=zzz",
        f" t = {NOW} , v1 = {sig} ",
        f"t={NOW},v1={sig},scheme=ignored",
    ):
        assert verify_webhook(BODY, header, SECRET, now=NOW).event.type == "auth", header


@pytest.mark.parametrize(
    "body",
    [BODY, BODY.decode(), bytearray(BODY), memoryview(BODY)],
    ids=["bytes", "str", "bytearray", "memoryview"],
)
def test_body_types(body: object) -> None:
    assert verify_webhook(body, GOOD, SECRET, now=NOW).body == BODY  # type: ignore[arg-type]


def test_non_ascii_body_str_is_signed_and_verified_as_utf8() -> None:
    body = '{"type":"healthcheck","note":"café ☕"}'
    header = sign_webhook(body, SECRET, timestamp=NOW)
    assert verify_webhook(body.encode("utf-8"), header, SECRET, now=NOW).event.note == "café ☕"  # type: ignore[attr-defined]
    assert verify_webhook(body, header, SECRET, now=NOW).body == body.encode("utf-8")


@pytest.mark.parametrize(
    "secrets",
    [
        SECRET,
        Secret(SECRET),
        SigningSecret(Secret(SECRET)),
        [OLD_SECRET, SECRET],
        (Secret(OLD_SECRET), SigningSecret(Secret(SECRET), None)),
        frozenset({SECRET}),
    ],
    ids=["str", "Secret", "SigningSecret", "list", "tuple", "set"],
)
def test_secret_shapes(secrets: object) -> None:
    assert verify_webhook(BODY, GOOD, secrets, now=NOW).environment is None  # type: ignore[arg-type]


def test_environment_map_names_the_environment_that_signed() -> None:
    secrets = {
        "testing": TESTING_SECRET,
        Environment.STAGING: [STAGING_SECRET, OLD_SECRET],
        "prod": Secret(PRODUCTION_SECRET),
    }
    for secret, env in [
        (TESTING_SECRET, Environment.TESTING),
        (STAGING_SECRET, Environment.STAGING),
        (OLD_SECRET, Environment.STAGING),
        (PRODUCTION_SECRET, Environment.PRODUCTION),
    ]:
        header = sign_webhook(BODY, secret, timestamp=NOW)
        assert verify_webhook(BODY, header, secrets, now=NOW).environment is env


def test_credentials_and_load_all_environments_shape() -> None:
    def creds(env: Environment, *secrets: str) -> TerraCredentials:
        return TerraCredentials(
            environment=env,
            dev_id=f"acme-{env.value}",
            api_key=Secret(f"fake-key-{env.value}-0123456789"),
            webhook_secrets=tuple(SigningSecret(Secret(s)) for s in secrets),
        )

    staging = creds(Environment.STAGING, STAGING_SECRET)
    everything = {
        Environment.TESTING: creds(Environment.TESTING, TESTING_SECRET),
        Environment.STAGING: staging,
        Environment.PRODUCTION: creds(Environment.PRODUCTION, PRODUCTION_SECRET),
    }
    header = sign_webhook(BODY, STAGING_SECRET, timestamp=NOW)
    assert verify_webhook(BODY, header, everything, now=NOW).environment is Environment.STAGING
    assert verify_webhook(BODY, header, staging, now=NOW).environment is Environment.STAGING
    with pytest.raises(WebhookVerificationError) as caught:
        verify_webhook(BODY, header, creds(Environment.STAGING), now=NOW)
    assert caught.value.reason == "no_secret"


def test_rotation_previous_secret_accepted_until_not_after() -> None:
    deadline = datetime.fromtimestamp(NOW + 60, UTC)
    secrets = [SECRET, SigningSecret(Secret(OLD_SECRET), not_after=deadline)]
    header = sign_webhook(BODY, OLD_SECRET, timestamp=NOW)
    assert verify_webhook(BODY, header, secrets, now=NOW).body == BODY
    assert verify_webhook(BODY, header, secrets, now=deadline).body == BODY
    with pytest.raises(WebhookVerificationError) as caught:
        verify_webhook(BODY, header, secrets, now=deadline + timedelta(seconds=1))
    assert caught.value.reason == "expired_secret"
    # a naive not_after is taken as UTC
    naive = [SigningSecret(Secret(OLD_SECRET), not_after=deadline.replace(tzinfo=None))]
    assert verify_webhook(BODY, header, naive, now=NOW).body == BODY


def test_expired_secret_does_not_hide_a_valid_one_that_matches() -> None:
    expired = SigningSecret(Secret(SECRET), not_after=datetime.fromtimestamp(NOW - 1, UTC))
    assert verify_webhook(BODY, GOOD, [expired, SECRET], now=NOW).body == BODY


@pytest.mark.parametrize("offset", [-300, -1, 0, 1, 300])
def test_tolerance_edges_both_ways(offset: int) -> None:
    assert verify_webhook(BODY, GOOD, SECRET, now=NOW + offset).body == BODY


def test_tolerance_configurable_and_none_disables() -> None:
    with pytest.raises(WebhookVerificationError):
        verify_webhook(BODY, GOOD, SECRET, now=NOW + 11, tolerance=10)
    assert verify_webhook(BODY, GOOD, SECRET, now=NOW + 10, tolerance=10).body == BODY
    assert verify_webhook(BODY, GOOD, SECRET, now=NOW + 10**8, tolerance=None).body == BODY
    assert verify_webhook(BODY, GOOD, SECRET, now=NOW - 10**8, tolerance=None).body == BODY


def test_now_as_datetime_and_default_clock() -> None:
    at = datetime.fromtimestamp(NOW + 5, UTC).astimezone(timezone_plus_two())
    assert verify_webhook(BODY, GOOD, SECRET, now=at).body == BODY
    fresh = sign_webhook(BODY, SECRET)  # now
    assert verify_webhook(BODY, fresh, SECRET).body == BODY
    with pytest.raises(WebhookVerificationError) as caught:
        verify_webhook(BODY, GOOD, SECRET)  # NOW is in the past of the real clock? check both
    assert caught.value.reason in {"too_old", "too_new"}


def timezone_plus_two():  # type: ignore[no-untyped-def]
    from datetime import timezone

    return timezone(timedelta(hours=2))


@pytest.mark.parametrize(
    ("kwargs", "word"),
    [
        ({"tolerance": -1}, "tolerance"),
        ({"tolerance": "300"}, "tolerance"),
        ({"tolerance": True}, "tolerance"),
        ({"now": datetime(2026, 1, 1)}, "naive"),  # noqa: DTZ001
        ({"now": "2026-01-01"}, "now"),
        ({"now": float("nan")}, "finite"),
        ({"tolerance": float("nan")}, "tolerance"),
    ],
)
def test_bad_arguments_are_configuration_errors_with_hints(kwargs: dict, word: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        verify_webhook(BODY, GOOD, SECRET, **kwargs)
    assert word in str(caught.value)
    assert caught.value.hint


@pytest.mark.parametrize("secrets", [42, [["nested"]], {"staging": {"x": "y"}}, b"bytes"])
def test_secrets_of_unknown_type_are_configuration_errors(secrets: object) -> None:
    with pytest.raises(ConfigurationError) as caught:
        verify_webhook(BODY, GOOD, secrets, now=NOW)  # type: ignore[arg-type]
    assert caught.value.hint and "mapping" in caught.value.hint


def test_unknown_environment_name_in_map() -> None:
    with pytest.raises(ConfigurationError) as caught:
        verify_webhook(BODY, GOOD, {"qa": SECRET}, now=NOW)
    assert "qa" in str(caught.value)


def test_sign_webhook_refuses_an_empty_secret() -> None:
    with pytest.raises(ConfigurationError):
        sign_webhook(BODY, "")


def test_sign_webhook_default_timestamp_is_now() -> None:
    import time

    before = int(time.time())
    t = int(sign_webhook(BODY, SECRET).split(",")[0][2:])
    assert before <= t <= int(time.time())


def test_many_distinct_secrets_do_not_grow_the_cache_without_bound() -> None:
    from terra_auth.webhooks import signature

    for i in range(600):
        sign_webhook(BODY, f"{SECRET}-{i}", timestamp=NOW)
    assert len(signature._template_cache) <= 256


def test_verify_signature_checks_without_parsing() -> None:
    from terra_auth.webhooks import verify_signature

    body = b"not json at all"
    header = sign_webhook(body, SECRET, timestamp=NOW)
    checked = verify_signature(
        body, {"X-Terra-Signature": header, "X-Terra-Trace-Id": "t-9"}, SECRET, now=NOW
    )
    assert checked.body == body
    assert checked.timestamp == NOW
    assert checked.signed_at == datetime.fromtimestamp(NOW, UTC)
    assert checked.trace_id == "t-9"
    assert checked.environment is None
    with pytest.raises(WebhookVerificationError) as caught:
        verify_webhook(body, header, SECRET, now=NOW)
    assert caught.value.reason == "invalid_body"


def test_caches_never_serve_a_changed_secret_map() -> None:
    """The fast path caches keys per immutable item; a mutated dict or list is re-read."""
    secrets: dict[str, object] = {"staging": STAGING_SECRET, "production": PRODUCTION_SECRET}
    prod_header = sign_webhook(BODY, PRODUCTION_SECRET, timestamp=NOW)
    for _ in range(3):  # warm every cache
        assert (
            verify_webhook(BODY, prod_header, secrets, now=NOW).environment
            is Environment.PRODUCTION
        )
    secrets["production"] = TESTING_SECRET  # production's secret rotated in place
    with pytest.raises(WebhookVerificationError) as caught:
        verify_webhook(BODY, prod_header, secrets, now=NOW)
    assert caught.value.reason == "bad_signature"
    secrets["testing"] = PRODUCTION_SECRET  # the same value now belongs to another environment
    assert verify_webhook(BODY, prod_header, secrets, now=NOW).environment is Environment.TESTING

    listed = [OLD_SECRET, SECRET]
    assert verify_webhook(BODY, GOOD, listed, now=NOW).body == BODY
    listed.remove(SECRET)
    with pytest.raises(WebhookVerificationError):
        verify_webhook(BODY, GOOD, listed, now=NOW)


def test_fast_path_respects_not_after_on_every_call() -> None:
    deadline = datetime.fromtimestamp(NOW, UTC)
    rotating = {"staging": [SigningSecret(Secret(OLD_SECRET), not_after=deadline), STAGING_SECRET]}
    header = sign_webhook(BODY, OLD_SECRET, timestamp=NOW)
    assert verify_webhook(BODY, header, rotating, now=NOW).environment is Environment.STAGING
    with pytest.raises(WebhookVerificationError) as caught:
        verify_webhook(BODY, header, rotating, now=NOW + 1)
    assert caught.value.reason == "expired_secret"


def test_environment_keys_as_load_all_environments_returns_them() -> None:
    secrets = {Environment.STAGING: STAGING_SECRET, Environment.PRODUCTION: PRODUCTION_SECRET}
    header = sign_webhook(BODY, PRODUCTION_SECRET, timestamp=NOW)
    for _ in range(2):
        assert verify_webhook(BODY, header, secrets, now=NOW).environment is Environment.PRODUCTION


def test_several_v1_and_the_item_cache_is_bounded() -> None:
    from terra_auth.webhooks import signature

    for i in range(300):
        verify_webhook(BODY, GOOD, [f"{SECRET}-{i}", SECRET], now=NOW)
    assert len(signature._item_cache) <= 256


def test_pure_python_hmac_fallback_gives_the_same_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without OpenSSL's private HMAC object the stdlib hmac wrapper is used, same results."""
    import sys

    from terra_auth.webhooks import signature

    monkeypatch.setitem(sys.modules, "_hashlib", None)  # import _hashlib now fails
    monkeypatch.setattr(signature, "_template_cache", {})
    monkeypatch.setattr(signature, "_item_cache", {})
    fallback = signature._new_hmac(b"key")
    assert type(fallback).__module__ == "hmac"
    assert sign_webhook(BODY, SECRET, timestamp=NOW) == GOOD
    assert verify_webhook(BODY, GOOD, SECRET, now=NOW).body == BODY
    assert (
        verify_webhook(BODY, GOOD, {"staging": SECRET}, now=NOW).environment is Environment.STAGING
    )
