"""The price store: every export's rows and the matched universe as two Delta Lake
tables in one folder, kept equal to the exports at a cost proportional to what changed.

    <store>/prices/    every export's rows, typed (domain/export_rows.py), plus `batch`
    <store>/matched/   the match report's matched rows, in report order (`report_row`)
    <store>/.portfolio_assets_folder   the marker: the pipeline made this folder
    <store>/price_store.lock   held by the refresh writing the store (one at a time)

A record beside the reports (`price_store.json`) holds, for each ticker stored, the
stamp, size and row count of the export it was read from, and the table versions the
pipeline committed. An export whose stamp is unchanged is not read; one that
price_exports wrote by appending rows to the very file the store read (its manifest
says so: the daily update) has only its new rows read and appended; any other change
replaces the ticker's rows; a ticker no longer
exported has its rows removed. A record that does not describe the tables as they are
(lost, of another folder, or a commit it did not see) makes the run build both tables
again from the exports, in one overwrite commit each.

One refresh is one commit of the prices table, so a reader (Delta's snapshot
isolation) sees the store before or after it, never a mix. The matched table is
committed first, and every commit of the prices table records in its commit metadata
(MATCHED_VERSION_KEY) the matched version that goes with it: a reader opens the prices
table, then the matched table at that version, so the two are always of one refresh,
even while a refresh writes or after one was killed between its commits. Appends alone are an append
commit; removals and replacements are one overwrite whose predicate names the tickers
replaced or removed and the new `batch` number, which every written row carries and
no stored row does. Files written by a refresh killed before its commit are never part
of a version. Small files are compacted once they pile up, and vacuum runs only in
Delta's lite mode, which deletes the files the table's own log removed (never a file
the log does not know), and only those removed more than a day ago, longer than any
read takes.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pa_ds
import pyarrow.fs as pa_fs
import pyarrow.parquet as pq
from deltalake import ColumnProperties, CommitProperties, DeltaTable, Schema, WriterProperties, write_deltalake
from deltalake.exceptions import DeltaError, TableNotFoundError
from deltalake.transaction import AddAction, create_table_with_add_actions
from filelock import FileLock

from ..domain.errors import PortfolioInputError, one_line, printable
from ..domain.export_rows import (
    MATCHED_VERSION_KEY,
    ROW_SCHEMA,
    ExportChunk,
    export_pieces,
    export_rows,
    piece_fields,
)
from ..domain.exports import EXPORT_HEADER_LINE, PlannedExport
from ..domain.reports import MATCH_COLUMNS, MatchRow
from ..io.folder_marker import FOLDER_MARKER, folder_token, mark_folder
from ..io.parallel import map_files, worker_count
from .json_cache import save_json_cache
from .memo import written_stamp
from .store_record import RECORD_KIND, load_store_record

__all__ = [
    "MATCHED_SCHEMA",
    "STORE_LOCK_FILE",
    "STORE_SCHEMA",
    "ConcurrentStoreWrite",
    "StoreSync",
    "TableSummary",
    "UnsafeStoreFolder",
    "load_store_record",
    "matched_table_path",
    "prices_table_path",
    "stored_row_counts",
    "sync_price_store",
    "table_summary",
]

STORE_SCHEMA = ROW_SCHEMA.append(pa.field("batch", pa.int64(), nullable=False))
"""The prices table: a row of an export, and the refresh (`batch`, 1, 2, ...) that wrote it."""
_DATE_CELLS = ("price_start", "price_end")
MATCHED_SCHEMA = pa.schema(
    [
        pa.field("report_row", pa.int32(), nullable=False),
        *(
            pa.field(name, pa.date32() if name in _DATE_CELLS else pa.int64() if name == "price_rows" else pa.string())
            for name in MATCH_COLUMNS
        ),
        pa.field("exported", pa.bool_(), nullable=False),
    ]
)
"""The matched table: the match report's matched rows, typed, with their position in it,
and whether the row's ticker has its export in the store (a header-only export, with
include_empty, has no row in the prices table but is exported)."""

TARGET_FILE_BYTES = 64 << 20
"""Data files are written and compacted to about this size: a replaced ticker rewrites the
file that holds its rows, so smaller files make revisions cheaper, larger ones reads."""
COMPACT_AT_SMALL_FILES = 20
"""Compact once this many files are under a quarter of the target (about a month of
daily updates): reads slow down with the number of files, not with a few."""
_TABLE_CONFIGURATION = {
    # Vacuum (lite) deletes a removed file only a day after its removal: no read lasts that long.
    "delta.deletedFileRetentionDuration": "interval 1 day",
}
_DICTIONARY_COLUMNS = ("ticker", "per", "time", "batch")
"""Columns written with dictionaries: few distinct values. Numbers, dates and line numbers
are smaller and quicker to write and read without (a file's dates or lines outgrow a
dictionary page, and the writer then falls back to plain values anyway)."""
_WRITER = WriterProperties(
    compression="ZSTD",
    compression_level=1,
    column_properties={
        name: ColumnProperties(dictionary_enabled=False)
        for name in STORE_SCHEMA.names
        if name not in _DICTIONARY_COLUMNS
    },
)


def _commit_naming(matched_version: int) -> CommitProperties:
    return CommitProperties(custom_metadata={MATCHED_VERSION_KEY: matched_version})


STORE_LOCK_FILE = "price_store.lock"
"""Held for a whole sync: two refreshes over one store (two DAGSTER_HOMEs, or a run judged
dead that still runs) take turns, so neither appends what the other already did."""


class ConcurrentStoreWrite(PortfolioInputError):
    """A commit not made by this refresh landed while it wrote: its record is dropped."""


_MARKER_EXPLANATION = (
    "portfolio-assets: this file marks the price store folder the pipeline made (its record "
    "price_store.json names the token above). Without it the pipeline refuses to write here.\n"
)


class UnsafeStoreFolder(PortfolioInputError):
    """The store's folder holds files the pipeline did not write: refused, nothing touched."""


@dataclass
class StoreSync:
    rebuilt: bool = False
    """Both tables were written from scratch (no usable record)."""
    appended: list[str] = field(default_factory=list)
    """Tickers whose new rows were appended."""
    replaced: list[str] = field(default_factory=list)
    """Tickers whose rows were replaced (a revised export)."""
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    rows_written: int = 0
    bytes_read: int = 0
    matched_written: bool = False
    compacted: bool = False
    vacuumed: int = 0
    prices_version: int = -1
    matched_version: int = -1
    warnings: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


def prices_table_path(store_dir: Path) -> Path:
    return store_dir / "prices"


def matched_table_path(store_dir: Path) -> Path:
    return store_dir / "matched"


def _open(path: Path) -> DeltaTable | None:
    try:
        return DeltaTable(str(path))
    except TableNotFoundError:
        return None


def _require_own_folder(store_dir: Path) -> str:
    """The token of the store folder's marker, the folder made and marked first when it is
    new or empty. A folder with other files and no marker is the user's: refused."""
    if folder_token(store_dir) is None and store_dir.is_dir():
        others = sorted(entry.name for entry in os.scandir(store_dir))
        if others:
            raise UnsafeStoreFolder(
                f"{printable(store_dir)} is not empty and was not made by the pipeline (no {FOLDER_MARKER}): "
                f"it holds {', '.join(others[:5])}{' ...' if len(others) > 5 else ''}; "
                "set PORTFOLIO_ASSETS_PRICE_STORE_DIR to a new or empty folder"
            )
    store_dir.mkdir(parents=True, exist_ok=True)
    return mark_folder(store_dir, _MARKER_EXPLANATION)


@dataclass(frozen=True, slots=True)
class _Read:
    """What one export holds now, as far as the store needs it."""

    ticker: str
    stamp: str
    size: int
    rows: int
    chunk: ExportChunk | None
    """The rows to write (all of them, or those after the stored ones), None if none."""
    appended: bool


def _missing(path: Path) -> PortfolioInputError:
    return PortfolioInputError(
        f"{printable(path)} is missing: the price store follows the exports; materialize price_exports first"
    )


def _read_appended(item: PlannedExport, path: Path, known: dict[str, Any], stamp: str) -> _Read | None:
    """The rows after the stored ones, read alone; None when the file is not the stored
    bytes with rows added (it moved since, or was cut)."""
    old = int(known["size"])
    try:
        with open(path, "rb") as handle:
            before = os.fstat(handle.fileno())
            data = os.pread(handle.fileno(), max(0, before.st_size - old + 1), old - 1)
    except FileNotFoundError:
        raise _missing(path) from None
    if written_stamp(path) != stamp or not data.startswith(b"\n"):
        return None
    chunk = ExportChunk(item.ticker, data, int(known["rows"]) + 1, 1)
    count = chunk.row_count()
    return _Read(item.ticker, stamp, old - 1 + len(data), int(known["rows"]) + count, chunk if count else None, True)


def _read_export(item: PlannedExport, path: Path, known: dict[str, Any] | None, grew_from: str | None) -> _Read:
    """Read an export whose stamp moved: only its new rows when price_exports recorded
    that it appended them to the very file the store read (`grew_from`), else all of it."""
    stamp = written_stamp(path)
    if known is not None and grew_from is not None and grew_from == known["stamp"]:
        done = _read_appended(item, path, known, stamp)
        if done is not None:
            return done
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise _missing(path) from None
    if not data.startswith(EXPORT_HEADER_LINE):
        raise PortfolioInputError(f"{printable(path)} is not a price export (it does not start with the export header)")
    chunk = ExportChunk(item.ticker, data, 1, len(EXPORT_HEADER_LINE))
    return _Read(item.ticker, stamp, len(data), chunk.row_count(), chunk, False)


def _read_job(job: tuple[PlannedExport, Path, dict[str, Any] | None, str | None]) -> _Read:
    return _read_export(*job)


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _matched_table(matches: Sequence[MatchRow], exported: set[str]) -> pa.Table:
    columns: dict[str, Any] = {"report_row": pa.array(range(len(matches)), pa.int32())}
    for position, name in enumerate(MATCH_COLUMNS):
        cells = [row.cells[position] for row in matches]
        if name in _DATE_CELLS:
            text = pa.array([cell or None for cell in cells], pa.string())
            columns[name] = pc.cast(pc.strptime(text, format="%Y-%m-%d", unit="s", error_is_null=True), pa.date32())
        elif name == "price_rows":
            columns[name] = pa.array([int(cell) if cell.isdigit() else None for cell in cells], pa.int64())
        else:
            columns[name] = pa.array(cells, pa.string())
    columns["exported"] = pa.array([row["matched_ticker"] in exported for row in matches], pa.bool_())
    return pa.table(columns, schema=MATCHED_SCHEMA)


def _matched_fingerprint(matches: Sequence[MatchRow], exported: set[str]) -> str:
    digest = hashlib.sha256("\x1f".join(sorted(exported)).encode("utf-8") + b"\x1d")
    for row in matches:
        digest.update("\x1f".join(row.cells).encode("utf-8") + b"\x1e")
    return digest.hexdigest()


def _compact_and_vacuum(table: DeltaTable, sync: StoreSync, removed_files: bool, naming: CommitProperties) -> None:
    small = [size for size in pa.table(table.get_add_actions(flatten=True)).column("size_bytes").to_pylist()]
    if sum(1 for size in small if size < TARGET_FILE_BYTES // 4) >= COMPACT_AT_SMALL_FILES:
        table.optimize.compact(target_size=TARGET_FILE_BYTES, writer_properties=_WRITER, commit_properties=naming)
        sync.compacted = True
        removed_files = True
    if removed_files:
        # full=False is Delta's lite vacuum: only files that remove actions in the log name.
        sync.vacuumed = len(table.vacuum(dry_run=False, full=False, commit_properties=naming))


_STATS_COLUMNS = ("ticker", "line", "date", "batch")
"""Columns whose range a data file's log entry records: the ones reads filter on."""


def _file_stats(rows: pa.Table) -> str:
    """A data file's statistics as Delta's log holds them (JSON): its row count, the range
    of _STATS_COLUMNS and every column's null count."""
    lowest: dict[str, Any] = {}
    highest: dict[str, Any] = {}
    for name in _STATS_COLUMNS:
        bounds = pc.min_max(rows.column(name))
        if bounds["min"].is_valid:
            low, high = bounds["min"].as_py(), bounds["max"].as_py()
            lowest[name] = low.isoformat() if name == "date" else low
            highest[name] = high.isoformat() if name == "date" else high
    nulls = {name: rows.column(name).null_count for name in rows.column_names}
    return json.dumps({"numRecords": rows.num_rows, "minValues": lowest, "maxValues": highest, "nullCount": nulls})


def _write_data_file(folder: Path, name: str, rows: pa.Table) -> AddAction:
    """`rows` as one Parquet file `name` in the table's `folder`, encoded as the Delta
    writer does it here (_WRITER): zstd level 1, dictionaries for _DICTIONARY_COLUMNS."""
    path = folder / name
    pq.write_table(
        rows,
        str(path),
        row_group_size=max(1, rows.num_rows),
        compression="zstd",
        compression_level=1,
        use_dictionary=list(_DICTIONARY_COLUMNS),
    )
    written = path.stat()
    return AddAction(name, written.st_size, {}, written.st_mtime_ns // 1_000_000, True, _file_stats(rows))


_REBUILD_GROUP_BYTES = 64 << 20
"""A rebuild reads, parses and writes the exports in groups of about this many bytes, one
data file each: with one group per core in memory at a time, a rebuild of 1.3 GB of
exports stays within a few hundred MB."""


def _build_prices_table(
    prices_path: Path, exports: list[tuple[PlannedExport, Path]], batch: int, naming: CommitProperties
) -> tuple[list[_Read], int]:
    """The prices table written anew from `exports` (in ticker order) in one commit: each
    group of exports is read, parsed and written as its own data file, on every core, so
    that only a few groups are in memory at a time; the commit (create or replace) then
    adds them all and removes every file of the table's previous version. Returns each
    export's read (its rows let go) and the rows written."""
    prices_path.mkdir(parents=True, exist_ok=True)
    groups: list[list[int]] = [[]]
    size = 0
    for index, (_, path) in enumerate(exports):
        if size >= _REBUILD_GROUP_BYTES:
            groups.append([])
            size = 0
        groups[-1].append(index)
        size += _size(path)
    run = uuid.uuid4()

    def write_group(number: int) -> tuple[AddAction | None, int, list[_Read]]:
        reads = [_read_export(exports[index][0], exports[index][1], None, None) for index in groups[number]]
        rows = export_rows([read.chunk for read in reads if read.chunk is not None])
        reads = [replace(read, chunk=None) for read in reads]
        if rows.num_rows == 0:
            return None, 0, reads
        rows = rows.append_column(STORE_SCHEMA.field("batch"), pa.array(np.full(rows.num_rows, batch), pa.int64()))
        return _write_data_file(prices_path, f"part-{number:05d}-{run}-c000.zstd.parquet", rows), rows.num_rows, reads

    # pyarrow lets go of the GIL while it reads, parses, encodes and writes: one thread per core.
    with ThreadPoolExecutor(max(1, min(len(groups), worker_count()))) as pool:
        written = list(pool.map(write_group, range(len(groups))))
    create_table_with_add_actions(
        str(prices_path),
        Schema.from_arrow(STORE_SCHEMA),
        [action for action, _, _ in written if action is not None],
        mode="overwrite",
        configuration=_TABLE_CONFIGURATION,
        commit_properties=naming,
    )
    return [read for _, _, reads in written for read in reads], sum(count for _, count, _ in written)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0  # read (and reported) with its group


def sync_price_store(
    store_dir: Path,
    prices_dir: Path,
    planned: Sequence[PlannedExport],
    matches: Sequence[MatchRow],
    record_path: Path,
    version: str,
    force: bool = False,
    grown: Mapping[str, tuple[str, str]] | None = None,
) -> StoreSync:
    """Bring the store at `store_dir` in line with the exports `planned` (in `prices_dir`)
    and the matched rows `matches`; `force` builds both tables again. `grown` says, by
    export file name, which exports price_exports wrote by appending rows: (the stamp of
    the file written, the stamp of the file it grew from)."""
    token = _require_own_folder(store_dir)
    # thread_local=False: the lock belongs to the process, whichever thread releases it.
    with FileLock(store_dir / STORE_LOCK_FILE, mode=0o644, thread_local=False):
        try:
            return _sync_locked(store_dir, prices_dir, planned, matches, record_path, version, force, grown, token)
        except DeltaError as error:
            raise PortfolioInputError(
                f"the price store {printable(store_dir)} cannot be read or written ({one_line(error)}); "
                f"`portfolio-assets refresh --force` builds it again (delete {printable(store_dir)} first if that fails too)"
            ) from error


def _sync_locked(
    store_dir: Path,
    prices_dir: Path,
    planned: Sequence[PlannedExport],
    matches: Sequence[MatchRow],
    record_path: Path,
    version: str,
    force: bool,
    grown: Mapping[str, tuple[str, str]] | None,
    token: str,
) -> StoreSync:
    started = time.perf_counter()
    sync = StoreSync()
    record = load_store_record(record_path, version)
    if record.warning:
        sync.warnings.append(record.warning)
    prices_path, matched_path = prices_table_path(store_dir), matched_table_path(store_dir)
    prices, matched = _open(prices_path), _open(matched_path)
    current = (
        not force
        and prices is not None
        and matched is not None
        and record.extra.get("folder") == token
        and record.extra.get("prices_version") == prices.version()
        and record.extra.get("matched_version") == matched.version()
        and prices.schema().to_arrow() == STORE_SCHEMA
        # A data file lost (deleted by hand, a restore that missed it): build again rather
        # than append onto a table that cannot be read. A stat per file: cheap.
        and all(os.path.isfile(uri) for uri in prices.file_uris())
    )
    known: dict[str, Any] = record.entries if current else {}
    sync.rebuilt = not current
    batch = int(record.extra.get("batch", 0)) + 1 if current else 1

    changed = [
        (item, known.get(item.ticker))
        for item in planned
        if (entry := known.get(item.ticker)) is None
        or entry["file"] != item.file_name
        or entry["stamp"] != written_stamp(prices_dir / item.file_name)
    ]
    grown = grown or {}

    def grew_from(item: PlannedExport) -> str | None:
        written, source = grown.get(item.file_name, ("", ""))
        return source if written and written == written_stamp(prices_dir / item.file_name) else None

    entries = {item.ticker: known[item.ticker] for item in planned if item.ticker in known}
    chunks: list[ExportChunk] = []
    replaced: list[str] = []

    def account(changed: list[tuple[PlannedExport, Any]], reads: list[_Read]) -> None:
        """What each changed export's read did: the record's entry, the lists, its rows."""
        for (item, entry), read in zip(changed, reads, strict=True):
            sync.bytes_read += read.size
            entries[item.ticker] = {"file": item.file_name, "stamp": read.stamp, "size": read.size, "rows": read.rows}
            if read.appended:
                if read.chunk is not None:
                    sync.appended.append(item.ticker)
            elif entry is None:
                sync.added.append(item.ticker)
            else:
                replaced.append(item.ticker)
            if read.chunk is not None:
                chunks.append(read.chunk)

    if not sync.rebuilt:  # a rebuild reads the exports while it writes the table, group by group
        jobs = [(item, prices_dir / item.file_name, entry, grew_from(item)) for item, entry in changed]
        account(changed, map_files(_read_job, jobs, label="price_store: reading changed exports"))
    sync.seconds["read"] = round(time.perf_counter() - started, 3)
    sync.replaced = replaced
    wanted = {item.ticker for item in planned}
    sync.removed = sorted(ticker for ticker in known if ticker not in wanted)

    parsed = time.perf_counter()
    # In ticker order: each data file then holds a range of tickers, so that replacing a
    # ticker rewrites only the files whose range holds it.
    chunks.sort(key=lambda chunk: chunk.ticker)
    rows: pa.Table | None = None
    if not sync.rebuilt:
        pieces = export_pieces(chunks)
        # pyarrow and numpy let go of the GIL while they parse: one thread per core.
        with ThreadPoolExecutor(max(1, min(len(pieces), worker_count()))) as pool:
            fields = list(pool.map(piece_fields, pieces))
        rows = export_rows(chunks, fields)
        del fields
        rows = rows.append_column(STORE_SCHEMA.field("batch"), pa.array([batch] * rows.num_rows, pa.int64()))
        sync.rows_written = rows.num_rows
    sync.seconds["parse"] = round(time.perf_counter() - parsed, 3)  # a rebuild's: counted under commit

    committed = time.perf_counter()
    # The matched table first: the prices commit that follows names its version, so a
    # reader sees the new matched rows only together with the new prices.
    fingerprint = _matched_fingerprint(matches, wanted)
    if sync.rebuilt or record.extra.get("matched") != fingerprint:
        write_deltalake(
            str(matched_path),
            _matched_table(matches, wanted),
            mode="overwrite",
            schema_mode="overwrite",
            configuration=_TABLE_CONFIGURATION,
        )
        sync.matched_written = True
        matched = DeltaTable(str(matched_path))
        matched.vacuum(dry_run=False, full=False)
    assert matched is not None
    sync.matched_version = matched.version()
    naming = _commit_naming(sync.matched_version)
    deleted = sync.replaced + sync.removed
    read_version = -1 if prices is None else prices.version()
    appended_rows = 0 if rows is None else rows.num_rows
    writes_prices = bool(sync.rebuilt or deleted or appended_rows or sync.matched_written)
    if sync.rebuilt:
        exports = sorted(((item, prices_dir / item.file_name) for item, _ in changed), key=lambda job: job[0].ticker)
        reads, sync.rows_written = _build_prices_table(prices_path, exports, batch, naming)
        account([(item, None) for item, _ in exports], reads)
    elif deleted:
        assert prices is not None and rows is not None
        predicate = f"ticker IN ({', '.join(_sql_text(t) for t in sorted(deleted))}) OR batch = {batch}"
        write_deltalake(
            prices,
            rows,
            mode="overwrite",
            predicate=predicate,
            target_file_size=TARGET_FILE_BYTES,
            writer_properties=_WRITER,
            commit_properties=naming,
        )
    elif appended_rows or sync.matched_written:
        # Without new rows, an empty append still commits: it names the new matched version.
        assert prices is not None and rows is not None
        write_deltalake(
            prices,
            rows,
            mode="append",
            target_file_size=TARGET_FILE_BYTES,
            writer_properties=_WRITER,
            commit_properties=naming,
        )
    prices = DeltaTable(str(prices_path))
    if writes_prices and prices.version() != read_version + 1:
        # Another writer committed in between (one that does not take the lock: an older
        # version of the pipeline, another host over a share): the rows may hold both
        # refreshes' appends. Without a record, the next refresh builds the store again.
        record_path.unlink(missing_ok=True)
        raise ConcurrentStoreWrite(
            f"the price store {printable(store_dir)} was written by another refresh at the same time "
            f"(version {prices.version()} after {read_version}); the next `portfolio-assets refresh` rebuilds it"
        )
    sync.seconds["commit"] = round(time.perf_counter() - committed, 3)

    maintained = time.perf_counter()
    # A rebuild removes every file of the version before it: vacuumed like any removal
    # (else the files of rebuilds, a day later past their retention, stay for good).
    _compact_and_vacuum(prices, sync, bool(deleted) or sync.rebuilt, naming)
    sync.seconds["compact"] = round(time.perf_counter() - maintained, 3)
    sync.prices_version = prices.version()

    save_json_cache(
        record_path,
        RECORD_KIND,
        version,
        entries,
        {
            "folder": token,
            "batch": batch,
            "prices_version": sync.prices_version,
            "matched_version": sync.matched_version,
            "matched": fingerprint,
        },
    )
    sync.seconds["total"] = round(time.perf_counter() - started, 3)
    return sync


def stored_row_counts(store_dir: Path) -> dict[str, int]:
    """How many rows the prices table holds per ticker (its current version). The ticker
    column is read dictionary-encoded and its codes counted, chunk by chunk: no string
    is made per row."""
    path = prices_table_path(store_dir)
    table = DeltaTable(str(path))
    options = pa_ds.ParquetReadOptions(dictionary_columns={"ticker"})
    # pyarrow's own file system: deltalake's default passes every read through Python.
    local = pa_fs.SubTreeFileSystem(str(path.resolve()), pa_fs.LocalFileSystem())
    dataset = table.to_pyarrow_dataset(parquet_read_options=options, filesystem=local)
    tickers = dataset.to_table(columns=["ticker"]).column("ticker")
    counts: dict[str, int] = {}
    for chunk in tickers.chunks:
        encoded = chunk if pa.types.is_dictionary(chunk.type) else pc.dictionary_encode(chunk)
        per_code = np.bincount(encoded.indices.to_numpy(zero_copy_only=False), minlength=len(encoded.dictionary))
        for ticker, count in zip(encoded.dictionary.to_pylist(), per_code.tolist(), strict=True):
            if count:
                counts[ticker] = counts.get(ticker, 0) + count
    return counts


@dataclass(frozen=True, slots=True)
class TableSummary:
    """The prices table's current version in numbers, from its log (no data file is read)."""

    version: int
    rows: int
    files: int
    table_bytes: int
    first_date: str
    last_date: str


def table_summary(store_dir: Path) -> TableSummary:
    table = _open(prices_table_path(store_dir))
    if table is None:
        return TableSummary(-1, 0, 0, 0, "", "")
    actions = pa.table(table.get_add_actions(flatten=True))
    firsts = [value for value in actions.column("min.date").to_pylist() if value is not None]
    lasts = [value for value in actions.column("max.date").to_pylist() if value is not None]
    return TableSummary(
        table.version(),
        int(pc.sum(actions.column("num_records")).as_py() or 0),
        actions.num_rows,
        int(pc.sum(actions.column("size_bytes")).as_py() or 0),
        min(firsts).isoformat() if firsts else "",
        max(lasts).isoformat() if lasts else "",
    )
