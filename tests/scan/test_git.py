"""Git history and the index, in throwaway repositories."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from .conftest import CliRun, fake_api_key, fake_dev_id


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "README.md").write_text("# app\n")
    git(root, "add", "README.md")
    git(root, "commit", "-q", "-m", "start")
    return root


def test_key_added_then_deleted_is_found_in_history_with_commit_and_path(
    repo: Path, terra_auth_cli: CliRun
) -> None:
    dev, key = fake_dev_id("prod"), fake_api_key()
    (repo / "config").mkdir()
    (repo / "config" / "terra settings.py").write_text(
        f'TERRA_DEV_ID = "{dev}"\nTERRA_API_KEY = "{key}"\n'
    )
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "add credentials")
    leaked_in = git(repo, "rev-parse", "HEAD")
    git(repo, "rm", "-q", "config/terra settings.py")
    git(repo, "commit", "-q", "-m", "remove credentials")

    assert terra_auth_cli("scan", ".", cwd=repo).returncode == 0
    history = terra_auth_cli("scan", "--git-history", "--json", cwd=repo)
    assert history.returncode == 1
    findings = json.loads(history.stdout)["findings"]
    got = {(f["commit"], f["path"], f["line"], f["kind"], f["environment"]) for f in findings}
    assert got == {
        (leaked_in, "config/terra settings.py", 1, "dev-id", "production"),
        (leaked_in, "config/terra settings.py", 2, "api-key", "production"),
    }
    text = terra_auth_cli("scan", "--git-history", cwd=repo)
    assert f"{leaked_in[:12]} config/terra settings.py:2:" in text.stdout
    assert key not in text.stdout + history.stdout and dev not in text.stdout + history.stdout


def test_history_on_other_branches_is_scanned(repo: Path, terra_auth_cli: CliRun) -> None:
    git(repo, "checkout", "-q", "-b", "feature")
    (repo / ".env").write_text(f"TERRA_API_KEY={fake_api_key()}\n")
    git(repo, "add", "-f", ".env")
    git(repo, "commit", "-q", "-m", "oops")
    git(repo, "checkout", "-q", "main")
    run = terra_auth_cli("scan", "--git-history", "--json", cwd=repo)
    assert [f["path"] for f in json.loads(run.stdout)["findings"]] == [".env"]


def test_staged_scans_the_index_not_the_working_tree(repo: Path, terra_auth_cli: CliRun) -> None:
    target = repo / "settings.py"
    target.write_text(f'TERRA_API_KEY = "{fake_api_key()}"\n')
    git(repo, "add", "settings.py")
    target.write_text('TERRA_API_KEY = os.environ["TERRA_API_KEY"]\n')  # fixed, but not staged
    staged = terra_auth_cli("scan", "--staged", cwd=repo)
    assert staged.returncode == 1 and "settings.py:1:" in staged.stdout
    git(repo, "add", "settings.py")
    assert terra_auth_cli("scan", "--staged", cwd=repo).returncode == 0


def test_outside_a_repository_is_a_clear_error(tmp_path: Path, terra_auth_cli: CliRun) -> None:
    run = terra_auth_cli("scan", "--git-history", cwd=tmp_path)
    assert run.returncode == 3
    assert "not a git repository" in run.stderr and "hint:" in run.stderr
    assert "Traceback" not in run.stderr


def test_a_file_path_selects_its_repository(repo: Path, terra_auth_cli: CliRun) -> None:
    run = terra_auth_cli("scan", "--git-history", str(repo / "README.md"))
    assert run.returncode == 0 and "no Terra credentials found" in run.stdout
