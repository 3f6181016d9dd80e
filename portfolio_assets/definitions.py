"""The code location: sources, assets, resources and the in-process executor."""

from __future__ import annotations

import dagster as dg

from .assets import build_pipeline_assets
from .core.settings import settings_from_environment
from .resources import settings_resource_from_environment
from .sources import stooq_files, tradeable_instruments

__all__ = ["build_definitions", "defs"]


def build_definitions() -> dg.Definitions:
    """Definitions for the current environment; an invalid setting fails here, naming it."""
    settings = settings_from_environment()
    return dg.Definitions(
        assets=[stooq_files, tradeable_instruments, *build_pipeline_assets(settings)],
        resources={"settings": settings_resource_from_environment()},
        executor=dg.in_process_executor,
    )


defs = build_definitions()
