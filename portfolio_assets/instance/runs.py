"""Which runs are in flight and which died: the project's one liveness rule for Dagster runs.

A run whose process was killed (SIGKILL, a killed `dagster dev`, a killed
`portfolio-assets refresh`) stays STARTED in Dagster's records, holding its
pool slot. This module names the process running a run and decides,
failing closed, whether that process is dead. It is used by `refresh` and `status`
(which mark dead runs failed and free their slots), by the code location's executor
(which does the same before a run's first step, for runs without a daemon), by the
sensors (which do not wait for a dead run's assets) and by
`portfolio_assets.instance.run_launcher` (through which the daemon's run monitoring
marks dead runs failed).

Where the process comes from, in order:
- our tags `portfolio_assets/host|pid|pid_started`, set by `refresh` when it
  launches a run and by every asset step when it starts (`process_tags`);
  tags a retry copied from its parent run are not evidence about the retry;
- else the latest engine event naming the run's process: the one Dagster's code
  server records before a launched run turns STARTED, or the one the executor
  records before its first step (which covers runs executed in a CLI process too;
  `dagster_internals.library.run_process_pid` knows them). These events name no host:
  we take it to be this host unless the run's host tag or its code server
  address says otherwise. That holds for this project's instance (local SQLite
  storage; under `dagster dev` code servers and run workers are local
  subprocesses), not for run workers in other containers or machines.

A run is dead only when its process provably does not exist on this host (see
`portfolio_assets.io.parallel.process_state`), or, on a shared instance, when its
heartbeat stopped: on storage other than local SQLite every run process keeps the tag
`portfolio_assets/heartbeat` fresh (every HEARTBEAT_SECONDS), and a run of another host
whose heartbeat is older than HEARTBEAT_STALE_SECONDS is dead to every other host (and
to the daemon). No pid, another host without a heartbeat, or a process table we cannot
read all mean alive.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass

import dagster as dg

from ..io.parallel import process_identity, process_state
from .dagster_internals.library import (
    free_pool_slots,
    is_local_sqlite,
    launching_code_server,
    pool_limit_configured,
    pool_slot_holders,
    pool_slots_supported,
    run_process_pid,
    set_pool_limit,
)

__all__ = [
    "ASSETS_TAG",
    "DEAD_RUN_CLEARED",
    "HEARTBEAT_SECONDS",
    "HEARTBEAT_STALE_SECONDS",
    "HEARTBEAT_TAG",
    "IN_FLIGHT",
    "ORPHANED_SLOT_FREED",
    "Liveness",
    "RunProcess",
    "clear_dead_runs",
    "ensure_pool_limit",
    "free_orphaned_slots",
    "in_flight_assets",
    "is_dead",
    "keep_heartbeat",
    "process_tags",
    "run_liveness",
    "run_process",
    "slot_holders_elsewhere",
]

IN_FLIGHT = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]
_HOST, _PID, _STARTED = "portfolio_assets/host", "portfolio_assets/pid", "portfolio_assets/pid_started"
_LOCAL_ADDRESSES = {"localhost", "127.0.0.1", "::1", "0.0.0.0", ""}
HEARTBEAT_TAG = "portfolio_assets/heartbeat"
# What a run materializes, for runs whose asset selection Dagster leaves empty (refresh).
ASSETS_TAG = "portfolio_assets/assets"
HEARTBEAT_SECONDS = 10.0
# Six missed beats: a run of another host is dead within a minute of its process, and any
# host's refresh (or the daemon's run monitoring, every 10 s) fails it and frees its slot.
HEARTBEAT_STALE_SECONDS = 60.0
# What `refresh`, `status` and the code location's executor say about the runs they clear.
DEAD_RUN_CLEARED = "run {run_id} was left running by a process that is gone: marked failed, pool slot freed"
ORPHANED_SLOT_FREED = "freed the pool slot run {run_id} held after it ended"
_beating: set[str] = set()
_beating_lock = threading.Lock()


@dataclass(frozen=True)
class RunProcess:
    """The process recorded as running a run, as far as the records tell."""

    pid: int | None
    started: float | None  # psutil create time; None when not recorded
    local: bool  # on this host (False: another host, or we cannot tell)
    source: str  # "tags", "engine event" or "nothing"


@dataclass(frozen=True)
class Liveness:
    """Whether a run's process is provably gone, and in words why (or why not)."""

    dead: bool
    reason: str
    pid: int | None = None


def process_tags() -> dict[str, str]:
    """Tags naming this process: refresh sets them at launch, every asset step when it starts
    (so runs from the UI and sensors carry them too)."""
    pid, started = process_identity()
    return {_HOST: socket.gethostname(), _PID: str(pid), _STARTED: f"{started:.3f}"}


def keep_heartbeat(instance: dg.DagsterInstance, run_id: str) -> None:
    """On a shared instance, keep `run_id`'s heartbeat tag fresh from this process until the
    run ends or the process does (a daemon thread; once per run and process)."""
    if is_local_sqlite(instance):
        return  # one host: the process table says whether a run lives
    with _beating_lock:
        if run_id in _beating:
            return
        _beating.add(run_id)

    def beat() -> None:
        while True:
            try:
                run = instance.get_run_by_id(run_id)
                if run is None or run.status not in IN_FLIGHT:
                    return
                instance.add_run_tags(run_id, {HEARTBEAT_TAG: f"{time.time():.1f}"})
            except Exception:  # noqa: BLE001 - a missed beat; the next one may get through
                pass
            time.sleep(HEARTBEAT_SECONDS)

    threading.Thread(target=beat, name=f"heartbeat-{run_id[:8]}", daemon=True).start()


def _heartbeat_age(run: dg.DagsterRun) -> float | None:
    try:
        return time.time() - float(run.tags[HEARTBEAT_TAG])
    except (KeyError, ValueError):
        return None


def _started_time(value: str) -> float | None:
    """A `pid_started` tag as a psutil create time (None when absent or unreadable)."""
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        return None


def _own_process_tags(instance: dg.DagsterInstance | None, run: dg.DagsterRun) -> bool:
    """Whether the run carries process tags written for it, not copied from its parent run.

    Dagster's automatic retries (and re-executions that keep the parent's tags) copy
    our tags; until the new run's first step re-tags it they name the parent's
    process, which is usually dead, while the retry is perfectly alive."""
    if not run.tags.get(_PID, "").isdigit():
        return False
    if run.parent_run_id is None:
        return True
    parent = instance.get_run_by_id(run.parent_run_id) if instance is not None else None
    if parent is None:
        return False
    return any(run.tags.get(tag) != parent.tags.get(tag) for tag in (_HOST, _PID, _STARTED))


def _code_server_is_local(run: dg.DagsterRun) -> bool:
    """Whether the code server that started the run's worker (if any) runs on this host."""
    try:
        server = launching_code_server(run)
    except ValueError:
        return False  # an address we cannot read: cannot tell
    if server is None:
        return True
    if server.unix_socket:
        return True  # a Unix socket is on this host by nature
    return server.host in _LOCAL_ADDRESSES | {socket.gethostname()}


def run_process(run: dg.DagsterRun, instance: dg.DagsterInstance | None = None) -> RunProcess:
    """The process recorded as running `run`: from our tags, else from its engine event
    (which needs `instance`)."""
    here = socket.gethostname()
    host = run.tags.get(_HOST)
    if _own_process_tags(instance, run):
        return RunProcess(int(run.tags[_PID]), _started_time(run.tags.get(_STARTED, "")), host == here, "tags")
    if instance is not None:
        pid = run_process_pid(instance, run.run_id)
        if pid is not None:
            # The event names no host: local unless something says otherwise (see the docstring).
            local = (host is None or host == here) and _code_server_is_local(run)
            return RunProcess(pid, None, local, "engine event")
    return RunProcess(None, None, False, "nothing")


def run_liveness(run: dg.DagsterRun, instance: dg.DagsterInstance | None = None) -> Liveness:
    """Whether `run` is dead: its recorded process provably no longer exists on this host."""
    if run.status == dg.DagsterRunStatus.QUEUED:
        # Waiting in the daemon's queue: no process of its own yet, whatever tags it carries.
        return Liveness(False, "queued: no process yet")
    process = run_process(run, instance)
    if process.pid is None:
        return Liveness(False, "no process recorded: assumed alive")
    if not process.local:
        age = _heartbeat_age(run)
        host = run.tags.get(_HOST, "another host")
        if age is not None and age > HEARTBEAT_STALE_SECONDS:
            return Liveness(
                True, f"its process (pid {process.pid} on {host}) stopped beating {age:.0f} s ago", process.pid
            )
        return Liveness(
            False, f"process {process.pid} is not on this host (or we cannot tell): assumed alive", process.pid
        )
    state = process_state(process.pid, process.started)
    where = f"pid {process.pid} on {socket.gethostname()}, from the run's {process.source}"
    if state == "dead":
        return Liveness(True, f"its process ({where}) no longer exists", process.pid)
    if state == "unknown":
        return Liveness(False, f"cannot check its process ({where}): assumed alive", process.pid)
    return Liveness(False, f"its process ({where}) is running", process.pid)


def is_dead(run: dg.DagsterRun, instance: dg.DagsterInstance | None = None) -> bool:
    """True for a run whose recorded process provably no longer exists on this host.

    Without `instance` only our tags are looked at (runs killed before they tagged
    themselves then count as alive)."""
    return run_liveness(run, instance).dead


def in_flight_assets(instance: dg.DagsterInstance) -> set[str]:
    """Assets some live queued or running run is about to materialize."""
    keys: set[str] = set()
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=IN_FLIGHT)):
        if not is_dead(run, instance):
            keys.update(key.to_user_string() for key in (run.asset_selection or ()))
            keys.update(key for key in run.tags.get(ASSETS_TAG, "").split(",") if key)
    return keys


def clear_dead_runs(
    instance: dg.DagsterInstance, skip: str | None = None, cleared_by: str = "a later refresh"
) -> list[str]:
    """Mark dead in-flight runs (all but `skip`) failed and free their pool slots; returns
    their ids. `cleared_by` says who did, in the run's failure message."""
    cleared = []
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=IN_FLIGHT)):
        if run.run_id == skip:
            continue
        liveness = run_liveness(run, instance)
        if liveness.dead:
            instance.report_run_failed(run, message=f"{liveness.reason}; cleared by {cleared_by}")
            if pool_slots_supported(instance):
                free_pool_slots(instance, run.run_id)
            cleared.append(run.run_id)
    return cleared


def free_orphaned_slots(instance: dg.DagsterInstance, pool: str) -> list[str]:
    """Free pool slots held by runs that finished or whose process died; returns their run ids.

    A run killed while a step held a slot keeps it claimed; with a limit of 1 every
    later step would wait for it forever."""
    if not pool_slots_supported(instance):
        return []
    freed = []
    for run_id in pool_slot_holders(instance, pool):
        run = instance.get_run_by_id(run_id)
        if run is None or run.status not in IN_FLIGHT or is_dead(run, instance):
            free_pool_slots(instance, run_id)
            freed.append(run_id)
    return freed


def slot_holders_elsewhere(instance: dg.DagsterInstance, pool: str) -> dict[str, str]:
    """Live runs of other hosts holding a slot of `pool`, with why they count as alive.

    Only a host's own refresh or the daemon frees a slot whose run died; a run of another
    host that died is known dead once its heartbeat is stale, and not before."""
    if not pool_slots_supported(instance):
        return {}
    holders = {}
    for run_id in pool_slot_holders(instance, pool):
        run = instance.get_run_by_id(run_id)
        if run is None or run.status not in IN_FLIGHT or run_process(run, instance).local:
            continue
        liveness = run_liveness(run, instance)
        if not liveness.dead:
            holders[run_id] = f"{run.tags.get(_HOST, 'another host')}: {liveness.reason}"
    return holders


def ensure_pool_limit(instance: dg.DagsterInstance, pool: str) -> None:
    """Limit the pool to one step at a time when the instance sets no limit for it."""
    if pool_slots_supported(instance) and not pool_limit_configured(instance, pool):
        set_pool_limit(instance, pool, 1)
