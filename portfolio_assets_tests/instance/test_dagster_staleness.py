"""Contract of the stale-status part of the Dagster adapter (`dagster_staleness` in
instance/dagster_internals/library.py): in every state of SPEC 6 it agrees with the stale
status the Dagster UI shows (GraphQL `assetNodes { staleStatus staleCauses }`), and adds
only what Dagster cannot know (output files missing or changed on disk), in words.

If a Dagster upgrade changes its internal resolver, this test fails before users see a
status that differs from the UI's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import InProcessWorkspaceLoadTarget
from dagster_graphql.test.utils import execute_dagster_graphql

from portfolio_assets.dagster_defs.sources import record_observations
from portfolio_assets.definitions import build_definitions
from portfolio_assets.instance.dagster_internals.library import dagster_staleness
from portfolio_assets.instance.stale_status import AssetStatus, asset_statuses
from portfolio_assets.settings import settings_from_environment
from portfolio_assets.steps.registry import ASSET_KEYS

from ..helpers import run_refresh, set_logic_version, stooq_rows, write_file

# Not a process, but about 45 s of loading workspaces and materializing: CI runs it.
pytestmark = pytest.mark.slow

QUERY = """
query {
  assetNodes {
    assetKey { path }
    staleStatus
    staleCauses { key { path } category reason }
  }
}
"""

# Causes as (category, the asset whose change it is): what both sides must name. The UI
# shows root causes, the adapter direct ones; one hop apart, a data cause's root is the
# dependency itself.
Causes = frozenset[tuple[str, str | None]]
# The `judge` fixture: the statuses after observing, checked against the UI's.
Judge = Callable[[], dict[str, AssetStatus]]


def ui_staleness(instance: dg.DagsterInstance, definitions_file: Path) -> dict[str, tuple[str, Causes]]:
    """What the UI shows for each asset, from a workspace that loads the definitions anew
    (so settings and registry changes of the test apply, as a reload would)."""
    origin = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(python_file=str(definitions_file), attribute="defs"), location_name="portfolio_assets"
    )
    with WorkspaceProcessContext(instance, InProcessWorkspaceLoadTarget(origin)) as process:
        result = execute_dagster_graphql(process.create_request_context(), QUERY)
    shown: dict[str, tuple[str, Causes]] = {}
    for node in result.data["assetNodes"]:
        key = "/".join(node["assetKey"]["path"])
        if key in ASSET_KEYS:
            causes = frozenset(
                (cause["category"].lower(), "/".join(cause["key"]["path"])) for cause in node["staleCauses"]
            )
            shown[key] = (node["staleStatus"].lower(), causes)
    return shown


@pytest.fixture
def judge(world: Path, instance: dg.DagsterInstance, tmp_path: Path) -> Iterator[Judge]:
    loads = iter(range(1_000))

    def code_location() -> Path:
        # A new file each time: a module already imported would not see a changed setting.
        path = tmp_path / f"code_location_{next(loads)}.py"
        path.write_text("from portfolio_assets.definitions import build_definitions\ndefs = build_definitions()\n")
        return path

    def judge_now() -> dict[str, AssetStatus]:
        """Observe the sources as the sensors would, then check the adapter against the UI."""
        settings = settings_from_environment()
        record_observations(instance, settings)
        defs = build_definitions()
        adapter = dagster_staleness(instance, defs.resolve_asset_graph(), ASSET_KEYS)
        ui = ui_staleness(instance, code_location())
        for key in ASSET_KEYS:
            causes = frozenset(
                (cause.category, cause.dependency if cause.category == "data" else key) for cause in adapter[key].causes
            )
            assert (adapter[key].status, causes) == ui[key], key
        return {status.key: status for status in asset_statuses(defs, instance, settings, ASSET_KEYS)}

    yield judge_now


def materialize_only(instance: dg.DagsterInstance, key: str) -> None:
    """One asset alone, to reach the states between two hops."""
    job = build_definitions().resolve_implicit_global_asset_job_def()
    assert job.execute_in_process(instance=instance, asset_selection=[dg.AssetKey(key)]).success


def statuses(judged: dict[str, AssetStatus]) -> dict[str, str]:
    return {key: status.status for key, status in judged.items()}


FRESH = dict.fromkeys(ASSET_KEYS, "fresh")


def test_first_run_nothing_changed_and_outputs_deleted(judge: Judge, world: Path, instance: dg.DagsterInstance) -> None:
    assert statuses(judge()) == dict.fromkeys(ASSET_KEYS, "missing")
    run_refresh(instance)
    assert statuses(judge()) == FRESH
    # Dagster cannot see files: the UI says fresh (checked by judge), the adapter says why not.
    (world / "data/metadata/tradeable_universe.csv").unlink()
    (world / "data/processed/tradeable_prices/kim.us.csv").write_text("edited by hand\n")
    judged = judge()
    assert judged["tradeable_universe"].status == "missing"
    assert judged["tradeable_universe"].causes == ["data/metadata/tradeable_universe.csv is missing"]
    assert judged["price_exports"].causes == ["its output files were changed on disk since they were written"]


def test_broker_lists_changed_touched_and_only_reformatted(
    judge: Judge, world: Path, instance: dg.DagsterInstance
) -> None:
    run_refresh(instance)
    lists = world / "tradeable_instruments"
    text = (lists / "broker_a.csv").read_text()
    (lists / "broker_a.csv").write_text(text)  # re-saved byte-identical
    assert statuses(judge()) == FRESH
    (lists / "broker_a.csv").write_text(text + "NSQ,US2,ZZZZ,Nothing here\n")
    judged = judge()
    assert statuses(judged) == {**FRESH, "tradeable_universe": "stale"}
    assert judged["tradeable_universe"].causes == ["broker list broker_a.csv changed"]
    materialize_only(instance, "tradeable_universe")  # one hop further
    judged = judge()
    assert statuses(judged) == {**FRESH, "match_report": "stale"}
    assert judged["match_report"].causes == ["upstream tradeable_universe has new data"]
    run_refresh(instance)
    # Blank lines and spaces only: the universe is re-read but keeps its data version.
    text = (lists / "broker_a.csv").read_text()
    (lists / "broker_a.csv").write_text(text.replace("AAPL,", " AAPL ,") + "\n\n")
    assert statuses(judge()) == {**FRESH, "tradeable_universe": "stale"}
    materialize_only(instance, "tradeable_universe")
    assert statuses(judge()) == FRESH


def test_stooq_files_added_and_updated(judge: Judge, world: Path, instance: dg.DagsterInstance) -> None:
    run_refresh(instance)
    aapl = world / "data/stooq/d_us_txt/data/daily/us/nasdaq stocks/1/aapl.us.txt"
    write_file(aapl.parent / "msft.us.txt", stooq_rows("MSFT.US", ["20240102"]))
    judged = judge()
    assert statuses(judged) == {**FRESH, "stooq_index": "stale", "match_report": "stale"}
    assert judged["stooq_index"].causes == ["Stooq files changed (added, removed or updated)"]
    run_refresh(instance)
    write_file(aapl, stooq_rows("AAPL.US", ["20240102", "20240103", "20240104", "20240105"]))
    assert statuses(judge()) == {**FRESH, "stooq_index": "stale", "match_report": "stale"}
    materialize_only(instance, "stooq_index")  # the index keeps its version
    assert statuses(judge()) == {**FRESH, "match_report": "stale"}
    materialize_only(instance, "match_report")
    # The store's matched table holds the report's rows (their diagnostics changed).
    assert statuses(judge()) == {**FRESH, "price_exports": "stale", "price_store": "stale"}


def test_settings_and_code_versions(
    judge: Judge, world: Path, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_refresh(instance)
    monkeypatch.setenv("PORTFOLIO_ASSETS_LSE_CURRENCY_POLICY", "stooq")
    judged = judge()
    assert statuses(judged) == {**FRESH, "match_report": "stale"}
    assert judged["match_report"].causes == ["setting lse_currency_policy changed from broker to stooq"]
    monkeypatch.delenv("PORTFOLIO_ASSETS_LSE_CURRENCY_POLICY")
    monkeypatch.setenv("PORTFOLIO_ASSETS_INCLUDE_EMPTY", "true")
    judged = judge()  # Dagster: a new code version; on disk: the empty export now planned is missing
    assert statuses(judged) == {**FRESH, "price_exports": "missing"}
    assert judged["price_exports"].causes == ["data/processed/tradeable_prices/exm.csv is missing"]
    monkeypatch.delenv("PORTFOLIO_ASSETS_INCLUDE_EMPTY")
    set_logic_version(monkeypatch, "stooq_index", "v2")
    judged = judge()
    assert statuses(judged) == {**FRESH, "stooq_index": "stale"}
    assert judged["stooq_index"].causes[0].startswith("code of stooq_index changed")
