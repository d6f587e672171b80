"""`terra-auth db upgrade|current` and `terra-auth events replay` through the real entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import sqlalchemy as sa

from terra_auth.store import Store
from terra_auth.webhooks import verify_webhook


def run(*args, cwd=None, env=None):
    environ = {
        k: v for k, v in os.environ.items() if not k.startswith("TERRA_") and k != "DATABASE_URL"
    }
    environ.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "terra_auth", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=environ,
        timeout=60,
    )


def test_db_upgrade_defaults_to_a_sqlite_file_in_the_current_directory(tmp_path):
    result = run("db", "upgrade", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "0002_local_actions (head)" in result.stdout
    assert (tmp_path / "terra-auth.db").exists()
    current = run("db", "current", "--json", cwd=tmp_path)
    assert json.loads(current.stdout) == {
        "database": "sqlite:///terra-auth.db",
        "revision": "0002_local_actions",
        "head": True,
    }


def test_database_url_comes_from_the_environment_or_the_option(tmp_path):
    via_env = run("db", "upgrade", env={"DATABASE_URL": f"sqlite:///{tmp_path / 'env.db'}"})
    assert via_env.returncode == 0 and (tmp_path / "env.db").exists()
    fresh = run("db", "current", "--database-url", f"sqlite:///{tmp_path / 'other.db'}")
    assert fresh.returncode == 0 and "no terra-auth tables yet" in fresh.stdout
    assert not (tmp_path / "other.db").exists()  # looking does not create it


def test_events_replay_restores_connections(tmp_path, signer, make_event):
    url = f"sqlite:///{tmp_path / 'replay.db'}"
    store = Store(url)
    store.upgrade()
    for payload in (
        make_event("auth", "u-1", "ref-1"),
        make_event("auth", "u-2", "ref-2"),
        make_event("deauth", "u-2", "ref-2"),
    ):
        body, headers = signer.delivery(payload)
        store.ingest(verify_webhook(body, headers, signer.secrets), headers=headers)
    with store.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM connections"))
    result = run("events", "replay", "--database-url", url)
    assert result.returncode == 0, result.stderr
    assert "replayed 3 events" in result.stdout
    assert {(c.terra_user_id, c.status) for c in store.all_connections()} == {
        ("u-1", "connected"),
        ("u-2", "disconnected"),
    }
    again = run("events", "replay", "--database-url", url, "--since", "2000-01-01", "--json")
    assert json.loads(again.stdout)["connections_written"] == 0
    store.close()


def test_bad_input_is_a_clear_error_never_a_traceback(tmp_path):
    canary = "pw-canary-9f8e7d6c5b"
    cases = [
        (["db", "upgrade", "--database-url", f"mysql://app:{canary}@db/x"], 3, "does not support"),
        (
            ["db", "upgrade", "--database-url", f"postgresql://app:{canary}@127.0.0.1:1/x"],
            1,
            "unavailable",
        ),
        (
            [
                "events",
                "replay",
                "--database-url",
                f"sqlite:///{tmp_path / 'x.db'}",
                "--since",
                "yesterday",
            ],
            3,
            "ISO-8601",
        ),
        (
            ["events", "replay", "--database-url", f"sqlite:///{tmp_path / 'empty.db'}"],
            1,
            "db upgrade",
        ),
    ]
    for args, code, fragment in cases:
        result = run(*args)
        assert result.returncode == code, (args, result.stderr)
        assert fragment in result.stderr + result.stdout
        assert "Traceback" not in result.stderr
        assert canary not in result.stderr + result.stdout
        assert "hint:" in result.stderr


def _bad_sqlite_paths(tmp_path):
    """(label, URL, words the message must contain) for paths SQLite cannot use."""
    (tmp_path / "a-file").write_text("not a directory")
    (tmp_path / "a-dir").mkdir()
    cases = [
        ("missing directory", f"sqlite:///{tmp_path / 'nonexistent-dir' / 'sub' / 'x.db'}",
         "does not exist"),
        ("parent is a file", f"sqlite:///{tmp_path / 'a-file' / 'x.db'}", "is a file"),
        ("path is a directory", f"sqlite:///{tmp_path / 'a-dir'}", "directory, not a file"),
        # nobody (root included) can create a file in /proc
        ("unwritable location", "sqlite:////proc/terra-auth-x.db", "cannot be used"),
    ]
    if os.geteuid() != 0:  # root ignores permission bits
        readonly = tmp_path / "read-only"
        readonly.mkdir(mode=0o555)
        cases.append(("read-only directory", f"sqlite:///{readonly / 'x.db'}", "not writable"))
    return cases


def test_an_unusable_sqlite_path_exits_3_with_a_hint_and_creates_nothing(tmp_path):
    for label, url, words in _bad_sqlite_paths(tmp_path):
        for command in (["db", "upgrade"], ["events", "replay"], ["db", "current"]):
            result = run(*command, "--database-url", url, cwd=tmp_path)
            where = (label, command, result.stderr)
            assert result.returncode == 3, where
            assert result.stderr.startswith("error: ") and words in result.stderr, where
            assert "hint: " in result.stderr and "DATABASE_URL" in result.stderr, where
            assert "internal error" not in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "nonexistent-dir").exists()  # the store never creates directories
    assert not list((tmp_path / "a-dir").iterdir())


def test_the_missing_directory_hint_works(tmp_path):
    url = f"sqlite:///{tmp_path / 'data' / 'terra.db'}"
    refused = run("db", "upgrade", "--database-url", url)
    assert refused.returncode == 3 and f"mkdir -p {tmp_path / 'data'}" in refused.stderr
    (tmp_path / "data").mkdir()
    done = run("db", "upgrade", "--database-url", url)
    assert done.returncode == 0, done.stderr
    assert "(head)" in done.stdout
