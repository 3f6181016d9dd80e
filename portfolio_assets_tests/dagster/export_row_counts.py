"""A fifth asset added the way docs/architecture.md says: this step module plus one
registry entry (`ENTRY`), and nothing else. It counts the data rows of every export
into `export_row_counts.csv`. Used by test_new_asset.py."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from portfolio_assets.incremental.fingerprints import combine, text_fingerprint
from portfolio_assets.incremental.memo import StepMemo, can_reuse, output_stamp, written_stamp
from portfolio_assets.io.atomic_files import write_text_if_changed
from portfolio_assets.settings import Settings
from portfolio_assets.steps.asset_checks import CheckOutcome, CheckReading, CheckRule
from portfolio_assets.steps.asset_metadata import FilePath, MetadataItem, TableShape
from portfolio_assets.steps.common import StepResult
from portfolio_assets.steps.registry import PipelineAsset, output_paths, step_code_version

COLUMNS = ("ticker", "rows")


def _counts_path(settings: Settings) -> Path:
    return settings.metadata_dir / "export_row_counts.csv"


@dataclass(frozen=True)
class RowCountsResult(StepResult):
    tickers: int


def count_export_rows(settings: Settings, previous: StepMemo | None = None, force: bool = False) -> RowCountsResult:
    exports = sorted(output_paths("price_exports", settings))
    fingerprint = combine(
        step_code_version("export_row_counts", settings), *(f"{p.name}:{written_stamp(p)}" for p in exports)
    )
    outputs = [_counts_path(settings)]
    if can_reuse(previous, fingerprint, outputs, force):
        return RowCountsResult(previous, True, len(exports))
    lines = ["ticker,rows"]
    for path in exports:
        rows = len(path.read_text(encoding="utf-8").splitlines()) - 1
        lines.append(f"{path.stem},{rows}")
    text = "\n".join(lines) + "\n"
    write_text_if_changed(outputs[0], text)
    memo = StepMemo(fingerprint, output_stamp(outputs), text_fingerprint(text))
    return RowCountsResult(memo, False, len(exports))


def metadata(settings: Settings, result: RowCountsResult) -> dict[str, MetadataItem]:
    return {"path": FilePath(_counts_path(settings)), "shape": TableShape(COLUMNS, result.tickers)}


def every_export_counted(reading: CheckReading) -> CheckOutcome:
    counted = len(_counts_path(reading.settings).read_text(encoding="utf-8").splitlines()) - 1
    expected = len(output_paths("price_exports", reading.settings))
    return CheckOutcome(counted == expected, {"counted": counted, "exports": expected})


ENTRY = PipelineAsset(
    "export_row_counts",
    "count_export_rows",
    "How many data rows each export holds (export_row_counts.csv).",
    deps=("price_exports",),
    outputs=lambda settings: [_counts_path(settings)],
    logic_version="1",
    checks=(CheckRule("every_export_counted", lambda: "A row per export."),),
    module=__name__,
)
