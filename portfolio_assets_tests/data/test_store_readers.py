"""read_prices and read_bars on the price store: typed columns, filters applied while
reading, the same frames as the CSV exports give, and what happens without a store."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from portfolio_assets.data import NoPriceStore, UnknownTicker, read_bars, read_prices
from portfolio_assets.domain.exports import EXPORT_HEADER, export_file_name

from ..helpers import write_file
from ..incremental.store_worlds import StoreWorld

EXPORTS = {
    # A bad date, a close that is not a number, a repeated date (its last row counts).
    "NA.TO": [("20240102", "10"), ("2024-01-03", "11"), ("20240104", "n/a"), ("20240105", "12"), ("20240105", "13")],
    "AAPL.US": [("20240103", "190.5"), ("20240104", "191")],
}


@pytest.fixture
def store_world(tmp_path: Path) -> StoreWorld:
    world = StoreWorld(tmp_path)
    world.write(EXPORTS)
    world.sync()
    return world


def test_read_prices_from_the_store_equals_reading_the_exports(store_world: StoreWorld) -> None:
    from_csv = read_prices(prices_dir=store_world.prices, metadata_dir=store_world.metadata)
    from_store = read_prices(store_dir=store_world.store)
    assert from_store.equals(from_csv)
    assert list(from_store.columns) == ["NA.TO", "AAPL.US"] and from_store.index.name == "date"
    assert from_store["NA.TO"].tolist()[-1] == 13.0 and from_store["NA.TO"].isna().tolist()[2]
    volume = read_prices(["aapl.us"], field="volume", store_dir=store_world.store)
    assert volume.equals(
        read_prices(["AAPL.US"], "volume", prices_dir=store_world.prices, metadata_dir=store_world.metadata)
    )


def test_matched_without_an_export_is_nan_and_unknown_tickers_raise(store_world: StoreWorld) -> None:
    report = store_world.metadata / "tradeable_matches.csv"
    # EXM matched with an empty file: in the report, not exported.
    lines = report.read_text().splitlines()
    lines.append(lines[1].replace("NA.TO", "EXM").replace("na.to", "exm").replace(",ok,", ",empty,"))
    report.write_text("\n".join(lines) + "\n")
    from portfolio_assets.domain.reports import read_match_report
    from portfolio_assets.incremental.price_store import sync_price_store

    sync_price_store(
        store_world.store,
        store_world.prices,
        store_world.planned(),
        read_match_report(report),
        store_world.metadata / "price_store.json",
        "1",
    )
    asked = read_prices(["EXM", "NA.TO"], store_dir=store_world.store)
    assert asked["EXM"].isna().all() and asked["NA.TO"].notna().any()
    assert asked.equals(read_prices(["EXM", "NA.TO"], prices_dir=store_world.prices, metadata_dir=store_world.metadata))
    with pytest.raises(UnknownTicker, match=r"ZZZ\.US"):
        read_prices(["NA.TO", "ZZZ.US"], store_dir=store_world.store)


def test_read_bars_is_the_long_table_with_filters_applied(store_world: StoreWorld) -> None:
    bars = read_bars(store_dir=store_world.store)
    assert list(bars.columns) == [
        "ticker",
        "date",
        "line",
        "per",
        "time",
        "open",
        "high",
        "low",
        "close",
        "volume",
        "openint",
    ]
    assert len(bars) == 7 and isinstance(bars["ticker"].dtype, pd.CategoricalDtype)
    assert pd.api.types.is_datetime64_any_dtype(bars["date"]) and bars["date"].isna().sum() == 1
    assert bars["close"].dtype == "float64" and bars["close"].isna().sum() == 1
    some = read_bars(
        ["na.to"], start="2024-01-04", end=pd.Timestamp("2024-01-05"), fields=["close"], store_dir=store_world.store
    )
    some = some.sort_values("line")
    assert list(some.columns) == ["ticker", "date", "line", "close"]
    assert some["line"].tolist() == [3, 4, 5] and some["close"].tolist()[1:] == [12.0, 13.0]
    with pytest.raises(ValueError, match="adjclose"):
        read_bars(fields=["adjclose"], store_dir=store_world.store)


def test_without_a_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    world = StoreWorld(tmp_path)
    world.write(EXPORTS)
    with pytest.raises(NoPriceStore, match="refresh"):
        read_bars(store_dir=world.store)
    with pytest.raises(NoPriceStore, match="refresh"):
        read_prices(store_dir=world.store)
    # The settings' folders, as a user of an older version has them: the CSVs, with a warning.
    monkeypatch.setenv("PORTFOLIO_ASSETS_PRICES_DIR", str(world.prices))
    monkeypatch.setenv("PORTFOLIO_ASSETS_METADATA_DIR", str(world.metadata))
    monkeypatch.setenv("PORTFOLIO_ASSETS_PRICE_STORE_DIR", str(world.store))
    with pytest.warns(UserWarning, match="no price store.*reading the CSV exports"):
        closes = read_prices()
    assert list(closes.columns) == ["NA.TO", "AAPL.US"]
    write_file(world.store / "unrelated.txt", "x")
    with pytest.warns(UserWarning, match="no price store"):
        read_prices()


def test_asking_for_no_ticker_is_an_empty_frame(store_world: StoreWorld) -> None:
    # An empty list, or a report column that is all NA (a report without a match).
    nothing: list[Iterable[object]] = [[], pd.Series([pd.NA], dtype="string")]
    for asked in nothing:
        from_store = read_prices(asked, store_dir=store_world.store)
        assert from_store.shape == (0, 0) and from_store.index.name == "date"
        assert from_store.equals(read_prices(asked, prices_dir=store_world.prices, metadata_dir=store_world.metadata))
    bars = read_bars([], store_dir=store_world.store)
    assert len(bars) == 0 and "close" in bars.columns


def test_a_refresh_dying_between_its_two_commits_leaves_the_readers_the_last_refresh(
    store_world: StoreWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    import deltalake

    from portfolio_assets.incremental import price_store

    before = read_prices(store_dir=store_world.store)
    store_world.write({**EXPORTS, "NEW.US": [("20240102", "5")]})
    commits: list[object] = []
    real_write: Any = deltalake.write_deltalake

    def dies_at_the_second_commit(*args: object, **kwargs: object) -> None:
        commits.append(args[0])
        if len(commits) == 2:
            raise SystemExit("killed")  # stands for SIGKILL between the two tables' commits
        real_write(*args, **kwargs)

    monkeypatch.setattr(price_store, "write_deltalake", dies_at_the_second_commit)
    with pytest.raises(SystemExit):
        store_world.sync()
    monkeypatch.setattr(price_store, "write_deltalake", real_write)
    assert read_prices(store_dir=store_world.store).equals(before)
    with pytest.raises(UnknownTicker, match=r"NEW\.US"):
        read_prices(["NEW.US"], store_dir=store_world.store)
    store_world.sync()
    after = read_prices(store_dir=store_world.store)
    assert list(after.columns) == ["NA.TO", "AAPL.US", "NEW.US"] and after["NEW.US"].dropna().tolist() == [5.0]


ODD_ROWS = {
    "A.US": ["A.US,D,20240102,000000,1,2,0.5,inf,100,0", "A.US,D,20240103,000000,1,2,0.5,x,100,0"],
    "B.US": ["B.US,D,20240102,000000,1,2,0.5,inf,100,0", "B.US,D,20240103,000000,1,2,0.5,3,100,0"],
    "C.US": ["C.US,D, 20240102,000000,1,2,0.5,7,100,0"],  # a space before the date: stripped
    "D.US": ["D.US,D,2024012,000000,1,2,0.5,8,100,0"],  # seven digits: not a date
    "E.US": ['E.US,D,20240102,000000,1,2,0.5,"9",100,0'],  # quotes are not CSV quoting
    "F.US": ["F.US,D,20240102,000000,1,2,0.5,10,100,0,extra"],  # an 11th field: ignored
}


def test_odd_rows_read_the_same_from_the_store_and_the_exports(tmp_path: Path) -> None:
    world = StoreWorld(tmp_path)
    world.write({ticker: [("20240102", "1")] for ticker in ODD_ROWS})
    for ticker, lines in ODD_ROWS.items():  # the rows as they are, not as StoreWorld writes them
        write_file(world.prices / export_file_name(ticker), EXPORT_HEADER + "\n" + "".join(f"{x}\n" for x in lines))
    world.sync()
    from_store = read_prices(store_dir=world.store)
    assert from_store.equals(read_prices(prices_dir=world.prices, metadata_dir=world.metadata))
    assert from_store["C.US"].dropna().tolist() == [7.0] and from_store["D.US"].isna().all()
    assert from_store["E.US"].isna().all() and from_store["F.US"].dropna().tolist() == [10.0]
    assert from_store["B.US"].dropna().tolist() == [float("inf"), 3.0]


def test_an_export_the_report_does_not_name_is_unknown_on_both_paths(store_world: StoreWorld) -> None:
    write_file(store_world.prices / export_file_name("OLD.US"), EXPORTS_TEXT_OLD)
    with pytest.raises(UnknownTicker, match=r"OLD\.US"):
        read_prices(["OLD.US"], store_dir=store_world.store)
    with pytest.raises(UnknownTicker, match=r"OLD\.US"):
        read_prices(["OLD.US"], prices_dir=store_world.prices, metadata_dir=store_world.metadata)
    assert "OLD.US" not in read_prices(prices_dir=store_world.prices, metadata_dir=store_world.metadata).columns


EXPORTS_TEXT_OLD = EXPORT_HEADER + "\nOLD.US,D,20240102,000000,1,2,0.5,4,100,0\n"


def test_a_damaged_store_is_a_one_line_error_and_the_next_refresh_rebuilds_it(store_world: StoreWorld) -> None:
    import shutil

    from portfolio_assets.data import UnreadablePriceStore
    from portfolio_assets.domain.errors import PortfolioInputError

    before = read_prices(store_dir=store_world.store)
    for data_file in (store_world.store / "prices").glob("*.parquet"):
        data_file.unlink()  # lost
    for read in (read_prices, read_bars):
        with pytest.raises(UnreadablePriceStore, match=r"price store .*refresh --force` builds it again") as raised:
            read(store_dir=store_world.store)
        assert "\n" not in str(raised.value) and "\x1b" not in str(raised.value)
    # The refresh sees the table's files missing: it builds the store again.
    assert store_world.sync().rebuilt
    assert read_prices(store_dir=store_world.store).equals(before)
    shutil.rmtree(store_world.store / "prices")
    write_file(store_world.store / "prices", "x")  # the table's folder replaced by a file
    for attempt in (store_world.sync, lambda: read_prices(store_dir=store_world.store)):
        with pytest.raises((PortfolioInputError, UnreadablePriceStore), match="refresh --force") as failed:
            attempt()
        assert "\n" not in str(failed.value) and "\x1b" not in str(failed.value)
