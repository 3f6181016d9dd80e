"""The price store follows the exports: after any sequence of appends, revisions,
removals and additions it holds what a store built from scratch holds, each refresh is
one commit, and no file the pipeline did not write is ever removed."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import deltalake
import pytest
from deltalake import DeltaTable
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portfolio_assets.data import read_prices
from portfolio_assets.incremental import price_store
from portfolio_assets.incremental.price_store import ConcurrentStoreWrite, UnsafeStoreFolder, prices_table_path

from .store_worlds import Row, StoreWorld

TICKERS = ("AAA.US", "BBB.US", "CCC.UK", "DDD")
# Valid and invalid dates, repeated dates, and closes that are not numbers.
DAYS = ("20240102", "20240103", "20240104", "20240105", "20240230", "2024-01-08", "", "99991231", "15000101")
CLOSES = ("1", "2.5", "1e2", "-3", "n/a", "nan", "inf", "")

rows = st.lists(st.tuples(st.sampled_from(DAYS), st.sampled_from(CLOSES)), max_size=6)
change: st.SearchStrategy[tuple[str, str, list[Row], bool]] = st.one_of(
    st.tuples(st.just("append"), st.sampled_from(TICKERS), rows, st.booleans()),
    st.tuples(st.just("revise"), st.sampled_from(TICKERS), rows, st.booleans()),
    st.tuples(st.just("remove"), st.sampled_from(TICKERS), st.just([]), st.booleans()),
)


def _apply(exports: dict[str, list[Row]], kind: str, ticker: str, new: list[Row]) -> None:
    if kind == "remove":
        exports.pop(ticker, None)
    elif kind == "append":
        exports[ticker] = exports.get(ticker, []) + new  # an addition when it had none
    else:
        exports[ticker] = new


# Slow (seconds of examples): in `make test`, not in the fast layer.
@pytest.mark.slow
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(first=st.dictionaries(st.sampled_from(TICKERS), rows, max_size=3), changes=st.lists(change, max_size=5))
def test_after_any_changes_the_store_equals_one_built_from_scratch(
    first: dict[str, list[Row]], changes: list[tuple[str, str, list[Row], bool]]
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        world = StoreWorld(Path(folder))
        exports = {ticker: list(values) for ticker, values in first.items()}
        world.write(exports)
        world.sync()
        for kind, ticker, new, refresh_now in changes:
            _apply(exports, kind, ticker, new)
            world.write(exports)
            if not refresh_now:
                continue  # the store misses this change: the next refresh catches up
            version = DeltaTable(str(prices_table_path(world.store))).version()
            done = world.sync()
            assert not done.rebuilt
            # One refresh, at most one commit of the rows (compaction and vacuum add their own).
            if not done.compacted and not done.vacuumed:
                assert DeltaTable(str(prices_table_path(world.store))).version() - version <= 1
            assert world.stored().equals(world.from_scratch())
        world.sync()
        assert world.stored().equals(world.from_scratch())
        # read_prices from the store gives what reading the CSV exports gives.
        from_csv = read_prices(prices_dir=world.prices, metadata_dir=world.metadata)
        from_store = read_prices(store_dir=world.store)
        assert from_store.equals(from_csv), (from_store, from_csv)


def test_daily_appends_append_and_compaction_keeps_the_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(price_store, "COMPACT_AT_SMALL_FILES", 4)
    world = StoreWorld(tmp_path)
    exports = {"AAA.US": [("20240102", "1")], "BBB.US": [("20240102", "2")]}
    world.write(exports)
    assert world.sync().rebuilt
    compacted = False
    for day in range(3, 9):
        for ticker in exports:
            exports[ticker].append((f"202401{day:02d}", str(day)))
        world.write(exports)
        done = world.sync()
        assert done.appended == ["AAA.US", "BBB.US"] and done.rows_written == 2 and not done.replaced
        compacted |= done.compacted
        assert world.stored().equals(world.from_scratch())
    assert compacted
    assert len(DeltaTable(str(prices_table_path(world.store))).file_uris()) < 4


def test_a_lost_record_or_force_builds_the_store_again_in_one_commit(tmp_path: Path) -> None:
    world = StoreWorld(tmp_path)
    world.write({"AAA.US": [("20240102", "1")]})
    world.sync()
    (world.metadata / "price_store.json").unlink()
    world.write({"AAA.US": [("20240102", "1"), ("20240103", "2")]})
    version = DeltaTable(str(prices_table_path(world.store))).version()
    assert world.sync().rebuilt
    assert DeltaTable(str(prices_table_path(world.store))).version() == version + 1
    assert world.stored().equals(world.from_scratch())
    assert world.sync(force=True).rebuilt and world.stored().equals(world.from_scratch())


def test_a_folder_the_pipeline_did_not_make_is_refused_and_left_alone(tmp_path: Path) -> None:
    world = StoreWorld(tmp_path)
    world.write({"AAA.US": [("20240102", "1")]})
    world.store.mkdir()
    (world.store / "notes.txt").write_text("mine")
    with pytest.raises(UnsafeStoreFolder, match=r"store is not empty and was not made by the pipeline.*notes\.txt"):
        world.sync()
    assert sorted(p.name for p in world.store.iterdir()) == ["notes.txt"]


def test_vacuum_removes_only_what_the_table_removed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    world = StoreWorld(tmp_path)
    world.write({"AAA.US": [("20240102", "1")], "BBB.US": [("20240102", "2")]})
    world.sync()
    table = prices_table_path(world.store)
    mine = table / "my-analysis.parquet"
    mine.write_bytes(b"not the table's")
    old_files = {Path(uri.removeprefix("file://")).name for uri in DeltaTable(str(table)).file_uris()}
    # Vacuum with no retention at all: only the lite mode keeps files the log does not know.
    real_vacuum = DeltaTable.vacuum
    monkeypatch.setattr(
        DeltaTable,
        "vacuum",
        lambda self, **kw: real_vacuum(self, **{**kw, "retention_hours": 0, "enforce_retention_duration": False}),
    )
    world.write({"AAA.US": [("20240102", "5")]})  # a revision and a removal: the old file is removed
    done = world.sync()
    assert done.vacuumed >= 1
    assert mine.read_bytes() == b"not the table's"
    assert not any((table / name).exists() for name in old_files)
    assert world.stored().equals(world.from_scratch())


def test_a_commit_by_another_writer_meanwhile_drops_the_record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    world = StoreWorld(tmp_path)
    exports = {"AAA.US": [("20240102", "1")], "BBB.US": [("20240102", "2")]}
    world.write(exports)
    world.sync()
    exports = {ticker: [*rows, ("20240103", "3")] for ticker, rows in exports.items()}
    world.write(exports)
    real_write: Any = deltalake.write_deltalake

    def another_writer_first(table: Any, rows: Any, **options: Any) -> None:
        # A writer that takes no lock (another host, an older version) appends these rows too.
        if isinstance(table, DeltaTable) and options.get("mode") == "append":
            real_write(table.table_uri, rows, mode="append")
        real_write(table, rows, **options)

    monkeypatch.setattr(price_store, "write_deltalake", another_writer_first)
    with pytest.raises(ConcurrentStoreWrite, match=r"another refresh.*refresh` rebuilds it"):
        world.sync()
    monkeypatch.setattr(price_store, "write_deltalake", real_write)
    assert not (world.metadata / "price_store.json").exists()
    assert world.sync().rebuilt
    assert world.stored().equals(world.from_scratch())


def test_rebuilds_vacuum_the_files_they_replaced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_vacuum = DeltaTable.vacuum
    monkeypatch.setattr(  # no retention: what a vacuum a day later would delete, deleted now
        DeltaTable,
        "vacuum",
        lambda self, **kw: real_vacuum(self, **{**kw, "retention_hours": 0, "enforce_retention_duration": False}),
    )
    world = StoreWorld(tmp_path)
    exports = {f"T{number}.US": [("20240102", "1")] for number in range(3)}
    world.write(exports)
    world.sync()
    for _ in range(3):
        assert world.sync(force=True).rebuilt
    world.write({ticker: [*rows, ("20240103", "2")] for ticker, rows in exports.items()})
    assert not world.sync().rebuilt  # daily appends: nothing removed
    for table in (prices_table_path(world.store), world.store / "matched"):
        on_disk = {path.name for path in table.glob("*.parquet")}
        assert on_disk == {Path(uri).name for uri in DeltaTable(str(table)).file_uris()}, table.name
    assert world.stored().equals(world.from_scratch())


def test_the_row_count_check_counts_rows_as_the_store_does(tmp_path: Path) -> None:
    from portfolio_assets.settings import settings_from_environment
    from portfolio_assets.steps.asset_checks import CheckReading
    from portfolio_assets.steps.price_store import store_rows_match_exports

    world = StoreWorld(tmp_path)
    world.write({"AAA.US": [("20240102", "1"), ("20240103", "2")]})
    export = world.prices / "aaa.us.csv"
    assert export.is_file()
    export.write_bytes(export.read_bytes().rstrip(b"\n"))  # a last row without its line feed
    world.sync()
    (world.metadata / "price_store.json").unlink()  # the check counts the export itself
    settings = settings_from_environment(
        {
            "PORTFOLIO_ASSETS_PRICES_DIR": str(world.prices),
            "PORTFOLIO_ASSETS_METADATA_DIR": str(world.metadata),
            "PORTFOLIO_ASSETS_PRICE_STORE_DIR": str(world.store),
        }
    )
    outcome = store_rows_match_exports(CheckReading(settings))
    assert outcome.passed, outcome
