"""`dagster dev` as users run it: webserver and daemon on 127.0.0.1, sensors on by default.

Slow: each test module starts one real `dagster dev` process over a sample world.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import pytest

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
PROJECT = Path(__file__).resolve().parents[1]
ARTIFACTS = PROJECT / "test-artifacts"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def graphql(port: int, query: str) -> dict:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/graphql", data=json.dumps({"query": query}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["data"]


def wait_for(condition, timeout: float, what: str, interval: float = 1.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def latest_materialization(home: Path, key: str) -> int | None:
    with dg.DagsterInstance.from_config(str(home)) as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey(key))
        return None if event is None else event.timestamp


E2E_INTERVALS = {"PORTFOLIO_ASSETS_TRADEABLE_SENSOR_SECONDS": "2", "PORTFOLIO_ASSETS_STOOQ_SENSOR_SECONDS": "5",
                 "PORTFOLIO_ASSETS_OUTPUT_SENSOR_SECONDS": "2", "PORTFOLIO_ASSETS_AUTOMATION_SECONDS": "2"}


def sample_world(root: Path) -> Path:
    """A settled sample in `root` and a DAGSTER_HOME with the project's dagster.yaml; returns the home."""
    home = root / "dagster_home"
    home.mkdir()
    shutil.copy(PROJECT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    subprocess.run([str(BIN / "portfolio-assets"), "sample", str(root)], check=True, capture_output=True)
    for path in root.rglob("*"):  # the sample is settled, not being written
        if path.is_file():
            os.utime(path, (time.time() - 60, time.time() - 60))
    return home


@contextmanager
def running_dagster_dev(root: Path, home: Path, log_name: str = "dagster_dev.log",
                        **settings: str) -> Iterator[int]:
    """`dagster dev` from `root` with short sensor intervals (and `settings` as variables); yields its port."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTFOLIO_ASSETS_")}
    env.update(DAGSTER_HOME=str(home), **E2E_INTERVALS, **settings)
    port = free_port()
    log = open(root / log_name, "w")
    process = subprocess.Popen(
        [str(BIN / "dagster"), "dev", "-w", str(PROJECT / "workspace.yaml"), "-h", "127.0.0.1", "-p", str(port)],
        cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for(lambda: _answers(port), 120, "the webserver to answer GraphQL")
        yield port
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()
        ARTIFACTS.mkdir(exist_ok=True)
        shutil.copy(root / log_name, ARTIFACTS / log_name)


@pytest.fixture(scope="module")
def dagster_dev(tmp_path_factory):
    """A running `dagster dev` over a fresh sample, its sensors ticking every 2 s."""
    root = tmp_path_factory.mktemp("e2e")
    home = sample_world(root)
    with running_dagster_dev(root, home) as port:
        yield port, root, home


def _answers(port: int) -> bool:
    try:
        return bool(graphql(port, "{ version }"))
    except OSError:
        return False


def test_ui_lists_the_assets_checks_and_sensors(dagster_dev) -> None:
    port, _, _ = dagster_dev
    nodes = graphql(port, "{ assetNodes { assetKey { path } groupName isObservable "
                          "assetChecksOrError { ... on AssetChecks { checks { name } } } } }")["assetNodes"]
    keys = {"/".join(node["assetKey"]["path"]): node for node in nodes}
    assert set(keys) == {"stooq_files", "tradeable_instruments", "stooq_index", "tradeable_universe",
                         "match_report", "price_exports"}
    assert keys["stooq_files"]["isObservable"] and keys["match_report"]["groupName"] == "portfolio"
    checks = {c["name"] for node in nodes for c in (node["assetChecksOrError"] or {}).get("checks", [])}
    assert {"every_instrument_reported_once", "exports_match_the_report", "stooq_index_not_empty",
            "unmatched_share_below_threshold", "outputs_intact"} <= checks
    repositories = graphql(port, "{ repositoriesOrError { ... on RepositoryConnection { nodes { "
                                 "sensors { name sensorState { status } } } } } }")
    states = {s["name"]: s["sensorState"]["status"]
              for node in repositories["repositoriesOrError"]["nodes"] for s in node["sensors"]}
    assert states == {"tradeable_instruments_sensor": "RUNNING", "stooq_files_sensor": "RUNNING",
                      "output_files_sensor": "RUNNING", "portfolio_assets_automation": "RUNNING"}


def test_sensor_brings_everything_up_then_follows_a_broker_list(dagster_dev) -> None:
    _, root, home = dagster_dev
    keys = ("stooq_index", "tradeable_universe", "match_report", "price_exports")
    wait_for(lambda: all(latest_materialization(home, key) for key in keys), 180,
             "the sensors to materialize every asset of the fresh sample")
    time.sleep(6)  # let the chain settle: nothing further should be stale
    before = {key: latest_materialization(home, key) for key in keys}
    changed_at = time.time()
    with open(root / "tradeable_instruments" / "broker_b_etf.csv", "a", encoding="utf-8") as handle:
        handle.write("GBR-LSE,IE00B4L5Y983,SWDA:LN,ISHARES CORE MSCI WORLD,USD,,,,\n")
    wait_for(lambda: latest_materialization(home, "match_report") != before["match_report"], 60,
             "a sensor run to materialize match_report after the broker list changed")
    assert latest_materialization(home, "tradeable_universe") != before["tradeable_universe"]
    assert latest_materialization(home, "stooq_index") == before["stooq_index"]
    assert time.time() - changed_at < 60
    assert "SWDA" in (root / "data/metadata/tradeable_universe.csv").read_text()
