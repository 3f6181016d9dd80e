"""A team's shared instance: two hosts (two DAGSTER_HOME folders, one PostgreSQL database,
the same data paths) refreshing at once, a refresh killed on one host while the other
waits, and the fast path's doubt when another host writes an event.

Another host is a process in a UTS namespace of its own (`unshare --uts`), so that its
host name differs and this host cannot judge its process from the process table: only
its heartbeat tells. Runs only on PostgreSQL (PORTFOLIO_ASSETS_TEST_STORAGE=postgres, as
.ci/run sets it).
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import dagster as dg
import pytest

from portfolio_assets.cli.fast_path import known_fresh
from portfolio_assets.dagster_defs.assets import POOL
from portfolio_assets.instance.runs import HEARTBEAT_STALE_SECONDS, HEARTBEAT_TAG, IN_FLIGHT
from portfolio_assets.settings import settings_from_values

from ..helpers import BIN, environment, from_scratch, output_files, sample_world, wait_for
from ..storage import POSTGRES, write_instance_config

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not POSTGRES, reason="a shared instance needs PORTFOLIO_ASSETS_TEST_STORAGE=postgres"),
]


def refresh_on(host: str | None, root: Path, home: Path) -> subprocess.Popen[str]:
    """`portfolio-assets refresh` on `host` (a UTS namespace of that name), or on this host."""
    command = [str(BIN / "portfolio-assets"), "refresh"]
    if host is not None:
        command = ["unshare", "--uts", "sh", "-c", f'hostname {host} && exec "$@"', "sh", *command]
    return subprocess.Popen(
        command, cwd=root, env=environment(home), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


@pytest.fixture
def two_hosts(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A sample world with no outputs yet, and two homes on one (empty) database."""
    root = tmp_path_factory.mktemp("shared")
    home_a = sample_world(root)
    for folder in ("data/metadata", "data/processed"):
        subprocess.run(["rm", "-rf", str(root / folder)], check=True)
    home_b = write_instance_config(root / "home_b", empty=False)
    return root, home_a, home_b


def test_two_hosts_refreshing_at_once_run_one_after_the_other(
    two_hosts: tuple[Path, Path, Path], tmp_path_factory: pytest.TempPathFactory
) -> None:
    root, home_a, home_b = two_hosts
    processes = [refresh_on("host-a", root, home_a), refresh_on("host-b", root, home_b)]
    said = [process.communicate(timeout=600)[0] for process in processes]
    assert [process.returncode for process in processes] == [0, 0], said
    assert sum("waited" in text for text in said) == 1, said
    assert output_files(root) == from_scratch(root, tmp_path_factory)


def test_a_refresh_killed_on_one_host_delays_the_other_by_at_most_the_bound(
    two_hosts: tuple[Path, Path, Path], tmp_path_factory: pytest.TempPathFactory
) -> None:
    root, home_a, home_b = two_hosts
    killed = refresh_on("host-a", root, home_a)
    with dg.DagsterInstance.from_config(str(home_b)) as instance:

        def beating_run_in_a_step() -> bool:
            runs = instance.get_runs(filters=dg.RunsFilter(statuses=IN_FLIGHT))
            beating = {run.run_id for run in runs if HEARTBEAT_TAG in run.tags}
            holders = {slot.run_id for slot in instance.event_log_storage.get_concurrency_info(POOL).claimed_slots}
            return bool(beating & holders)

        wait_for(beating_run_in_a_step, 120, "host-a's run to hold the pool and beat", interval=0.05)
        killed.send_signal(signal.SIGKILL)
        killed.communicate()
        started = time.monotonic()
        survivor = refresh_on("host-b", root, home_b)
        said = survivor.communicate(timeout=600)[0]
        delay = time.monotonic() - started
        assert survivor.returncode == 0, said
        assert "waiting for run" in said and "stopped beating" in said, said
        failed = instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.FAILURE]))
        assert len(failed) == 1 and failed[0].tags["portfolio_assets/host"] == "host-a"
    # The bound: a stale heartbeat, one poll, and host-b's own refresh.
    assert delay < HEARTBEAT_STALE_SECONDS + 60, delay
    assert output_files(root) == from_scratch(root, tmp_path_factory)


def test_the_fast_path_doubts_when_another_host_writes_an_event(
    two_hosts: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, home_a, home_b = two_hosts
    done = refresh_on(None, root, home_a)
    said = done.communicate(timeout=600)[0]
    assert done.returncode == 0, said
    monkeypatch.chdir(root)
    settings = settings_from_values({})
    status = subprocess.run(
        [str(BIN / "portfolio-assets"), "status"], cwd=root, env=environment(home_a), capture_output=True, text=True
    )
    assert status.returncode == 0, status.stderr
    started = time.perf_counter()
    assert known_fresh(home_a, settings)
    assert time.perf_counter() - started < 1.0
    with dg.DagsterInstance.from_config(str(home_b)) as other_host:
        other_host.report_runless_asset_event(dg.AssetObservation(asset_key="tradeable_instruments"))
    assert not known_fresh(home_a, settings)
