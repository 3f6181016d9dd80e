"""portfolio_assets.data: the reports and the price exports as typed pandas DataFrames."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from portfolio_assets.data import UnknownTicker, read_matches, read_prices, read_universe, read_unmatched
from portfolio_assets.domain.broker_lists import UNIVERSE_COLUMNS
from portfolio_assets.domain.exports import EXPORT_HEADER
from portfolio_assets.domain.reports import MATCH_COLUMNS, UNMATCHED_COLUMNS
from portfolio_assets.settings import settings_from_environment

from ..helpers import build_all, write_file

MATCHES = (
    ",".join(MATCH_COLUMNS) + "\n"
    "NA,CA6330671034,TSX,National Bank,,NA.TO,d_ca/na.to.txt,ca,tsx stocks,ticker,broker_a.csv,"
    "2016-09-13,2024-01-31,1800,,,unknown,ok,\n"
    "EXM,,GPW,,,EXM,d_pl/exm.txt,pl,wse stocks,base_market,broker_a.csv,,,0,PLN,PLN,inferred_only,empty,\n"
)
UNMATCHED = ",".join(UNMATCHED_COLUMNS) + "\nNOPE,US000,NSQ,Nothing,,broker_a.csv,manual_review\n"


def export(ticker: str, *rows: tuple[str, str, str]) -> str:
    """An export's text from (date, close, volume) rows."""
    lines = (f"{ticker},D,{day},000000,1,2,0.5,{close},{volume},0\n" for day, close, volume in rows)
    return EXPORT_HEADER + "\n" + "".join(lines)


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    metadata, prices = tmp_path / "metadata", tmp_path / "prices"
    write_file(metadata / "tradeable_matches.csv", MATCHES)
    write_file(metadata / "tradeable_unmatched.csv", UNMATCHED)
    write_file(
        metadata / "tradeable_universe.csv", ",".join(UNIVERSE_COLUMNS) + "\nNA,CA6330671034,TSX,,,broker_a.csv\n"
    )
    # Closes: a bad date row, a non-numeric close and a repeated date (its last row counts).
    write_file(
        prices / "na.to.csv",
        export(
            "NA.TO",
            ("20240102", "10", "100"),
            ("2024-01-03", "11", "100"),
            ("20240104", "n/a", "100"),
            ("20240105", "12", "0"),
            ("20240105", "13", "0"),
        ),
    )
    write_file(prices / "my_backtest_results.csv", "date,pnl\n2024-01-02,1\n")  # the user's own file
    return metadata, prices


def test_report_cells_are_typed_and_empty_cells_are_missing(folders: tuple[Path, Path]) -> None:
    metadata, _ = folders
    matches = read_matches(metadata)
    assert list(matches.columns) == list(MATCH_COLUMNS)
    assert pd.api.types.is_string_dtype(matches["symbol"]) and pd.api.types.is_string_dtype(matches["data_flags"])
    assert pd.api.types.is_datetime64_any_dtype(matches["price_end"])
    assert pd.api.types.is_integer_dtype(matches["price_rows"])
    assert matches["symbol"].tolist() == ["NA", "EXM"]  # a symbol "NA" is text, not a missing value
    assert matches["price_end"].tolist()[0] == pd.Timestamp("2024-01-31") and pd.isna(matches["price_end"][1])
    assert matches["price_rows"].tolist() == [1800, 0]
    assert matches["currency"].isna().all() and matches["isin"].isna().tolist() == [False, True]
    unmatched = read_unmatched(metadata)
    assert unmatched.loc[0, "reason"] == "manual_review" and unmatched["currency"].isna().iloc[0]
    universe = read_universe(metadata)
    assert universe.loc[0, "source_file"] == "broker_a.csv" and universe["name"].isna().iloc[0]


def test_an_empty_universe_gives_empty_frames_with_the_columns_and_types(tmp_path: Path) -> None:
    for name, columns in (
        ("tradeable_universe.csv", UNIVERSE_COLUMNS),
        ("tradeable_matches.csv", MATCH_COLUMNS),
        ("tradeable_unmatched.csv", UNMATCHED_COLUMNS),
    ):
        write_file(tmp_path / name, ",".join(columns) + "\n")
    for frame, columns in (
        (read_universe(tmp_path), UNIVERSE_COLUMNS),
        (read_matches(tmp_path), MATCH_COLUMNS),
        (read_unmatched(tmp_path), UNMATCHED_COLUMNS),
    ):
        assert frame.empty and list(frame.columns) == list(columns)
    matches = read_matches(tmp_path)
    assert pd.api.types.is_datetime64_any_dtype(matches["price_start"]) and matches["price_rows"].dtype == "Int64"
    assert read_prices(metadata_dir=tmp_path, prices_dir=tmp_path / "prices").empty


def test_a_file_with_other_columns_is_an_error_naming_it(tmp_path: Path) -> None:
    write_file(tmp_path / "tradeable_unmatched.csv", "symbol,reason\nNOPE,manual_review\n")
    with pytest.raises(ValueError, match=r"tradeable_unmatched\.csv does not have the columns"):
        read_unmatched(tmp_path)


def test_prices_by_date_with_a_column_per_ticker(folders: tuple[Path, Path]) -> None:
    metadata, prices = folders
    closes = read_prices(metadata_dir=metadata, prices_dir=prices)  # every export the report calls for
    assert list(closes.columns) == ["NA.TO"] and closes.index.name == "date"
    assert closes.index.tolist() == [pd.Timestamp(day) for day in ("2024-01-02", "2024-01-04", "2024-01-05")]
    assert closes["NA.TO"].isna().tolist() == [False, True, False]
    assert closes["NA.TO"].dropna().tolist() == [10.0, 13.0]
    assert closes.index.is_monotonic_increasing and pd.api.types.is_datetime64_any_dtype(closes.index)
    # Asked by name (any case, repeats once): EXM is matched but has no export (empty file): NaN.
    asked = read_prices(["exm", "na.to", "NA.TO"], metadata_dir=metadata, prices_dir=prices)
    assert list(asked.columns) == ["EXM", "NA.TO"] and asked["EXM"].isna().all()
    assert asked["NA.TO"].dtype == "float64"
    volume = read_prices(["NA.TO"], field="volume", metadata_dir=metadata, prices_dir=prices)
    assert volume["NA.TO"].tolist() == [100.0, 100.0, 0.0]


def test_unknown_tickers_fields_and_files_are_errors(folders: tuple[Path, Path]) -> None:
    metadata, prices = folders
    with pytest.raises(UnknownTicker, match=r"ZZZ\.US"):
        read_prices(["NA.TO", "ZZZ.US"], metadata_dir=metadata, prices_dir=prices)
    with pytest.raises(ValueError, match="'adjclose' is not one of: open, high, low, close, volume, openint"):
        read_prices(field="adjclose", metadata_dir=metadata, prices_dir=prices)
    # A file in the prices folder that the report does not name is not an export: not read
    # (as the store, which holds only the report's exports, does not have it).
    with pytest.raises(UnknownTicker, match="MY_BACKTEST_RESULTS"):
        read_prices(["MY_BACKTEST_RESULTS"], metadata_dir=metadata, prices_dir=prices)


def test_the_readme_example_on_the_pipelines_outputs_with_the_pipelines_settings(world: Path) -> None:
    build_all(settings_from_environment())
    matches = read_matches()
    closes = read_prices(matches["matched_ticker"])
    assert list(closes.columns) == ["AAPL.US", "EXM", "IUHC.UK", "KIM.US"]
    assert closes.index.tolist() == [pd.Timestamp(day) for day in ("2024-01-02", "2024-01-03", "2024-01-04")]
    assert closes["EXM"].isna().all() and (closes.drop(columns="EXM") == 10.5).all().all()
