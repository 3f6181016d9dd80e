"""The registry: one entry per asset says everything about it (its key, dependencies,
description, kinds, output files, logic version, result settings, caches, checks, the
inputs its step takes from the run, and its metadata). The Dagster assets and checks,
the automation, `status`, `refresh`, the fast path and the tests are generated from
`ASSETS` in one loop; the order the steps run in is derived from the dependencies.

A new asset is its step module `steps/<key>.py` (the step function, its result type, its
metadata and check functions) plus its entry here, and nothing else (docs/architecture.md
has the recipe).

A step's code version is its logic number plus, hashed, the result settings it
depends on, so that changing such a setting makes exactly the affected steps stale
(SPEC 6): "v1", or "v1-" and 12 hex digits. A cache's version is its own number
plus its step's logic number: bumping either empties it.

Step, metadata and check functions are looked up by name in the step module when first
asked for: the step modules look up their versions here, and the CLI's fast path reads
this registry without importing the price reader (pyarrow).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from ..domain.csv_files import file_identity
from ..domain.exports import plan_exports
from ..domain.reports import read_match_report
from ..incremental.fingerprints import text_fingerprint
from ..incremental.metadata_files import MetadataFiles
from ..incremental.store_record import store_outputs
from ..settings import MAX_PRICE_LAG_DAYS, MAX_UNMATCHED_SHARE, Settings, results_of, value_text
from .asset_checks import CheckOutcome, CheckReading, CheckRule
from .asset_metadata import MetadataItem
from .common import StepResult

__all__ = [
    "ASSETS",
    "ASSET_KEYS",
    "RUN_INPUTS",
    "SOURCE_KEYS",
    "PipelineAsset",
    "asset_keys",
    "cache_version",
    "get_asset",
    "in_dependency_order",
    "output_paths",
    "registered_assets",
    "result_settings",
    "step_code_version",
]

# The observable sources an asset may depend on (dagster_defs/sources.py observes them).
SOURCE_KEYS = ("stooq_files", "tradeable_instruments")

# What a step may take from the run besides its settings, memo and `force`: the scan of
# the Stooq tree stooq_files' observation just took (`scan`, saving a second walk), the run's id
# (`run_id`, naming its change record), and the launchpad's `adopt_exports` option.
RUN_INPUTS = ("scan", "run_id", "adopt_exports")


@dataclass(frozen=True)
class PipelineAsset:
    key: str
    """The asset key; its step module is `steps/<key>.py` (or `module`)."""
    function: str
    """The step function there: `function(settings, previous=None, force=False, **run_inputs)`."""
    description: str
    deps: tuple[str, ...]
    """The assets and sources (SOURCE_KEYS) whose outputs the step reads."""
    outputs: Callable[[Settings], list[Path]]
    """The files the step's last run should have left on disk."""
    logic_version: str
    """Bump it when the step's output for the same inputs changes."""
    result_settings: tuple[str, ...] = ()
    """Settings whose value changes the step's output (paths do not: they change its inputs)."""
    caches: tuple[tuple[str, str], ...] = ()
    """(name, version) of each per-instrument cache the step keeps: bump a version when what
    that cache stores would change."""
    checks: tuple[CheckRule, ...] = ()
    """Rules over the written files, besides `outputs_intact`, which every asset has."""
    metadata: str = "metadata"
    """The function `metadata(settings, result) -> {name: MetadataItem}` of the step module."""
    reads_source: str | None = None
    """The source whose version the step reports as read (`result.source_version`)."""
    run_inputs: tuple[str, ...] = ()
    """What the step takes from the run (RUN_INPUTS)."""
    kinds: tuple[str, ...] = ("python", "csv")
    overdue_after_freshness_hours: bool = False
    """The UI shows the asset overdue when it has not materialized for
    PORTFOLIO_ASSETS_FRESHNESS_HOURS (the daily update is late)."""
    module: str = ""
    """The step module's import path, when not `portfolio_assets.steps.<key>`."""

    @property
    def step_module(self) -> ModuleType:
        return importlib.import_module(self.module or f"{__package__}.{self.key}")

    @property
    def build(self) -> Callable[..., StepResult]:
        """The step function."""
        function: Callable[..., StepResult] = getattr(self.step_module, self.function)
        return function

    def describe(self, settings: Settings, result: StepResult) -> Mapping[str, MetadataItem]:
        """The metadata of a materialization with `result`."""
        describe: Callable[[Settings, StepResult], Mapping[str, MetadataItem]] = getattr(
            self.step_module, self.metadata
        )
        return describe(settings, result)

    def check_rule(self, name: str) -> Callable[[CheckReading], CheckOutcome]:
        rule: Callable[[CheckReading], CheckOutcome] = getattr(self.step_module, name)
        return rule

    def setting_values(self, settings: Settings) -> dict[str, str]:
        """The result settings as text, e.g. {"include_empty": "false"}."""
        return {name: value_text(getattr(settings, name)) for name in self.result_settings}

    def code_version(self, settings: Settings) -> str:
        chosen = self.setting_values(settings)
        if not chosen:
            return f"v{self.logic_version}"
        return f"v{self.logic_version}-" + text_fingerprint(*(f"{k}={v}" for k, v in sorted(chosen.items())))[:12]

    def cache_version(self, cache: str) -> str:
        return f"{dict(self.caches)[cache]}.{self.logic_version}"


def _index_paths(settings: Settings) -> list[Path]:
    return [settings.index_path]


def _universe_paths(settings: Settings) -> list[Path]:
    return [settings.universe_path]


def _report_paths(settings: Settings) -> list[Path]:
    return [settings.match_report_path, settings.unmatched_report_path]


# The last answer of `_export_paths`, by what it depends on: status checks ask several
# times per refresh, and planning 7,000 exports costs more than stamping them.
_EXPORT_PATHS: dict[tuple[str, tuple[int, int, int, int], str, bool], list[Path]] = {}


def _export_paths(settings: Settings) -> list[Path]:
    """The exports the current match report calls for (none before there is a report)."""
    if not settings.match_report_path.is_file():
        return []
    key = (
        str(settings.match_report_path),
        file_identity(settings.match_report_path.stat()),
        str(settings.prices_dir),
        settings.include_empty,
    )
    if key not in _EXPORT_PATHS:
        planned = plan_exports(read_match_report(settings.match_report_path), settings.include_empty)
        _EXPORT_PATHS.clear()
        _EXPORT_PATHS[key] = [settings.prices_dir / item.file_name for item in planned]
    return list(_EXPORT_PATHS[key])


def _store_paths(settings: Settings) -> list[Path]:
    """The commit files of the store's two tables, at the versions its record names."""
    return store_outputs(settings.price_store_dir, MetadataFiles(settings.metadata_dir).price_store_record_path)


def _declared_assets() -> tuple[PipelineAsset, ...]:
    return (
        PipelineAsset(
            "stooq_index",
            "build_stooq_index",
            "Every counted Stooq file with ticker, region and category (stooq_index.csv).",
            deps=("stooq_files",),
            outputs=_index_paths,
            logic_version="2",
            reads_source="stooq_files",
            run_inputs=("scan",),
            checks=(
                # Blocking: an index of nothing would unmatch every instrument and remove every export.
                CheckRule(
                    "stooq_index_not_empty",
                    lambda: (
                        "The Stooq index lists at least one file; when it fails nothing after stooq_index "
                        "runs in that run."
                    ),
                    blocking=True,
                ),
            ),
        ),
        PipelineAsset(
            "tradeable_universe",
            "build_universe",
            "Every broker instrument, list by list, row by row (tradeable_universe.csv).",
            deps=("tradeable_instruments",),
            outputs=_universe_paths,
            logic_version="1",
            caches=(("universe_parts", "1"),),
            reads_source="tradeable_instruments",
        ),
        PipelineAsset(
            "match_report",
            "build_match_reports",
            "Each instrument matched to a Stooq file with diagnostics and currency "
            "(tradeable_matches.csv), or why not (tradeable_unmatched.csv).",
            deps=("stooq_index", "tradeable_universe", "stooq_files"),
            outputs=_report_paths,
            logic_version="1",
            result_settings=results_of("match_report"),
            caches=(("matching", "1"), ("diagnostics", "2"), ("report_parts", "1")),
            run_inputs=("run_id",),
            checks=(
                CheckRule(
                    "every_instrument_reported_once",
                    lambda: (
                        "Every instrument row of the universe is in the match or the unmatched "
                        "report exactly once (rows are counted, not symbols)."
                    ),
                ),
                CheckRule(
                    "unmatched_share_below_threshold",
                    lambda: (
                        "The share of unmatched instruments stays under a threshold "
                        f"(PORTFOLIO_ASSETS_MAX_UNMATCHED_SHARE, now {MAX_UNMATCHED_SHARE.read()}); a warning."
                    ),
                ),
                CheckRule(
                    "price_lag_below_threshold",
                    lambda: (
                        "No matched instrument's price_end lags the newest price_end of its region by more "
                        f"than {MAX_PRICE_LAG_DAYS.read()} business days (PORTFOLIO_ASSETS_MAX_PRICE_LAG_DAYS; Monday to "
                        "Friday, no holiday calendar); a warning listing each with its lag."
                    ),
                ),
            ),
        ),
        PipelineAsset(
            "price_exports",
            "build_price_exports",
            "One clean price CSV per matched ticker (<ticker>.csv in the prices folder).",
            deps=("match_report",),
            outputs=_export_paths,
            logic_version="1",
            result_settings=results_of("price_exports"),
            caches=(("exports", "2"),),
            run_inputs=("adopt_exports",),
            overdue_after_freshness_hours=True,
            checks=(
                CheckRule(
                    "exports_match_the_report",
                    lambda: (
                        "An export for every exportable matched ticker and none for anything else; "
                        "CSV files the pipeline did not write are reported as a warning and left alone."
                    ),
                ),
            ),
        ),
        PipelineAsset(
            "price_store",
            "build_price_store",
            "Every export's rows, typed, and the matched universe as Delta Lake tables "
            "(prices/ and matched/ in the price store folder), for a backtest's one-call load.",
            deps=("price_exports", "match_report"),
            outputs=_store_paths,
            logic_version="1",
            kinds=("python", "deltalake"),
            checks=(
                CheckRule(
                    "store_rows_match_exports",
                    lambda: (
                        "The prices table holds as many rows per ticker as each export has data rows, "
                        "and no ticker without an export."
                    ),
                ),
            ),
        ),
    )


def in_dependency_order(assets: tuple[PipelineAsset, ...]) -> tuple[PipelineAsset, ...]:
    """`assets` so that each comes after the assets it depends on; otherwise in declared
    order. A dependency that is neither an asset nor a source, or a cycle, is an error."""
    by_key = {asset.key: asset for asset in assets}
    if len(by_key) != len(assets):
        raise ValueError(f"two registry entries share a key: {[asset.key for asset in assets]}")
    for asset in assets:
        unknown = [dep for dep in asset.deps if dep not in by_key and dep not in SOURCE_KEYS]
        if unknown:
            raise ValueError(f"asset {asset.key} depends on {unknown}, which are neither assets nor sources")
        if not set(asset.run_inputs) <= set(RUN_INPUTS):
            raise ValueError(f"asset {asset.key} takes run inputs {list(asset.run_inputs)}; known: {list(RUN_INPUTS)}")
        if asset.reads_source is not None and asset.reads_source not in asset.deps:
            raise ValueError(f"asset {asset.key} reads source {asset.reads_source}, which is not among its deps")
    ordered: list[str] = []
    while len(ordered) < len(assets):
        ready = [
            asset.key
            for asset in assets
            if asset.key not in ordered and all(dep in ordered or dep not in by_key for dep in asset.deps)
        ]
        if not ready:
            raise ValueError(f"the dependencies of {sorted(set(by_key) - set(ordered))} form a cycle")
        ordered.append(ready[0])
    return tuple(by_key[key] for key in ordered)


ASSETS: tuple[PipelineAsset, ...] = _declared_assets()
"""Every asset, in the order the steps run (read it at call time: tests add to it)."""

ASSET_KEYS: tuple[str, ...] = tuple(asset.key for asset in in_dependency_order(ASSETS))
"""The keys of the assets this project ships, in run order."""


def registered_assets() -> tuple[PipelineAsset, ...]:
    """The registered assets, each after those it depends on."""
    return in_dependency_order(ASSETS)


def asset_keys() -> tuple[str, ...]:
    return tuple(asset.key for asset in registered_assets())


def get_asset(key: str) -> PipelineAsset:
    """The entry of asset `key`."""
    for asset in ASSETS:
        if asset.key == key:
            return asset
    raise KeyError(key)


def step_code_version(key: str, settings: Settings) -> str:
    return get_asset(key).code_version(settings)


def result_settings(key: str, settings: Settings) -> dict[str, str]:
    """The result-changing settings of a step as text, e.g. {"include_empty": "false"}."""
    return get_asset(key).setting_values(settings)


def output_paths(key: str, settings: Settings) -> list[Path]:
    return get_asset(key).outputs(settings)


def cache_version(cache: str) -> str:
    """The version of the per-instrument cache `cache`, from the step that keeps it."""
    for asset in ASSETS:
        if cache in dict(asset.caches):
            return asset.cache_version(cache)
    raise KeyError(cache)
