"""The one registry of steps: for each asset, its key, step function, output files, logic
version, the settings that change its result, and the per-instrument caches it keeps.

Adding an asset means a `Step` here, its step module (`steps/<key>.py`) and its asset
in `dagster_defs/assets.py`; everything else (the outputs_intact checks, the automation
sensor, status, refresh, the fast path, the tests) takes the keys from `ASSET_KEYS`.

A step's code version is its logic number plus, hashed, the result settings it
depends on, so that changing such a setting makes exactly the affected steps stale
(SPEC 6): "v1", or "v1-" and 12 hex digits. A cache's version is its own number
plus its step's logic number: bumping either empties it.

Step functions are imported when first asked for, by their module (named after the
key) and name: the step modules look up their versions here, and the CLI's fast
path reads this registry without importing the price reader (pyarrow).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..domain.csv_files import file_identity
from ..domain.exports import plan_exports
from ..domain.reports import read_match_report
from ..domain.settings import Settings
from ..incremental.fingerprints import text_fingerprint
from .common import StepResult

__all__ = [
    "ASSET_KEYS",
    "STEPS",
    "Step",
    "cache_version",
    "get_step",
    "output_paths",
    "result_settings",
    "step_code_version",
]


@dataclass(frozen=True)
class Step:
    key: str
    """The asset key; the step function lives in `steps/<key>.py`."""
    function: str
    """The step function's name there: `function(settings, previous=None, force=False)`."""
    outputs: Callable[[Settings], list[Path]]
    """The files the step's last run should have left on disk."""
    logic_version: str
    """Bump it when the step's output for the same inputs changes."""
    result_settings: tuple[str, ...] = ()
    """Settings whose value changes the step's output (paths do not: they change its inputs)."""
    caches: tuple[tuple[str, str], ...] = ()
    """(name, version) of each per-instrument cache the step keeps: bump a version when what
    that cache stores would change."""

    @property
    def build(self) -> Callable[..., StepResult]:
        """The step function."""
        function: Callable[..., StepResult] = getattr(
            importlib.import_module(f"{__package__}.{self.key}"), self.function
        )
        return function

    def setting_values(self, settings: Settings) -> dict[str, str]:
        """The result settings as text, e.g. {"include_empty": "false"}."""
        values = {}
        for name in self.result_settings:
            value = getattr(settings, name)
            values[name] = str(value).lower() if isinstance(value, bool) else str(value)
        return values

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


# In dependency order: every step comes after the steps it reads from.
STEPS: tuple[Step, ...] = (
    Step("stooq_index", "build_stooq_index", _index_paths, logic_version="1"),
    Step("tradeable_universe", "build_universe", _universe_paths, logic_version="1", caches=(("universe_parts", "1"),)),
    Step(
        "match_report",
        "build_match_reports",
        _report_paths,
        logic_version="1",
        result_settings=("lse_currency_policy",),
        caches=(("matching", "1"), ("diagnostics", "2"), ("report_parts", "1")),
    ),
    Step(
        "price_exports",
        "build_price_exports",
        _export_paths,
        logic_version="1",
        result_settings=("include_empty",),
        caches=(("exports", "2"),),
    ),
)

ASSET_KEYS: tuple[str, ...] = tuple(step.key for step in STEPS)


def get_step(key: str) -> Step:
    """The step of asset `key` (looked up in `STEPS` on each call)."""
    for step in STEPS:
        if step.key == key:
            return step
    raise KeyError(key)


def step_code_version(key: str, settings: Settings) -> str:
    return get_step(key).code_version(settings)


def result_settings(key: str, settings: Settings) -> dict[str, str]:
    """The result-changing settings of a step as text, e.g. {"include_empty": "false"}."""
    return get_step(key).setting_values(settings)


def output_paths(key: str, settings: Settings) -> list[Path]:
    return get_step(key).outputs(settings)


def cache_version(cache: str) -> str:
    """The version of the per-instrument cache `cache`, from the step that keeps it."""
    for step in STEPS:
        if cache in dict(step.caches):
            return step.cache_version(cache)
    raise KeyError(cache)
