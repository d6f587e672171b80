"""Output helpers shared by every command: a table for people, JSON for scripts.

rich is imported only when a table is actually drawn (and only if installed); without it a
plain aligned table is printed. Everything printed passes :func:`terra_auth.secret.mask`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import click

from terra_auth.secret import mask

__all__ = ["echo", "echo_json", "echo_table", "json_option"]

json_option = click.option(
    "--json", "as_json", is_flag=True, default=False, help="Print JSON instead of a table."
)


def echo(message: str = "", *, err: bool = False) -> None:
    """Print one line, with any loaded secret value masked."""
    click.echo(mask(message), err=err)


def echo_json(data: Any) -> None:
    """Print ``data`` as indented JSON (datetimes and other objects via ``str``), masked."""
    click.echo(mask(json.dumps(data, indent=2, sort_keys=False, default=str)))


def echo_table(
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]] | Sequence[Mapping[str, Any]],
    *,
    title: str | None = None,
) -> None:
    """Print a table; ``rows`` are sequences in column order, or mappings keyed by column."""
    cells = [
        [
            mask("" if v is None else str(v))
            for v in ([r.get(c) for c in columns] if isinstance(r, Mapping) else list(r))
        ]
        for r in rows
    ]
    if sys.stdout.isatty():
        try:
            from rich.console import Console
            from rich.table import Table
        except ImportError:
            pass
        else:
            table = Table(title=title)
            for column in columns:
                table.add_column(column)
            for row in cells:
                table.add_row(*row)
            Console().print(table)
            return
    widths = [len(c) for c in columns]
    for row in cells:
        widths = [max(w, len(v)) for w, v in zip(widths, row, strict=False)]
    if title:
        click.echo(title)
    click.echo("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=False)).rstrip())
    for row in cells:
        click.echo("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=False)).rstrip())
