"""The environment-map fast path (a per-dict snapshot) never serves a changed map.

Each test warms the snapshot with a few calls, changes the dict in place, and checks that the
answer is the one a fresh dict with the same content would give.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from terra_auth.environments import Environment, SigningSecret, TerraCredentials
from terra_auth.errors import ConfigurationError, WebhookVerificationError
from terra_auth.secret import Secret
from terra_auth.webhooks import sign_webhook, verify_signature, verify_webhook
from terra_auth.webhooks import signature as signature_module

from ._helpers import BODY, NOW, OLD_SECRET, PRODUCTION_SECRET, STAGING_SECRET, TESTING_SECRET

PROD = sign_webhook(BODY, PRODUCTION_SECRET, timestamp=NOW)
STAGING = sign_webhook(BODY, STAGING_SECRET, timestamp=NOW)
TESTING = sign_webhook(BODY, TESTING_SECRET, timestamp=NOW)


def _env(header: str, secrets: object) -> Environment | None:
    return verify_signature(BODY, header, secrets, now=NOW).environment  # type: ignore[arg-type]


def _reason(header: str, secrets: object) -> str:
    with pytest.raises(WebhookVerificationError) as caught:
        verify_webhook(BODY, header, secrets, now=NOW)  # type: ignore[arg-type]
    return caught.value.reason


def _warm(secrets: dict[object, object]) -> None:
    for header in (PROD, STAGING, PROD, STAGING):
        try:
            verify_signature(BODY, header, secrets, now=NOW)  # type: ignore[arg-type]
        except WebhookVerificationError:
            pass


def test_every_entry_of_a_warm_map_answers_with_its_environment() -> None:
    secrets = {"production": PRODUCTION_SECRET, "staging": STAGING_SECRET, "test": TESTING_SECRET}
    for _ in range(3):
        assert _env(PROD, secrets) is Environment.PRODUCTION
        assert _env(STAGING, secrets) is Environment.STAGING
        assert _env(TESTING, secrets) is Environment.TESTING
    assert _reason(sign_webhook(BODY, OLD_SECRET, timestamp=NOW), secrets) == "bad_signature"


def test_replacing_the_first_entry_is_seen_at_once() -> None:
    secrets: dict[object, object] = {"production": PRODUCTION_SECRET, "staging": STAGING_SECRET}
    _warm(secrets)
    secrets["production"] = TESTING_SECRET  # rotated in place
    assert _reason(PROD, secrets) == "bad_signature"
    assert _env(TESTING, secrets) is Environment.PRODUCTION
    assert _env(STAGING, secrets) is Environment.STAGING


def test_replacing_a_later_entry_is_seen_at_once() -> None:
    secrets: dict[object, object] = {
        "testing": TESTING_SECRET,
        "staging": STAGING_SECRET,
        "production": PRODUCTION_SECRET,
    }
    _warm(secrets)
    secrets["staging"] = OLD_SECRET
    assert _reason(STAGING, secrets) == "bad_signature"
    assert _env(sign_webhook(BODY, OLD_SECRET, timestamp=NOW), secrets) is Environment.STAGING
    assert _env(PROD, secrets) is Environment.PRODUCTION


def test_deleting_an_entry_is_seen_at_once() -> None:
    secrets: dict[object, object] = {"production": PRODUCTION_SECRET, "staging": STAGING_SECRET}
    _warm(secrets)
    del secrets["production"]
    assert _reason(PROD, secrets) == "bad_signature"
    assert _env(STAGING, secrets) is Environment.STAGING
    del secrets["staging"]
    secrets["testing"] = STAGING_SECRET  # the same value, now another environment's
    assert _env(STAGING, secrets) is Environment.TESTING


def test_reordering_a_shared_secret_changes_which_environment_wins() -> None:
    """Secrets are tried in order: with one value under two names, the first name wins."""
    secrets: dict[object, object] = {"staging": PRODUCTION_SECRET, "production": PRODUCTION_SECRET}
    _warm(secrets)
    assert _env(PROD, secrets) is Environment.STAGING
    secrets["staging"] = secrets.pop("staging")  # now last
    assert _env(PROD, secrets) is Environment.PRODUCTION
    assert _env(PROD, dict(secrets)) is Environment.PRODUCTION


def test_an_added_environment_is_found() -> None:
    secrets: dict[object, object] = {"production": PRODUCTION_SECRET}
    _warm(secrets)
    assert _reason(TESTING, secrets) == "bad_signature"
    secrets["testing"] = TESTING_SECRET
    for _ in range(3):
        assert _env(TESTING, secrets) is Environment.TESTING
        assert _env(PROD, secrets) is Environment.PRODUCTION


def test_environment_member_keys_and_credentials_mutated_in_place() -> None:
    def creds(env: Environment, value: str) -> TerraCredentials:
        return TerraCredentials(
            environment=env,
            dev_id=f"dev-{env.value}",
            api_key=Secret("fake-api-key-0123456789"),
            webhook_secrets=(SigningSecret(Secret(value)),),
        )

    secrets: dict[object, object] = {
        Environment.PRODUCTION: creds(Environment.PRODUCTION, PRODUCTION_SECRET),
        Environment.STAGING: creds(Environment.STAGING, STAGING_SECRET),
    }
    _warm(secrets)
    assert _env(PROD, secrets) is Environment.PRODUCTION
    secrets[Environment.PRODUCTION] = creds(Environment.PRODUCTION, TESTING_SECRET)
    assert _reason(PROD, secrets) == "bad_signature"
    assert _env(TESTING, secrets) is Environment.PRODUCTION
    assert _env(STAGING, secrets) is Environment.STAGING


def test_a_list_entry_is_read_afresh_on_every_call() -> None:
    rotating: list[object] = [PRODUCTION_SECRET]
    secrets: dict[object, object] = {"production": rotating, "staging": STAGING_SECRET}
    _warm(secrets)
    assert _env(PROD, secrets) is Environment.PRODUCTION
    rotating.clear()
    rotating.append(TESTING_SECRET)
    assert _reason(PROD, secrets) == "bad_signature"
    assert _env(TESTING, secrets) is Environment.PRODUCTION
    secrets["production"] = PRODUCTION_SECRET  # a list no more
    assert _env(PROD, secrets) is Environment.PRODUCTION


def test_a_rotated_out_first_entry_is_expired_on_every_call() -> None:
    deadline = datetime.fromtimestamp(NOW, UTC)
    old = sign_webhook(BODY, OLD_SECRET, timestamp=NOW)
    secrets: dict[object, object] = {
        "production": SigningSecret(Secret(OLD_SECRET), not_after=deadline),
        "staging": STAGING_SECRET,
    }
    for _ in range(3):
        assert verify_signature(BODY, old, secrets, now=NOW).environment is Environment.PRODUCTION
        with pytest.raises(WebhookVerificationError) as caught:
            verify_signature(BODY, old, secrets, now=NOW + 1)
        assert caught.value.reason == "expired_secret"


def test_two_maps_in_turn_and_a_new_dict_per_call() -> None:
    first = {"production": PRODUCTION_SECRET}
    second = {"staging": PRODUCTION_SECRET}
    for _ in range(3):
        assert _env(PROD, first) is Environment.PRODUCTION
        assert _env(PROD, second) is Environment.STAGING
        assert _env(PROD, {"testing": PRODUCTION_SECRET}) is Environment.TESTING


def test_an_unknown_environment_name_is_still_a_configuration_error_when_reached() -> None:
    secrets = {"production": PRODUCTION_SECRET, "qa": STAGING_SECRET}
    for _ in range(2):
        assert _env(PROD, secrets) is Environment.PRODUCTION  # "qa" not reached
        with pytest.raises(ConfigurationError):
            verify_signature(BODY, STAGING, secrets, now=NOW)


def test_the_snapshot_cache_is_bounded() -> None:
    for _ in range(600):
        assert _env(PROD, {"production": PRODUCTION_SECRET}) is Environment.PRODUCTION
    assert len(signature_module._map_cache) <= 256
