"""The .env parser: files as people write them, and errors that never show a value."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from terra_auth.cli.env_commands import _quote
from terra_auth.dotenv import dotenv_values, parse_dotenv, read_dotenv
from terra_auth.errors import ConfigurationError


def values(text: str) -> dict[str, str]:
    return {e.key: e.value for e in parse_dotenv(text, source="t.env")}


def test_comments_blank_lines_and_export_prefix() -> None:
    text = "# a comment\n\n   # indented comment\nexport A=1\nexport\tB = two\nC=3\n"
    assert values(text) == {"A": "1", "B": "two", "C": "3"}


def test_quotes_single_literal_double_with_escapes() -> None:
    text = (
        "S='a b # not a comment \\n $HOME'\n"
        'D="line1\\nline2\\t\\"q\\" \\\\ \\$x"\n'
        "E=\"it's\"\n"
    )
    got = values(text)
    assert got["S"] == "a b # not a comment \\n $HOME"
    assert got["D"] == 'line1\nline2\t"q" \\ $x'
    assert got["E"] == "it's"


def test_inline_comments_after_unquoted_and_quoted_values() -> None:
    got = values("A=value  # note\nB=va#lue\nC='x' # note\nD=\"y\"\t# note\nE=#only\n")
    assert got == {"A": "value", "B": "va#lue", "C": "x", "D": "y", "E": "#only"}


def test_crlf_cr_and_bom() -> None:
    text = "\ufeffA=1\r\nB='2'\r\nC=3\rD=4"
    assert values(text) == {"A": "1", "B": "2", "C": "3", "D": "4"}


def test_blank_values() -> None:
    assert values("A=\nB=''\nC=\"\"\nD=   # just a comment\n") == {
        "A": "",
        "B": "",
        "C": "",
        "D": "",
    }


def test_multiline_quoted_value_and_line_numbers() -> None:
    entries = parse_dotenv('A="one\ntwo"\nB=3\n', source="t")
    assert [(e.key, e.value, e.line) for e in entries] == [("A", "one\ntwo", 1), ("B", "3", 3)]


def test_last_duplicate_wins(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text("A=1\nA=2\n")
    assert dotenv_values(path) == {"A": "2"}


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ("A=1\nCANARYVALUE-no-equals\n", 2, "no '='"),
        ("A=1\n\n9BAD=CANARYVALUE\n", 3, "not a valid variable name"),
        ("A='CANARYVALUE\nB=2\n", 1, "never closed"),
        ('A="CANARYVALUE\n', 1, "never closed"),
        ("A='x'CANARYVALUE\n", 1, "after the closing quote"),
    ],
)
def test_errors_name_file_and_line_never_the_value(text: str, line: int, problem: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        parse_dotenv(text, source="/cfg/.env.terra.staging")
    message = str(info.value)
    assert f"/cfg/.env.terra.staging, line {line}" in message
    assert problem in message
    assert info.value.hint
    assert "CANARYVALUE" not in message + (info.value.hint or "")


def test_entry_repr_hides_value() -> None:
    (entry,) = parse_dotenv("TERRA_API_KEY=CANARYVALUE123")
    assert "CANARYVALUE123" not in repr(entry)
    assert "TERRA_API_KEY" in repr(entry)


def test_unreadable_missing_and_not_utf8_files(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(ConfigurationError, match="file not found"):
        read_dotenv(missing)
    bad = tmp_path / "bad.env"
    bad.write_bytes(b"A=1\nB=\xff\xfeCANARY\n")
    with pytest.raises(ConfigurationError, match=r"line 2: is not valid UTF-8") as info:
        read_dotenv(bad)
    assert "CANARY" not in str(info.value)
    folder = tmp_path / "dir.env"
    folder.mkdir()
    with pytest.raises(ConfigurationError, match="is a directory"):
        read_dotenv(folder)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_permission_denied(tmp_path: Path) -> None:
    path = tmp_path / ".env.terra"
    path.write_text("A=1\n")
    path.chmod(0)
    with pytest.raises(ConfigurationError, match="permission denied"):
        read_dotenv(path)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",)), max_size=60))
def test_written_values_read_back_exactly(value: str) -> None:
    """What setup-environment writes, the parser reads back unchanged (quotes, #, $, \\)."""
    (entry,) = parse_dotenv(f"TERRA_API_KEY={_quote(value)}\n")
    assert entry.value == value
