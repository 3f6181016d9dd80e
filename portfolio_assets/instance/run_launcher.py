"""The project instance's run launcher: Dagster's default one, plus a worker health check.

Dagster's run monitoring (the daemon, so under `dagster dev` too) asks the
instance's run launcher about every STARTED run, but only if the launcher says
it can answer; `DefaultRunLauncher` cannot, so a run whose process was killed
stayed STARTED, holding its pool slot. `LivenessCheckingRunLauncher` launches
exactly as `DefaultRunLauncher` does and answers with `portfolio_assets.instance.runs`'
liveness rule, for every STARTED run whoever launched it (daemon, UI, or an
in-process `portfolio-assets refresh`): FAILED when the run's process provably
no longer exists, so monitoring marks the run failed; RUNNING otherwise,
including "cannot tell", since monitoring fails a run on any other answer.

In dagster.yaml:

    run_launcher:
      module: portfolio_assets.instance.run_launcher
      class: LivenessCheckingRunLauncher
"""

from __future__ import annotations

import dagster as dg

from .dagster_internals.library import CheckRunHealthResult, WorkerStatus, launcher_instance
from .runs import run_liveness

__all__ = ["LivenessCheckingRunLauncher"]


class LivenessCheckingRunLauncher(dg.DefaultRunLauncher):
    """`DefaultRunLauncher` whose `check_run_worker_health` reports dead run processes.

    Its configuration is DefaultRunLauncher's (none): the inherited `config_type` and
    `from_config_value` build this class, the one dagster.yaml names."""

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: dg.DagsterRun) -> CheckRunHealthResult:
        liveness = run_liveness(run, launcher_instance(self))
        if liveness.dead:
            return CheckRunHealthResult(
                WorkerStatus.FAILED, f"run worker gone: {liveness.reason}", run_worker_id=str(liveness.pid)
            )
        # UNKNOWN would fail the run too: anything short of proof of death is RUNNING.
        return CheckRunHealthResult(
            WorkerStatus.RUNNING, liveness.reason, run_worker_id=None if liveness.pid is None else str(liveness.pid)
        )
