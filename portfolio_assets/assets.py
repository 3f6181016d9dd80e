"""The four software-defined assets; each wires one step of the core pipeline."""

from __future__ import annotations

from collections import Counter

import dagster as dg

from .core.broker_lists import UNIVERSE_COLUMNS
from .core.pipeline import build_match_reports, build_price_exports, build_stooq_index, build_universe
from .core.reports import MATCH_COLUMNS, UNMATCHED_COLUMNS
from .core.settings import Settings
from .core.stooq_tree import INDEX_COLUMNS
from .core.versions import result_settings, step_code_version
from .failures import failing_clearly
from .metadata import counts_table, csv_preview
from .resources import PipelineSettings
from .sources import GROUP, stooq_files, tradeable_instruments

__all__ = ["build_pipeline_assets"]


def _path(path) -> dg.MetadataValue:
    return dg.MetadataValue.path(str(path))


def build_pipeline_assets(settings: Settings) -> list[dg.AssetsDefinition]:
    """The four assets, with code versions for the settings they were loaded with."""

    @dg.asset(
        group_name=GROUP, deps=[stooq_files], kinds={"python", "csv"},
        code_version=step_code_version("stooq_index", settings),
        description="Every counted Stooq file with ticker, region and category (stooq_index.csv).",
    )
    def stooq_index(settings: PipelineSettings) -> dg.MaterializeResult:
        resolved = settings.resolve()
        with failing_clearly():
            result = build_stooq_index(resolved)
        return dg.MaterializeResult(
            data_version=dg.DataVersion(result.data_version),
            metadata={
                "path": _path(resolved.index_path),
                "row_count": len(result.entries),
                "rows_by_region": counts_table("region", result.rows_by_region),
                "preview": csv_preview(INDEX_COLUMNS, [e.as_row() for e in result.entries]),
            },
        )

    @dg.asset(
        group_name=GROUP, deps=[tradeable_instruments], kinds={"python", "csv"},
        code_version=step_code_version("tradeable_universe", settings),
        description="Every broker instrument, list by list, row by row (tradeable_universe.csv).",
    )
    def tradeable_universe(settings: PipelineSettings) -> dg.MaterializeResult:
        resolved = settings.resolve()
        with failing_clearly():
            result = build_universe(resolved)
        return dg.MaterializeResult(
            data_version=dg.DataVersion(result.data_version),
            metadata={
                "path": _path(resolved.universe_path),
                "row_count": len(result.instruments),
                "rows_by_source_file": counts_table("source_file", result.rows_by_source_file),
                "preview": csv_preview(UNIVERSE_COLUMNS, [i.as_row() for i in result.instruments]),
            },
        )

    @dg.asset(
        group_name=GROUP, deps=[stooq_index, tradeable_universe, stooq_files], kinds={"python", "csv"},
        code_version=step_code_version("match_report", settings),
        description="Each instrument matched to a Stooq file with diagnostics and currency "
        "(tradeable_matches.csv), or why not (tradeable_unmatched.csv).",
    )
    def match_report(settings: PipelineSettings) -> dg.MaterializeResult:
        resolved = settings.resolve()
        with failing_clearly():
            result = build_match_reports(resolved)
        matches, unmatched = result.reports.matches, result.reports.unmatched
        column = MATCH_COLUMNS.index
        return dg.MaterializeResult(
            data_version=dg.DataVersion(result.data_version),
            metadata={
                "match_report_path": _path(resolved.match_report_path),
                "unmatched_report_path": _path(resolved.unmatched_report_path),
                "instrument_count": len(matches) + len(unmatched),
                "matched_count": len(matches),
                "unmatched_count": len(unmatched),
                "files_diagnosed": result.files_diagnosed,
                **{f"setting_{k}": v for k, v in result_settings("match_report", resolved).items()},
                "by_strategy": counts_table("strategy", Counter(r.cells[column("strategy")] for r in matches)),
                "by_data_status": counts_table(
                    "data_status", Counter(r.cells[column("data_status")] for r in matches)),
                "by_currency_status": counts_table(
                    "currency_status", Counter(r.cells[column("currency_status")] for r in matches)),
                "unmatched_by_reason": counts_table("reason", Counter(row[-1] for row in unmatched)),
                "match_preview": csv_preview(MATCH_COLUMNS, [r.cells for r in matches]),
                "unmatched_preview": csv_preview(UNMATCHED_COLUMNS, unmatched),
            },
        )

    @dg.asset(
        group_name=GROUP, deps=[match_report], kinds={"python", "csv"},
        code_version=step_code_version("price_exports", settings),
        description="One clean price CSV per matched ticker (<ticker>.csv in the prices folder).",
    )
    def price_exports(settings: PipelineSettings) -> dg.MaterializeResult:
        resolved = settings.resolve()
        with failing_clearly():
            result = build_price_exports(resolved)
        return dg.MaterializeResult(
            data_version=dg.DataVersion(result.data_version),
            metadata={
                "path": _path(resolved.prices_dir),
                "export_count": len(result.exported),
                "exports_written": len(result.written),
                "exports_unchanged": len(result.unchanged),
                "exports_removed": len(result.removed),
                **{f"setting_{k}": v for k, v in result_settings("price_exports", resolved).items()},
                "preview": dg.MetadataValue.md(
                    "\n".join(f"- {name}" for name in result.exported[:20]) or "(no exports)"),
            },
        )

    return [stooq_index, tradeable_universe, match_report, price_exports]
