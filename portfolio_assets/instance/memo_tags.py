"""A step's memo as tags on its Dagster materialization events, and the run config
every asset takes.

Keeping the memo in the event log means one exists only for a materialization
that completed; nothing half-written can be trusted.
"""

from __future__ import annotations

import dagster as dg

from ..incremental.memo import StepMemo
from .dagster_internals.library import DATA_VERSION_TAG

__all__ = [
    "INPUT_FINGERPRINT_TAG",
    "OUTPUT_STAMP_TAG",
    "SETTING_TAG_PREFIX",
    "ExportStepConfig",
    "StepConfig",
    "memo_tags",
    "previous_memo",
]

INPUT_FINGERPRINT_TAG = "portfolio_assets/input_fingerprint"
OUTPUT_STAMP_TAG = "portfolio_assets/output_stamp"
SETTING_TAG_PREFIX = "portfolio_assets/setting."


class StepConfig(dg.Config):
    """Run configuration of every asset."""

    force: bool = False
    """Recompute and rewrite even when inputs, code and settings equal the last run's."""


class ExportStepConfig(StepConfig):
    """Run configuration of price_exports."""

    adopt_exports: bool = False
    """Take over the files with an export's name that the pipeline did not write but that
    start with the export header line (earlier exports, such as the old tool's), instead
    of stopping before them."""


def previous_memo(instance: dg.DagsterInstance, key: dg.AssetKey) -> StepMemo | None:
    event = instance.get_latest_materialization_event(key)
    if event is None or event.asset_materialization is None:
        return None
    tags = event.asset_materialization.tags or {}
    if not all(tag in tags for tag in (INPUT_FINGERPRINT_TAG, OUTPUT_STAMP_TAG, DATA_VERSION_TAG)):
        return None
    return StepMemo(tags[INPUT_FINGERPRINT_TAG], tags[OUTPUT_STAMP_TAG], tags[DATA_VERSION_TAG])


def memo_tags(memo: StepMemo, settings: dict[str, str]) -> dict[str, str]:
    tags = {INPUT_FINGERPRINT_TAG: memo.input_fingerprint, OUTPUT_STAMP_TAG: memo.output_stamp}
    tags.update({SETTING_TAG_PREFIX + name: value for name, value in settings.items()})
    return tags
