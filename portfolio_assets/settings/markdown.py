"""The settings table as Markdown, for the docs (`docs/settings.md`, between two markers).

    python -m portfolio_assets.settings.markdown                          # print it
    python -m portfolio_assets.settings.markdown --write docs/settings.md # replace it there

A test checks that the file holds exactly this rendering, so the docs cannot drift from
the table.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .table import READERS, SETTINGS, Setting

__all__ = ["BEGIN_MARKER", "END_MARKER", "render_settings_table", "replace_settings_table"]

BEGIN_MARKER = "<!-- settings table: generated -->"
END_MARKER = "<!-- end of settings table -->"
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


def render_settings_table() -> str:
    """The table, one line per setting, in the table's order; ends with a newline."""
    header = ["Variable", "Flag", "Default", "What it is", "Values", "Changes the result of", "Read by"]
    lines = [header, ["---"] * len(header), *(_row(row) for row in SETTINGS)]
    return "".join("| " + " | ".join(_cell(cell) for cell in line) + " |\n" for line in lines)


def replace_settings_table(text: str) -> str:
    """`text` with what lies between the two markers replaced by the rendering."""
    start = text.find(BEGIN_MARKER)
    end = text.find(END_MARKER)
    if start < 0 or end < start:
        raise ValueError(f"no {BEGIN_MARKER} ... {END_MARKER} in order in the text")
    return text[: start + len(BEGIN_MARKER)] + "\n" + render_settings_table() + text[end:]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m portfolio_assets.settings.markdown", description=__doc__)
    parser.add_argument("--write", metavar="FILE", type=Path, help="replace the table between the markers in FILE")
    args = parser.parse_args(argv)
    if args.write is None:
        sys.stdout.write(render_settings_table())
        return 0
    text = args.write.read_text(encoding="utf-8")
    args.write.write_text(replace_settings_table(text), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
