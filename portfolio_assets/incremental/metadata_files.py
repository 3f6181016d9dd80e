"""The incremental layer's own files in the metadata folder, beside the reports: the
per-instrument caches, the records of where each broker list's rows are, the exports'
records and the history of changes. Kept with the reports so that a metadata folder
moved or copied takes what the next run reuses along."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["MetadataFiles"]


@dataclass(frozen=True, slots=True)
class MetadataFiles:
    """The paths of the incremental layer's files in `metadata_dir`."""

    metadata_dir: Path

    @property
    def match_cache_path(self) -> Path:
        """Each instrument's match, by what it was matched from (incremental/match_cache.py)."""
        return self.metadata_dir / "match_cache.json"

    @property
    def diagnostics_cache_path(self) -> Path:
        """What is known of each matched Stooq file's bytes (incremental/file_summaries.py)."""
        return self.metadata_dir / "diagnostics_cache.json"

    @property
    def universe_parts_path(self) -> Path:
        """Where each broker list's rows are in the universe, and what is known of its bytes."""
        return self.metadata_dir / "universe_parts.json"

    @property
    def report_parts_path(self) -> Path:
        """Where each broker list's rows are in the two reports, and what they were made from."""
        return self.metadata_dir / "report_parts.json"

    @property
    def coverage_checked_path(self) -> Path:
        """Each broker list's rows the every_instrument_reported_once check found consistent."""
        return self.metadata_dir / "coverage_checked.json"

    @property
    def export_manifest_path(self) -> Path:
        """What each export was written from (incremental/export_sync.py)."""
        return self.metadata_dir / "export_manifest.json"

    @property
    def exports_written_path(self) -> Path:
        """The names of every export the pipeline wrote into prices_dir: the only
        files a run may ever remove there."""
        return self.metadata_dir / "exports_written.json"

    @property
    def price_store_record_path(self) -> Path:
        """What the price store holds: each ticker's export bytes and the tables' versions
        (incremental/store_record.py)."""
        return self.metadata_dir / "price_store.json"

    @property
    def change_history_dir(self) -> Path:
        """What changed at each materialization of match_report: one JSON line each, in
        one file per month (append-only)."""
        return self.metadata_dir / "match_changes"

    @property
    def pending_change_path(self) -> Path:
        """The change record of a materialization whose reports are being replaced."""
        return self.change_history_dir / "pending.json"
