"""The pipeline's outputs as pandas DataFrames, for the backtest that reads them.

    from portfolio_assets.data import read_matches, read_prices
    matches = read_matches()
    closes = read_prices(matches["matched_ticker"])

Folders come from the same PORTFOLIO_ASSETS_* variables as the pipeline (relative
paths against the working directory), or are passed in. Report cells are text
(pandas' `string` dtype) with empty cells as `<NA>`; `price_start` and `price_end`
are datetime64 (`NaT` when empty) and `price_rows` is an integer (`Int64`). Prices
are one float column per ticker, indexed by date. Importing this module imports
neither Dagster nor anything of the pipeline but its domain rules.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from .domain.broker_lists import UNIVERSE_COLUMNS
from .domain.exports import EXPORT_HEADER, export_file_name, plan_exports
from .domain.reports import MATCH_COLUMNS, UNMATCHED_COLUMNS, read_match_report
from .settings import settings_from_environment

__all__ = ["PRICE_FIELDS", "UnknownTicker", "read_matches", "read_prices", "read_universe", "read_unmatched"]

PRICE_FIELDS = ("open", "high", "low", "close", "volume", "openint")
_DATE_COLUMNS = ("price_start", "price_end")
_COUNT_COLUMNS = ("price_rows",)


class UnknownTicker(ValueError):
    """A ticker asked of `read_prices` that has no export and no matched instrument."""


def _folder(given: str | Path | None, setting: str) -> Path:
    if given is not None:
        return Path(given)
    folder: Path = getattr(settings_from_environment(), setting)
    return folder


def _read_report(path: Path, columns: tuple[str, ...]) -> pd.DataFrame:
    """A report with its cells typed; a file with other columns is an error naming it."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8")
    if tuple(frame.columns) != columns:
        raise ValueError(f"{path} does not have the columns {', '.join(columns)}")
    frame = frame.astype("string")
    for column in _DATE_COLUMNS:
        if column in frame:
            frame[column] = pd.to_datetime(frame[column], format="%Y-%m-%d")
    for column in _COUNT_COLUMNS:
        if column in frame:
            frame[column] = frame[column].astype("Int64")
    return frame


def read_universe(metadata_dir: str | Path | None = None) -> pd.DataFrame:
    """tradeable_universe.csv: every broker instrument with its source_file, in list order."""
    return _read_report(_folder(metadata_dir, "metadata_dir") / "tradeable_universe.csv", UNIVERSE_COLUMNS)


def read_matches(metadata_dir: str | Path | None = None) -> pd.DataFrame:
    """tradeable_matches.csv: each matched instrument with its file, diagnostics and currency."""
    return _read_report(_folder(metadata_dir, "metadata_dir") / "tradeable_matches.csv", MATCH_COLUMNS)


def read_unmatched(metadata_dir: str | Path | None = None) -> pd.DataFrame:
    """tradeable_unmatched.csv: each unmatched instrument and why."""
    return _read_report(_folder(metadata_dir, "metadata_dir") / "tradeable_unmatched.csv", UNMATCHED_COLUMNS)


def _read_export(path: Path, field: str) -> pd.Series:
    """One export's `field` by date; rows whose date or value does not parse are NA or left out."""
    with open(path, encoding="utf-8") as handle:
        if handle.readline().rstrip("\r\n") != EXPORT_HEADER:
            raise ValueError(f"{path} is not a price export (its first line is not {EXPORT_HEADER})")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, usecols=["date", field], encoding="utf-8")
    dates = pd.to_datetime(frame["date"], format="%Y%m%d", errors="coerce")
    values = pd.Series(pd.to_numeric(frame[field], errors="coerce").to_numpy(dtype="float64"), index=dates)
    values = values[values.index.notna()]
    return values[~values.index.duplicated(keep="last")]  # a repeated date: its last row


def _wanted(tickers: Iterable[object] | str | None, report: Path, prices: Path) -> list[str]:
    if tickers is None:
        planned = plan_exports(read_match_report(report), include_empty=True)
        return [item.ticker for item in planned if (prices / item.file_name).is_file()]
    if isinstance(tickers, str):
        tickers = [tickers]
    names = (str(ticker).strip().upper() for ticker in tickers if not pd.isna(ticker))  # type: ignore[call-overload]
    return list(dict.fromkeys(name for name in names if name))


def read_prices(
    tickers: Iterable[object] | str | None = None,
    field: str = "close",
    *,
    prices_dir: str | Path | None = None,
    metadata_dir: str | Path | None = None,
) -> pd.DataFrame:
    """One DataFrame of `field` (open, high, low, close, volume or openint), indexed by
    date (ascending), with a float column per ticker, read from the price exports.

    `tickers` defaults to every exported ticker of the match report, in its order. A
    matched ticker without an export (its file had no usable rows) is a column of NaN;
    a ticker that is neither exported nor matched raises `UnknownTicker`."""
    if field not in PRICE_FIELDS:
        raise ValueError(f"field {field!r} is not one of: {', '.join(PRICE_FIELDS)}")
    prices = _folder(prices_dir, "prices_dir")
    report = _folder(metadata_dir, "metadata_dir") / "tradeable_matches.csv"
    wanted = _wanted(tickers, report, prices)
    columns = {}
    for ticker in wanted:
        path = prices / export_file_name(ticker)
        columns[ticker] = _read_export(path, field) if path.is_file() else None
    unexported = [ticker for ticker, values in columns.items() if values is None]
    if unexported:
        matched = {row["matched_ticker"] for row in read_match_report(report)}
        unknown = [ticker for ticker in unexported if ticker not in matched]
        if unknown:
            raise UnknownTicker(
                f"no price export in {prices} and no matched instrument in {report} for: {', '.join(unknown)}"
            )
    exported = {ticker: values for ticker, values in columns.items() if values is not None}
    # Dates of every ticker (outer join); a ticker without an export is a column of NaN.
    frame = pd.concat(exported, axis=1) if exported else pd.DataFrame(index=pd.DatetimeIndex([]))
    frame = frame.reindex(columns=wanted).astype("float64").sort_index()
    frame.index.name = "date"
    frame.columns.name = "ticker"
    return frame
