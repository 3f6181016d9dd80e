"""What the prices folder holds now: the names of its CSV files, leaving out the
temporary files of writes still under way (and any other hidden file).

Kept apart from `export_sync` (which imports the price reader) so that the CLI's
fast path can list the folder without importing pyarrow.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..io.atomic_files import TEMP_PREFIX

__all__ = ["existing_export_names"]


def existing_export_names(prices_dir: Path) -> set[str]:
    """Names of the `*.csv` files now in the export folder (not temporary files)."""
    if not prices_dir.is_dir():
        return set()
    return {
        entry.name
        for entry in os.scandir(prices_dir)
        if entry.name.lower().endswith(".csv")
        and not entry.name.startswith((TEMP_PREFIX, "."))
        and entry.is_file(follow_symlinks=False)
    }
