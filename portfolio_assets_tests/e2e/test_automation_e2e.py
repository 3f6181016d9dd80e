"""Under `dagster dev`, with no clicks: each change below is followed by runs that
materialize exactly the stale assets, and the outputs then equal a from-scratch run.

The seconds from each change to its last materialization are written to
test-artifacts/automation_times.json (the README quotes them); the bound asserted
here is only a generous ceiling against hangs.
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import dagster as dg
import pytest

from portfolio_assets.steps.registry import ASSET_KEYS as ALL

from ..helpers import ARTIFACTS, from_scratch, output_files, running_dagster_dev, sample_world, wait_for

pytestmark = pytest.mark.slow

CEILING_SECONDS = 90
QUIET_SECONDS = 8  # after the expected materializations, nothing else may follow


def materialization_counts(home: Path) -> dict[str, int]:
    with dg.DagsterInstance.from_config(str(home)) as instance:
        return {key: len(instance.fetch_materializations(dg.AssetKey(key), limit=1000).records) for key in ALL}


def follow(home: Path, change: Callable[[], object], expected: set[str]) -> float:
    """Make `change`, wait until exactly `expected` materialized once more; the seconds it took."""
    before = materialization_counts(home)
    started = time.monotonic()
    change()

    def grown() -> set[str]:
        now = materialization_counts(home)
        return {key for key in ALL if now[key] > before[key]}

    wait_for(lambda: grown() >= expected, CEILING_SECONDS, f"automation to materialize {sorted(expected)}")
    elapsed = time.monotonic() - started
    time.sleep(QUIET_SECONDS)
    after = materialization_counts(home)
    assert {key for key in ALL if after[key] > before[key]} == expected
    assert all(after[key] - before[key] == 1 for key in expected)  # one run, no rebuild twice
    return round(elapsed, 1)


def test_every_change_is_followed_by_exactly_the_stale_assets(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path_factory.mktemp("automation")
    home = sample_world(root)
    lists = root / "tradeable_instruments" / "broker_b_etf.csv"
    original = lists.read_bytes()
    appended = original + b"GBR-LSE,IE0000000001,NOPE99:LN,MATCHES NOTHING,USD,,,,\n"
    prices = root / "data/processed/tradeable_prices"
    times: dict[str, float] = {}
    with running_dagster_dev(root, home, "dagster_dev_automation.log"):
        times["fresh instance: everything"] = follow(home, lambda: None, set(ALL))
        for name, content in (
            ("instrument appended", appended),
            ("append undone", original),
            ("same instrument appended again", appended),
        ):
            times[name] = follow(home, partial(lists.write_bytes, content), {"tradeable_universe", "match_report"})
        export = sorted(prices.glob("*.csv"))[0]  # an export, not the folder's marker
        for name in ("export deleted", "same export deleted again"):
            times[name] = follow(home, export.unlink, {"price_exports"})
            assert export.is_file()
        with open(root / "data/metadata/tradeable_matches.csv", encoding="utf-8", newline="") as handle:
            matched = next(row for row in csv.DictReader(handle) if row["data_status"] == "ok")
        stooq_file = root / "data/stooq" / matched["stooq_path"]

        def daily_update() -> None:
            with open(stooq_file, "a", encoding="utf-8") as handle:
                handle.write(f"{matched['matched_ticker']},D,20991231,000000,1,1,1,1,100,0\n")

        times["Stooq file updated"] = follow(
            home, daily_update, {"stooq_index", "match_report", "price_exports", "price_store"}
        )
    # A setting is an environment variable: changing one means starting the code location again.
    with running_dagster_dev(root, home, "dagster_dev_automation_2.log", PORTFOLIO_ASSETS_LSE_CURRENCY_POLICY="stooq"):
        times["setting changed, location restarted"] = follow(home, lambda: None, {"match_report"})
    monkeypatch.setenv("PORTFOLIO_ASSETS_LSE_CURRENCY_POLICY", "stooq")
    assert output_files(root) == from_scratch(root, tmp_path_factory)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "automation_times.json").write_text(json.dumps(times, indent=2) + "\n")
    print(json.dumps(times, indent=2))
