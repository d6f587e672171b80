"""detect-secrets plugin, gitleaks export, pre-commit hook, and the repository scanning clean."""

from __future__ import annotations

import tomllib
from pathlib import Path

import yaml

import terra_auth.scan.detect_secrets_plugin as plugin_module
from terra_auth.scan.gitleaks import export_gitleaks
from terra_auth.scan.rules import RULES

from .conftest import CliRun, Corpus

REPO_ROOT = Path(__file__).resolve().parents[2]


def _detect_secrets(files: list[Path]) -> set[tuple[str, int, str]]:
    from detect_secrets import SecretsCollection
    from detect_secrets.settings import transient_settings

    config = {
        "plugins_used": [
            {"name": "TerraCredentialDetector", "path": f"file://{plugin_module.__file__}"}
        ]
    }
    with transient_settings(config):
        collection = SecretsCollection()
        for file in files:
            collection.scan_file(str(file))
        return {
            (filename, secret.line_number, secret.secret_value or "")
            for filename, secret in collection
        }


def test_detect_secrets_plugin_finds_the_same_leaks(leak_corpus: Corpus) -> None:
    files = sorted(p for p in leak_corpus.root.rglob("*") if p.is_file())
    found = _detect_secrets(files)
    # detect-secrets keeps one entry per (file, secret): the first line it appears on
    first: dict[tuple[str, str], int] = {}
    for x in leak_corpus.leaks:
        key = (str(leak_corpus.root / x.path), x.value)
        first[key] = min(first.get(key, x.line), x.line)
    assert found == {(path, line, value) for (path, value), line in first.items()}


def test_detect_secrets_plugin_ignores_harmless_corpus(harmless_corpus: Corpus) -> None:
    files = sorted(p for p in harmless_corpus.root.rglob("*") if p.is_file())
    assert _detect_secrets(files) == set()


def test_detect_secrets_adhoc_line() -> None:
    from .conftest import fake_token

    token = fake_token("terra_dt_")
    assert list(plugin_module.TerraCredentialDetector().analyze_string(f"t={token}")) == [token]


def test_gitleaks_export_is_toml_with_every_rule_and_re2_regexes() -> None:
    import re2  # Google's RE2: the regex syntax gitleaks (Go) accepts

    config = tomllib.loads(export_gitleaks())
    by_id = {rule["id"]: rule for rule in config["rules"]}
    assert config["extend"]["useDefault"] is True
    assert by_id["terra-context"]["skipReport"] is True
    for rule in RULES:
        exported = by_id[rule.id]
        assert exported["regex"] == rule.pattern
        assert exported["secretGroup"] == rule.secret_group
        assert "your" in exported["allowlist"]["stopwords"]
        required = [r["id"] for r in exported.get("required", [])]
        assert required == (["terra-context"] if rule.needs_context else [])
    for exported in config["rules"]:
        for pattern in [exported["regex"], *exported.get("allowlist", {}).get("regexes", [])]:
            re2.compile(pattern)  # raises on syntax RE2 (and so gitleaks) lacks


def test_re2_finds_what_python_finds_on_the_corpus(leak_corpus: Corpus) -> None:
    """The exported regexes behave the same under RE2: each leak's line yields its value."""
    import re2

    from terra_auth.scan.rules import scan_text

    for path in sorted(p for p in leak_corpus.root.rglob("*") if p.is_file()):
        relative = path.relative_to(leak_corpus.root).as_posix()
        lines = path.read_text().split("\n")
        for match in scan_text(path.read_text(), relative):
            line = lines[match.line - 1]
            compiled = re2.compile(match.rule.pattern)
            values = [m.group(match.rule.secret_group) for m in compiled.finditer(line)]
            assert match.value in values, f"{match.rule.id} differs under RE2"


def test_pre_commit_hook_definition(terra_auth_cli: CliRun, leak_corpus: Corpus) -> None:
    hooks = yaml.safe_load((REPO_ROOT / ".pre-commit-hooks.yaml").read_text())
    [hook] = [h for h in hooks if h["id"] == "terra-auth-scan"]
    assert hook["entry"].split()[:2] == ["terra-auth", "scan"]
    assert hook["language"] == "python"
    # pre-commit runs the entry with the staged file names appended
    args = [*hook["entry"].split()[1:], *hook.get("args", [])]
    names = [leak.path for leak in leak_corpus.leaks][:3]
    assert terra_auth_cli(*args, *names, cwd=leak_corpus.root).returncode == 1
    clean = leak_corpus.write("clean.py", "print('hello')\n")
    assert terra_auth_cli(*args, clean.name, cwd=leak_corpus.root).returncode == 0


def test_repository_scans_clean(terra_auth_cli: CliRun) -> None:
    """Dogfooding: no committed file in terra-auth looks like a Terra credential."""
    run = terra_auth_cli("scan", ".", cwd=REPO_ROOT)
    assert run.returncode == 0, run.stdout
