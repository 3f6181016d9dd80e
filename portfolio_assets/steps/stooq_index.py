"""The stooq_index step: every counted Stooq file with ticker, region and category."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass

from ..domain.errors import PortfolioInputError
from ..domain.stooq_tree import (
    INDEX_COLUMNS,
    IndexEntry,
    StooqFile,
    build_index,
    count_index_rows,
    counted_paths,
    remember_index,
    render_index,
    scan_stooq_tree,
)
from ..incremental.fingerprints import combine, stooq_fingerprint, text_fingerprint
from ..incremental.memo import StepMemo, can_reuse, output_stamp
from ..io.atomic_files import remove_leftover_temp_files, write_text_if_changed
from ..settings import SETTING_VARIABLES, Settings
from .asset_checks import CheckOutcome, CheckReading
from .asset_metadata import Counts, FilePath, MetadataItem, Preview, TableShape
from .common import StepResult, require_folder
from .registry import step_code_version

__all__ = ["EmptyStooqTree", "IndexResult", "build_stooq_index", "metadata", "stooq_index_not_empty"]


class EmptyStooqTree(PortfolioInputError):
    """A Stooq folder with no price file: an unmounted share or an unpacking in progress,
    never a state whose index should replace the last one (it would remove every export)."""


@dataclass(frozen=True)
class IndexResult(StepResult):
    entries: list[IndexEntry]
    rows_by_region: dict[str, int]
    source_version: str  # the stooq_files fingerprint of the tree actually indexed
    seconds: float


def build_stooq_index(
    settings: Settings, previous: StepMemo | None = None, force: bool = False, scan: list[StooqFile] | None = None
) -> IndexResult:
    """The index of `scan` (the stat scan an observation just took), or of a scan taken now."""
    started = time.perf_counter()
    require_folder(settings.stooq_dir, "stooq_dir", "Stooq")
    files = scan if scan is not None else scan_stooq_tree(settings.stooq_dir)
    paths = counted_paths(settings.stooq_dir, files)
    if not paths:
        raise EmptyStooqTree(
            f"the Stooq folder {settings.stooq_dir} holds no *.txt price file, unpacked or in an archive (an unmounted share, or an "
            "archive still being unpacked?); stooq_index and everything after it were left as they were. "
            f"Run again once the files are back, or set {SETTING_VARIABLES['stooq_dir']} to the right folder"
        )
    entries = build_index(paths)
    text = render_index(entries)
    version = text_fingerprint(text)
    fingerprint = combine(step_code_version("stooq_index", settings), version)
    outputs = [settings.index_path]
    reused = can_reuse(previous, fingerprint, outputs, force)
    if not reused:
        remove_leftover_temp_files(settings.metadata_dir)
        write_text_if_changed(settings.index_path, text)
    remember_index(settings.index_path, entries)
    regions = Counter(entry.region for entry in entries)
    memo = StepMemo(fingerprint, output_stamp(outputs), version)
    return IndexResult(
        memo,
        reused,
        entries,
        dict(sorted(regions.items())),
        stooq_fingerprint(files),
        round(time.perf_counter() - started, 3),
    )


def metadata(settings: Settings, result: IndexResult) -> dict[str, MetadataItem]:
    return {
        "path": FilePath(settings.index_path),
        "shape": TableShape(INDEX_COLUMNS, len(result.entries)),
        "seconds": result.seconds,
        "rows_by_region": Counts("region", result.rows_by_region),
        "preview": Preview(INDEX_COLUMNS, [entry.as_row() for entry in result.entries[:10]]),
    }


def stooq_index_not_empty(reading: CheckReading) -> CheckOutcome:
    rows = count_index_rows(reading.settings.index_path)
    return CheckOutcome(rows > 0, {"row_count": rows, "expected_minimum": 1})
