"""Outputs get the user's umask (0o666 less it), like any file the user makes, so a
backtest running as another user can read the reports and exports."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from portfolio_assets.io.atomic_files import replace_all, stage_bytes, write_bytes_atomic, write_text_atomic
from portfolio_assets.settings import settings_from_environment

from ..helpers import build_all


@pytest.fixture(params=[0o022, 0o002], ids=["umask022", "umask002"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    previous = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_new_and_replaced_files_get_the_umask(tmp_path: Path, umask: int) -> None:
    new = tmp_path / "reports" / "tradeable_matches.csv"
    write_text_atomic(new, "ticker\n")
    replaced = tmp_path / "stooq_index.csv"
    replaced.write_text("old\n")
    os.chmod(replaced, 0o600)
    write_bytes_atomic(replaced, b"new\n")
    staged = tmp_path / "tradeable_unmatched.csv"
    replace_all([(stage_bytes(staged, b"symbol\n"), staged)])
    for path in (new, replaced, staged):
        assert mode(path) == 0o666 & ~umask, (path, oct(mode(path)))


def test_every_report_and_export_of_a_run_gets_the_umask(world: Path, umask: int) -> None:
    settings = settings_from_environment()
    build_all(settings)
    written = [
        path for folder in (settings.metadata_dir, settings.prices_dir) for path in folder.rglob("*") if path.is_file()
    ]
    assert any(path.suffix == ".csv" for path in written) and any(
        path.parent == settings.prices_dir for path in written
    )
    assert {path.name: oct(mode(path)) for path in written} == {path.name: oct(0o666 & ~umask) for path in written}
