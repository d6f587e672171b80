"""load_credentials / load_all_environments: sources, precedence, aliases, rotation, settings."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from datetime import UTC, datetime

import pytest

import terra_auth
from terra_auth.environments import (
    DEFAULT_API_BASE_URL,
    DEFAULT_WIDGET_SESSION_URL,
    Environment,
    SigningSecret,
    TerraCredentials,
    load_all_environments,
    load_credentials,
)
from terra_auth.errors import ConfigurationError
from terra_auth.secret import Secret


def test_loads_one_environment_from_its_file(config) -> None:
    acct = config.add("staging")
    creds = load_credentials("staging", directory=config.directory, environ={})
    assert creds.environment is Environment.STAGING
    assert creds.dev_id == acct.dev_id
    assert creds.api_key.reveal() == acct.api_key
    assert [s.value.reveal() for s in creds.webhook_secrets] == [acct.webhook_secret]
    assert creds.api_base_url == DEFAULT_API_BASE_URL
    assert creds.widget_session_url == DEFAULT_WIDGET_SESSION_URL
    assert creds.files == (str(config.directory / ".env.terra.staging"),)
    assert any("TERRA_API_KEY from" in s and ".env.terra.staging:3" in s for s in creds.sources)


def test_reexported_from_package() -> None:
    assert terra_auth.load_credentials is load_credentials
    assert terra_auth.load_all_environments is load_all_environments


@pytest.mark.parametrize(
    ("name", "expected"),
    [("test", "testing"), ("STAGE", "staging"), (" prod ", "production"), ("production", "production")],
)
def test_aliases_are_normalised(config, name: str, expected: str) -> None:
    config.add(expected)
    creds = load_credentials(name, directory=config.directory, environ={})
    assert creds.environment.value == expected


def test_unknown_environment_lists_valid_names(config) -> None:
    with pytest.raises(ConfigurationError) as info:
        load_credentials("qa", directory=config.directory, environ={})
    assert "unknown Terra environment 'qa'" in str(info.value)
    assert "testing, staging, production" in (info.value.hint or "")


def test_env_defaults_to_terra_env_then_testing(config) -> None:
    config.add("testing")
    config.add("staging")
    assert load_credentials(directory=config.directory, environ={}).environment.value == "testing"
    got = load_credentials(directory=config.directory, environ={"TERRA_ENV": "stage"})
    assert got.environment.value == "staging"
    with pytest.raises(ConfigurationError, match="TERRA_ENV"):
        load_credentials(directory=config.directory, environ={"TERRA_ENV": "qa"})


def test_precedence_process_over_env_file_over_shared_file(config) -> None:
    acct = config.add("staging")
    config.write(".env.terra", "TERRA_TIMEOUT=7\nTERRA_CONNECT_TIMEOUT=3\nTERRA_API_BASE_URL=http://shared.example/api/v2\n")
    config.write(
        ".env.terra.staging",
        acct.file_text() + "TERRA_TIMEOUT=11\n",
    )
    environ = {"TERRA_TIMEOUT_STAGING": "13"}
    creds = load_credentials("staging", directory=config.directory, environ=environ)
    assert creds.timeout == 13.0  # process environment wins
    assert creds.connect_timeout == 3.0  # only in the shared file
    assert creds.api_base_url == "http://shared.example/api/v2"
    creds = load_credentials("staging", directory=config.directory, environ={})
    assert creds.timeout == 11.0  # env file beats shared file


def test_suffixed_beats_unsuffixed_within_a_source(config) -> None:
    key_plain, key_suffixed = "fake-key-plain-0123456789", "fake-key-suffixed-0123456789"
    environ = {
        "TERRA_DEV_ID": "acme-staging-1",
        "TERRA_API_KEY": key_plain,
        "TERRA_API_KEY_STAGING": key_suffixed,
    }
    creds = load_credentials("staging", directory=config.directory, environ=environ)
    assert creds.api_key.reveal() == key_suffixed
    config.write(
        ".env.terra.staging",
        f"TERRA_DEV_ID=acme-staging-2\nTERRA_API_KEY={key_plain}\nTERRA_API_KEY_STAGING={key_suffixed}\n",
    )
    creds = load_credentials("staging", directory=config.directory, environ={})
    assert creds.api_key.reveal() == key_suffixed


def test_unsuffixed_process_credentials_belong_to_terra_env_only(config) -> None:
    environ = {
        "TERRA_ENV": "testing",
        "TERRA_DEV_ID": "acme-testing-1",
        "TERRA_API_KEY": "fake-key-testing-0123456789",
    }
    assert load_credentials(directory=config.directory, environ=environ).dev_id == "acme-testing-1"
    with pytest.raises(ConfigurationError) as info:
        load_credentials("staging", directory=config.directory, environ=environ)
    assert info.value.guard == "missing_variable"
    # load_all_environments: the unsuffixed pair configures testing only
    loaded = load_all_environments(directory=config.directory, environ=environ)
    assert list(loaded) == [Environment.TESTING]


def test_without_terra_env_unsuffixed_apply_to_the_requested_environment(config) -> None:
    environ = {"TERRA_DEV_ID": "acme-staging-1", "TERRA_API_KEY": "fake-key-0123456789ab"}
    assert load_credentials("staging", directory=config.directory, environ=environ).dev_id == "acme-staging-1"
    # ... and to testing only in load_all_environments, where the dev-id guard catches this one
    with pytest.raises(ConfigurationError) as info:
        load_all_environments(directory=config.directory, environ=environ)
    assert info.value.guard == "dev_id_environment"
    neutral = dict(environ, TERRA_DEV_ID="acme-1")
    assert list(load_all_environments(directory=config.directory, environ=neutral)) == [Environment.TESTING]


def test_unsuffixed_settings_apply_to_every_environment(config) -> None:
    for env in ("testing", "staging"):
        config.add(env)
    environ = {"TERRA_API_BASE_URL": "http://127.0.0.1:9/api/v2/"}
    loaded = load_all_environments(directory=config.directory, environ=environ)
    assert {c.api_base_url for c in loaded.values()} == {"http://127.0.0.1:9/api/v2"}


def test_load_all_with_suffixed_process_variables_only(config) -> None:
    environ = {}
    for env in ("testing", "staging", "production"):
        s = env.upper()
        environ[f"TERRA_DEV_ID_{s}"] = f"acme-{env}-1"
        environ[f"TERRA_API_KEY_{s}"] = f"fake-key-{env}-0123456789"
    environ["TERRA_ENV"] = "production"
    loaded = load_all_environments(directory=config.directory, environ=environ)
    assert [e.value for e in loaded] == ["testing", "staging", "production"]
    assert loaded[Environment.STAGING].dev_id == "acme-staging-1"


def test_load_all_none_configured(config) -> None:
    with pytest.raises(ConfigurationError) as info:
        load_all_environments(directory=config.directory, environ={})
    assert "no Terra environment is configured" in str(info.value)
    assert "setup-environment" in (info.value.hint or "")


def test_load_all_raises_a_broken_environment(config) -> None:
    config.add("testing")
    config.write(".env.terra.staging", "TERRA_DEV_ID=acme-staging-1\n")
    with pytest.raises(ConfigurationError) as info:
        load_all_environments(directory=config.directory, environ={})
    assert info.value.guard == "missing_variable"
    assert "TERRA_API_KEY is missing for 'staging'" in str(info.value)


def test_settings(config) -> None:
    acct = config.add("testing")
    config.write(
        ".env.terra.testing",
        acct.file_text()
        + "TERRA_WIDGET_SESSION_URL=http://127.0.0.1:8000/widget/api/session\n"
        + "TERRA_STREAMING_URL=http://127.0.0.1:8000/streaming\n"
        + "TERRA_ALLOWED_REDIRECT_HOSTS= App.Example.com, localhost ,\n"
        + "TERRA_TIMEOUT=2.5\nTERRA_USE_LEGACY_WIDGET=yes\n",
    )
    creds = load_credentials("testing", directory=config.directory, environ={})
    assert creds.widget_session_url == "http://127.0.0.1:8000/widget/api/session"
    assert creds.streaming_url == "http://127.0.0.1:8000/streaming"
    assert creds.allowed_redirect_hosts == ("app.example.com", "localhost")
    assert creds.timeout == 2.5
    assert creds.use_legacy_widget is True


@pytest.mark.parametrize(
    ("line", "variable"),
    [
        ("TERRA_TIMEOUT=soon", "TERRA_TIMEOUT"),
        ("TERRA_CONNECT_TIMEOUT=-1", "TERRA_CONNECT_TIMEOUT"),
        ("TERRA_API_BASE_URL=ftp://x/y", "TERRA_API_BASE_URL"),
        ("TERRA_USE_LEGACY_WIDGET=maybe", "TERRA_USE_LEGACY_WIDGET"),
        ("TERRA_ALLOWED_REDIRECT_HOSTS=https://app.example.com/x", "TERRA_ALLOWED_REDIRECT_HOSTS"),
    ],
)
def test_invalid_settings_name_variable_and_line(config, line: str, variable: str) -> None:
    acct = config.add("testing")
    config.write(".env.terra.testing", acct.file_text() + line + "\n")
    with pytest.raises(ConfigurationError) as info:
        load_credentials("testing", directory=config.directory, environ={})
    assert info.value.guard == "invalid_value"
    assert variable in str(info.value) and ".env.terra.testing:5" in str(info.value)
    assert info.value.hint


def test_rotation_previous_secret_with_expiry(config) -> None:
    acct = config.add("production")
    previous = "fake-whsec-previous-0123456789abcdef"
    config.write(
        ".env.terra.production",
        acct.file_text()
        + f"TERRA_WEBHOOK_SECRET_PREVIOUS={previous}\n"
        + "TERRA_WEBHOOK_SECRET_PREVIOUS_NOT_AFTER=2026-12-31T12:00:00Z\n",
    )
    creds = load_credentials("production", directory=config.directory, environ={})
    current, old = creds.webhook_secrets
    assert current.value.reveal() == acct.webhook_secret and current.not_after is None
    assert old.value.reveal() == previous
    assert old.not_after == datetime(2026, 12, 31, 12, tzinfo=UTC)
    assert old.is_valid_at(datetime(2026, 12, 31, 11, tzinfo=UTC))
    assert not old.is_valid_at(datetime(2027, 1, 1, tzinfo=UTC))


def test_rotation_naive_time_means_utc_and_errors(config) -> None:
    acct = config.add("staging")
    base = acct.file_text() + "TERRA_WEBHOOK_SECRET_PREVIOUS=fake-whsec-prev-0123456789\n"
    config.write(".env.terra.staging", base + "TERRA_WEBHOOK_SECRET_PREVIOUS_NOT_AFTER=2026-12-31\n")
    creds = load_credentials("staging", directory=config.directory, environ={})
    assert creds.webhook_secrets[1].not_after == datetime(2026, 12, 31, tzinfo=UTC)
    config.write(".env.terra.staging", base)
    with pytest.raises(ConfigurationError, match="has no expiry") as info:
        load_credentials("staging", directory=config.directory, environ={})
    assert "TERRA_WEBHOOK_SECRET_PREVIOUS_NOT_AFTER" in (info.value.hint or "")
    config.write(".env.terra.staging", base + "TERRA_WEBHOOK_SECRET_PREVIOUS_NOT_AFTER=next week\n")
    with pytest.raises(ConfigurationError, match="not an ISO-8601"):
        load_credentials("staging", directory=config.directory, environ={})
    config.write(
        ".env.terra.staging",
        f"TERRA_DEV_ID={acct.dev_id}\nTERRA_API_KEY={acct.api_key}\n"
        "TERRA_WEBHOOK_SECRET_PREVIOUS=fake-whsec-prev-0123456789\n",
    )
    with pytest.raises(ConfigurationError, match="TERRA_WEBHOOK_SECRET is not"):
        load_credentials("staging", directory=config.directory, environ={})


def test_blank_webhook_secret_means_none(config) -> None:
    acct = config.add("testing")
    config.write(
        ".env.terra.testing",
        f"TERRA_DEV_ID={acct.dev_id}\nTERRA_API_KEY={acct.api_key}\nTERRA_WEBHOOK_SECRET=\n",
    )
    assert load_credentials("testing", directory=config.directory, environ={}).webhook_secrets == ()


def test_credentials_are_immutable_and_not_picklable(config) -> None:
    config.add("testing")
    creds = load_credentials("testing", directory=config.directory, environ={})
    with pytest.raises(dataclasses.FrozenInstanceError):
        creds.dev_id = "other"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        creds.api_key._value = "x"  # type: ignore[misc]
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(creds)
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(creds.api_key)
    assert copy.copy(creds) is creds and copy.deepcopy(creds) is creds
    assert isinstance(creds.webhook_secrets, tuple)
    assert isinstance(creds.allowed_redirect_hosts, tuple)
    changed = dataclasses.replace(creds, timeout=1.0)
    assert changed.timeout == 1.0 and creds.timeout == 30.0


def test_repr_str_and_summary_show_no_secret(config) -> None:
    acct = config.add("testing")
    creds = load_credentials("testing", directory=config.directory, environ={})
    for text in (repr(creds), str(creds), f"{creds}", f"{creds!r}", repr(creds.summary())):
        assert acct.api_key not in text and acct.webhook_secret not in text
    assert creds.key_fingerprint in repr(creds.summary())
    assert creds.summary()["webhook_secrets"][0]["fingerprint"] == Secret(acct.webhook_secret).fingerprint


def test_credentials_built_directly() -> None:
    creds = TerraCredentials(
        Environment.TESTING,
        "acme-testing-1",
        Secret("fake-key-direct-0123"),
        (SigningSecret(Secret("fake-whsec-direct-0123")),),
    )
    assert creds.key_fingerprint == Secret("fake-key-direct-0123").fingerprint
    assert creds.files == () and creds.sources == ()
