"""The registry of steps: every step resolves to its function, and the code and cache
versions are exactly those recorded by earlier materializations (a changed string would
make every asset look stale)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from portfolio_assets.settings import SETTING_DEFAULTS, settings_from_values
from portfolio_assets.steps import registry
from portfolio_assets.steps.common import StepResult
from portfolio_assets.steps.registry import (
    ASSET_KEYS,
    ASSETS,
    cache_version,
    get_asset,
    output_paths,
    step_code_version,
)

from ..helpers import build_all, set_logic_version


def test_every_step_names_a_function_of_its_own_module() -> None:
    assert tuple(step.key for step in ASSETS) == ASSET_KEYS
    assert len(set(ASSET_KEYS)) == len(ASSET_KEYS)
    for step in ASSETS:
        assert callable(step.build) and step.build.__module__ == f"portfolio_assets.steps.{step.key}"
        assert step.build.__name__ == step.function


@pytest.mark.parametrize(
    ("policy", "include_empty", "match_report", "price_exports"),
    [
        ("broker", "false", "v1-00cbb85e4cc7", "v1-6cd6189ce2ac"),
        ("broker", "true", "v1-00cbb85e4cc7", "v1-854b6c960439"),
        ("stooq", "false", "v1-4fcac89bd035", "v1-6cd6189ce2ac"),
        ("strict", "true", "v1-44b54e973f7e", "v1-854b6c960439"),
    ],
)
def test_code_versions_are_the_recorded_ones(
    policy: str, include_empty: str, match_report: str, price_exports: str
) -> None:
    settings = settings_from_values({**SETTING_DEFAULTS, "lse_currency_policy": policy, "include_empty": include_empty})
    assert {key: step_code_version(key, settings) for key in ASSET_KEYS} == {
        "stooq_index": "v2",
        "tradeable_universe": "v1",
        "match_report": match_report,
        "price_exports": price_exports,
        "price_store": "v1",  # include_empty changes its inputs (the exports), not its result
    }


def test_cache_versions_carry_their_steps_logic_version(monkeypatch: pytest.MonkeyPatch) -> None:
    assert {cache: cache_version(cache) for cache in ("matching", "diagnostics", "exports")} == {
        "matching": "1.1",
        "diagnostics": "2.1",
        "exports": "2.1",
    }
    set_logic_version(monkeypatch, "match_report", "2")
    assert (cache_version("matching"), cache_version("exports")) == ("1.2", "2.1")
    assert step_code_version("match_report", settings_from_values(SETTING_DEFAULTS)).startswith("v2-")
    with pytest.raises(KeyError):
        get_asset("no_such_asset")


def test_output_paths_are_the_files_each_step_wrote(world: Path) -> None:
    settings = settings_from_values({})
    assert output_paths("price_exports", settings) == []  # no report yet: nothing planned
    results = build_all(settings)
    assert all(isinstance(result, StepResult) and not result.reused for result in results.values())
    written = {path for folder in (settings.metadata_dir, settings.prices_dir) for path in folder.rglob("*.csv")}
    assert {path for key in ASSET_KEYS if key != "price_store" for path in output_paths(key, settings)} == written
    # The store's outputs are the commit files of the table versions it wrote.
    store = output_paths("price_store", settings)
    assert [path.parent.parent.name for path in store] == ["prices", "matched"] and all(p.is_file() for p in store)
    assert output_paths("match_report", settings) == [settings.match_report_path, settings.unmatched_report_path]
    assert registry.get_asset("price_exports").result_settings == ("include_empty",)


def test_the_run_order_follows_the_dependencies_whatever_the_declared_order() -> None:
    ordered = [asset.key for asset in registry.in_dependency_order(tuple(reversed(ASSETS)))]
    assert ordered == ["tradeable_universe", "stooq_index", "match_report", "price_exports", "price_store"]
    orphan = replace(ASSETS[-1], key="orphan", deps=("no_such_input",))
    with pytest.raises(ValueError, match="orphan depends on \\['no_such_input'\\]"):
        registry.in_dependency_order((*ASSETS, orphan))
    typo = replace(ASSETS[-1], run_inputs=("adopt_export",))
    with pytest.raises(ValueError, match="takes run inputs \\['adopt_export'\\]"):
        registry.in_dependency_order((*ASSETS[:-1], typo))
    unread = replace(ASSETS[0], reads_source="tradeable_instruments")
    with pytest.raises(ValueError, match="reads source tradeable_instruments, which is not among its deps"):
        registry.in_dependency_order((unread, *ASSETS[1:]))
    loop = (replace(ASSETS[0], deps=("stooq_files", "price_exports")), *ASSETS[1:])
    with pytest.raises(ValueError, match="form a cycle"):
        registry.in_dependency_order(loop)
