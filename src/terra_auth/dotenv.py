"""A small ``.env`` parser for files as people write them.

Supported: ``# comments``, blank lines, ``export KEY=value``, spaces around ``=``, unquoted
values with inline comments (``KEY=value  # note``), single quotes (literal), double quotes
(escapes ``\\n \\t \\r \\\\ \\" \\$``), quoted values spanning lines, CRLF or CR line endings,
a UTF-8 byte-order mark and blank values (``KEY=``). No ``${VAR}`` expansion.

Errors name the file and the line, never a value (the line may hold a secret).

Example:
    >>> entries = parse_dotenv("export TERRA_DEV_ID='acme-testing-1'  # ours\\nTERRA_TIMEOUT=5")
    >>> [(e.key, e.value, e.line) for e in entries]
    [('TERRA_DEV_ID', 'acme-testing-1', 1), ('TERRA_TIMEOUT', '5', 2)]
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from terra_auth.errors import ConfigurationError

__all__ = ["DotenvEntry", "dotenv_values", "parse_dotenv", "read_dotenv"]

_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "$": "$", "'": "'"}
_SYNTAX_HINT = "write one KEY=value per line; quote values that contain spaces or '#'"


@dataclass(frozen=True, slots=True)
class DotenvEntry:
    """One assignment: its name, value and 1-based line number. ``repr`` hides the value."""

    key: str
    value: str
    line: int

    def __repr__(self) -> str:
        return f"DotenvEntry(key={self.key!r}, line={self.line})"


def _error(source: str, line: int, problem: str, hint: str = _SYNTAX_HINT) -> ConfigurationError:
    return ConfigurationError(f"{source}, line {line}: {problem}", hint=hint)


def _after_quote(rest: str, source: str, line: int) -> None:
    """Only whitespace or a comment may follow a closing quote."""
    tail = rest.lstrip(" \t")
    if tail and not tail.startswith("#"):
        raise _error(
            source,
            line,
            "unexpected characters after the closing quote",
            hint="put a space before '#' comments, or quote the whole value",
        )


def _scan_single(lines: list[str], index: int, rest: str, source: str) -> tuple[str, int]:
    """A single-quoted value (no escapes); returns the value and the next line index."""
    start_line = index + 1
    parts: list[str] = []
    text = rest
    while True:
        end = text.find("'")
        if end >= 0:
            parts.append(text[:end])
            _after_quote(text[end + 1 :], source, index + 1)
            return "\n".join(parts), index + 1
        parts.append(text)
        index += 1
        if index >= len(lines):
            raise _error(source, start_line, "the single quote opened here is never closed")
        text = lines[index]


def _scan_double(lines: list[str], index: int, rest: str, source: str) -> tuple[str, int]:
    """A double-quoted value with backslash escapes; returns the value and next line index."""
    start_line = index + 1
    out: list[str] = []
    text = rest
    pos = 0
    while True:
        if pos >= len(text):
            index += 1
            if index >= len(lines):
                raise _error(source, start_line, "the double quote opened here is never closed")
            out.append("\n")
            text, pos = lines[index], 0
            continue
        char = text[pos]
        if char == "\\" and pos + 1 < len(text):
            nxt = text[pos + 1]
            out.append(_ESCAPES.get(nxt, "\\" + nxt))
            pos += 2
            continue
        if char == '"':
            _after_quote(text[pos + 1 :], source, index + 1)
            return "".join(out), index + 1
        out.append(char)
        pos += 1


def _unquoted(rest: str) -> str:
    """An unquoted value: an inline comment starts at whitespace followed by ``#``."""
    match = re.search(r"[ \t]#", rest)
    if match:
        rest = rest[: match.start()]
    return rest.strip(" \t")


def parse_dotenv(text: str, *, source: str = "<string>") -> list[DotenvEntry]:
    """Parse ``.env`` text into entries, in file order (a later duplicate wins in lookups).

    >>> parse_dotenv('A="x\\\\ty"\\r\\nB=')[0].value
    'x\\ty'
    """
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    entries: list[DotenvEntry] = []
    index = 0
    while index < len(lines):
        number = index + 1
        body = lines[index].strip(" \t\f\v")
        if not body or body.startswith("#"):
            index += 1
            continue
        if body.startswith(("export ", "export\t")):
            body = body[len("export") :].lstrip(" \t")
        key, sep, rest = body.partition("=")
        key = key.strip(" \t")
        if not sep:
            raise _error(source, number, "expected KEY=value (no '=' on this line)")
        if not _KEY.fullmatch(key):
            raise _error(
                source,
                number,
                "the name before '=' is not a valid variable name",
                hint="names use letters, digits and underscores and do not start with a digit",
            )
        stripped = rest.lstrip(" \t")
        if stripped.startswith("'"):
            value, index = _scan_single(lines, index, stripped[1:], source)
        elif stripped.startswith('"'):
            value, index = _scan_double(lines, index, stripped[1:], source)
        else:
            value, index = _unquoted(rest), index + 1
        entries.append(DotenvEntry(key, value, number))
    return entries


def read_dotenv(path: str | Path) -> list[DotenvEntry]:
    """Read and parse one file; unreadable or non-UTF-8 files are clear errors.

    >>> read_dotenv("/nonexistent/.env.terra")
    Traceback (most recent call last):
    ...
    terra_auth.errors.ConfigurationError: cannot read /nonexistent/.env.terra (file not found)
    """
    file = Path(path)
    try:
        raw = file.read_bytes()
    except FileNotFoundError:
        raise ConfigurationError(
            f"cannot read {file} (file not found)", hint="check the path or create the file"
        ) from None
    except PermissionError:
        raise ConfigurationError(
            f"cannot read {file} (permission denied)",
            hint=f"make it readable by this user, e.g. `chmod 600 {file}` as its owner",
        ) from None
    except IsADirectoryError:
        raise ConfigurationError(
            f"cannot read {file} (it is a directory)", hint="remove or rename the directory"
        ) from None
    except OSError as exc:
        raise ConfigurationError(
            f"cannot read {file} ({exc.strerror or type(exc).__name__})",
            hint="check the file and its permissions",
        ) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise _error(
            str(file), line, "is not valid UTF-8", hint="save the file as UTF-8 text"
        ) from None
    return parse_dotenv(text, source=str(file))


def dotenv_values(path: str | Path) -> dict[str, str]:
    """The variables of one file as a dict (the last assignment of a name wins)."""
    return {entry.key: entry.value for entry in read_dotenv(path)}
