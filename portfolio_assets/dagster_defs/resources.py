"""The settings resource: environment variables bound through `dg.EnvVar`, with defaults."""

from __future__ import annotations

import os
from collections.abc import Mapping

import dagster as dg

from ..domain.settings import SETTING_DEFAULTS, SETTING_VARIABLES, Settings, settings_from_values

__all__ = ["PipelineSettings", "settings_resource_from_environment"]


# ConfigurableResource is generic in the value it provides (for a subclass, itself); Dagster
# documents subclassing it bare, and subscripting it at runtime would make a pydantic generic.
class PipelineSettings(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Where the inputs and outputs live and the two result-changing settings.

    Each field is bound to its PORTFOLIO_ASSETS_* variable when that is set;
    relative paths resolve against the working directory.
    """

    stooq_dir: str = SETTING_DEFAULTS["stooq_dir"]
    tradeable_dir: str = SETTING_DEFAULTS["tradeable_dir"]
    metadata_dir: str = SETTING_DEFAULTS["metadata_dir"]
    prices_dir: str = SETTING_DEFAULTS["prices_dir"]
    lse_currency_policy: str = SETTING_DEFAULTS["lse_currency_policy"]
    include_empty: str = SETTING_DEFAULTS["include_empty"]

    def resolve(self) -> Settings:
        return settings_from_values({field: getattr(self, field) for field in SETTING_VARIABLES})


def settings_resource_from_environment(environ: Mapping[str, str] | None = None) -> PipelineSettings:
    """The resource with every set variable bound through `dg.EnvVar`, others at their default."""
    environ = os.environ if environ is None else environ
    bound = {field: dg.EnvVar(variable) for field, variable in SETTING_VARIABLES.items() if environ.get(variable)}
    return PipelineSettings(**bound)
