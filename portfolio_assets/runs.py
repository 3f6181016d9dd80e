"""Runs as this project starts and watches them: which are in flight, and which died.

A `portfolio-assets refresh` killed with SIGKILL leaves its run marked STARTED
and its pool slot claimed forever. Runs we start carry the host and process id,
so a later refresh (or a sensor) can tell such a run from a live one, mark it
failed and free its slot.
"""

from __future__ import annotations

import os
import socket

import dagster as dg

__all__ = ["IN_FLIGHT", "process_tags", "is_dead", "in_flight_assets", "clear_dead_runs", "ensure_pool_limit"]

IN_FLIGHT = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
             dg.DagsterRunStatus.STARTED]
_HOST, _PID = "portfolio_assets/host", "portfolio_assets/pid"


def process_tags() -> dict[str, str]:
    return {_HOST: socket.gethostname(), _PID: str(os.getpid())}


def is_dead(run: dg.DagsterRun) -> bool:
    """True for an in-flight run started by a process of this host that no longer exists."""
    pid = run.tags.get(_PID, "")
    if run.tags.get(_HOST) != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


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


def ensure_pool_limit(instance: dg.DagsterInstance, pool: str) -> None:
    """Limit the pool to one step at a time when the instance sets no limit for it."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return
    if pool not in storage.get_concurrency_keys() and instance.global_op_concurrency_default_limit is None:
        storage.set_concurrency_slots(pool, 1)
