"""Asset checks: one per rule, with observed and expected values in metadata.

Each check is declared on its asset (`AssetCheckSpec`) and evaluated in the asset's own
step, right after the step wrote its outputs, so a run spends no step, event pair or
pool slot on it; the UI shows and runs it like any check: selected alone, the asset's
step evaluates it from the files on disk without materializing.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

import dagster as dg

from ..settings import Settings
from ..steps.asset_checks import CheckReading
from ..steps.registry import PipelineAsset
from .metadata import dagster_metadata
from .output_checks import OUTPUTS_INTACT, outputs_intact_result, outputs_intact_spec

__all__ = ["AssetChecks", "build_checks"]

_SEVERITY = {"error": dg.AssetCheckSeverity.ERROR, "warn": dg.AssetCheckSeverity.WARN}


@dataclass(frozen=True)
class AssetChecks:
    """The checks of every asset (from its registry entry, plus outputs_intact): their
    specs, and how to evaluate them."""

    assets: dict[str, PipelineAsset]
    specs: dict[str, list[dg.AssetCheckSpec]]

    def evaluate(
        self, key: str, settings: Settings, selected: Collection[str], recorded_stamp: str | None
    ) -> list[dg.AssetCheckResult]:
        """The results of `key`'s checks named in `selected`, in declaration order.

        `recorded_stamp`: the output stamp of the materialization judged (the one being
        recorded, or the latest one when the checks run alone)."""
        results = []
        reading = CheckReading(settings)
        for spec in self.specs[key]:
            if spec.name not in selected:
                continue
            if spec.name == OUTPUTS_INTACT:
                result = outputs_intact_result(key, settings, recorded_stamp)
            else:
                outcome = self.assets[key].check_rule(spec.name)(reading)
                result = dg.AssetCheckResult(
                    passed=outcome.passed,
                    severity=_SEVERITY[outcome.severity],
                    metadata=dagster_metadata(outcome.metadata),
                )
            results.append(result._replace(asset_key=dg.AssetKey(key), check_name=spec.name))
        return results


def build_checks(assets: Sequence[PipelineAsset]) -> AssetChecks:
    """Each asset's rules, in the order its entry lists them, then outputs_intact."""
    specs: dict[str, list[dg.AssetCheckSpec]] = {}
    for asset in assets:
        specs[asset.key] = [
            dg.AssetCheckSpec(rule.name, asset=asset.key, blocking=rule.blocking, description=rule.description())
            for rule in asset.checks
        ]
        specs[asset.key].append(outputs_intact_spec(asset.key))
    return AssetChecks({asset.key: asset for asset in assets}, specs)
