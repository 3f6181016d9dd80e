"""Asset checks: one per rule, with observed and expected values in metadata.

Each check is declared on its asset (`AssetCheckSpec`) and evaluated in the asset's own
step, right after the step wrote its outputs, so a run spends no step, event pair or
pool slot on it; the UI shows and runs it like any check: selected alone, the asset's
step evaluates it from the files on disk without materializing.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from functools import cached_property

import dagster as dg

from ..domain.price_lag import lagging_prices
from ..domain.reports import read_match_report
from ..domain.settings import Settings, max_price_lag_days, max_unmatched_share
from ..domain.stooq_tree import count_index_rows
from ..incremental.consistency import PartRecords, ReportCoverage, export_coverage, report_coverage
from ..steps.price_exports import export_strays
from ..steps.registry import cache_version
from .metadata import lag_table
from .output_checks import OUTPUTS_INTACT, outputs_intact_result, outputs_intact_spec

__all__ = ["AssetChecks", "build_checks"]


def _listing(items: list[str], limit: int = 20) -> str:
    shown = "\n".join(f"- {item}" for item in items[:limit])
    return shown + (f"\n- ... and {len(items) - limit} more" if len(items) > limit else "") or "(none)"


class _Reading:
    """What the checks of one evaluation read, each read once: two rules judge the same
    report coverage."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @cached_property
    def coverage(self) -> ReportCoverage:
        s = self.settings
        records = PartRecords(
            s.universe_parts_path,
            cache_version("universe_parts"),
            s.report_parts_path,
            cache_version("report_parts"),
            s.coverage_checked_path,
        )
        return report_coverage(s.universe_path, s.match_report_path, s.unmatched_report_path, records)


Rule = Callable[[_Reading], dg.AssetCheckResult]


@dataclass(frozen=True)
class AssetChecks:
    """The checks of every asset: their specs, and how to evaluate them."""

    specs: dict[str, list[dg.AssetCheckSpec]]
    rules: dict[tuple[str, str], Rule]

    def evaluate(
        self, key: str, settings: Settings, selected: Collection[str], recorded_stamp: str | None
    ) -> list[dg.AssetCheckResult]:
        """The results of `key`'s checks named in `selected`, in declaration order.

        `recorded_stamp`: the output stamp of the materialization judged (the one being
        recorded, or the latest one when the checks run alone)."""
        results = []
        reading = _Reading(settings)
        for spec in self.specs[key]:
            if spec.name not in selected:
                continue
            if spec.name == OUTPUTS_INTACT:
                result = outputs_intact_result(key, settings, recorded_stamp)
            else:
                result = self.rules[key, spec.name](reading)
            results.append(result._replace(asset_key=dg.AssetKey(key), check_name=spec.name))
        return results


def build_checks(asset_keys: Collection[str]) -> AssetChecks:
    threshold = max_unmatched_share()
    max_lag = max_price_lag_days()

    def stooq_index_not_empty(reading: _Reading) -> dg.AssetCheckResult:
        rows = count_index_rows(reading.settings.index_path)
        return dg.AssetCheckResult(passed=rows > 0, metadata={"row_count": rows, "expected_minimum": 1})

    def every_instrument_reported_once(reading: _Reading) -> dg.AssetCheckResult:
        coverage = reading.coverage
        return dg.AssetCheckResult(
            passed=coverage.passed,
            metadata={
                "universe_rows": coverage.universe_rows,
                "reported_rows": coverage.matched_rows + coverage.unmatched_rows,
                "rows_read": coverage.rows_read,
                "missing": dg.MetadataValue.md(_listing(coverage.missing)),
                "extra": dg.MetadataValue.md(_listing(coverage.extra)),
            },
        )

    def unmatched_share_below_threshold(reading: _Reading) -> dg.AssetCheckResult:
        coverage = reading.coverage
        return dg.AssetCheckResult(
            passed=coverage.unmatched_share <= threshold,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "unmatched_share": round(coverage.unmatched_share, 4),
                "threshold": threshold,
                "unmatched_rows": coverage.unmatched_rows,
            },
        )

    def price_lag_below_threshold(reading: _Reading) -> dg.AssetCheckResult:
        lags = lagging_prices(read_match_report(reading.settings.match_report_path), max_lag)
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

    def exports_match_the_report(reading: _Reading) -> dg.AssetCheckResult:
        settings = reading.settings
        coverage = export_coverage(settings.match_report_path, settings.prices_dir, settings.include_empty)
        strays = set(export_strays(settings)) if coverage.unexpected else set()
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

    # (asset, rule, blocking, description), in the order the UI lists them.
    declared: list[tuple[str, Rule, bool, str]] = [
        # Blocking: an index of nothing would unmatch every instrument and remove every export.
        (
            "stooq_index",
            stooq_index_not_empty,
            True,
            "The Stooq index lists at least one file; when it fails nothing after stooq_index runs in that run.",
        ),
        (
            "match_report",
            every_instrument_reported_once,
            False,
            "Every instrument row of the universe is in the match or the unmatched "
            "report exactly once (rows are counted, not symbols).",
        ),
        (
            "match_report",
            unmatched_share_below_threshold,
            False,
            f"The share of unmatched instruments stays under a threshold "
            f"(PORTFOLIO_ASSETS_MAX_UNMATCHED_SHARE, now {threshold}); a warning.",
        ),
        (
            "match_report",
            price_lag_below_threshold,
            False,
            f"No matched instrument's price_end lags the newest price_end of its region by more "
            f"than {max_lag} business days (PORTFOLIO_ASSETS_MAX_PRICE_LAG_DAYS; Monday to Friday, no holiday "
            "calendar); a warning listing each with its lag.",
        ),
        (
            "price_exports",
            exports_match_the_report,
            False,
            "An export for every exportable matched ticker and none for anything else; "
            "CSV files the pipeline did not write are reported as a warning and left alone.",
        ),
    ]
    specs: dict[str, list[dg.AssetCheckSpec]] = {key: [] for key in asset_keys}
    rules: dict[tuple[str, str], Rule] = {}
    for key, rule, blocking, description in declared:
        specs[key].append(dg.AssetCheckSpec(rule.__name__, asset=key, blocking=blocking, description=description))
        rules[key, rule.__name__] = rule
    for key in asset_keys:
        specs[key].append(outputs_intact_spec(key))
    return AssetChecks(specs, rules)
