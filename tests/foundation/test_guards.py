"""Guards: each refuses a mix-up with guard=<name> and a hint; each opt-out is explicit."""

from __future__ import annotations

import pytest

from terra_auth.environments import Environment, load_all_environments, load_credentials
from terra_auth.errors import ConfigurationError
from terra_auth.guards import GUARDS, OptOuts, environment_words


def refused(guard: str, fn, *args, **kwargs) -> ConfigurationError:
    with pytest.raises(ConfigurationError) as info:
        fn(*args, **kwargs)
    assert info.value.guard == guard, info.value
    assert info.value.hint
    return info.value


# --- dev-id naming another environment ---------------------------------------------------------


@pytest.mark.parametrize(
    ("dev_id", "words"),
    [
        ("acme-testing-12ab", {"testing"}),
        ("acme-prod-12ab", {"production"}),
        ("ACME_Staging.3", {"staging"}),
        ("acme-12ab", set()),
        ("protest-1", set()),  # a word that merely contains 'test'
    ],
)
def test_environment_words(dev_id: str, words: set[str]) -> None:
    assert environment_words(dev_id) == words


def test_dev_id_naming_another_environment(config) -> None:
    acct = config.add("testing")
    config.write(".env.terra.testing", acct.file_text().replace(acct.dev_id, "acme-prod-42"))
    error = refused(
        "dev_id_environment", load_credentials, "testing", directory=config.directory, environ={}
    )
    assert "names the 'production' environment" in str(error)
    assert ".env.terra.testing:2" in str(error)
    assert "allow_dev_id_mismatch" in error.hint and "TERRA_ALLOW_DEV_ID_MISMATCH" in error.hint
    creds = load_credentials(
        "testing", directory=config.directory, environ={}, allow_dev_id_mismatch=True
    )
    assert creds.dev_id == "acme-prod-42"
    creds = load_credentials(
        "testing", directory=config.directory, environ={"TERRA_ALLOW_DEV_ID_MISMATCH": "1"}
    )
    assert creds.dev_id == "acme-prod-42"


# --- the same key or secret in two environments ------------------------------------------------


def test_same_api_key_in_two_environments(config) -> None:
    testing, staging = config.add("testing"), config.add("staging")
    config.write(".env.terra.staging", staging.file_text().replace(staging.api_key, testing.api_key))
    error = refused(
        "shared_credentials", load_all_environments, directory=config.directory, environ={}
    )
    assert "API key of 'testing' is also the API key of 'staging'" in str(error)
    loaded = load_all_environments(
        directory=config.directory, environ={}, allow_shared_credentials=True
    )
    assert len(loaded) == 2
    loaded = load_all_environments(
        directory=config.directory, environ={"TERRA_ALLOW_SHARED_CREDENTIALS": "true"}
    )
    assert len(loaded) == 2


def test_same_signing_secret_in_two_environments_including_previous(config) -> None:
    testing, production = config.add("testing"), config.add("production")
    config.write(
        ".env.terra.production",
        production.file_text()
        + f"TERRA_WEBHOOK_SECRET_PREVIOUS={testing.webhook_secret}\n"
        + "TERRA_WEBHOOK_SECRET_PREVIOUS_NOT_AFTER=2030-01-01T00:00:00Z\n",
    )
    error = refused(
        "shared_credentials",
        load_all_environments,
        directory=config.directory,
        environ={"TERRA_ENV": "production"},
    )
    assert "signing secret of 'testing' is also the signing secret of 'production'" in str(error)


# --- production in a process declared as another environment -----------------------------------


def test_production_in_a_testing_process(config) -> None:
    config.add("production")
    environ = {"TERRA_ENV": "testing"}
    error = refused(
        "production_mismatch",
        load_credentials,
        "production",
        directory=config.directory,
        environ=environ,
    )
    assert "TERRA_ENV is 'testing'" in str(error)
    refused("production_mismatch", load_all_environments, directory=config.directory, environ=environ)
    assert load_credentials(
        "prod", directory=config.directory, environ=environ, allow_production_mismatch=True
    ).environment is Environment.PRODUCTION
    env_opt_out = dict(environ, TERRA_ALLOW_PRODUCTION_MISMATCH="yes")
    assert load_all_environments(directory=config.directory, environ=env_opt_out)
    # no TERRA_ENV, or TERRA_ENV=production: allowed
    assert load_credentials("production", directory=config.directory, environ={})
    assert load_credentials(directory=config.directory, environ={"TERRA_ENV": "prod"})


# --- missing variables ---------------------------------------------------------------------------


def test_missing_variable_names_variable_environment_and_every_place(config) -> None:
    config.write(".env.terra", "TERRA_TIMEOUT=5\n")
    config.write(".env.terra.staging", "TERRA_DEV_ID=acme-staging-1\n")
    error = refused(
        "missing_variable", load_credentials, "staging", directory=config.directory, environ={}
    )
    message = str(error)
    assert "TERRA_API_KEY is missing for 'staging'" in message
    assert "process environment (TERRA_API_KEY_STAGING, TERRA_API_KEY)" in message
    assert str(config.directory / ".env.terra.staging") in message
    assert str(config.directory / ".env.terra") in message
    assert "setup-environment staging" in error.hint


def test_missing_lists_absent_files(config) -> None:
    error = refused(
        "missing_variable",
        load_credentials,
        "production",
        directory=config.directory,
        environ={"TERRA_ENV": "testing", "TERRA_ALLOW_PRODUCTION_MISMATCH": "1"},
    )
    # TERRA_ENV is testing, so unsuffixed process variables are not consulted for production
    assert "(TERRA_DEV_ID_PRODUCTION, TERRA_API_KEY_PRODUCTION)" in str(error)
    assert ".env.terra.production (not found)" in str(error)
    assert ".env.terra (not found)" in str(error)


def test_empty_required_value(config) -> None:
    config.write(".env.terra.testing", "TERRA_DEV_ID=acme-testing-1\nTERRA_API_KEY=\n")
    error = refused(
        "missing_variable", load_credentials, "testing", directory=config.directory, environ={}
    )
    assert "TERRA_API_KEY for 'testing' is empty" in str(error)
    assert ".env.terra.testing:2" in str(error)


# --- placeholders and malformed values -----------------------------------------------------------

PLACEHOLDERS = [
    "<YOUR_API_KEY>",
    "changeme",
    "CHANGE_ME",
    "xxx",
    "xxxxxxxxxxxxxxxx",
    "xxx-123",
    "your_api_key",
    "YOUR-API-KEY-HERE",
    "...",
    "abc...",
    "${TERRA_API_KEY}",
    "$TERRA_API_KEY",
    "placeholder",
    "aaaaaaaa",
]


@pytest.mark.parametrize("value", PLACEHOLDERS)
def test_placeholder_api_key(config, value: str) -> None:
    config.write(
        ".env.terra.testing", f"TERRA_DEV_ID=acme-testing-1\nTERRA_API_KEY='{value}'\n"
    )
    error = refused(
        "placeholder_value", load_credentials, "testing", directory=config.directory, environ={}
    )
    assert "TERRA_API_KEY for 'testing'" in str(error)
    if len(value) > 11:  # short ones ('xxx', '...') also occur in the generic explanation
        assert value not in str(error) + error.hint
    creds = load_credentials(
        "testing", directory=config.directory, environ={}, allow_placeholders=True
    )
    assert creds.api_key.reveal() == value


def test_placeholder_dev_id_and_webhook_secret(config) -> None:
    acct = config.add("staging")
    config.write(".env.terra.staging", acct.file_text().replace(acct.dev_id, "<YOUR_DEV_ID>"))
    refused("placeholder_value", load_credentials, "staging", directory=config.directory, environ={})
    config.write(".env.terra.staging", acct.file_text().replace(acct.webhook_secret, "changeme"))
    error = refused(
        "placeholder_value", load_credentials, "staging", directory=config.directory, environ={}
    )
    assert "TERRA_WEBHOOK_SECRET" in str(error)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (" fake-key-0123456789", "whitespace"),
        ("fake-key-0123456789 ", "whitespace"),
        ('"fake-key-0123456789"', "quote"),
        ("'fake-key-0123456789'", "quote"),
        ("fake-key\t0123456789", "whitespace or control"),
    ],
)
def test_malformed_from_process_environment(config, value: str, reason: str) -> None:
    environ = {"TERRA_DEV_ID": "acme-testing-1", "TERRA_API_KEY": value}
    error = refused(
        "malformed_value", load_credentials, "testing", directory=config.directory, environ=environ
    )
    assert reason in str(error) and "$TERRA_API_KEY" in str(error)
    assert value.strip(" '\"") not in str(error)
    environ["TERRA_ALLOW_MALFORMED_VALUES"] = "on"
    assert load_credentials("testing", directory=config.directory, environ=environ)


def test_quotes_left_in_a_file_value(config) -> None:
    # a mismatched quote in an unquoted value is left in, and then refused
    config.write(".env.terra.testing", 'TERRA_DEV_ID=acme-testing-1\nTERRA_API_KEY=fake-key-0123456789"\n')
    error = refused(
        "malformed_value", load_credentials, "testing", directory=config.directory, environ={}
    )
    assert ".env.terra.testing:2" in str(error)


def test_real_looking_values_pass(config) -> None:
    config.add("testing")
    assert load_credentials("testing", directory=config.directory, environ={})


# --- opt-outs --------------------------------------------------------------------------------


def test_every_opt_out_guard_has_keyword_and_variable() -> None:
    for guard in GUARDS.values():
        if guard.keyword is None:
            assert guard.name in {"missing_variable", "invalid_value"}
            continue
        assert guard.variable == "TERRA_" + guard.keyword.upper()
        assert getattr(OptOuts.resolve({guard.variable: "1"}), guard.keyword) is True
        assert getattr(OptOuts.resolve({}, **{guard.keyword: True}), guard.keyword) is True
        assert getattr(OptOuts.resolve({guard.variable: "0"}), guard.keyword) is False


def test_opt_out_variable_must_be_boolean(config) -> None:
    config.add("testing")
    error = refused(
        "invalid_value",
        load_credentials,
        "testing",
        directory=config.directory,
        environ={"TERRA_ALLOW_PLACEHOLDERS": "please"},
    )
    assert "TERRA_ALLOW_PLACEHOLDERS is not a boolean" in str(error)
