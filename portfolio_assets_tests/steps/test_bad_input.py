"""Bad and vanishing input at the steps: garbage in a matched file is an error status, and
a Stooq folder that disappears mid-step leaves only whole files (never a temporary one)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from portfolio_assets.domain.errors import InputVanished
from portfolio_assets.incremental import export_sync
from portfolio_assets.incremental.export_sync import ExportJob, StagedExport
from portfolio_assets.incremental.file_summaries import FileRead, FileSummary, summarise_file
from portfolio_assets.io.atomic_files import TEMP_PREFIX
from portfolio_assets.settings import settings_from_environment
from portfolio_assets.steps import match_report
from portfolio_assets.steps.match_report import build_match_reports
from portfolio_assets.steps.price_exports import build_price_exports
from portfolio_assets.steps.stooq_index import build_stooq_index
from portfolio_assets.steps.tradeable_universe import build_universe

from ..helpers import AAPL, build_all, output_files


def temp_files(root: Path) -> list[Path]:
    return [path for path in root.rglob(f"{TEMP_PREFIX}*")]


def test_binary_garbage_in_a_matched_file_is_an_error_status_and_the_run_succeeds(world: Path) -> None:
    build_all(settings_from_environment())
    before = (world / "data/metadata/tradeable_matches.csv").read_text().splitlines()
    (world / AAPL).write_bytes(bytes(range(256)) * 8)
    build_all(settings_from_environment())
    after = (world / "data/metadata/tradeable_matches.csv").read_text().splitlines()
    changed = [row for row in after if row not in before]
    assert len(changed) == 1 and changed[0].startswith("AAPL,") and ",error:UnicodeDecodeError," in changed[0]
    assert not (world / "data/processed/tradeable_prices/aapl.us.csv").exists()
    assert [row for row in before if not row.startswith("AAPL,")] == [r for r in after if not r.startswith("AAPL,")]


def test_stooq_folder_vanishing_while_diagnosing_writes_nothing(world: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    build_all(settings_from_environment())
    with open(world / AAPL, "a") as handle:
        handle.write("AAPL.US,D,20240105,000000,10,11,9,10.7,1200,0\n")
    before = output_files(world)
    real = summarise_file  # as match_report imports it

    def vanish_then_read(job: tuple[Path, FileSummary | None]) -> FileRead:
        if (world / "data/stooq").exists():
            (world / "data/stooq").rename(world / "moved")
        return real(job)

    monkeypatch.setattr(match_report, "summarise_file", vanish_then_read)
    with pytest.raises(InputVanished, match="disappeared"):
        build_match_reports(settings_from_environment())
    assert output_files(world) == before and not temp_files(world)


def test_stooq_folder_vanishing_while_exporting_leaves_only_whole_files(
    world: Path, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    settings = settings_from_environment()
    build_stooq_index(settings)
    build_universe(settings)
    build_match_reports(settings)
    real = export_sync.stage_export

    def export_then_vanish(job: ExportJob) -> StagedExport:
        done = real(job)
        if (world / "data/stooq").exists():
            (world / "data/stooq").rename(world / "moved")
        return done

    monkeypatch.setattr(export_sync, "stage_export", export_then_vanish)
    with pytest.raises(InputVanished):
        build_price_exports(settings)
    assert not temp_files(world)
    monkeypatch.setattr(export_sync, "stage_export", real)
    (world / "moved").rename(world / "data/stooq")
    build_price_exports(settings)
    reference = tmp_path_factory.mktemp("reference")
    shutil.copytree(world / "data/stooq", reference / "data/stooq")
    shutil.copytree(world / "tradeable_instruments", reference / "tradeable_instruments")
    monkeypatch.chdir(reference)
    build_all(settings_from_environment())
    assert output_files(world) == output_files(reference)
