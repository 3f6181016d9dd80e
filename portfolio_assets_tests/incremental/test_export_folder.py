"""What the prices folder holds: its CSV files, never a temporary file of a write under way."""

from __future__ import annotations

import os
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


def test_a_name_that_is_not_utf8_is_listed_with_escapes(tmp_path: Path) -> None:
    with open(os.path.join(os.fsencode(tmp_path), b"caf\xe9.csv"), "wb") as handle:
        handle.write(b"mine\n")
    (tmp_path / "caf\u00e9.csv").write_text("also mine\n", encoding="utf-8")
    names = existing_export_names(tmp_path)
    assert names == {"caf\\xe9.csv", "caf\u00e9.csv"}
    assert all(name.encode("utf-8") for name in names)
