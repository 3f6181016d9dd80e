"""Runs as this project starts and watches them: which are in flight, and which died.

A `portfolio-assets refresh` killed with SIGKILL leaves its run marked STARTED
and its pool slot claimed forever. Runs we start carry the host and process id,
so a later refresh (or a sensor) can tell such a run from a live one, mark it
failed and free its slot.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import dagster as dg

__all__ = ["IN_FLIGHT", "process_tags", "is_dead", "in_flight_assets", "clear_dead_runs", "free_orphaned_slots",
           "ensure_pool_limit"]

IN_FLIGHT = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
             dg.DagsterRunStatus.STARTED]
_HOST, _PID, _STARTED = "portfolio_assets/host", "portfolio_assets/pid", "portfolio_assets/pid_started"


def _process_start(pid: int) -> str | None:
    """When the process `pid` started (clock ticks since boot), or None if there is none.

    Together with the pid this names one process: a later process reusing the pid
    (a restarted container) has another start time."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    except OSError:
        return ""
    return stat.rsplit(")", 1)[1].split()[19]


def process_tags() -> dict[str, str]:
    """Tags naming the process that runs a run: refresh sets them at launch, every asset step
    when it starts (so runs from the UI and sensors carry them too)."""
    return {_HOST: socket.gethostname(), _PID: str(os.getpid()), _STARTED: _process_start(os.getpid()) or ""}


def is_dead(run: dg.DagsterRun) -> bool:
    """True for a run whose recorded process, on this host, no longer exists."""
    pid = run.tags.get(_PID, "")
    if run.tags.get(_HOST) != socket.gethostname() or not pid.isdigit():
        return False
    started = _process_start(int(pid))
    if started is None:
        return True
    recorded = run.tags.get(_STARTED, "")
    return bool(recorded and started and recorded != started)


def in_flight_assets(instance: dg.DagsterInstance) -> set[str]:
    """Assets some live queued or running run is about to materialize."""
    keys: set[str] = set()
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=IN_FLIGHT)):
        if not is_dead(run):
            keys.update(key.to_user_string() for key in (run.asset_selection or ()))
    return keys


def clear_dead_runs(instance: dg.DagsterInstance) -> list[str]:
    """Mark dead in-flight runs failed and free their pool slots; returns their ids."""
    cleared = []
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=IN_FLIGHT)):
        if is_dead(run):
            instance.report_run_failed(run, message="the process running it was killed; cleared by a later refresh")
            instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
            cleared.append(run.run_id)
    return cleared


def free_orphaned_slots(instance: dg.DagsterInstance, pool: str) -> list[str]:
    """Free pool slots held by runs that finished or whose process died; returns their run ids.

    A run killed while a step held a slot keeps it claimed; with a limit of 1 every
    later step would wait for it forever."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return []
    freed = []
    for run_id in sorted({slot.run_id for slot in storage.get_concurrency_info(pool).claimed_slots}):
        run = instance.get_run_by_id(run_id)
        if run is None or run.status not in IN_FLIGHT or is_dead(run):
            storage.free_concurrency_slots_for_run(run_id)
            freed.append(run_id)
    return freed


def ensure_pool_limit(instance: dg.DagsterInstance, pool: str) -> None:
    """Limit the pool to one step at a time when the instance sets no limit for it."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return
    if pool not in storage.get_concurrency_keys() and instance.global_op_concurrency_default_limit is None:
        storage.set_concurrency_slots(pool, 1)
