"""The files each step's last run should have left on disk."""

from __future__ import annotations

from pathlib import Path

from .exports import plan_exports
from .reports import read_match_report
from .settings import Settings

__all__ = ["STEP_KEYS", "output_paths"]

STEP_KEYS = ("stooq_index", "tradeable_universe", "match_report", "price_exports")


def output_paths(step: str, settings: Settings) -> list[Path]:
    if step == "stooq_index":
        return [settings.index_path]
    if step == "tradeable_universe":
        return [settings.universe_path]
    if step == "match_report":
        return [settings.match_report_path, settings.unmatched_report_path]
    if not settings.match_report_path.is_file():
        return []
    planned = plan_exports(read_match_report(settings.match_report_path), settings.include_empty)
    return [settings.prices_dir / item.file_name for item in planned]
