"""The settings resource follows the settings table, and a run uses the settings its code
location was loaded with: the flags of `portfolio-assets` as much as the variables."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from portfolio_assets.dagster_defs.resources import PipelineSettings, settings_resource
from portfolio_assets.definitions import build_definitions
from portfolio_assets.settings import PIPELINE_SETTINGS, settings_from_environment

from ..helpers import materializable


def test_the_resource_fields_are_the_tables_pipeline_rows() -> None:
    fields = PipelineSettings.model_fields
    assert list(fields) == [row.name for row in PIPELINE_SETTINGS]
    for row in PIPELINE_SETTINGS:
        assert fields[row.name].default == row.default
        assert fields[row.name].description == f"{row.description} ({row.variable})"


def test_a_field_is_bound_to_its_variable_or_holds_its_flags_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTFOLIO_ASSETS_STOOQ_DIR", "stooq")
    monkeypatch.setenv("PORTFOLIO_ASSETS_LSE_CURRENCY_POLICY", "stooq")
    monkeypatch.delenv("PORTFOLIO_ASSETS_INCLUDE_EMPTY", raising=False)
    settings = settings_from_environment(flags={"lse_currency_policy": "strict", "include_empty": "true"})
    resource = settings_resource(settings)
    # The variable gives stooq_dir: bound to it (the UI names the variable).
    assert isinstance(resource.stooq_dir, dg.EnvVar) and resource.stooq_dir.env_var_name == "PORTFOLIO_ASSETS_STOOQ_DIR"
    # The flags give these, whatever the variables say.
    assert (resource.lse_currency_policy, resource.include_empty) == ("strict", "true")
    assert resource.prices_dir == "data/processed/tradeable_prices"  # the default
    assert resource.process_config_and_initialize().resolve() == settings


def test_a_run_uses_the_flags_its_definitions_were_built_with_and_refuses_others(
    world: Path, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    flagged = settings_from_environment(flags={"metadata_dir": "flagged"})
    defs = build_definitions(flagged)
    selection = ["stooq_files", "stooq_index"]
    dg.materialize(materializable(defs), resources=defs.resources, instance=instance, selection=selection)
    assert (world / "flagged/stooq_index.csv").is_file()
    assert not (world / "data/metadata").exists()
    overridden = dg.materialize(
        materializable(defs),
        resources=defs.resources,
        instance=instance,
        selection=selection,
        run_config={"resources": {"settings": {"config": {"metadata_dir": "data/metadata"}}}},
        raise_on_error=False,
    )
    assert not overridden.success
    errors = [event.step_failure_data.error for event in overridden.all_events if event.is_step_failure]
    message = " ".join(error.message for error in errors if error is not None)
    assert "differ from those the code location was loaded with" in message
    assert "metadata_dir" in message
    assert not (world / "data/metadata").exists()
