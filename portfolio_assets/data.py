"""The pipeline's outputs as pandas DataFrames, for the backtest that reads them.

    from portfolio_assets.data import read_bars, read_matches, read_prices
    matches = read_matches()
    closes = read_prices(matches["matched_ticker"])
    bars = read_bars(["AAPL.US"], start="2020-01-01", fields=["close", "volume"])

Folders come from the same PORTFOLIO_ASSETS_* variables as the pipeline (relative
paths against the working directory), or are passed in. Report cells are text
(pandas' `string` dtype) with empty cells as `<NA>`; `price_start` and `price_end`
are datetime64 (`NaT` when empty) and `price_rows` is an integer (`Int64`). Prices
are one float column per ticker, indexed by date, read from the price store (the
price_store asset, docs/price_store.md); before there is one, `read_prices` reads the
CSV exports instead, with a warning. Importing this module imports neither Dagster nor
anything of the pipeline but its domain rules.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pa_ds
import pyarrow.fs as pa_fs

from .domain.broker_lists import UNIVERSE_COLUMNS
from .domain.errors import one_line
from .domain.export_rows import MATCHED_VERSION_KEY, NUMBER_FIELDS, TEXT_FIELDS, ExportChunk, export_rows
from .domain.exports import EXPORT_HEADER, EXPORT_HEADER_LINE, plan_exports
from .domain.reports import MATCH_COLUMNS, UNMATCHED_COLUMNS, read_match_report
from .settings import settings_from_environment

__all__ = [
    "BAR_FIELDS",
    "PRICE_FIELDS",
    "NoPriceStore",
    "UnknownTicker",
    "UnreadablePriceStore",
    "read_bars",
    "read_matches",
    "read_prices",
    "read_universe",
    "read_unmatched",
]

PRICE_FIELDS = ("open", "high", "low", "close", "volume", "openint")
_DATE_COLUMNS = ("price_start", "price_end")
_COUNT_COLUMNS = ("price_rows",)


BAR_FIELDS = (TEXT_FIELDS[0], TEXT_FIELDS[1], *NUMBER_FIELDS)


class UnknownTicker(ValueError):
    """A ticker asked of `read_prices` that has no export and no matched instrument."""


class NoPriceStore(FileNotFoundError):
    """A price store asked for where there is none (yet)."""


class UnreadablePriceStore(RuntimeError):
    """A price store whose tables cannot be read (a data file lost, a folder replaced)."""


def _unreadable(store: Path, error: Exception) -> UnreadablePriceStore:
    return UnreadablePriceStore(
        f"the price store {store} cannot be read ({one_line(error)}); "
        "`portfolio-assets refresh --force` builds it again"
    )


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


def _asked(tickers: Iterable[object] | str) -> list[str]:
    if isinstance(tickers, str):
        tickers = [tickers]
    names = (str(ticker).strip().upper() for ticker in tickers if not pd.isna(ticker))  # type: ignore[call-overload]
    return list(dict.fromkeys(name for name in names if name))


def _matched_version_of(prices: Any, table: Path) -> int | None:
    """The matched table's version that goes with the loaded version of `prices` (at
    `table`), named by its latest commit that names one; None (the matched table's latest)
    for a store whose commits name none (written by an older version of the pipeline).

    Read from the commit files of the loaded version and those before it: the table's
    `history()` reads the newest commits on disk, which may be newer than the version loaded."""
    import json

    for version in range(prices.version(), max(-1, prices.version() - 10), -1):
        try:
            lines = (table / "_delta_log" / f"{version:020d}.json").read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return None
        for line in lines:
            commit = json.loads(line).get("commitInfo") if line.startswith('{"commitInfo"') else None
            named = commit.get(MATCHED_VERSION_KEY) if isinstance(commit, dict) else None
            if isinstance(named, int):
                return named
    return None


def _store_tables(folder: Path) -> tuple[Any, Any] | None:
    """The store's prices table and the matched table of the same refresh (the version
    the prices version's commit names), or None without a store."""
    from deltalake import DeltaTable
    from deltalake.exceptions import DeltaError, TableNotFoundError

    try:
        prices = DeltaTable(str(folder / "prices"))
        return prices, DeltaTable(str(folder / "matched"), version=_matched_version_of(prices, folder / "prices"))
    except TableNotFoundError:
        return None
    except DeltaError as error:
        raise _unreadable(folder, error) from error


def _prices_dataset(prices: Any, folder: Path) -> pa_ds.Dataset:
    """The data files of the prices table's snapshot (`prices`, the table at `folder`)."""
    # Text columns come back dictionary-encoded: pandas categoricals, not 22 million strings.
    options = pa_ds.ParquetReadOptions(dictionary_columns={"ticker", *TEXT_FIELDS})
    # pyarrow's own local file system reads the files several times faster than deltalake's
    # default, which passes every read through Python; the files are the snapshot's still.
    local = pa_fs.SubTreeFileSystem(str(folder.resolve()), pa_fs.LocalFileSystem())
    dataset: pa_ds.Dataset = prices.to_pyarrow_dataset(parquet_read_options=options, filesystem=local)
    return dataset


def _read_pool() -> pa.MemoryPool:
    """The memory pool a whole-store read allocates from: jemalloc where this pyarrow has
    it. Reading the store is mostly writing fresh memory, and with pyarrow's default
    (mimalloc) a fresh process spends more time in page faults than in decoding (measured:
    the whole store long, 5.9 s against 2.3 s; docs/performance.md)."""
    try:
        return pa.jemalloc_memory_pool()
    except NotImplementedError:  # a pyarrow built without jemalloc (Windows)
        return pa.default_memory_pool()


def _exported_in_order(matched: Any) -> tuple[list[str], set[str]]:
    """The exported tickers in match report order, and every matched ticker."""
    table = matched.to_pyarrow_dataset().to_table(columns=["report_row", "matched_ticker", "exported"])
    table = table.sort_by("report_row")
    tickers = table.column("matched_ticker").to_pylist()
    exported = table.column("exported").to_pylist()
    in_order = list(dict.fromkeys(t for t, e in zip(tickers, exported, strict=True) if e))
    return in_order, set(tickers)


def _column_numbers(tickers: pa.Array, position: dict[str, int]) -> np.ndarray:
    """Each row's column in the wide frame (-1 for a ticker not asked for): the batch's
    dictionary (the tickers of one row group) is mapped, then its codes looked up."""
    chunk = tickers if pa.types.is_dictionary(tickers.type) else pc.dictionary_encode(tickers)
    mapping = np.array([position.get(ticker, -1) for ticker in chunk.dictionary.to_pylist()], dtype=np.int32)
    column_of: np.ndarray = mapping[chunk.indices.to_numpy(zero_copy_only=False)]
    return column_of


def _days(dates: pa.Array) -> np.ndarray:
    days: np.ndarray = pc.cast(dates, pa.int32()).to_numpy(zero_copy_only=False)
    return days


def _wide(table: pa.Table, columns: list[str], field: str) -> pd.DataFrame:
    """One float column per ticker of `columns`, indexed by every date any of them has
    (`table` holds no row without a date).

    Built with numpy rather than a pivot: each row's (date, ticker) position is computed
    and its value scattered into one preallocated array, which the frame then wraps. A
    repeated date of a ticker keeps the value of its last row (the highest `line`). Rows
    of a ticker not among `columns` are left out. Batch by batch: fresh memory costs more
    than the arithmetic here (page faults), so no whole-table temporary is made."""
    position = {ticker: index for index, ticker in enumerate(columns)}
    batches = [batch for batch in table.to_batches() if batch.num_rows]
    wanted = [_column_numbers(batch.column("ticker"), position) for batch in batches]
    lowest, highest = None, None
    for batch, column_of in zip(batches, wanted, strict=True):
        days = _days(batch.column("date"))[column_of >= 0]
        if len(days):
            low, high = int(days.min()), int(days.max())
            lowest = low if lowest is None else min(lowest, low)
            highest = high if highest is None else max(highest, high)
    if lowest is None or highest is None:
        frame = pd.DataFrame(np.empty((0, len(columns))), index=pd.DatetimeIndex([], name="date"), columns=columns)
        frame.columns.name = "ticker"
        return frame
    seen = np.zeros(highest - lowest + 1, dtype=bool)
    for batch, column_of in zip(batches, wanted, strict=True):
        seen[_days(batch.column("date"))[column_of >= 0] - lowest] = True
    dates = np.flatnonzero(seen) + lowest
    cells = len(dates) * len(columns)
    kind = np.int32 if cells < 2**31 else np.int64
    date_of = (np.cumsum(seen) - 1).astype(kind)
    # The grid is held ticker by ticker (one row of `by_ticker` per column of the frame,
    # pandas' own layout for a float block): a ticker's rows, stored together and in date
    # order, then fill one stretch of memory instead of one cell per page.
    by_ticker = np.full((len(columns), len(dates)), np.nan)
    grid = by_ticker.reshape(-1)
    # A position written twice is a ticker's repeated date: count each ticker's rows and
    # distinct positions (one byte per cell), and settle only the tickers where they differ.
    hits = np.zeros(cells, dtype=np.uint8)
    rows_of = np.zeros(len(columns), dtype=np.int64)
    for batch, column_of in zip(batches, wanted, strict=True):
        keep = column_of >= 0
        kept = column_of[keep]
        flat = np.multiply(kept, len(dates), dtype=kind) + date_of[_days(batch.column("date"))[keep] - lowest]
        grid[flat] = batch.column(field).to_numpy(zero_copy_only=False)[keep].astype(np.float64, copy=False)
        hits[flat] = 1
        rows_of += np.bincount(kept, minlength=len(columns))
    repeated = np.flatnonzero(hits.reshape(len(columns), len(dates)).sum(axis=1, dtype=np.int64) != rows_of)
    del hits
    if len(repeated):
        contested_flat, contested_lines, contested_values = [], [], []
        for batch, column_of in zip(batches, wanted, strict=True):
            keep = column_of >= 0
            mine = np.isin(column_of[keep], repeated)
            days = _days(batch.column("date"))[keep][mine]
            contested_flat.append(np.multiply(column_of[keep][mine], len(dates), dtype=kind) + date_of[days - lowest])
            contested_lines.append(batch.column("line").to_numpy(zero_copy_only=False)[keep][mine])
            contested_values.append(batch.column(field).to_numpy(zero_copy_only=False)[keep][mine])
        flat_all, lines, values = (np.concatenate(part) for part in (contested_flat, contested_lines, contested_values))
        ranked = np.lexsort((lines, flat_all))
        last = np.r_[flat_all[ranked][1:] != flat_all[ranked][:-1], True]  # its row with the highest line
        grid[flat_all[ranked][last]] = values[ranked][last].astype(np.float64, copy=False)
    index = pd.DatetimeIndex(dates.astype("datetime64[D]").astype("datetime64[us]"), name="date")
    frame = pd.DataFrame(by_ticker.T, index=index, columns=pd.Index(columns, name="ticker"), copy=False)
    return frame


def _prices_from_store(
    tables: tuple[Any, Any], tickers: Iterable[object] | str | None, field: str, store: Path
) -> pd.DataFrame:
    prices, matched = tables
    exported, every_matched = _exported_in_order(matched)
    if tickers is None:
        wanted = exported
    else:
        wanted = _asked(tickers)
        known = set(exported) | every_matched
        unknown = [ticker for ticker in wanted if ticker not in known]
        if unknown:
            raise UnknownTicker(
                f"no exported or matched instrument in the price store {store} for: {', '.join(unknown)}"
            )
    dataset = _prices_dataset(prices, store / "prices")
    condition = pc.field("date").is_valid()
    if tickers is not None:
        # Typed: an empty list would otherwise be a null array, which a string column refuses.
        condition &= pc.field("ticker").isin(pa.array(wanted, pa.string()))
    table = dataset.to_table(columns=["ticker", "date", "line", field], filter=condition, memory_pool=_read_pool())
    return _wide(table, wanted, field)


def _prices_from_exports(
    tickers: Iterable[object] | str | None, field: str, prices: Path, report: Path
) -> pd.DataFrame:
    """The frame the store would give, read from the CSV exports: their rows parsed as the
    store parses them (domain/export_rows.py), the same wide frame built from them."""
    matches = read_match_report(report)
    planned = plan_exports(matches, include_empty=True)
    exported = {item.ticker: prices / item.file_name for item in planned if (prices / item.file_name).is_file()}
    if tickers is None:
        wanted = list(exported)
    else:
        wanted = _asked(tickers)
        known = set(exported) | {row["matched_ticker"] for row in matches}
        unknown = [ticker for ticker in wanted if ticker not in known]
        if unknown:
            raise UnknownTicker(
                f"no exported or matched instrument in {report} (exports in {prices}) for: {', '.join(unknown)}"
            )
    chunks = []
    for ticker in wanted:
        if ticker not in exported:
            continue  # matched without an export: a column of NaN
        data = exported[ticker].read_bytes()
        if not data.startswith(EXPORT_HEADER_LINE):
            raise ValueError(f"{exported[ticker]} is not a price export (its first line is not {EXPORT_HEADER})")
        chunks.append(ExportChunk(ticker, data, 1, len(EXPORT_HEADER_LINE)))
    rows = export_rows(chunks)
    return _wide(rows.filter(pc.is_valid(rows.column("date"))), wanted, field)


def read_prices(
    tickers: Iterable[object] | str | None = None,
    field: str = "close",
    *,
    prices_dir: str | Path | None = None,
    metadata_dir: str | Path | None = None,
    store_dir: str | Path | None = None,
) -> pd.DataFrame:
    """One DataFrame of `field` (open, high, low, close, volume or openint), indexed by
    date (ascending), with a float column per ticker, read from the price store.

    `tickers` defaults to every exported ticker of the match report, in its order. A
    matched ticker without an export (its file had no usable rows) is a column of NaN;
    a ticker that is neither exported nor matched raises `UnknownTicker`. A repeated
    date of a ticker keeps its last row; rows whose date is not a valid date are left out.

    Where it reads: from the store in `store_dir` when given (NoPriceStore if there is
    none); from the CSV exports in `prices_dir` and the report in `metadata_dir` when
    either of those is given (as before the store); otherwise from the store at
    PORTFOLIO_ASSETS_PRICE_STORE_DIR, or, before there is one (outputs of an older
    version), from the CSV exports at the settings' folders, far more slowly, with a
    warning saying so."""
    if field not in PRICE_FIELDS:
        raise ValueError(f"field {field!r} is not one of: {', '.join(PRICE_FIELDS)}")
    store = _folder(store_dir, "price_store_dir")
    explicit_csv = store_dir is None and (prices_dir is not None or metadata_dir is not None)
    tables = None if explicit_csv else _store_tables(store)
    if tables is not None:
        try:
            return _prices_from_store(tables, tickers, field, store)
        except (OSError, pa.ArrowException) as error:  # a data file lost or damaged
            raise _unreadable(store, error) from error
    if store_dir is not None:
        raise NoPriceStore(f"no price store in {store}: `portfolio-assets refresh` builds it")
    prices = _folder(prices_dir, "prices_dir")
    if not explicit_csv:
        warnings.warn(
            f"no price store in {store}: reading the CSV exports in {prices} (slower); "
            "`portfolio-assets refresh` builds the store",
            stacklevel=2,
        )
    return _prices_from_exports(tickers, field, prices, _folder(metadata_dir, "metadata_dir") / "tradeable_matches.csv")


def _day(value: str | date | pd.Timestamp) -> date:
    return pd.Timestamp(value).date()


def read_bars(
    tickers: Iterable[object] | str | None = None,
    start: str | date | pd.Timestamp | None = None,
    end: str | date | pd.Timestamp | None = None,
    fields: Sequence[str] | None = None,
    *,
    store_dir: str | Path | None = None,
) -> pd.DataFrame:
    """The price store's rows as one long DataFrame: `ticker` (categorical), `date`
    (datetime64, NaT where the export's date is not valid), `line` (the row's position in
    its export) and `fields` (default all of BAR_FIELDS: `per` and `time` categorical, the
    prices, volume and openint float64, NaN where not a number), in no particular order.

    `tickers` (default all), `start` and `end` (dates, both included; a row without a valid
    date is then left out) are applied while reading, so only the matching parts of the
    store are read. Raises NoPriceStore when there is no store yet."""
    chosen = list(BAR_FIELDS if fields is None else fields)
    unknown = [name for name in chosen if name not in BAR_FIELDS]
    if unknown:
        raise ValueError(f"fields {unknown} are not among: {', '.join(BAR_FIELDS)}")
    store = _folder(store_dir, "price_store_dir")
    tables = _store_tables(store)
    if tables is None:
        raise NoPriceStore(f"no price store in {store}: `portfolio-assets refresh` builds it")
    condition: pa_ds.Expression | None = None
    parts = []
    if tickers is not None:
        parts.append(pc.field("ticker").isin(pa.array(_asked(tickers), pa.string())))
    if start is not None:
        parts.append(pc.field("date") >= pa.scalar(_day(start), pa.date32()))
    if end is not None:
        parts.append(pc.field("date") <= pa.scalar(_day(end), pa.date32()))
    for part in parts:
        condition = part if condition is None else condition & part
    pool = _read_pool()
    try:
        dataset = _prices_dataset(tables[0], store / "prices")
        table = dataset.to_table(columns=["ticker", "date", "line", *chosen], filter=condition, memory_pool=pool)
    except (OSError, pa.ArrowException) as error:  # a data file lost or damaged
        raise _unreadable(store, error) from error
    frame: pd.DataFrame = table.to_pandas(date_as_object=False, self_destruct=True, split_blocks=True, memory_pool=pool)
    return frame
