"""The price_store step: every export's rows and the matched universe as a columnar
store (Delta Lake tables in the price store folder), kept equal to the exports."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Literal

from ..domain.export_rows import ExportChunk
from ..domain.exports import plan_exports
from ..domain.reports import read_match_report
from ..incremental.export_sync import KIND as EXPORT_MANIFEST_KIND
from ..incremental.fingerprints import combine
from ..incremental.json_cache import load_json_cache
from ..incremental.memo import StepMemo, can_reuse, file_stamp, output_stamp, written_stamp
from ..incremental.metadata_files import MetadataFiles
from ..incremental.price_store import (
    STORE_SCHEMA,
    StoreSync,
    load_store_record,
    prices_table_path,
    stored_row_counts,
    sync_price_store,
    table_summary,
)
from ..settings import Settings
from .asset_checks import CheckOutcome, CheckReading
from .asset_metadata import FilePath, Listing, MetadataItem, Table, TableShape
from .common import StepResult, require_output
from .registry import cache_version, get_asset, output_paths, step_code_version

__all__ = ["StoreResult", "build_price_store", "metadata", "store_rows_match_exports"]

_TYPES = {"line": "int", "date": "date", "batch": "int", **dict.fromkeys(STORE_SCHEMA.names[5:11], "float")}


@dataclass(frozen=True)
class StoreResult(StepResult):
    tickers: int
    sync: StoreSync | None = None
    """What the run changed (None when the store was reused as it was)."""
    warnings: list[str] = field(default_factory=list)

    def input_warnings(self) -> list[str]:
        return self.warnings

    def log_lines(self) -> list[tuple[Literal["info", "warning"], str]]:
        sync = self.sync
        if sync is None:
            return []
        how = (
            "built from the exports"
            if sync.rebuilt
            else (
                f"{len(sync.appended)} ticker(s) appended to, {len(sync.replaced)} replaced, "
                f"{len(sync.added)} added, {len(sync.removed)} removed"
            )
        )
        return [("info", f"price store {how}: {sync.rows_written} row(s) written in {sync.seconds.get('total', 0)} s")]


def build_price_store(settings: Settings, previous: StepMemo | None = None, force: bool = False) -> StoreResult:
    """Bring the price store in line with the exports the match report calls for."""
    require_output(settings.match_report_path, "match_report")
    matches = read_match_report(settings.match_report_path)
    planned = plan_exports(matches, settings.include_empty)
    fingerprint = combine(
        step_code_version("price_store", settings),
        f"report:{file_stamp(settings.match_report_path)}",
        *(f"{item.ticker}:{written_stamp(settings.prices_dir / item.file_name)}" for item in planned),
    )
    outputs = output_paths("price_store", settings)
    if can_reuse(previous, fingerprint, outputs, force):
        return StoreResult(previous, True, len(planned))
    files = MetadataFiles(settings.metadata_dir)
    manifest = load_json_cache(files.export_manifest_path, EXPORT_MANIFEST_KIND, cache_version("exports")).entries
    grown = {
        name: (str(entry["output"]), str(entry["grew_from"]))
        for name, entry in manifest.items()
        if isinstance(entry, dict) and "grew_from" in entry and "output" in entry
    }
    sync = sync_price_store(
        settings.price_store_dir,
        settings.prices_dir,
        planned,
        matches,
        files.price_store_record_path,
        get_asset("price_store").logic_version,
        force=force,
        grown=grown,
    )
    outputs = output_paths("price_store", settings)
    version = combine(f"prices:{sync.prices_version}", f"matched:{sync.matched_version}", fingerprint)
    memo = StepMemo(fingerprint, output_stamp(outputs), version)
    return StoreResult(memo, False, len(planned), sync, sync.warnings)


def _folder_bytes(path: os.PathLike[str] | str) -> int:
    total = 0
    for folder, _, names in os.walk(path):
        for name in names:
            try:
                total += os.stat(os.path.join(folder, name)).st_size
            except OSError:
                continue
    return total


def metadata(settings: Settings, result: StoreResult) -> dict[str, MetadataItem]:
    summary = table_summary(settings.price_store_dir)
    items: dict[str, MetadataItem] = {
        "path": FilePath(settings.price_store_dir),
        "shape": TableShape(STORE_SCHEMA.names, summary.rows, _TYPES),
        "tickers": result.tickers,
        "first_date": summary.first_date,
        "last_date": summary.last_date,
        "data_files": summary.files,
        "table_bytes": summary.table_bytes,
        "folder_bytes": _folder_bytes(settings.price_store_dir),
        "table_version": summary.version,
    }
    sync = result.sync
    if sync is not None:
        items.update(
            {
                "rebuilt": sync.rebuilt,
                "rows_written": sync.rows_written,
                "tickers_appended": len(sync.appended),
                "tickers_replaced": len(sync.replaced),
                "tickers_added": len(sync.added),
                "tickers_removed": len(sync.removed),
                "compacted": sync.compacted,
                "files_vacuumed": sync.vacuumed,
                **{f"seconds_{name}": value for name, value in sync.seconds.items()},
            }
        )
    return items


def store_rows_match_exports(reading: CheckReading) -> CheckOutcome:
    """The prices table holds as many rows per ticker as each export has data rows."""
    settings = reading.settings
    planned = plan_exports(read_match_report(settings.match_report_path), settings.include_empty)
    record = load_store_record(MetadataFiles(settings.metadata_dir).price_store_record_path).entries
    expected: dict[str, int] = {}
    for item in planned:
        path = settings.prices_dir / item.file_name
        entry = record.get(item.ticker)
        if entry is not None and entry.get("stamp") == written_stamp(path):
            expected[item.ticker] = int(entry["rows"])  # counted when the store read these bytes
        else:
            try:
                data = path.read_bytes()
                # Counted as the store counts an export's rows (a last row without a line feed too).
                header_end = data.find(b"\n") + 1 or len(data)
                expected[item.ticker] = ExportChunk(item.ticker, data, 1, header_end).row_count()
            except OSError:
                expected[item.ticker] = 0
    stored = stored_row_counts(settings.price_store_dir) if prices_table_path(settings.price_store_dir).is_dir() else {}
    differ = sorted(t for t in set(expected) | set(stored) if expected.get(t, 0) != stored.get(t, 0))
    records: list[dict[str, str | int | float | bool | None]] = [
        {"ticker": t, "export_rows": expected.get(t, 0), "stored_rows": stored.get(t, 0)} for t in differ[:50]
    ]
    return CheckOutcome(
        not differ,
        {
            "tickers_compared": len(expected),
            "tickers_differing": len(differ),
            "differing": Table((("ticker", "string"), ("export_rows", "int"), ("stored_rows", "int")), records),
            "not_in_exports": Listing(sorted(set(stored) - set(expected))),
        },
    )
