"""The rules on the generated corpus: every leak found, nothing harmless reported."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from terra_auth.environments import Environment
from terra_auth.scan import scan_paths, scan_text
from terra_auth.scan.findings import fingerprint_of, mask_value
from terra_auth.scan.rules import RULES, is_placeholder

from .conftest import Corpus, fake_api_key, fake_dev_id, fake_token


def _scan(root: Path) -> set[tuple[str, int, str, str | None]]:
    cwd = os.getcwd()
    os.chdir(root)
    try:
        result = scan_paths(["."])
    finally:
        os.chdir(cwd)
    return {(f.path, f.line, f.kind, f.environment) for f in result.findings}


def test_every_leak_in_every_format_is_found_with_kind_and_environment(leak_corpus: Corpus) -> None:
    expected = {(leak.path, leak.line, leak.kind, leak.environment) for leak in leak_corpus.leaks}
    found = _scan(leak_corpus.root)
    assert found - expected == set(), "unexpected findings"
    assert expected - found == set(), "missed leaks"
    formats = {Path(leak.path).suffix or Path(leak.path).name for leak in leak_corpus.leaks}
    assert {".py", ".js", ".ts", ".swift", ".yaml", ".json", ".md", ".sh", ".env"} <= formats


def test_harmless_corpus_yields_nothing(harmless_corpus: Corpus) -> None:
    assert _scan(harmless_corpus.root) == set()


@pytest.mark.parametrize(
    "line",
    [
        "TERRA_API_KEY=<YOUR_API_KEY>",
        "TERRA_API_KEY=xxxxxxxxxxxxxxxxxxxxxxxx",
        "TERRA_API_KEY=${TERRA_API_KEY}",
        'TERRA_API_KEY = os.getenv("TERRA_API_KEY")',
        'api_key = os.environ["TERRA_API_KEY"]  # tryterra',
        "apiKey: process.env.TERRA_API_KEY, // tryterra.co",
        "TERRA_API_KEY=...",
        "TERRA_API_KEY=changeme",
        "TERRA_API_KEY=your-api-key",
        "TERRA_DEV_ID=your-dev-id",
        "terra_at_…",
        "TERRA_API_KEY=0123456789abcdefghij",
    ],
)
def test_placeholders_and_lookups_are_not_findings(line: str) -> None:
    assert scan_text(line, "settings.env") == []
    assert scan_text(line, "settings.py") == []


def test_dev_id_and_key_together_raise_confidence() -> None:
    dev, key = fake_dev_id("prod"), fake_api_key()
    alone = scan_text(f"TERRA_API_KEY={key}\n", "a.env")
    together = scan_text(f"TERRA_DEV_ID={dev}\nTERRA_API_KEY={key}\n", "a.env")
    assert [m.confidence for m in alone] == ["medium"]
    assert [(m.kind, m.confidence) for m in together] == [("dev-id", "high"), ("api-key", "high")]
    assert {m.environment for m in together} == {Environment.PRODUCTION}


def test_environment_from_variable_name_and_file_name() -> None:
    key = fake_api_key()
    [by_name] = scan_text(f"TERRA_API_KEY_STAGING={key}")
    [by_file] = scan_text(f"TERRA_API_KEY={key}", ".env.terra.testing")
    assert by_name.environment is Environment.STAGING
    assert by_file.environment is Environment.TESTING


def test_x_api_key_needs_terra_context() -> None:
    key = fake_api_key()
    assert scan_text(f'headers = {{"x-api-key": "{key}"}}\n', "client.py") == []
    near_host = f'URL = "https://api.tryterra.co/v2"\nheaders = {{"x-api-key": "{key}"}}\n'
    assert [m.kind for m in scan_text(near_host, "client.py")] == ["api-key"]
    far = near_host.replace("\n", "\n" + "\n" * 20, 1)
    assert scan_text(far, "client.py") == []


def test_dev_id_that_is_not_shaped_counts_only_beside_a_key() -> None:
    odd = "dev" + fake_api_key(14)
    assert scan_text(f'dev_id = "{odd}"\n', "a.py") == []
    key = fake_api_key()
    both = scan_text(f'dev_id = "{odd}"\nTERRA_API_KEY = "{key}"\n', "a.py")
    assert [(m.kind, m.confidence) for m in both] == [("dev-id", "medium"), ("api-key", "high")]


def test_identifier_in_code_is_not_a_literal_but_a_comment_is() -> None:
    key = fake_api_key()
    assert scan_text("TERRA_API_KEY = settingsValueFromVault2026x\n", "a.py") == []
    assert [m.kind for m in scan_text(f"# TERRA_API_KEY={key}\n", "a.py")] == ["api-key"]


def test_tokens_are_found_anywhere() -> None:
    at, dt = fake_token("terra_at_"), fake_token("terra_dt_")
    found = scan_text(f"Authorization: Bearer {at}\n{{'t': '{dt}'}}\n")
    assert [(m.kind, m.confidence) for m in found] == [
        ("admin-token", "high"),
        ("data-token", "high"),
    ]


def test_masking_shows_at_most_two_characters_each_side() -> None:
    key = fake_api_key()
    masked = mask_value(key)
    assert masked.startswith(key[:2]) and masked.endswith(key[-2:])
    assert key[2:-2] not in masked and len(masked.strip("*")) <= 4 + 12
    assert mask_value("abcdefg") == "a************g"
    assert mask_value("abc") == "************"
    token = fake_token("terra_dt_")
    assert mask_value(token) == "terra_dt_************" + token[-2:]


def test_fingerprint_is_stable_and_depends_on_value_and_kind() -> None:
    key = fake_api_key()
    assert fingerprint_of("api-key", key) == fingerprint_of("api-key", key)
    assert fingerprint_of("api-key", key) != fingerprint_of("signing-secret", key)
    assert len(fingerprint_of("api-key", key)) == 16


def test_placeholder_words() -> None:
    assert is_placeholder("<YOUR_API_KEY>") and is_placeholder("abcEXAMPLEkey123")
    assert not is_placeholder(fake_api_key())


def test_rules_are_unique_and_name_their_secret_group() -> None:
    ids = [r.id for r in RULES]
    assert len(ids) == len(set(ids))
    assert all(r.secret_group >= 1 for r in RULES)


def test_environment_from_file_name_only_for_config_files() -> None:
    key = fake_api_key()
    assert scan_text(f"TERRA_API_KEY={key}", "config/production.yaml")[0].environment == (
        Environment.PRODUCTION
    )
    assert scan_text(f'TERRA_API_KEY = "{key}"', "tests/test_client.py")[0].environment is None


@pytest.mark.parametrize(
    "module",
    ["rules", "findings", "report", "baseline", "gitleaks", "scanner", "detect_secrets_plugin"],
)
def test_docstring_examples_run(module: str) -> None:
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(f"terra_auth.scan.{module}"))
    assert result.failed == 0


def test_css_variables_are_not_dev_ids() -> None:
    css = ":root{--vscode-testing-iconPassed:#73c991;--vscode-testing-PeekBorder:#e51400}"
    assert scan_text(css, "theme.css") == []


@pytest.mark.parametrize(
    ("template", "path"),
    [
        ('req.Header.Set("x-api-key", "{key}")\nreq.Header.Set("dev-id", "{dev}")', "client.go"),
        ('.addHeader("x-api-key", "{key}")\n.addHeader("dev-id", "{dev}")', "Client.kt"),
        ("headers = {{ 'x-api-key' => '{key}', 'dev-id' => '{dev}' }}", "client.rb"),
        ('[terra]\ndev_id = "{dev}"\napi_key = "{key}"', "settings.toml"),
        (
            "$ curl -H 'dev-id: {dev}' -H 'x-api-key: {key}' https://api.tryterra.co/v2/",
            "notes.txt",
        ),
    ],
)
def test_more_languages(template: str, path: str) -> None:
    dev, key = fake_dev_id("testing"), fake_api_key()
    found = scan_text(template.format(dev=dev, key=key), path)
    assert sorted((m.kind, m.environment, m.confidence) for m in found) == [
        ("api-key", Environment.TESTING, "high"),
        ("dev-id", Environment.TESTING, "high"),
    ]
