"""Issue 20, item 3: a run whose process died holding the pool's only slot (a refresh killed
with SIGKILL as price_store finishes, or one whose database stopped before it could record
its end) blocks nothing. `status` and `refresh` mark it failed and free its slot, one line
each; the fast "nothing changed" answer is not given while it is recorded as in flight; and
a plain `dagster asset materialize` (no daemon) does the same before its first step instead
of waiting for the slot for ever. (The executor's part alone: dagster/test_run_liveness.py;
a refresh whose PostgreSQL stopped as price_exports finished: cli/test_instance_faults.py.)
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import dagster as dg
import pytest

from portfolio_assets.cli.fast_path import known_fresh
from portfolio_assets.cli.main import main
from portfolio_assets.cli.refresh import fresh_checked_statuses, refresh
from portfolio_assets.dagster_defs.assets import POOL
from portfolio_assets.definitions import build_definitions
from portfolio_assets.settings import settings_from_environment

from ..helpers import BIN, environment, stored_run
from ..storage import write_instance_config

# Linux never hands out a pid above PID_MAX_LIMIT (2**22): a pid that provably has no process.
NO_SUCH_PID = 2**22 + 7


def dead_run_holding_the_pool(instance: dg.DagsterInstance) -> str:
    """What a refresh killed as price_exports finished leaves: a STARTED run whose process is
    gone, holding the pool's slot, and no event since the last check."""
    run = instance.add_run(
        dg.DagsterRun(
            job_name="__ephemeral_asset_job__",
            run_id=str(uuid.uuid4()),
            status=dg.DagsterRunStatus.STARTED,
            tags={"portfolio_assets/host": socket.gethostname(), "portfolio_assets/pid": str(NO_SUCH_PID)},
        )
    )
    assert instance.event_log_storage.claim_concurrency_slot(POOL, run.run_id, "price_exports").is_claimed
    return run.run_id


@pytest.mark.parametrize("command", ["status", "refresh"])
def test_status_and_refresh_clear_a_dead_run_in_one_line(
    world: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    home = write_instance_config(tmp_path / "home")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    assert main(["refresh"]) == 0
    assert main(["status"]) == 0  # recorded fresh: the fast path would answer next
    with dg.DagsterInstance.get() as instance:
        run_id = dead_run_holding_the_pool(instance)
        if command == "refresh":
            # What the full check of an earlier `status` does: everything is fresh, so it
            # records that for the fast path, which must still not answer for this run.
            fresh_checked_statuses(build_definitions(), instance, settings_from_environment())
    capsys.readouterr()
    assert main([command]) == 0
    said = capsys.readouterr()
    line = f"run {run_id} was left running by a process that is gone: marked failed, pool slot freed"
    if command == "status":
        assert said.err.splitlines() == [f"portfolio-assets: {line}"]  # stdout stays the statuses
        assert [row.split()[1] for row in said.out.splitlines()] == ["fresh"] * 5
    else:
        assert said.out.splitlines()[0] == line and "nothing changed since the last check" not in said.out
    with dg.DagsterInstance.get() as instance:
        assert stored_run(instance, run_id).status == dg.DagsterRunStatus.FAILURE
        assert instance.event_log_storage.get_concurrency_info(POOL).claimed_slots == []
    assert main(["refresh"]) == 0
    assert "nothing changed since the last check" in capsys.readouterr().out  # healed: the fast path answers


def test_the_fast_path_does_not_answer_while_a_run_is_recorded_in_flight(world: Path, tmp_path: Path) -> None:
    """Such a run leaves no event behind: the fast path must not say "nothing changed" while
    it is recorded as in flight, so that the full check can heal it."""
    home = write_instance_config(tmp_path / "home")
    settings = settings_from_environment()
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert refresh(build_definitions(), instance, settings, report=lambda _: None).success
        assert known_fresh(home, settings)
        run_id = dead_run_holding_the_pool(instance)
        assert not known_fresh(home, settings)
        # What an earlier `status`'s full check did: found everything fresh, recorded nothing.
        assert all(s.status == "fresh" for s in fresh_checked_statuses(build_definitions(), instance, settings))
        assert not known_fresh(home, settings)
        instance.report_run_failed(stored_run(instance, run_id), message="ended")
        assert refresh(build_definitions(), instance, settings, report=lambda _: None).success
        assert known_fresh(home, settings)


# `portfolio-assets refresh` that kills itself with SIGKILL the moment price_store's step (the last)
# succeeds (its one-line log handler sees every record at DEBUG): the run never records its
# end and keeps the pool's slot, as with a kill from outside at that moment.
KILLED_AS_PRICE_STORE_ENDS = """
import os, signal, sys
import dagster as dg
from portfolio_assets.cli.main import main
from portfolio_assets.dagster_defs import failures

emit = failures._OneLineHandler.emit

def emit_or_die(self, record):
    meta = getattr(record, "dagster_meta", None) or {}
    event = meta.get("dagster_event")
    if event is not None and event.event_type == dg.DagsterEventType.STEP_SUCCESS:
        if meta.get("step_key") == "price_store":
            os.kill(os.getpid(), signal.SIGKILL)
    emit(self, record)

failures._OneLineHandler.emit = emit_or_die
sys.exit(main(["refresh"]))
"""


def killed_as_price_store_ends(root: Path, home: Path) -> str:
    """A real refresh in `root`, killed as price_store finishes; returns its run's id."""
    env = {**environment(home), "PORTFOLIO_ASSETS_LOG_LEVEL": "DEBUG"}
    done = subprocess.run(
        [sys.executable, "-c", KILLED_AS_PRICE_STORE_ENDS], cwd=root, env=env, capture_output=True, timeout=300
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    with dg.DagsterInstance.from_config(str(home)) as instance:
        (run,) = instance.get_runs()
        assert run.status == dg.DagsterRunStatus.STARTED
        assert instance.fetch_materializations(dg.AssetKey("price_store"), limit=1).records
        assert [slot.run_id for slot in instance.event_log_storage.get_concurrency_info(POOL).claimed_slots] == [
            run.run_id
        ]
        return run.run_id


def run_status(home: Path, run_id: str) -> tuple[dg.DagsterRunStatus, list[str]]:
    """The run's status and the runs holding the pool's slots."""
    with dg.DagsterInstance.from_config(str(home)) as instance:
        slots = instance.event_log_storage.get_concurrency_info(POOL).claimed_slots
        return stored_run(instance, run_id).status, [slot.run_id for slot in slots]


@pytest.mark.slow
@pytest.mark.parametrize("then", ["status", "dagster asset materialize"])
def test_a_refresh_killed_as_price_store_ends_holds_the_pool_for_no_one(world: Path, tmp_path: Path, then: str) -> None:
    home = write_instance_config(tmp_path / "home")
    run_id = killed_as_price_store_ends(world, home)
    line = f"run {run_id} was left running by a process that is gone: marked failed, pool slot freed"
    if then == "dagster asset materialize":
        command = [str(BIN / "dagster"), "asset", "materialize", "--select", "*", "-m", "portfolio_assets"]
    else:
        command = [str(BIN / "portfolio-assets"), then]
    # Before, the materialize waited for the slot for ever: the timeout is the bound.
    done = subprocess.run(command, cwd=world, env=environment(home), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    if then == "status":
        assert done.stderr.splitlines() == [f"portfolio-assets: {line}"]
        assert [row.split()[1] for row in done.stdout.splitlines()] == ["fresh"] * 5
    else:
        assert line in done.stderr
    assert run_status(home, run_id) == (dg.DagsterRunStatus.FAILURE, [])
    if then == "status":
        # Healed: the fast "nothing changed" answer holds again.
        again = subprocess.run(
            [str(BIN / "portfolio-assets"), "refresh"], cwd=world, env=environment(home), capture_output=True, text=True
        )
        assert again.stdout.strip() == "nothing is stale: no run launched (nothing changed since the last check)"
