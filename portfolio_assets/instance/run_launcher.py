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

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import dagster as dg
from dagster._config.config_schema import UserConfigSchema
from dagster._core.launcher import CheckRunHealthResult, WorkerStatus
from dagster._serdes.config_class import ConfigurableClassData

if TYPE_CHECKING:
    from typing_extensions import Self

from .runs import run_liveness

__all__ = ["LivenessCheckingRunLauncher"]


class LivenessCheckingRunLauncher(dg.DefaultRunLauncher):
    """`DefaultRunLauncher` whose `check_run_worker_health` reports dead run processes."""

    def __init__(self, inst_data: ConfigurableClassData | None = None) -> None:
        super().__init__(inst_data=inst_data)

    # ConfigurableClass: like DefaultRunLauncher, no settings of its own. Spelled out so
    # that the class dagster.yaml names is the one built, whatever the parent does later.
    @classmethod
    def config_type(cls) -> UserConfigSchema:
        return {}

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData, config_value: Mapping[str, Any]) -> Self:
        return cls(inst_data=inst_data)

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: dg.DagsterRun) -> CheckRunHealthResult:
        liveness = run_liveness(run, self._instance if self.has_instance else None)
        if liveness.dead:
            return CheckRunHealthResult(
                WorkerStatus.FAILED, f"run worker gone: {liveness.reason}", run_worker_id=str(liveness.pid)
            )
        # UNKNOWN would fail the run too: anything short of proof of death is RUNNING.
        return CheckRunHealthResult(
            WorkerStatus.RUNNING, liveness.reason, run_worker_id=None if liveness.pid is None else str(liveness.pid)
        )
