"""What the prices folder holds now: the names of its CSV files, leaving out the
temporary files of writes still under way (and any other hidden file), as text that
can be printed.

A name that is not valid UTF-8 (a user's file unpacked from an archive made on
another system, say) comes from `os.scandir` with its odd bytes as surrogates, which
no terminal, log, JSON file or Dagster event can take. Such a file is never an
export (exports are named after tickers, which are UTF-8), so it is only ever
reported, as a stray, and left alone: its name is listed with `\\x..` escapes, as the
rest of the project shows names that are not UTF-8.

Kept apart from `export_sync` (which imports the price reader) so that the CLI's
fast path can list the folder without importing pyarrow.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..domain.errors import printable
from ..io.atomic_files import TEMP_PREFIX

__all__ = ["existing_export_names"]


def existing_export_names(prices_dir: Path) -> set[str]:
    """Names of the `*.csv` files now in the export folder (not temporary files), printable."""
    if not prices_dir.is_dir():
        return set()
    return {
        printable(entry.name)
        for entry in os.scandir(prices_dir)
        if entry.name.lower().endswith(".csv")
        and not entry.name.startswith((TEMP_PREFIX, "."))
        and entry.is_file(follow_symlinks=False)
    }
