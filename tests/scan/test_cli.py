"""``terra-auth scan`` through the real entry point: exit codes, reports, baseline, canary."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from terra_auth.scan.rules import RULES

from .conftest import CliRun, Corpus, fake_api_key, fake_dev_id


def test_leaks_exit_1_and_every_report_masks_every_value(
    leak_corpus: Corpus, terra_auth_cli: CliRun, tmp_path: Path
) -> None:
    text = terra_auth_cli("scan", ".", cwd=leak_corpus.root)
    as_json = terra_auth_cli("scan", "--json", cwd=leak_corpus.root)
    sarif = terra_auth_cli("scan", "--sarif", cwd=leak_corpus.root)
    baseline = tmp_path / "baseline.json"
    update = terra_auth_cli(
        "scan", "--baseline", str(baseline), "--update-baseline", cwd=leak_corpus.root
    )
    assert (text.returncode, as_json.returncode, sarif.returncode) == (1, 1, 1)
    assert update.returncode == 0, update.stderr
    assert "possible Terra credentials" in text.stdout
    assert ".env.terra.staging:2:" in text.stdout and "env=staging" in text.stdout
    outputs = [run.stdout + run.stderr for run in (text, as_json, sarif, update)] + [
        baseline.read_text()
    ]
    for value in leak_corpus.values:
        for output in outputs:
            assert value not in output, "a secret value leaked into the output"
            assert value[2:-2] not in output


def test_json_report_lists_file_line_kind_environment_confidence_masked_fingerprint(
    leak_corpus: Corpus, terra_auth_cli: CliRun
) -> None:
    run = terra_auth_cli("scan", "--json", cwd=leak_corpus.root)
    document = json.loads(run.stdout)
    findings = document["findings"]
    assert document["summary"]["findings"] == len(findings) == len(leak_corpus.leaks)
    got = {(f["path"], f["line"], f["kind"], f["environment"]) for f in findings}
    assert got == {(x.path, x.line, x.kind, x.environment) for x in leak_corpus.leaks}
    for f in findings:
        assert f["confidence"] in {"low", "medium", "high"}
        assert "*" in f["masked"] and len(f["fingerprint"]) == 16


def test_sarif_report_is_sarif_2_1_0_with_rules_locations_and_fingerprints(
    leak_corpus: Corpus, terra_auth_cli: CliRun
) -> None:
    log = json.loads(terra_auth_cli("scan", "--sarif", cwd=leak_corpus.root).stdout)
    assert log["version"] == "2.1.0"
    run = log["runs"][0]
    rule_ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert rule_ids == [r.id for r in RULES]
    assert len(run["results"]) == len(leak_corpus.leaks)
    for result in run["results"]:
        assert result["ruleId"] == rule_ids[result["ruleIndex"]]
        assert result["level"] in {"error", "warning", "note"}
        region = result["locations"][0]["physicalLocation"]["region"]
        assert region["startLine"] >= 1 and region["startColumn"] >= 1
        assert len(result["partialFingerprints"]["terraAuthScan/v1"]) == 16


def test_clean_tree_exits_0(harmless_corpus: Corpus, terra_auth_cli: CliRun) -> None:
    run = terra_auth_cli("scan", str(harmless_corpus.root))
    assert run.returncode == 0, run.stdout
    assert "no Terra credentials found" in run.stdout


def test_baseline_accepts_known_findings_but_not_new_ones(
    tmp_path: Path, terra_auth_cli: CliRun
) -> None:
    repo = tmp_path / "proj"
    repo.mkdir()
    (repo / "a.env").write_text(f"TERRA_API_KEY={fake_api_key()}\n")
    baseline = tmp_path / "baseline.json"
    assert (
        terra_auth_cli(
            "scan", "--baseline", str(baseline), "--update-baseline", cwd=repo
        ).returncode
        == 0
    )
    accepted = terra_auth_cli("scan", "--baseline", str(baseline), cwd=repo)
    assert accepted.returncode == 0 and "1 accepted by the baseline" in accepted.stdout
    (repo / "b.env").write_text(f"TERRA_API_KEY={fake_api_key()}\n")
    fresh = terra_auth_cli("scan", "--baseline", str(baseline), cwd=repo)
    assert fresh.returncode == 1
    assert "b.env:1:" in fresh.stdout and "a.env" not in fresh.stdout


def test_bad_baseline_is_a_clear_error_without_traceback(
    tmp_path: Path, terra_auth_cli: CliRun
) -> None:
    bad = tmp_path / "baseline.json"
    bad.write_text("{not json")
    run = terra_auth_cli("scan", str(tmp_path), "--baseline", str(bad))
    missing = terra_auth_cli("scan", str(tmp_path), "--baseline", str(tmp_path / "none.json"))
    assert run.returncode == missing.returncode == 3
    assert "not valid JSON" in run.stderr and "hint:" in run.stderr
    assert "does not exist" in missing.stderr and "--update-baseline" in missing.stderr
    assert "Traceback" not in run.stderr + missing.stderr


def test_usage_errors(tmp_path: Path, terra_auth_cli: CliRun) -> None:
    both = terra_auth_cli("scan", "--json", "--sarif", str(tmp_path))
    nowhere = terra_auth_cli("scan", str(tmp_path / "missing"))
    no_file = terra_auth_cli("scan", "--update-baseline", str(tmp_path))
    assert both.returncode == nowhere.returncode == no_file.returncode == 2
    assert "--json" in both.stderr and "does not exist" in nowhere.stderr
    assert "--baseline" in no_file.stderr


def test_gitignore_binaries_large_files_and_venvs_are_skipped(
    tmp_path: Path, terra_auth_cli: CliRun
) -> None:
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)  # the walk finds .gitignore files from the repo's top
    (root / "sub").mkdir()
    line = f"TERRA_API_KEY={fake_api_key()}\n"
    (root / ".gitignore").write_text("ignored.env\nbuild/\n")
    (root / "sub" / ".gitignore").write_text("*.local\n")
    (root / "ignored.env").write_text(line)
    (root / "build").mkdir()
    (root / "build" / "out.env").write_text(line)
    (root / "sub" / "x.local").write_text(line)
    (root / "binary.env").write_bytes(b"\0\1\2" + line.encode())
    (root / "big.env").write_text(line + "#" * 5000)
    (root / "env").mkdir()
    (root / "env" / "pyvenv.cfg").write_text("home = /usr\n")
    (root / "env" / "site.env").write_text(line)
    (root / "node_modules").mkdir()
    (root / "node_modules" / "pkg.env").write_text(line)
    (root / "kept.env").write_text(line)
    run = terra_auth_cli("scan", "--max-size", "1000", "--json", cwd=root)
    paths = {f["path"] for f in json.loads(run.stdout)["findings"]}
    assert paths == {"kept.env"}
    everything = terra_auth_cli("scan", "--no-gitignore", "--json", cwd=root)
    paths = {f["path"] for f in json.loads(everything.stdout)["findings"]}
    assert paths == {"kept.env", "ignored.env", "build/out.env", "sub/x.local", "big.env"}
    named = terra_auth_cli("scan", "ignored.env", cwd=root)
    assert named.returncode == 1, "a file named on the command line is always scanned"


def test_min_confidence_filters_low_findings(tmp_path: Path, terra_auth_cli: CliRun) -> None:
    (tmp_path / "app.log").write_text(f"request from {fake_dev_id('staging')}\n")
    assert terra_auth_cli("scan", str(tmp_path)).returncode == 1
    assert terra_auth_cli("scan", str(tmp_path), "--min-confidence", "medium").returncode == 0


def test_export_gitleaks_prints_valid_toml(terra_auth_cli: CliRun) -> None:
    run = terra_auth_cli("scan", "--export", "gitleaks")
    assert run.returncode == 0
    config = tomllib.loads(run.stdout)
    assert {r.id for r in RULES} <= {rule["id"] for rule in config["rules"]}


def test_progress_is_shown_on_a_terminal_for_large_trees_only(tmp_path: Path) -> None:
    import os
    import pty
    import subprocess
    import sys

    for n in range(2100):
        (tmp_path / f"f{n}.txt").write_text("nothing to see\n")

    def stderr_of(use_tty: bool) -> str:
        if not use_tty:
            run = subprocess.run(
                [sys.executable, "-m", "terra_auth", "scan", str(tmp_path)],
                capture_output=True,
                text=True,
                timeout=60,
            )
            return run.stderr
        master, slave = pty.openpty()
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", "terra_auth", "scan", str(tmp_path)],
                stdout=subprocess.DEVNULL,
                stderr=slave,
            )
            os.close(slave)
            chunks = []
            while True:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                chunks.append(chunk)
            assert process.wait(timeout=60) == 0
        finally:
            os.close(master)
        return b"".join(chunks).decode()

    assert "2000 files scanned..." in stderr_of(True)
    assert stderr_of(False) == ""


def test_canary_never_appears_in_error_output(tmp_path: Path, terra_auth_cli: CliRun) -> None:
    canary = fake_api_key()
    (tmp_path / ".env.terra.production").write_text(f"TERRA_API_KEY={canary}\n")
    broken = [
        f'{{"findings": [{{"fingerprint": 5, "value": "{canary}"}}]}}',
        f'{{"findings": [ "{canary}" ',
        canary,
    ]
    for n, text in enumerate(broken):
        baseline = tmp_path / f"baseline{n}.json"
        baseline.write_text(text)
        run = terra_auth_cli("scan", str(tmp_path), "--baseline", str(baseline))
        assert run.returncode == 3, run.stderr
        assert "hint:" in run.stderr
        assert canary not in run.stdout + run.stderr
    outside = terra_auth_cli("scan", "--staged", cwd=tmp_path)
    assert outside.returncode == 3 and canary not in outside.stdout + outside.stderr
