"""Per-instrument work (issue 4): caches and the export manifest touch only what changed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from portfolio_assets.io import parallel
from portfolio_assets.settings import settings_from_environment
from portfolio_assets.steps.match_report import ReportResult
from portfolio_assets.steps.price_exports import ExportResult
from portfolio_assets.steps.stooq_index import build_stooq_index

from ..helpers import AAPL, build_all, output_files, stooq_rows, write_file


def run_steps() -> tuple[ReportResult, ExportResult]:
    """Every step, as a run would; returns the match_report and price_exports results."""
    results = build_all(settings_from_environment())
    report, exports = results["match_report"], results["price_exports"]
    assert isinstance(report, ReportResult) and isinstance(exports, ExportResult)
    return report, exports


def export_identity(world: Path) -> dict[str, tuple[int, int]]:
    folder = world / "data/processed/tradeable_prices"
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in folder.iterdir()}


@pytest.fixture
def built(world: Path) -> Path:
    run_steps()
    return world


def test_second_run_reads_no_stooq_file(built: Path) -> None:
    report, exports = run_steps()
    assert report.stats["stooq_files_read"] == 0 and report.stats["instruments_rematched"] == 0
    assert exports.stats["stooq_files_read"] == 0 and exports.written == []


def test_daily_update_rewrites_exactly_that_export(built: Path) -> None:
    before = export_identity(built)
    with open(built / AAPL, "a") as handle:
        handle.write("AAPL.US,D,20240105,000000,10,11,9,10.7,1200,0\n")
    report, exports = run_steps()
    assert report.stats["stooq_files_read"] == 1
    assert exports.written == ["aapl.us.csv"] and exports.stats["stooq_files_read"] == 1
    after = export_identity(built)
    assert {name for name in before if before[name] != after[name]} == {"aapl.us.csv"}


def test_lse_policy_change_rewrites_no_export(built: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = export_identity(built)
    monkeypatch.setenv("PORTFOLIO_ASSETS_LSE_CURRENCY_POLICY", "strict")
    report, exports = run_steps()
    assert "error:lse_currency_override" in (built / "data/metadata/tradeable_matches.csv").read_text()
    assert report.stats["stooq_files_read"] == 0
    assert exports.written == [] and export_identity(built) == before


def test_one_appended_instrument_reads_only_its_own_file(built: Path) -> None:
    write_file(
        built / "data/stooq/d_us_txt/data/daily/us/nasdaq stocks/2/msft.us.txt",
        stooq_rows("MSFT.US", ["20240102", "20240103"]),
    )
    build_stooq_index(settings_from_environment())
    run_steps()  # the index changed: everything rematched once
    before = export_identity(built)
    with open(built / "tradeable_instruments/broker_a.csv", "a") as handle:
        handle.write("NSQ,US5949181045,MSFT,Microsoft\n")
    report, exports = run_steps()
    assert report.stats["instruments_rematched"] == 1 and report.stats["instruments_reused"] == 5
    assert report.stats["stooq_files_read"] == 1  # its own file, newly matched
    assert exports.written == ["msft.us.csv"] and exports.stats["stooq_files_read"] == 1
    after = export_identity(built)
    assert {name: after[name] for name in before} == before


def test_changed_index_rematches_everything(built: Path) -> None:
    write_file(
        built / "data/stooq/d_us_txt/data/daily/us/nasdaq stocks/3/new.us.txt", stooq_rows("NEW.US", ["20240102"])
    )
    report, _ = run_steps()
    assert report.stats["instruments_rematched"] == 5 and report.stats["instruments_reused"] == 0


def test_deleted_export_is_rebuilt_alone(built: Path) -> None:
    (built / "data/processed/tradeable_prices/kim.us.csv").unlink()
    before = export_identity(built)
    _, exports = run_steps()
    assert exports.written == ["kim.us.csv"] and exports.stats["stooq_files_read"] == 1
    after = export_identity(built)
    assert {name: after[name] for name in before} == before


def test_export_no_longer_matched_is_removed(built: Path) -> None:
    lists = built / "tradeable_instruments/broker_b.csv"
    lists.write_text(lists.read_text().replace("KIM:US", "KIMX:US"))
    _, exports = run_steps()
    assert exports.removed == ["kim.us.csv"]
    assert not (built / "data/processed/tradeable_prices/kim.us.csv").exists()


@pytest.mark.parametrize(
    "name",
    [
        "match_cache.json",
        "diagnostics_cache.json",
        "export_manifest.json",
        "universe_parts.json",
        "report_parts.json",
    ],
)
@pytest.mark.parametrize("damage", [b"{not json", b"\xff\xfe", b'{"kind": "x", "entries": []}', b""])
def test_corrupt_cache_is_discarded_with_a_warning_and_rebuilt(built: Path, name: str, damage: bytes) -> None:
    expected = output_files(built)
    (built / "data/metadata" / name).write_bytes(damage)
    if name == "match_cache.json":  # read only when lists are matched again: when the reports' parts are not known
        (built / "data/metadata/report_parts.json").unlink()
    results = build_all(settings_from_environment())
    assert output_files(built) == expected
    assert any(name in warning for result in results.values() for warning in getattr(result, "warnings", []))
    results = build_all(settings_from_environment())
    assert all(getattr(result, "warnings", []) == [] for result in results.values())


def test_cache_entry_with_a_stale_stamp_is_not_trusted(built: Path) -> None:
    path = built / AAPL
    text = path.read_text().replace("10.5,1000", "10.5,0000")  # same size, new content
    path.write_text(text)
    report, _ = run_steps()
    assert report.stats["stooq_files_read"] == 1
    assert "zero_volume=3" in (built / "data/metadata/tradeable_matches.csv").read_text()


@pytest.mark.parametrize("pool", ["threads", "processes"])
def test_worker_threads_and_processes_give_the_same_outputs(
    world: Path, monkeypatch: pytest.MonkeyPatch, pool: str
) -> None:
    monkeypatch.setenv("PORTFOLIO_ASSETS_WORKERS", "1")
    run_steps()
    sequential = output_files(world)
    for folder in ("data/metadata", "data/processed"):
        shutil.rmtree(world / folder)
    monkeypatch.setattr(parallel, "MIN_THREADED", 1)
    if pool == "processes":
        monkeypatch.setattr(parallel, "PROCESS_MIN_BYTES", 0)
    monkeypatch.setenv("PORTFOLIO_ASSETS_WORKERS", "2")
    report, exports = run_steps()
    assert report.stats["stooq_files_read"] == 4 and len(exports.written) == 3
    assert output_files(world) == sequential


def _another_stamp(stamp: str) -> str:
    """A stamp no file has: the same size and mtime, no ctime and inode."""
    return ":".join(stamp.split(":")[:2]) if stamp != "missing" else stamp


def test_caches_whose_stamps_the_files_no_longer_have_are_verified_again(built: Path) -> None:
    """Summaries and manifest entries made under other stamps are unknown: every matched
    file is read and hashed once (not parsed), and no export is written again."""
    metadata = built / "data/metadata"
    summaries = json.loads((metadata / "diagnostics_cache.json").read_text())
    summaries["entries"] = {
        path: [_another_stamp(value[0]), *value[1:]] for path, value in summaries["entries"].items()
    }
    (metadata / "diagnostics_cache.json").write_text(json.dumps(summaries))
    manifest = json.loads((metadata / "export_manifest.json").read_text())
    manifest["entries"] = {
        name: {**entry, "stamp": _another_stamp(entry["stamp"]), "output": _another_stamp(entry["output"])}
        for name, entry in manifest["entries"].items()
    }
    (metadata / "export_manifest.json").write_text(json.dumps(manifest))
    expected, before = output_files(built), export_identity(built)
    report, exports = run_steps()
    assert report.warnings == [] and exports.warnings == []
    assert report.stats["stooq_files_read"] == len(summaries["entries"]) == 4
    assert report.stats["stooq_bytes_parsed"] == 0
    assert exports.written == [] and export_identity(built) == before
    assert output_files(built) == expected
    report, exports = run_steps()  # verified: trusted again
    assert report.stats["stooq_files_read"] == 0 and exports.stats["stooq_files_read"] == 0
