"""Nothing lost, ever: wrong folders, a Stooq tree that vanishes or empties, stray files
in the prices folder, and `--force`. Each ends with the user's files untouched and the
outputs equal to a from-scratch run."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import NoReturn

import dagster as dg
import pytest

from portfolio_assets.cli.refresh import RefreshOutcome, refresh
from portfolio_assets.definitions import build_definitions
from portfolio_assets.domain.errors import FolderConflict
from portfolio_assets.incremental.file_summaries import FileRead, FileSummary, summarise_file
from portfolio_assets.incremental.metadata_files import MetadataFiles
from portfolio_assets.instance.stale_status import asset_statuses
from portfolio_assets.settings import settings_from_environment, settings_from_values
from portfolio_assets.steps import match_report
from portfolio_assets.steps.match_report import build_match_reports
from portfolio_assets.steps.price_exports import build_price_exports
from portfolio_assets.steps.registry import ASSET_KEYS

from ..helpers import (
    AAPL,
    BlockedRead,
    build_all,
    from_scratch,
    latest_materialization,
    output_files,
    permissions_enforced,
    run_refresh,
    write_file,
)

PRICES = Path("data/processed/tradeable_prices")


def refresh_outcome(instance: dg.DagsterInstance, force: bool = False) -> RefreshOutcome:
    return refresh(build_definitions(), instance, settings_from_environment(), force=force, report=lambda _: None)


def every_file(root: Path) -> dict[str, bytes]:
    """Every file under root except the instance's and the caches' (which hold stamps)."""
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file() and p.suffix != ".json"
    }


@pytest.fixture
def settled(world: Path, instance: dg.DagsterInstance) -> Path:
    assert run_refresh(instance) == list(ASSET_KEYS)
    return world


# --- 1. folders that overlap ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "other"),
    [
        ("prices_dir", "tradeable_instruments", "PORTFOLIO_ASSETS_TRADEABLE_DIR"),
        ("prices_dir", "data/metadata", "PORTFOLIO_ASSETS_METADATA_DIR"),
        ("prices_dir", ".", "PORTFOLIO_ASSETS_STOOQ_DIR"),
        ("prices_dir", "data/stooq/d_us_txt", "PORTFOLIO_ASSETS_STOOQ_DIR"),
        ("metadata_dir", "tradeable_instruments/meta", "PORTFOLIO_ASSETS_TRADEABLE_DIR"),
        ("tradeable_dir", "data/stooq", "PORTFOLIO_ASSETS_STOOQ_DIR"),
    ],
)
def test_overlapping_folders_are_refused_naming_both(world: Path, field: str, value: str, other: str) -> None:
    variable = f"PORTFOLIO_ASSETS_{field.upper()}"
    with pytest.raises(FolderConflict) as raised:
        settings_from_values({field: value})
    assert variable in str(raised.value) and other in str(raised.value)


def test_a_folder_linked_into_another_is_refused(world: Path) -> None:
    os.symlink(world / "tradeable_instruments", world / "prices_link")
    with pytest.raises(FolderConflict, match="PORTFOLIO_ASSETS_PRICES_DIR"):
        settings_from_values({"prices_dir": "prices_link"})


def test_an_output_folder_that_is_a_file_is_refused(world: Path) -> None:
    write_file(world / "data/metadata", "not a folder")
    with pytest.raises(FolderConflict, match=r"PORTFOLIO_ASSETS_METADATA_DIR.*is a file"):
        settings_from_environment()


@pytest.mark.parametrize("prices", ["tradeable_instruments", "data/metadata", "."])
def test_refresh_with_a_wrong_prices_folder_touches_no_file(
    settled: Path,
    instance: dg.DagsterInstance,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path_factory: pytest.TempPathFactory,
    prices: str,
) -> None:
    from portfolio_assets.cli.main import main

    write_file(settled / "my_backtest_results.csv", "date,pnl\n2024-01-02,1\n")
    before = every_file(settled)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path_factory.mktemp("home")))
    with pytest.raises(SystemExit) as raised:
        code = main(["refresh", "--prices-dir", prices])
        raise SystemExit(code)
    assert raised.value.code not in (0, None)
    assert "PORTFOLIO_ASSETS_PRICES_DIR" in str(raised.value.code) + capsys.readouterr().err
    assert every_file(settled) == before


# --- 1. only files the pipeline wrote are removed ------------------------------------------------


def test_a_stray_csv_is_reported_and_never_removed(
    settled: Path, instance: dg.DagsterInstance, tmp_path_factory: pytest.TempPathFactory
) -> None:
    mine = write_file(settled / PRICES / "my_backtest_results.csv", "date,pnl\n2024-01-02,1\n")
    look_alike = write_file(settled / PRICES / "zzz.us.csv", "ticker,per,date\nZZZ.US,D,20240102\n")
    # The instrument behind kim.us.csv leaves the universe: its export (ours) goes.
    lists = settled / "tradeable_instruments" / "broker_b.csv"
    lists.write_text("\n".join(line for line in lists.read_text().splitlines() if "KIM" not in line) + "\n")
    outcome = refresh_outcome(instance)
    assert outcome.success, outcome.error
    assert not (settled / PRICES / "kim.us.csv").exists()
    assert mine.read_text() == "date,pnl\n2024-01-02,1\n" and look_alike.exists()
    defs = build_definitions()
    exports = next(
        s for s in asset_statuses(defs, instance, settings_from_environment(), ASSET_KEYS) if s.key == "price_exports"
    )
    assert exports.status == "fresh"
    assert any("my_backtest_results.csv" in note and "zzz.us.csv" in note for note in exports.notes)
    mine.unlink()
    look_alike.unlink()
    assert output_files(settled) == from_scratch(settled, tmp_path_factory)


def test_forced_refresh_removes_no_stray_either(settled: Path, instance: dg.DagsterInstance) -> None:
    mine = write_file(settled / PRICES / "notes.csv", "mine\n")
    assert refresh_outcome(instance, force=True).success
    assert mine.read_text() == "mine\n"


def test_a_user_file_where_an_export_belongs_is_not_overwritten(world: Path, instance: dg.DagsterInstance) -> None:
    mine = write_file(world / PRICES / "aapl.us.csv", "my own notes about apple\n")
    outcome = refresh_outcome(instance)
    assert not outcome.success and "aapl.us.csv" in outcome.error
    assert mine.read_text() == "my own notes about apple\n"


def test_exports_of_a_lost_record_are_refused_until_adopted(
    settled: Path, instance: dg.DagsterInstance, tmp_path_factory: pytest.TempPathFactory
) -> None:
    for name in ("export_manifest.json", "exports_written.json"):
        (settled / "data/metadata" / name).unlink()
    with open(settled / AAPL, "a") as handle:
        handle.write("AAPL.US,D,20240105,000000,10,11,9,10.7,1200,0\n")
    exports_before = {p.name: p.read_bytes() for p in (settled / PRICES).iterdir()}
    refused = refresh_outcome(instance)
    assert not refused.success and "--adopt-exports" in refused.error
    assert {p.name: p.read_bytes() for p in (settled / PRICES).iterdir()} == exports_before
    adopted = refresh(
        build_definitions(), instance, settings_from_environment(), report=lambda _: None, adopt_exports=True
    )
    assert adopted.success, adopted.error
    assert output_files(settled) == from_scratch(settled, tmp_path_factory)


# --- 2. a Stooq folder away for a moment ---------------------------------------------------------


def test_a_region_moved_away_during_match_report_poisons_nothing(
    settled: Path,
    instance: dg.DagsterInstance,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    region = settled / "data/stooq/d_us_txt"
    with open(settled / AAPL, "a") as handle:
        handle.write("AAPL.US,D,20240105,000000,10,11,9,10.7,1200,0\n")
    exports_before = {p.name: p.read_bytes() for p in (settled / PRICES).iterdir()}
    real = summarise_file  # what match_report calls
    stamps: dict[Path, tuple[int, int]] = {}

    def move_away_then_read(job: tuple[Path, FileSummary | None]) -> FileRead:
        if region.exists():
            stamps.update({p: (p.stat().st_atime_ns, p.stat().st_mtime_ns) for p in region.rglob("*")})
            region.rename(settled / "away")
        return real(job)

    monkeypatch.setattr(match_report, "summarise_file", move_away_then_read)
    outcome = refresh_outcome(instance)
    assert not outcome.success and "disappeared" in outcome.error
    monkeypatch.setattr(match_report, "summarise_file", real)
    (settled / "away").rename(region)  # back, with the same sizes and mtimes
    for path, (atime, mtime) in sorted(stamps.items(), reverse=True):
        os.utime(path, ns=(atime, mtime))
    cache = (settled / "data/metadata/diagnostics_cache.json").read_text()
    assert "missing_file" not in cache
    assert {p.name: p.read_bytes() for p in (settled / PRICES).iterdir()} == exports_before
    assert refresh_outcome(instance).success
    assert "missing_file" not in (settled / "data/metadata/tradeable_matches.csv").read_text()
    assert output_files(settled) == from_scratch(settled, tmp_path_factory)


def test_an_unreadable_file_is_not_remembered(world: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from portfolio_assets.domain.diagnostics import Diagnostics
    from portfolio_assets.incremental.diagnostics_cache import diagnose_with_cache
    from portfolio_assets.incremental.stooq_sources import StooqSource

    settings = settings_from_environment()
    relative, readable = AAPL.removeprefix("data/stooq/"), "d_us_txt/data/daily/us/nyse stocks/2/kim.us.txt"
    cache = world / "cache.json"

    def diagnose(job: tuple[StooqSource, FileSummary | None]) -> FileRead:
        if "aapl" in str(job[0]):
            return FileRead(Diagnostics("", "", 0, "error:PermissionError", ""), None)
        return summarise_file(job)

    result = diagnose_with_cache(settings.stooq_dir, [relative, readable], cache, "1", diagnose)
    assert result.by_path[relative].data_status == "error:PermissionError"
    assert list(json.loads(cache.read_text())["entries"]) == [readable]


def daily_update(world: Path) -> None:
    for name in ("aapl.us.txt", "kim.us.txt"):
        path = next((world / "data/stooq").rglob(name))
        with open(path, "a") as handle:
            handle.write(f"{name[:-4].upper()},D,20240105,000000,10,11,9,10.7,1200,0\n")


def match_report_stats(instance: dg.DagsterInstance) -> dict[str, object]:
    metadata = latest_materialization(instance, "match_report").metadata
    return {key: value.value for key, value in metadata.items()}


def test_a_file_unreadable_for_one_refresh_is_read_again_by_the_next(
    settled: Path,
    instance: dg.DagsterInstance,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """A read failure (here one that leaves the file's stamp as it was: a share back, a lock
    gone) is of the moment: the next refresh reads exactly that file again."""
    daily_update(settled)
    blocked = BlockedRead(monkeypatch, settled / AAPL)
    assert run_refresh(instance) == ["stooq_index", "match_report", "price_exports", "price_store"]
    report = settled / "data/metadata/tradeable_matches.csv"
    assert "error:PermissionError" in report.read_text()
    assert not (settled / PRICES / "aapl.us.csv").exists()  # as SPEC 2 says
    blocked.blocked = False
    causes = {
        s.key: s.causes for s in asset_statuses(build_definitions(), instance, settings_from_environment(), ASSET_KEYS)
    }
    assert causes["match_report"] == ["1 matched file could not be read last time (PermissionError): read again"]
    assert run_refresh(instance) == ["match_report", "price_exports", "price_store"]
    assert match_report_stats(instance)["stooq_files_read"] == 1
    assert "error:" not in report.read_text()
    assert "20240105" in (settled / PRICES / "aapl.us.csv").read_text()
    assert run_refresh(instance) == []
    assert output_files(settled) == from_scratch(settled, tmp_path_factory)


def test_with_include_empty_the_header_alone_of_an_unreadable_file_is_replaced_once_it_reads(
    settled: Path,
    instance: dg.DagsterInstance,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    monkeypatch.setenv("PORTFOLIO_ASSETS_INCLUDE_EMPTY", "true")
    run_refresh(instance)
    daily_update(settled)
    blocked = BlockedRead(monkeypatch, settled / AAPL)
    run_refresh(instance)
    assert (settled / PRICES / "aapl.us.csv").read_text().count("\n") == 1  # the header alone
    blocked.blocked = False
    assert run_refresh(instance) == ["match_report", "price_exports", "price_store"]
    assert "20240105" in (settled / PRICES / "aapl.us.csv").read_text()
    assert output_files(settled) == from_scratch(settled, tmp_path_factory)


def test_a_file_that_stays_unreadable_is_read_once_per_refresh(
    settled: Path, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    daily_update(settled)
    BlockedRead(monkeypatch, settled / AAPL)
    run_refresh(instance)
    said: list[str] = []
    outcome = refresh(build_definitions(), instance, settings_from_environment(), report=said.append)
    assert outcome.success and outcome.materialized == ["match_report"] and outcome.runs == 1
    assert match_report_stats(instance)["stooq_files_read"] == 1
    assert (
        said[-1]
        == "match_report: 1 matched file(s) still could not be read (PermissionError); the next refresh reads them again"
    )


def test_a_file_that_cannot_be_decoded_is_not_read_again_while_its_stamp_stands(
    settled: Path, instance: dg.DagsterInstance
) -> None:
    """error:UnicodeDecodeError comes from the bytes: kept like any diagnostics, so nothing is
    stale when nothing changed (SPEC 6)."""
    (settled / AAPL).write_bytes(b"\xff\xfe binary \x00\x81\n")
    assert run_refresh(instance) == ["stooq_index", "match_report", "price_exports", "price_store"]
    assert "error:UnicodeDecodeError" in (settled / "data/metadata/tradeable_matches.csv").read_text()
    statuses = asset_statuses(build_definitions(), instance, settings_from_environment(), ASSET_KEYS)
    assert [s.status for s in statuses] == ["fresh"] * 5
    assert run_refresh(instance) == []


def test_a_file_made_unreadable_by_chmod_for_one_refresh(
    settled: Path, instance: dg.DagsterInstance, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The issue's steps: a daily update with one matched file `chmod 000`, refresh,
    `chmod 644`, refresh."""
    path = settled / AAPL
    daily_update(settled)
    with permissions_enforced():
        path.chmod(0)
        try:
            assert run_refresh(instance) == ["stooq_index", "match_report", "price_exports", "price_store"]
        finally:
            path.chmod(0o644)
    assert "error:PermissionError" in (settled / "data/metadata/tradeable_matches.csv").read_text()
    assert not (settled / PRICES / "aapl.us.csv").exists()
    assert run_refresh(instance)[-3:] == ["match_report", "price_exports", "price_store"]
    assert "20240105" in (settled / PRICES / "aapl.us.csv").read_text()
    assert output_files(settled) == from_scratch(settled, tmp_path_factory)


# --- 3. an empty Stooq folder, and runs that would remove most exports ---------------------------


def test_an_empty_stooq_folder_fails_and_removes_nothing(
    settled: Path, instance: dg.DagsterInstance, tmp_path_factory: pytest.TempPathFactory
) -> None:
    stooq = settled / "data/stooq"
    stooq.rename(settled / "unmounted")
    stooq.mkdir()
    before = every_file(settled)
    outcome = refresh_outcome(instance)
    assert not outcome.success and "holds no *.txt price file" in outcome.error
    assert every_file(settled) == before
    stooq.rmdir()
    (settled / "unmounted").rename(stooq)
    assert refresh_outcome(instance).success
    assert output_files(settled) == from_scratch(settled, tmp_path_factory)


def test_a_failed_index_check_blocks_what_follows_and_is_named(
    settled: Path, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    from portfolio_assets.steps import stooq_index

    monkeypatch.setattr(stooq_index, "count_index_rows", lambda _: 0)
    import dagster as dg

    def materializations(key: str) -> int:
        return len(instance.fetch_materializations(dg.AssetKey(key), limit=100).records)

    before = every_file(settled)
    counts = {key: materializations(key) for key in ASSET_KEYS}
    outcome = refresh_outcome(instance, force=True)
    assert not outcome.success and "stooq_index_not_empty" in outcome.error
    assert {key: materializations(key) - counts[key] for key in ASSET_KEYS} == {
        "stooq_index": 1,
        "tradeable_universe": 1,
        "match_report": 0,
        "price_exports": 0,
        "price_store": 0,
    }
    assert every_file(settled) == before


def test_status_shows_strays_on_the_fast_path_too(
    settled: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    from portfolio_assets.cli import main as cli
    from portfolio_assets.cli import refresh as refresh_module

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path_factory.mktemp("home")))
    write_file(settled / PRICES / "my_backtest_results.csv", "date,pnl\n")
    assert cli.main(["refresh"]) == 0
    assert cli.main(["status"]) == 0
    assert (
        "note: 1 file(s) in data/processed/tradeable_prices were not written by the pipeline" in capsys.readouterr().out
    )

    def no_dagster(*_args: object, **_kwargs: object) -> NoReturn:
        raise AssertionError("the fast path was expected to answer")

    monkeypatch.setattr(refresh_module, "fresh_checked_statuses", no_dagster)
    assert cli.main(["status", "--json"]) == 0
    exports = json.loads(capsys.readouterr().out)["assets"][3]
    assert exports["status"] == "fresh" and "my_backtest_results.csv" in exports["notes"][0]


def test_removing_most_exports_needs_force(
    settled: Path,
    instance: dg.DagsterInstance,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    exports_before = {p.name: p.read_bytes() for p in (settled / PRICES).iterdir()}
    (settled / "tradeable_instruments/broker_b.csv").unlink()  # 2 of the 3 exports
    outcome = refresh_outcome(instance)
    assert not outcome.success
    assert "would remove 2 of the 3 exports" in outcome.error and "--force" in outcome.error
    assert {p.name: p.read_bytes() for p in (settled / PRICES).iterdir()} == exports_before
    monkeypatch.setenv("PORTFOLIO_ASSETS_MAX_REMOVED_SHARE", "1")
    assert refresh_outcome(instance).success
    assert output_files(settled) == from_scratch(settled, tmp_path_factory)


def test_forced_refresh_may_remove_most_exports(
    settled: Path, instance: dg.DagsterInstance, tmp_path_factory: pytest.TempPathFactory
) -> None:
    (settled / "tradeable_instruments/broker_b.csv").unlink()
    assert refresh_outcome(instance, force=True).success
    assert output_files(settled) == from_scratch(settled, tmp_path_factory)


# --- 4. --force recomputes from the inputs -------------------------------------------------------


def test_force_rereads_every_file_after_a_change_with_its_size_and_mtime_kept(
    settled: Path, instance: dg.DagsterInstance, tmp_path_factory: pytest.TempPathFactory
) -> None:
    path = settled / AAPL
    stat = path.stat()
    path.write_text(path.read_text().replace("10.5,1000", "12.5,2000"))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_size == stat.st_size
    # The ctime tells a plain refresh (cli/test_refresh.py); --force reads every file anyway.
    assert run_refresh(instance, force=True) == list(ASSET_KEYS)
    assert "12.5,2000" in (settled / PRICES / "aapl.us.csv").read_text()
    assert run_refresh(instance) == []
    assert output_files(settled) == from_scratch(settled, tmp_path_factory)


# --- 12. a damaged cache is reported once and repaired ------------------------------------------


@pytest.mark.parametrize(
    "cache",
    ["export_manifest.json", "diagnostics_cache.json", "match_cache.json", "exports_written.json", "report_parts.json"],
)
def test_a_damaged_cache_warns_once_then_is_repaired(world: Path, cache: str) -> None:
    settings = settings_from_environment()
    build_all(settings)
    (world / "data/metadata" / cache).write_text("{broken")
    if cache == "match_cache.json":  # read only when lists are matched again: when the reports' parts are not known
        MetadataFiles(settings.metadata_dir).report_parts_path.unlink()
    warned = []
    for _ in range(2):
        warned.append(
            [
                w
                for step in (build_match_reports, build_price_exports)
                for w in getattr(step(settings, force=False), "warnings", [])
                if cache in w
            ]
        )
    assert len(warned[0]) == 1 and warned[1] == []
