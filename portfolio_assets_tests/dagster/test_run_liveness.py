"""Dead runs are recognised (failing closed) and freed; pool workers die with their owner."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import dagster as dg
import psutil
import pytest

# Test-only internals: engine event data as Dagster records it, and the origin a queued run needs.
from dagster._core.events import EngineEventData
from dagster._core.remote_origin import GrpcServerCodeLocationOrigin, RemoteJobOrigin, RemoteRepositoryOrigin

from portfolio_assets.dagster_defs.executor import in_process_executor_freeing_dead_runs
from portfolio_assets.instance.dagster_internals.library import GRPC_INFO_TAG, WorkerStatus
from portfolio_assets.instance.run_launcher import LivenessCheckingRunLauncher
from portfolio_assets.instance.runs import (
    clear_dead_runs,
    in_flight_assets,
    is_dead,
    process_tags,
    run_liveness,
    run_process,
)
from portfolio_assets.io.parallel import process_state
from portfolio_assets.steps.registry import ASSET_KEYS

from ..helpers import BIN, PROJECT, free_port, graphql, stored_run, wait_for
from ..storage import write_instance_config

POOL = "portfolio_assets"
# Linux never hands out a pid above PID_MAX_LIMIT (2**22): a pid that provably has no process.
NO_SUCH_PID = 2**22 + 7
HERE = socket.gethostname()


def own_start() -> float:
    return psutil.Process().create_time()


def tags_for(pid: int, started: float | None, host: str = HERE) -> dict[str, str]:
    tags = {"portfolio_assets/host": host, "portfolio_assets/pid": str(pid)}
    if started is not None:
        tags["portfolio_assets/pid_started"] = f"{started:.3f}"
    return tags


def add_run(
    instance: dg.DagsterInstance,
    tags: dict[str, str] | None = None,
    status: dg.DagsterRunStatus = dg.DagsterRunStatus.STARTED,
    parent: dg.DagsterRun | None = None,
    assets: tuple[str, ...] = ("match_report",),
) -> dg.DagsterRun:
    """A run as the records show it, with no process behind it unless its tags or events name one."""
    run_id = str(uuid.uuid4())
    all_tags = dict(tags or {})
    if parent is not None:
        all_tags.update({"dagster/parent_run_id": parent.run_id, "dagster/root_run_id": parent.run_id})
    return instance.add_run(
        dg.DagsterRun(
            job_name="__ASSET_JOB",
            run_id=run_id,
            status=status,
            tags=all_tags,
            asset_selection=frozenset(dg.AssetKey(key) for key in assets),
            parent_run_id=None if parent is None else parent.run_id,
            root_run_id=None if parent is None else parent.run_id,
            # Dagster keeps only runs of a code location in its queue.
            remote_job_origin=RemoteJobOrigin(
                RemoteRepositoryOrigin(
                    GrpcServerCodeLocationOrigin(host="localhost", port=4266, location_name="portfolio_assets"),
                    "__repository__",
                ),
                "__ASSET_JOB",
            ),
        )
    )


def report_worker_started(instance: dg.DagsterInstance, run: dg.DagsterRun, pid: int) -> None:
    """What Dagster's code server records when its run worker process starts."""
    instance.report_engine_event(f"Started process for run (pid: {pid}).", run, EngineEventData.in_process(pid))


# --- a process's state -------------------------------------------------------------------


def test_a_live_process_recorded_with_its_start_time_is_alive(instance: dg.DagsterInstance) -> None:
    tags = process_tags()
    assert tags["portfolio_assets/pid"] == str(os.getpid())
    assert abs(float(tags["portfolio_assets/pid_started"]) - own_start()) < 0.01
    run = add_run(instance, tags)
    assert not is_dead(run, instance)
    assert "is running" in run_liveness(run, instance).reason


def test_a_pid_with_no_process_is_dead(instance: dg.DagsterInstance) -> None:
    assert process_state(NO_SUCH_PID, None) == "dead"
    run = add_run(instance, tags_for(NO_SUCH_PID, own_start()))
    liveness = run_liveness(run, instance)
    assert liveness.dead and liveness.pid == NO_SUCH_PID and str(NO_SUCH_PID) in liveness.reason


def test_a_reused_pid_is_dead_and_the_same_start_time_is_alive(instance: dg.DagsterInstance) -> None:
    # Our own pid recorded with another start time: the process that had it is gone.
    assert is_dead(add_run(instance, tags_for(os.getpid(), own_start() - 3600)), instance)
    assert process_state(os.getpid(), own_start() + 5) == "dead"
    # Recorded to the millisecond: still the same process.
    assert not is_dead(add_run(instance, tags_for(os.getpid(), round(own_start(), 3))), instance)
    assert process_state(os.getpid(), own_start()) == "alive"


def test_a_run_killed_before_it_tagged_itself_is_dead_by_its_worker_event(instance: dg.DagsterInstance) -> None:
    dead = add_run(instance)
    report_worker_started(instance, dead, NO_SUCH_PID)
    assert is_dead(dead, instance)
    assert "engine event" in run_liveness(dead, instance).reason
    live = add_run(instance)
    report_worker_started(instance, live, os.getpid())
    assert not is_dead(live, instance)
    assert in_flight_assets(instance) == {"match_report"}
    # A run executed in a CLI process has no worker event, but its executor names its process.
    in_cli = add_run(instance)
    instance.report_engine_event(
        f"Executing steps in process (pid: {NO_SUCH_PID})",
        in_cli,
        EngineEventData.in_process(NO_SUCH_PID, ["match_report"]),
    )
    assert is_dead(in_cli, instance)


def test_what_cannot_be_checked_counts_as_alive(instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch) -> None:
    # No process recorded at all.
    assert not is_dead(add_run(instance), instance)
    # Another host's process.
    assert not is_dead(add_run(instance, tags_for(NO_SUCH_PID, None, host="elsewhere")), instance)
    # A worker event while the run's host tag names another host, or its code server is remote.
    elsewhere = add_run(instance, {"portfolio_assets/host": "elsewhere"})
    report_worker_started(instance, elsewhere, NO_SUCH_PID)
    remote = add_run(instance, {GRPC_INFO_TAG: '{"host": "code-server.internal", "port": 4000}'})
    report_worker_started(instance, remote, NO_SUCH_PID)
    assert not is_dead(elsewhere, instance) and not is_dead(remote, instance)
    # A retry still carrying the tags its parent's (dead) process wrote.
    parent = add_run(instance, tags_for(NO_SUCH_PID, own_start()), status=dg.DagsterRunStatus.FAILURE)
    assert not is_dead(add_run(instance, dict(parent.tags), parent=parent), instance)
    # A queued run has no process of its own yet.
    assert not is_dead(add_run(instance, tags_for(NO_SUCH_PID, None), status=dg.DagsterRunStatus.QUEUED), instance)
    dead = add_run(instance, tags_for(NO_SUCH_PID, None))
    assert is_dead(dead, instance)
    # Access denied, or no process table (psutil then reports every process as absent).
    real_status = psutil.Process.status

    def denied(self: psutil.Process) -> str:
        if self.pid != os.getpid():
            raise psutil.AccessDenied(self.pid)
        return real_status(self)

    with monkeypatch.context() as patch:
        patch.setattr(psutil.Process, "status", denied)
        assert process_state(1) == "unknown"

    def no_proc(pid: int | None = None) -> psutil.Process:
        raise psutil.NoSuchProcess(pid or 0)

    monkeypatch.setattr(psutil, "Process", no_proc)
    assert process_state(NO_SUCH_PID) == "unknown"
    assert not is_dead(dead, instance)


# --- the run launcher and the instance ---------------------------------------------------


def test_the_launcher_reports_dead_run_workers_failed_and_the_rest_running(instance: dg.DagsterInstance) -> None:
    launcher = LivenessCheckingRunLauncher()
    launcher.register_instance(instance)
    assert launcher.supports_check_run_worker_health
    dead = add_run(instance)
    report_worker_started(instance, dead, NO_SUCH_PID)
    health = launcher.check_run_worker_health(dead)
    assert health.status == WorkerStatus.FAILED and str(NO_SUCH_PID) in (health.msg or "")
    live = add_run(instance, process_tags())
    assert launcher.check_run_worker_health(live).status == WorkerStatus.RUNNING
    unknown = add_run(instance)
    assert launcher.check_run_worker_health(unknown).status == WorkerStatus.RUNNING


def test_the_project_instance_uses_the_launcher_and_monitors_runs(tmp_path: Path) -> None:
    write_instance_config(tmp_path)
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        launcher = instance.run_launcher
        assert isinstance(launcher, LivenessCheckingRunLauncher)
        assert launcher.supports_check_run_worker_health
        assert launcher.inst_data is not None and launcher.inst_data.class_name == "LivenessCheckingRunLauncher"
        assert instance.run_monitoring_enabled
        settings = instance.run_monitoring_settings
        assert settings["max_resume_run_attempts"] == 0
        assert 0 < settings["free_slots_after_run_end_seconds"] <= 15
        assert 0 < instance.run_monitoring_poll_interval_seconds <= 15
        # Worst case for a run that died while starting: timed out, then seen on the next poll.
        assert instance.run_monitoring_start_timeout_seconds + instance.run_monitoring_poll_interval_seconds <= 120
        assert instance.global_op_concurrency_default_limit == 1


def test_refresh_clears_a_run_killed_before_it_tagged_itself_and_frees_its_slot(instance: dg.DagsterInstance) -> None:
    storage = instance.event_log_storage
    storage.set_concurrency_slots(POOL, 1)
    dead = add_run(instance)
    report_worker_started(instance, dead, NO_SUCH_PID)
    storage.claim_concurrency_slot(POOL, dead.run_id, "match_report")
    live = add_run(instance, process_tags())
    assert in_flight_assets(instance) == {"match_report"}  # only the live run's
    assert clear_dead_runs(instance) == [dead.run_id]
    assert stored_run(instance, dead.run_id).status == dg.DagsterRunStatus.FAILURE
    assert stored_run(instance, live.run_id).status == dg.DagsterRunStatus.STARTED
    assert storage.get_concurrency_info(POOL).claimed_slots == []


# --- the code location's executor ---------------------------------------------------------


@dg.asset(pool=POOL)
def pooled_step() -> None:
    """A step in the project's pool, as every asset of the code location is."""


def pooled_job() -> dg.JobDefinition:
    """A job on the code location's executor (module level, so Dagster can reconstruct it)."""
    job = dg.define_asset_job("pooled", executor_def=in_process_executor_freeing_dead_runs)
    return dg.Definitions(assets=[pooled_step], jobs=[job]).resolve_job_def("pooled")


def execute(instance: dg.DagsterInstance) -> dg.ExecuteJobResult:
    """Execute `pooled_job` as `dagster asset materialize` does: in this process and thread,
    with the job's executor. A run that waits for ever for a slot is failed by the test's
    timeout, with the stack of where it waits. (Run in a thread instead, Dagster's capture of
    the step's output swaps this process's stdout and stderr under pytest's feet.)"""
    with dg.execute_job(dg.reconstructable(pooled_job), instance=instance) as result:
        return result


def warnings_of(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    return [entry.user_message for entry in instance.all_logs(run_id) if entry.level == logging.WARNING]


def test_the_executor_reads_as_dagsters_in_process_one() -> None:
    assert in_process_executor_freeing_dead_runs.name == dg.in_process_executor.name == "in_process"
    ours, dagsters = in_process_executor_freeing_dead_runs.config_schema, dg.in_process_executor.config_schema
    assert ours.config_type is not None and dagsters.config_type is not None
    assert ours.config_type.key == dagsters.config_type.key  # a launchpad's `execution:` config still fits


@pytest.mark.timeout(90)
def test_a_run_without_a_daemon_does_not_wait_for_ever_for_a_dead_runs_slot(instance: dg.DagsterInstance) -> None:
    """A run killed while its step held the pool's only slot: the next run of the code location
    (`dagster asset materialize`, no daemon) marks it failed, frees the slot and completes."""
    storage = instance.event_log_storage
    storage.set_concurrency_slots(POOL, 1)
    dead = add_run(instance, tags_for(NO_SUCH_PID, own_start()), assets=("price_exports",))
    assert storage.claim_concurrency_slot(POOL, dead.run_id, "price_exports").is_claimed
    live = add_run(instance, process_tags())
    result = execute(instance)  # waiting for ever for the dead run's slot fails by the timeout
    assert result.success
    assert stored_run(instance, dead.run_id).status == dg.DagsterRunStatus.FAILURE
    assert stored_run(instance, live.run_id).status == dg.DagsterRunStatus.STARTED
    expected = f"run {dead.run_id} was left running by a process that is gone: marked failed, pool slot freed"
    assert expected in warnings_of(instance, result.run_id)
    assert storage.get_concurrency_info(POOL).claimed_slots == []


@pytest.mark.timeout(90)
def test_a_run_without_a_daemon_frees_a_slot_an_ended_run_still_holds(instance: dg.DagsterInstance) -> None:
    storage = instance.event_log_storage
    storage.set_concurrency_slots(POOL, 1)
    ended = add_run(instance, status=dg.DagsterRunStatus.FAILURE)
    assert storage.claim_concurrency_slot(POOL, ended.run_id, "match_report").is_claimed
    result = execute(instance)
    assert result.success
    assert f"freed the pool slot run {ended.run_id} held after it ended" in warnings_of(instance, result.run_id)


# --- real processes ----------------------------------------------------------------------


@pytest.mark.slow
def test_a_killed_child_is_dead_even_before_it_is_reaped() -> None:
    child = subprocess.Popen(["sleep", "30"])
    started = psutil.Process(child.pid).create_time()
    assert process_state(child.pid, started) == "alive"
    child.kill()
    time.sleep(0.3)  # not reaped yet: a zombie, whose /proc entry is still there
    assert psutil.Process(child.pid).status() == psutil.STATUS_ZOMBIE
    assert process_state(child.pid, started) == "dead"
    child.wait()
    assert process_state(child.pid, started) == "dead"


def _gone(process: psutil.Process) -> bool:
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.mark.slow
def test_pool_workers_and_the_forkserver_exit_when_their_owner_is_killed() -> None:
    workers = 3
    code = (
        "import time\nfrom portfolio_assets.io.parallel import map_files\n"
        "print('mapping', flush=True)\nmap_files(time.sleep, [0.05] * 2000, parse_bytes=10**12)\n"
    )
    env = {**os.environ, "PORTFOLIO_ASSETS_WORKERS": str(workers)}
    owner = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True)
    output = owner.stdout
    assert output is not None
    children: list[psutil.Process] = []
    try:
        assert output.readline() == "mapping\n"
        deadline = time.monotonic() + 60
        # The workers plus the forkserver (and multiprocessing's resource tracker).
        while len(children) < workers + 1 and time.monotonic() < deadline:
            time.sleep(0.2)
            children = psutil.Process(owner.pid).children(recursive=True)
        assert len(children) >= workers + 1, children
        time.sleep(1.0)  # mid-map: 2000 x 50 ms over 3 workers takes half a minute
        children = psutil.Process(owner.pid).children(recursive=True)
        assert owner.poll() is None
        owner.kill()
        owner.wait()
        killed = time.monotonic()
        while time.monotonic() - killed < 5 and not all(_gone(child) for child in children):
            time.sleep(0.1)
        assert [child.pid for child in children if not _gone(child)] == []
        print(f"all {len(children)} children gone {time.monotonic() - killed:.2f} s after the kill")
    finally:
        owner.kill()
        owner.wait()
        output.close()
        for child in children:
            with contextlib.suppress(psutil.Error):
                child.kill()


# --- under `dagster dev` -----------------------------------------------------------------


def _dagster_dev(root: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    port = free_port()
    with open(root / "dagster_dev.log", "a") as log:
        process = subprocess.Popen(
            [str(BIN / "dagster"), "dev", "-w", str(PROJECT / "workspace.yaml"), "-h", "127.0.0.1", "-p", str(port)],
            cwd=root,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def answers() -> bool:
        try:
            return bool(graphql(port, "{ version }"))
        except OSError:
            return False

    try:
        wait_for(answers, 180, "the webserver to answer GraphQL")
    except AssertionError:
        _stop(process)
        raise
    return process


def _stop(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        process.wait()


@pytest.mark.slow
@pytest.mark.parametrize("killed", ["the run worker", "dagster dev"])
def test_after_a_run_dies_under_dagster_dev_a_later_run_completes(tmp_path: Path, killed: str) -> None:
    """A sensor run is killed while its step holds the pool's only slot: SIGKILL to its worker
    (the code server then fails the run), or to all of `dagster dev` followed by a restart
    (only our launcher's health check can tell then). Either way the run ends failed, its
    slot is freed, and the sensors' next run materializes everything within two minutes."""
    root = tmp_path
    home = write_instance_config(root / "dagster_home")
    subprocess.run(
        [str(BIN / "portfolio-assets"), "sample", str(root), "--stooq-files", "3000", "--instruments", "300"],
        check=True,
        capture_output=True,
    )
    for path in root.rglob("*"):  # the sample is settled, not being written
        if path.is_file():
            os.utime(path, (time.time() - 60, time.time() - 60))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTFOLIO_ASSETS_")}
    env.update(
        DAGSTER_HOME=str(home), PORTFOLIO_ASSETS_TRADEABLE_SENSOR_SECONDS="2", PORTFOLIO_ASSETS_STOOQ_SENSOR_SECONDS="5"
    )
    process = _dagster_dev(root, env)
    try:
        with dg.DagsterInstance.from_config(str(home)) as instance:

            def slot_holder() -> dg.DagsterRun | None:
                for slot in instance.event_log_storage.get_concurrency_info(POOL).claimed_slots:
                    run = instance.get_run_by_id(slot.run_id)
                    if run is not None and run.status == dg.DagsterRunStatus.STARTED:
                        return run
                return None

            victim = wait_for(slot_holder, 240, "a sensor run holding the pool slot", interval=0.2)
            worker = run_process(victim, instance)
            assert worker.pid is not None and worker.local, worker
            killed_at = time.time()
            if killed == "the run worker":
                os.kill(worker.pid, signal.SIGKILL)
            else:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                assert stored_run(instance, victim.run_id).status == dg.DagsterRunStatus.STARTED
                process = _dagster_dev(root, env)
            back_at = time.time()

            def ended() -> bool:
                return stored_run(instance, victim.run_id).status == dg.DagsterRunStatus.FAILURE

            wait_for(ended, 120, "the killed run to be marked failed", interval=0.5)
            failed_at = time.time()
            wait_for(
                lambda: all(
                    slot.run_id != victim.run_id
                    for slot in instance.event_log_storage.get_concurrency_info(POOL).claimed_slots
                ),
                120,
                "the killed run's pool slot to be freed",
                interval=0.5,
            )
            freed_at = time.time()

            def later_success() -> bool:
                # A run started after the kill succeeded (the instance's retry of the killed
                # run, or the automation's next request), and every asset is materialized.
                if any(instance.fetch_materializations(dg.AssetKey(key), limit=1).records == [] for key in ASSET_KEYS):
                    return False
                for run in instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.SUCCESS])):
                    record = instance.get_run_record_by_id(run.run_id)
                    assert record is not None, f"no record of run {run.run_id}"
                    if record.start_time and record.start_time > killed_at:
                        return True
                return False

            wait_for(later_success, 120 - (time.time() - back_at), "a later run to succeed", interval=1)
            done_at = time.time()
            print(
                f"killed {killed}; back {back_at - killed_at:.1f} s, run failed {failed_at - killed_at:.1f} s, "
                f"slot freed {freed_at - killed_at:.1f} s, later run done {done_at - killed_at:.1f} s after the kill"
            )
            assert done_at - back_at < 120
    finally:
        _stop(process)
