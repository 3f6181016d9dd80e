"""The code location's executor: Dagster's in-process executor, which first frees the pool
of dead runs.

A run whose process died while a step held the `portfolio_assets` pool's only slot stays
STARTED and keeps the slot claimed. Dagster frees it only through the daemon's run
monitoring (our launcher's health check and `free_slots_after_run_end_seconds`); Dagster
1.13 has nothing else that would: no claim timeout in the pool's settings, no run-start
hook in the instance config. So a plain `dagster asset materialize` without a daemon
would wait for that slot for ever. Before the first step claims its slot, this executor
marks failed every in-flight run whose process provably no longer exists (the liveness
rule of `portfolio_assets.instance.runs`, as `refresh` applies it) and frees its slots,
and frees the slots of runs that already ended; one warning line each in the run's log.
The cost, when no other run is in flight: one query of the in-flight runs and one
of the pool's claimed slots, once per run.

Runs that `dg.materialize` or `execute_in_process` execute (`portfolio-assets refresh`,
most tests) use Dagster's own in-process executor instead; `refresh` does the same
clearing itself before its runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import dagster as dg

from ..instance.dagster_internals.library import (
    ExecutionPlan,
    PlanOrchestrationContext,
    RetryMode,
    wrapped_in_process_executor,
)
from ..instance.runs import DEAD_RUN_CLEARED, ORPHANED_SLOT_FREED, clear_dead_runs, free_orphaned_slots
from .assets import POOL

__all__ = ["in_process_executor_freeing_dead_runs"]


class _FreeingDeadRunsFirst(dg.Executor):
    """Runs `inner` after clearing dead runs from the pool (see the module docstring)."""

    def __init__(self, inner: dg.Executor) -> None:
        self._inner = inner

    @property
    def retries(self) -> RetryMode:
        return self._inner.retries

    @property
    def step_dependency_config(self) -> Any:
        return self._inner.step_dependency_config

    def execute(self, plan_context: PlanOrchestrationContext, execution_plan: ExecutionPlan) -> Iterator[Any]:
        instance = plan_context.instance
        for run_id in clear_dead_runs(instance, skip=plan_context.run_id, cleared_by="a later run"):
            plan_context.log.warning(DEAD_RUN_CLEARED.format(run_id=run_id))
        for run_id in free_orphaned_slots(instance, POOL):
            plan_context.log.warning(ORPHANED_SLOT_FREED.format(run_id=run_id))
        yield from self._inner.execute(plan_context, execution_plan)


# The same name and configuration as Dagster's in-process executor, so a launchpad's
# `execution: in_process: ...` config and the UI read as before.
in_process_executor_freeing_dead_runs = wrapped_in_process_executor(
    _FreeingDeadRunsFirst,
    description="Dagster's in-process executor; first marks runs whose process is gone failed and frees "
    "their pool slots (without a daemon nothing else would).",
)
