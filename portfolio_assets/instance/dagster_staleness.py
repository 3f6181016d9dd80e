"""Dagster's own stale status, read through its resolver: the one place that reaches into it.

Dagster 1.13 has no public Python API for stale status; the UI and `stale_assets_only`
run requests use `CachingStaleStatusResolver`, which is internal. This module wraps it in
plain data so the rest of the project never imports it. It is pinned by the exact
`dagster==` pin in pyproject.toml and held to its contract by
`portfolio_assets_tests/instance/test_dagster_staleness.py`, which compares it with the
stale status the UI shows (GraphQL) in every state of SPEC 6.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import dagster as dg
from dagster._core.asset_graph_view.asset_graph_view import AssetGraphView
from dagster._core.definitions.assets.graph.asset_graph import AssetGraph
from dagster._core.definitions.assets.graph.base_asset_graph import BaseAssetGraph
from dagster._core.definitions.data_version import CachingStaleStatusResolver
from dagster._core.definitions.temporal_context import TemporalContext
from dagster._time import get_current_datetime

__all__ = ["AnyAssetGraph", "DagsterCause", "DagsterStaleness", "asset_graph_of", "dagster_staleness"]

# A Definitions' graph, or a repository's as a run or a sensor has it.
AnyAssetGraph = BaseAssetGraph[Any]


@dataclass(frozen=True)
class DagsterCause:
    """One reason Dagster gives for an asset being stale."""

    category: str  # "code", "data" or "dependencies"
    dependency: str | None  # the upstream asset the cause is about, if any
    reason: str  # Dagster's own words, as the UI shows them


@dataclass(frozen=True)
class DagsterStaleness:
    status: str  # "fresh", "stale" or "missing"
    causes: tuple[DagsterCause, ...]


def asset_graph_of(assets: Sequence[dg.AssetsDefinition | dg.SourceAsset]) -> AnyAssetGraph:
    """The asset graph of `assets` alone, as a run needs it: its own job graph knows the
    observable sources only as stubs, whose data version reads as Dagster's default."""
    return AssetGraph.from_assets(assets)


def dagster_staleness(
    instance: dg.DagsterInstance, asset_graph: AnyAssetGraph, keys: Iterable[str]
) -> dict[str, DagsterStaleness]:
    """What Dagster says of each asset of `keys`: its status and its direct causes (one hop)."""
    view = AssetGraphView(
        temporal_context=TemporalContext(effective_dt=get_current_datetime(), last_event_id=None),
        instance=instance,
        asset_graph=asset_graph,
    )
    resolver = CachingStaleStatusResolver(instance=instance, asset_graph=asset_graph, loading_context=view)
    result = {}
    for key in keys:
        asset_key = dg.AssetKey(key)
        causes = tuple(
            DagsterCause(
                category=cause.category.value.lower(),
                dependency=cause.dependency.asset_key.to_user_string() if cause.dependency else None,
                reason=cause.reason,
            )
            for cause in resolver.get_stale_causes(asset_key)
        )
        result[key] = DagsterStaleness(resolver.get_status(asset_key).value.lower(), causes)
    return result
