"""The settings table as Markdown: whole for `docs/settings.md`, in brief (variable, flag,
default, what it is) for the README, each between its two markers.

    python -m portfolio_assets.settings.markdown                          # print the whole table
    python -m portfolio_assets.settings.markdown --write docs/settings.md README.md

`--write` replaces whichever of the two tables each file marks. A test checks that the
files hold exactly these renderings, so the docs cannot drift from the table.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .table import READERS, SETTINGS, Setting

__all__ = [
    "BEGIN_MARKER",
    "END_MARKER",
    "SUMMARY_BEGIN_MARKER",
    "SUMMARY_END_MARKER",
    "render_settings_summary",
    "render_settings_table",
    "replace_settings_table",
]

BEGIN_MARKER = "<!-- settings table: generated -->"
END_MARKER = "<!-- end of settings table -->"
SUMMARY_BEGIN_MARKER = "<!-- settings summary: generated -->"
SUMMARY_END_MARKER = "<!-- end of settings summary -->"
_NONE = "—"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _row(row: Setting[Any]) -> list[str]:
    return [
        f"`{row.variable}`",
        f"`{row.flag}`" if row.flag else _NONE,
        row.default_described or f"`{row.default}`",
        row.description,
        row.kind.describe(),
        ", ".join(f"`{step}`" for step in row.results_of) or _NONE,
        READERS[row.read_by],
    ]


def _render(header: list[str], rows: list[list[str]]) -> str:
    lines = [header, ["---"] * len(header), *rows]
    return "".join("| " + " | ".join(_cell(cell) for cell in line) + " |\n" for line in lines)


def render_settings_table() -> str:
    """The table, one line per setting, in the table's order; ends with a newline."""
    header = ["Variable", "Flag", "Default", "What it is", "Values", "Changes the result of", "Read by"]
    return _render(header, [_row(row) for row in SETTINGS])


def render_settings_summary() -> str:
    """The README's brief table: variable, flag, default and what it is."""
    return _render(["Variable", "Flag", "Default", "What it is"], [_row(row)[:4] for row in SETTINGS])


_TABLES = (
    (BEGIN_MARKER, END_MARKER, render_settings_table),
    (SUMMARY_BEGIN_MARKER, SUMMARY_END_MARKER, render_settings_summary),
)


def replace_settings_table(text: str) -> str:
    """`text` with what lies between each pair of markers it holds replaced by its rendering."""
    found = False
    for begin, end_marker, render in _TABLES:
        start = text.find(begin)
        end = text.find(end_marker)
        if start < 0 and end < 0:
            continue
        if start < 0 or end < start:
            raise ValueError(f"no {begin} ... {end_marker} in order in the text")
        text = text[: start + len(begin)] + "\n" + render() + text[end:]
        found = True
    if not found:
        raise ValueError(f"no {BEGIN_MARKER} or {SUMMARY_BEGIN_MARKER} in the text")
    return text


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m portfolio_assets.settings.markdown", description=__doc__)
    parser.add_argument(
        "--write", metavar="FILE", type=Path, nargs="+", help="replace the tables between the markers in each FILE"
    )
    args = parser.parse_args(argv)
    if args.write is None:
        sys.stdout.write(render_settings_table())
        return 0
    for path in args.write:
        path.write_text(replace_settings_table(path.read_text(encoding="utf-8")), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
