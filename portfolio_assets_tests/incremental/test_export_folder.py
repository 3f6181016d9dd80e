"""What the prices folder holds: its CSV files, never a temporary file of a write under way."""

from __future__ import annotations

from pathlib import Path

from portfolio_assets.incremental.export_folder import existing_export_names
from portfolio_assets.io.atomic_files import TEMP_PREFIX

HEADER = "ticker,per,date,time,open,high,low,close,volume,openint"


def test_existing_export_names_ignores_temporary_and_other_files(tmp_path: Path) -> None:
    (tmp_path / "abc.us.csv").write_text(HEADER + "\n")
    (tmp_path / "exm.csv").write_text(HEADER + "\n")
    (tmp_path / f"{TEMP_PREFIX}xyz.csv").write_text("")
    (tmp_path / ".portfolio-assets-tmp-xyz.part").write_text("")
    (tmp_path / "notes.txt").write_text("")
    assert existing_export_names(tmp_path) == {"abc.us.csv", "exm.csv"}
    assert existing_export_names(tmp_path / "missing") == set()
