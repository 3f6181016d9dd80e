"""Asset checks: one per rule, with observed and expected values in metadata."""

from __future__ import annotations

import dagster as dg

from ..domain.price_lag import lagging_prices
from ..domain.reports import read_match_report
from ..domain.settings import max_price_lag_days, max_unmatched_share
from ..domain.stooq_tree import count_index_rows
from ..incremental.consistency import export_coverage, report_coverage
from ..steps.price_exports import export_strays
from .assets import POOL
from .metadata import lag_table
from .resources import PipelineSettings

__all__ = ["build_checks"]


def _listing(items: list[str], limit: int = 20) -> str:
    shown = "\n".join(f"- {item}" for item in items[:limit])
    return shown + (f"\n- ... and {len(items) - limit} more" if len(items) > limit else "") or "(none)"


def build_checks() -> list[dg.AssetChecksDefinition]:
    threshold = max_unmatched_share()
    max_lag = max_price_lag_days()

    # Blocking: an index of nothing would unmatch every instrument and remove every export.
    @dg.asset_check(
        pool=POOL,
        asset="stooq_index",
        blocking=True,
        description="The Stooq index lists at least one file; when it fails nothing after "
        "stooq_index runs in that run.",
    )
    def stooq_index_not_empty(settings: PipelineSettings) -> dg.AssetCheckResult:
        rows = count_index_rows(settings.resolve().index_path)
        return dg.AssetCheckResult(passed=rows > 0, metadata={"row_count": rows, "expected_minimum": 1})

    @dg.asset_check(
        pool=POOL,
        asset="match_report",
        description="Every instrument row of the universe is in the match or the unmatched "
        "report exactly once (rows are counted, not symbols).",
    )
    def every_instrument_reported_once(settings: PipelineSettings) -> dg.AssetCheckResult:
        resolved = settings.resolve()
        coverage = report_coverage(resolved.universe_path, resolved.match_report_path, resolved.unmatched_report_path)
        return dg.AssetCheckResult(
            passed=coverage.passed,
            metadata={
                "universe_rows": coverage.universe_rows,
                "reported_rows": coverage.matched_rows + coverage.unmatched_rows,
                "missing": dg.MetadataValue.md(_listing(coverage.missing)),
                "extra": dg.MetadataValue.md(_listing(coverage.extra)),
            },
        )

    @dg.asset_check(
        pool=POOL,
        asset="match_report",
        description=f"The share of unmatched instruments stays under a threshold "
        f"(PORTFOLIO_ASSETS_MAX_UNMATCHED_SHARE, now {threshold}); a warning.",
    )
    def unmatched_share_below_threshold(settings: PipelineSettings) -> dg.AssetCheckResult:
        resolved = settings.resolve()
        coverage = report_coverage(resolved.universe_path, resolved.match_report_path, resolved.unmatched_report_path)
        return dg.AssetCheckResult(
            passed=coverage.unmatched_share <= threshold,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "unmatched_share": round(coverage.unmatched_share, 4),
                "threshold": threshold,
                "unmatched_rows": coverage.unmatched_rows,
            },
        )

    @dg.asset_check(
        pool=POOL,
        asset="match_report",
        description=f"No matched instrument's price_end lags the newest price_end of its region by more "
        f"than {max_lag} business days (PORTFOLIO_ASSETS_MAX_PRICE_LAG_DAYS; Monday to Friday, no holiday "
        "calendar); a warning listing each with its lag.",
    )
    def price_lag_below_threshold(settings: PipelineSettings) -> dg.AssetCheckResult:
        matches = read_match_report(settings.resolve().match_report_path)
        lags = lagging_prices(matches, max_lag)
        return dg.AssetCheckResult(
            passed=not lags,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "lagging_count": len(lags),
                "max_lag_business_days": max_lag,
                "largest_lag_business_days": lags[0].business_days if lags else 0,
                "lagging": lag_table(lags),
            },
        )

    @dg.asset_check(
        pool=POOL,
        asset="price_exports",
        description="An export for every exportable matched ticker and none for anything else; "
        "CSV files the pipeline did not write are reported as a warning and left alone.",
    )
    def exports_match_the_report(settings: PipelineSettings) -> dg.AssetCheckResult:
        resolved = settings.resolve()
        coverage = export_coverage(resolved.match_report_path, resolved.prices_dir, resolved.include_empty)
        strays = set(export_strays(resolved)) if coverage.unexpected else set()
        unexpected = [name for name in coverage.unexpected if name not in strays]
        own_problems = bool(coverage.missing or unexpected)
        return dg.AssetCheckResult(
            passed=coverage.passed,
            severity=dg.AssetCheckSeverity.ERROR if own_problems else dg.AssetCheckSeverity.WARN,
            metadata={
                "expected_exports": coverage.expected,
                "present_exports": coverage.present,
                "missing": dg.MetadataValue.md(_listing(coverage.missing)),
                "unexpected": dg.MetadataValue.md(_listing(unexpected)),
                "not_written_by_the_pipeline": dg.MetadataValue.md(_listing(sorted(strays))),
            },
        )

    return [
        stooq_index_not_empty,
        every_instrument_reported_once,
        unmatched_share_below_threshold,
        price_lag_below_threshold,
        exports_match_the_report,
    ]
