"""The fast paths find exactly what the plain ones would: prefilter, pool, walk, reads."""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from terra_auth.errors import TerraAuthError
from terra_auth.scan import scan_paths, scanner
from terra_auth.scan.rules import RULES, Rule, _lines_to_check, lowered
from terra_auth.scan.scanner import PARALLEL_FROM, iter_files, read_file

from .conftest import Corpus, fake_api_key

_PIECES = [
    *{w for r in RULES for w in (*r.keywords, *r.also)},
    "TERRA",
    "Terra",
    "API_KEY",
    "ApiKey",
    "X-Api-Key",
    "DEV_ID",
    "DevId",
    "Secret",
    "device",
    "rapid",
    "-Testing-",
    "-PROD-",
    "-production-",
    "api\u212aey",  # KELVIN SIGN lowers to "k"
    "\u0130",  # lowers to two characters: the ASCII-only lowering is used
    "caf\u00e9",
    "\U0001f600",
    " = ",
    ": ",
    '"',
    "x",
    "\n",
    "\r\n",
    "\n\n",
]


def _reference(text: str) -> Iterator[tuple[Rule, int, str]]:
    """The plain definition: every line, every rule, keywords looked up one by one."""
    low = lowered(text)
    starts = [0] + [i + 1 for i, c in enumerate(text) if c == "\n"]
    for rule in RULES:
        for start in starts:
            end = low.find("\n", start)
            end = len(low) if end == -1 else end
            line = low[start:end]
            if any(k in line for k in rule.keywords) and (
                not rule.also or any(w in line for w in rule.also)
            ):
                yield rule, start, text[start:end].rstrip("\r")


def test_candidate_lines_are_exactly_the_lines_holding_a_keyword() -> None:
    rng = random.Random(20261204)
    for _ in range(3000):
        text = "".join(rng.choice(_PIECES) for _ in range(rng.randint(0, 40)))
        assert list(_lines_to_check(text)) == list(_reference(text)), repr(text)


def test_pool_finds_exactly_what_one_process_finds(leak_corpus: Corpus) -> None:
    root = leak_corpus.root
    for n in range(PARALLEL_FROM):
        (root / "filler" / f"f{n % 40}").mkdir(parents=True, exist_ok=True)
        (root / "filler" / f"f{n % 40}" / f"m{n}.py").write_text(f"def f{n}(api_key): ...\n")
    seen: dict[int, list[int]] = {1: [], 2: []}
    one = scan_paths([root], workers=1, progress=seen[1].append)
    two = scan_paths([root], workers=2, progress=seen[2].append)
    assert one.findings and one.findings == two.findings
    assert (one.files_scanned, one.files_skipped) == (two.files_scanned, two.files_skipped)
    total = one.files_scanned + one.files_skipped
    assert total > PARALLEL_FROM
    assert seen[1] == seen[2] == list(range(1, total + 1))
    found = {(f.path.rsplit("/", 1)[-1], f.line, f.kind) for f in two.findings}
    expected = {(leak.path.rsplit("/", 1)[-1], leak.line, leak.kind) for leak in leak_corpus.leaks}
    assert found == expected


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs os.mkfifo")
def test_fifos_and_symlinks_are_not_read(tmp_path: Path) -> None:
    outside = tmp_path / "outside.env"
    outside.write_text(f"TERRA_API_KEY={fake_api_key()}\n")
    tree = tmp_path / "tree"
    tree.mkdir()
    os.mkfifo(tree / "pipe")  # opening it would block the scan forever
    (tree / "link.env").symlink_to(outside)
    (tree / "kept.env").write_text(f"TERRA_API_KEY={fake_api_key()}\n")
    assert list(iter_files([tree], respect_gitignore=False)) == [str(tree / "kept.env")]
    assert [f.kind for f in scan_paths([tree]).findings] == ["api-key"]


def test_read_file_honours_the_size_limit(tmp_path: Path) -> None:
    file = tmp_path / "f.txt"
    file.write_bytes(b"x" * 100)
    assert read_file(str(file), 100) == b"x" * 100
    assert read_file(str(file), 99) is None
    assert read_file(str(tmp_path / "missing"), 100) is None
    file.write_bytes(b"")
    assert read_file(str(file), 100) == b""


def test_paths_are_shown_relative_to_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    for name in ("a/b/.env", "a/..dots.env"):
        (tmp_path / name).write_text(f"TERRA_API_KEY={fake_api_key()}\n")
    monkeypatch.chdir(tmp_path)
    expected = ["a/..dots.env", "a/b/.env"]
    assert [f.path for f in scan_paths(["."]).findings] == expected
    assert [f.path for f in scan_paths([str(tmp_path)]).findings] == expected
    assert [f.path for f in scan_paths(["./a/"]).findings] == expected
    monkeypatch.chdir(tmp_path / "a" / "b")
    assert [f.path for f in scan_paths([".."]).findings] == ["../..dots.env", "../b/.env"]


def test_a_dead_worker_stops_the_scan_with_a_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(PARALLEL_FROM):
        (tmp_path / f"m{n}.py").write_text("x = 1\n")

    def die(path: str, max_bytes: int) -> bytes | None:
        os._exit(9)  # what the out-of-memory killer does to a worker

    monkeypatch.setattr(scanner, "read_file", die)
    with pytest.raises(TerraAuthError) as caught:
        scan_paths([tmp_path], workers=2)
    assert "worker process died" in str(caught.value)
    assert caught.value.hint is not None and "--jobs 1" in caught.value.hint
