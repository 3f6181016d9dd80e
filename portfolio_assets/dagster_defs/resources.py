"""The settings resource: the pipeline's settings (the settings table's `pipeline` rows) as
Dagster shows them and hands them to assets and sensors.

Its fields are those rows, with the table's defaults and descriptions (a test checks them
against the table). A field is bound to its PORTFOLIO_ASSETS_* variable through `dg.EnvVar`
when the definitions were built with that variable's value, holds the value itself when a
flag of `portfolio-assets` gave it, and stays at its default otherwise.

Configuring it in the launchpad changes nothing a run may use: the steps' code versions,
the sensors and `refresh`'s check of a running location all work with the settings the
code location was loaded with, so a run configured with other values
fails before its step runs, naming them (`dagster_defs/assets.py`). To change a setting,
change its variable and reload the code location.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import dagster as dg
from pydantic import Field

from ..settings import (
    INCLUDE_EMPTY,
    LSE_CURRENCY_POLICY,
    METADATA_DIR,
    PIPELINE_SETTINGS,
    PRICE_STORE_DIR,
    PRICES_DIR,
    STOOQ_DIR,
    TRADEABLE_DIR,
    Setting,
    Settings,
    settings_from_values,
    value_text,
)

__all__ = ["PipelineSettings", "settings_resource"]


def _field(row: Setting[Any]) -> Any:
    """A resource field for `row`: its default and description, as the launchpad shows them."""
    return Field(default=row.default, description=f"{row.description} ({row.variable})")


# ConfigurableResource is generic in the value it provides (for a subclass, itself); Dagster
# documents subclassing it bare, and subscripting it at runtime would make a pydantic generic.
class PipelineSettings(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Where the inputs and outputs live and the settings that change results, as text
    (`resolve` validates them). Relative paths resolve against the working directory."""

    stooq_dir: str = _field(STOOQ_DIR)
    tradeable_dir: str = _field(TRADEABLE_DIR)
    metadata_dir: str = _field(METADATA_DIR)
    prices_dir: str = _field(PRICES_DIR)
    price_store_dir: str = _field(PRICE_STORE_DIR)
    lse_currency_policy: str = _field(LSE_CURRENCY_POLICY)
    include_empty: str = _field(INCLUDE_EMPTY)

    def resolve(self) -> Settings:
        return settings_from_values({row.name: getattr(self, row.name) for row in PIPELINE_SETTINGS})


def settings_resource(settings: Settings, environ: Mapping[str, str] | None = None) -> PipelineSettings:
    """The resource for the definitions of `settings`: each field bound to its variable (in `environ`, by default the process's) when
    that gives its value, else holding the value when it is not the default."""
    environ = os.environ if environ is None else environ
    fields: dict[str, Any] = {}
    for row in PIPELINE_SETTINGS:
        value = getattr(settings, row.name)
        if environ.get(row.variable) and row.parse(environ[row.variable]) == value:
            fields[row.name] = dg.EnvVar(row.variable)
        elif value != row.parse(None):
            fields[row.name] = value_text(value)
    return PipelineSettings(**fields)
