"""What the project uses of Dagster beyond its public API, in a process that imports Dagster.

Checked against dagster 1.13.27 (`DAGSTER_RELEASE`); the only module of the project with
`dagster._` imports. Each part says why no public API does the job in 1.13:

- Tags and metadata keys: the names under which Dagster records data versions, code
  versions, input versions, retries and the launching code server. Taken from Dagster's
  own constants where it has them; they are also in stored events, so a rename would
  orphan the history (the contract test names any that moved).
- Stale status: Dagster's resolver, as the UI and `stale_assets_only` use it; 1.13 has
  no public Python API for it (GraphQL is public but takes seconds to start).
- Runs: the engine events that name the process running a run (their text and their
  `pid` metadata), the code-server tag, whether the storage is this host's SQLite, and
  the pool slots, which only the event log storage's non-public methods reach.
- Run logs: the metadata Dagster attaches to each run-log record, the executor's
  message for a step it skips, the wrappers around a step's error, and the job name
  `dg.materialize` gives its runs.
- Extension points: the types in the signatures of what the project implements (a run
  launcher's health check, an executor, a check evaluation's target) that Dagster does
  not export, and an executor definition copied from Dagster's in-process one.

portfolio_assets_tests/instance/test_dagster_internals.py holds each to its contract:
every import below resolves, each signature has the parameters used here, each tag has
its value, and each parsed text has its shape in a real run.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import dagster as dg
from dagster._core.asset_graph_view.asset_graph_view import AssetGraphView
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData,
)
from dagster._core.definitions.assets.definition.cacheable_assets_definition import CacheableAssetsDefinition
from dagster._core.definitions.assets.graph.base_asset_graph import BaseAssetGraph
from dagster._core.definitions.data_version import (
    CODE_VERSION_TAG,
    DATA_VERSION_TAG,
    CachingStaleStatusResolver,
    get_input_data_version_tag,
)
from dagster._core.definitions.materialize import EPHEMERAL_JOB_NAME
from dagster._core.definitions.temporal_context import TemporalContext
from dagster._core.definitions.utils import DEFAULT_IO_MANAGER_KEY
from dagster._core.errors import DagsterAssetCheckFailedError
from dagster._core.execution.context.system import PlanOrchestrationContext
from dagster._core.execution.plan.plan import ExecutionPlan
from dagster._core.execution.retries import RetryMode
from dagster._core.launcher import CheckRunHealthResult, WorkerStatus
from dagster._core.log_manager import LOG_RECORD_METADATA_ATTR
from dagster._core.storage.runs.sqlite.sqlite_run_storage import SqliteRunStorage
from dagster._core.storage.tags import GRPC_INFO_TAG, MAX_RETRIES_TAG
from dagster_shared.error import SerializableErrorInfo

__all__ = [
    "CODE_VERSION_TAG",
    "COLUMN_SCHEMA_METADATA_KEY",
    "DATA_VERSION_TAG",
    "EPHEMERAL_JOB_NAME",
    "GRPC_INFO_TAG",
    "MAX_RETRIES_TAG",
    "ROW_COUNT_METADATA_KEY",
    "RUN_PROCESS_MESSAGES",
    "AnyAssetGraph",
    "CacheableAssetsDefinition",
    "CheckRunHealthResult",
    "CodeServer",
    "DagsterCause",
    "DagsterStaleness",
    "ExecutionPlan",
    "PlanOrchestrationContext",
    "RetryMode",
    "RunLogRecord",
    "WorkerStatus",
    "asset_graph_of",
    "dagster_staleness",
    "free_pool_slots",
    "input_data_version_tag",
    "is_local_sqlite",
    "is_skipped_step_message",
    "launcher_instance",
    "launching_code_server",
    "materialization_target",
    "pool_limit_configured",
    "pool_slot_holders",
    "pool_slots_supported",
    "run_log_record",
    "run_process_events",
    "run_process_pid",
    "set_pool_limit",
    "step_error_headline",
    "wrapped_in_process_executor",
]


# --- tags and metadata keys --------------------------------------------------------------

# Dagster's standard table metadata (the UI shows them as row count and columns). Dagster
# names them in TableMetadataSet, which `dagster` does not export in 1.13.
ROW_COUNT_METADATA_KEY = "dagster/row_count"
COLUMN_SCHEMA_METADATA_KEY = "dagster/column_schema"


def input_data_version_tag(key: str) -> str:
    """The materialization tag recording the data version of input `key` that a step read."""
    return get_input_data_version_tag(dg.AssetKey(key))


# --- stale status ------------------------------------------------------------------------

# A Definitions' graph, or a repository's as a run or a sensor has it.
AnyAssetGraph = BaseAssetGraph[Any]


@dataclass(frozen=True)
class DagsterCause:
    """One reason Dagster gives for an asset being stale."""

    category: str  # "code", "data" or "dependencies"
    dependency: str | None  # the upstream asset the cause is about, if any
    reason: str  # Dagster's own words, as the UI shows them


@dataclass(frozen=True)
class DagsterStaleness:
    status: str  # "fresh", "stale" or "missing"
    causes: tuple[DagsterCause, ...]


def asset_graph_of(assets: Sequence[dg.AssetsDefinition | dg.SourceAsset]) -> AnyAssetGraph:
    """The asset graph of `assets` alone, as a run needs it: its own job graph knows the
    observable sources only as stubs, whose data version reads as Dagster's default.

    Built with the public `Definitions.resolve_asset_graph`. Definitions refuse assets
    whose resources are not bound, and a graph runs nothing: each resource the assets
    need is bound to a resource that does nothing (the I/O manager has Dagster's default)."""
    required = set().union(*(asset.required_resource_keys for asset in assets)) - {DEFAULT_IO_MANAGER_KEY}
    placeholders = {key: dg.ResourceDefinition.none_resource() for key in sorted(required)}
    return dg.Definitions(assets=list(assets), resources=placeholders).resolve_asset_graph()


def dagster_staleness(
    instance: dg.DagsterInstance, asset_graph: AnyAssetGraph, keys: Iterable[str]
) -> dict[str, DagsterStaleness]:
    """What Dagster says of each asset of `keys`: its status and its direct causes (one hop)."""
    view = AssetGraphView(
        temporal_context=TemporalContext(effective_dt=datetime.now(timezone.utc), last_event_id=None),
        instance=instance,
        asset_graph=asset_graph,
    )
    resolver = CachingStaleStatusResolver(instance=instance, asset_graph=asset_graph, loading_context=view)
    result = {}
    for key in keys:
        asset_key = dg.AssetKey(key)
        causes = tuple(
            DagsterCause(
                category=cause.category.value.lower(),
                dependency=cause.dependency.asset_key.to_user_string() if cause.dependency else None,
                reason=cause.reason,
            )
            for cause in resolver.get_stale_causes(asset_key)
        )
        result[key] = DagsterStaleness(resolver.get_status(asset_key).value.lower(), causes)
    return result


# --- runs --------------------------------------------------------------------------------

# Engine events whose metadata `pid` is the process running the run, each recorded with
# EngineEventData.in_process/multiprocess(pid): a run worker started by a code server
# (dagster/_grpc/impl.py `_run_in_subprocess`) or by `dagster api execute_run`
# (dagster/_cli/api.py), and the executor before its first step
# (dagster/_core/executor/in_process.py, multiprocess.py), which covers runs executed in a
# CLI process too.
RUN_PROCESS_MESSAGES = (
    "Started process for run",
    "Executing steps in process",
    "Executing steps using multiprocess executor: parent process",
)


def run_process_events(instance: dg.DagsterInstance, run_id: str) -> list[tuple[str, int]]:
    """(message, pid) of each of the run's engine events that name its process, in order."""
    found = []
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
        event = entry.dagster_event
        if event is None or not (event.message or "").startswith(RUN_PROCESS_MESSAGES):
            continue
        value = event.engine_event_data.metadata.get("pid")
        text = str(getattr(value, "value", "") or "")
        if text.isdigit():
            found.append((event.message or "", int(text)))
    return found


def run_process_pid(instance: dg.DagsterInstance, run_id: str) -> int | None:
    """The pid in the latest of the run's engine events that name its process."""
    events = run_process_events(instance, run_id)
    return events[-1][1] if events else None


@dataclass(frozen=True)
class CodeServer:
    """Where the code server that launched a run listens."""

    host: str | None  # as the tag gives it ("" when it names none; None when not a string)
    unix_socket: bool  # listening on a Unix socket, so on the run's host by nature


def launching_code_server(run: dg.DagsterRun) -> CodeServer | None:
    """The code server that started the run's worker, from the run's tag (a JSON object with
    `host`, `port` or `socket`); None for a run no code server launched. Raises ValueError
    when the tag cannot be read."""
    raw = run.tags.get(GRPC_INFO_TAG)
    if raw is None:
        return None
    info = json.loads(raw)  # json.JSONDecodeError is a ValueError
    if not isinstance(info, dict):
        raise ValueError(f"{GRPC_INFO_TAG} is not a JSON object: {raw!r}")
    host = info.get("host", "")
    return CodeServer(host if isinstance(host, str) else None, bool(info.get("socket")))


def is_local_sqlite(instance: dg.DagsterInstance) -> bool:
    """Whether the instance keeps its runs in this host's SQLite files (so no other host
    runs on it)."""
    return isinstance(instance.run_storage, SqliteRunStorage)


def pool_slots_supported(instance: dg.DagsterInstance) -> bool:
    """Whether the instance's storage keeps pool slots (Dagster's global concurrency limits)."""
    return bool(instance.event_log_storage.supports_global_concurrency_limits)


def pool_slot_holders(instance: dg.DagsterInstance, pool: str) -> list[str]:
    """The runs holding a claimed slot of `pool`, by id."""
    return sorted({slot.run_id for slot in instance.event_log_storage.get_concurrency_info(pool).claimed_slots})


def free_pool_slots(instance: dg.DagsterInstance, run_id: str) -> None:
    """Free every pool slot `run_id` holds (and its pending claims)."""
    instance.event_log_storage.free_concurrency_slots_for_run(run_id)


def pool_limit_configured(instance: dg.DagsterInstance, pool: str) -> bool:
    """Whether the instance limits `pool`: a limit of its own, or the instance's default."""
    return (
        pool in instance.event_log_storage.get_concurrency_keys()
        or instance.global_op_concurrency_default_limit is not None
    )


def set_pool_limit(instance: dg.DagsterInstance, pool: str, slots: int) -> None:
    instance.event_log_storage.set_concurrency_slots(pool, slots)


# --- run logs ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RunLogRecord:
    """What Dagster's log manager attaches to a record of a run's log."""

    step_key: str | None
    event: dg.DagsterEvent | None  # the Dagster event the record reports, if any
    message: str  # the message as logged, without Dagster's prefix of run and step


def run_log_record(record: logging.LogRecord) -> RunLogRecord:
    """The parts of a run-log record that a logger prints (plain records: the message alone)."""
    meta = getattr(record, LOG_RECORD_METADATA_ATTR, None) or {}
    return RunLogRecord(
        step_key=meta.get("step_key"),
        event=meta.get("dagster_event"),
        message=str(meta.get("orig_message") or record.getMessage()).strip(),
    )


def is_skipped_step_message(message: str) -> bool:
    """Whether `message` is the executor's "Dependencies for step X failed: [...]. Not
    executing.", which follows the failure of a step it depends on."""
    return message.startswith("Dependencies for step")


def step_error_headline(error: SerializableErrorInfo | None) -> str:
    """The first line of the user's exception in a step's error, past Dagster's wrappers
    ("Error occurred while executing op ..."), without the exception's module path."""
    while error is not None and str(error.cls_name or "").startswith("Dagster") and error.cause:
        error = error.cause
    if error is None:
        return ""
    lines = (error.message or "").strip().splitlines()
    # A failed blocking check names the asset and the check on the lines after the first
    # (its step is the asset's own, which names no check).
    if error.cls_name == DagsterAssetCheckFailedError.__name__:
        first = " ".join(lines)
    else:
        first = lines[0] if lines else ""
    name, _, rest = first.partition(": ")
    if rest and name.rsplit(".", 1)[-1] == error.cls_name:
        return f"{error.cls_name}: {rest}"
    return first


# --- extension points --------------------------------------------------------------------


def launcher_instance(launcher: dg.DefaultRunLauncher) -> dg.DagsterInstance | None:
    """The instance a run launcher was registered with (None before it is): Dagster gives
    it to launchers through the protected `_instance`, as its own launchers use it."""
    return launcher._instance if launcher.has_instance else None


def wrapped_in_process_executor(wrap: Callable[[dg.Executor], dg.Executor], description: str) -> dg.ExecutorDefinition:
    """An executor that reads as Dagster's in-process one (its name, configuration and
    requirements, so a launchpad's `execution: in_process: ...` config still fits and the
    UI shows the same), and runs the executor Dagster's creates as `wrap` wraps it.

    ExecutorDefinition's configuration schema and requirements are not public in 1.13."""
    base = dg.in_process_executor
    create_in_process = base.executor_creation_fn
    assert create_in_process is not None  # Dagster's own executor always has one

    def create(init_context: dg.InitExecutorContext) -> dg.Executor:
        return wrap(create_in_process(init_context))

    return dg.ExecutorDefinition(
        name=base.name,
        config_schema=base.config_schema.as_field(),
        requirements=base.get_requirements,
        executor_creation_fn=create,
        description=description,
    )


def materialization_target(record: dg.EventLogRecord) -> AssetCheckEvaluationTargetMaterializationData:
    """The materialization `record` as the target of an AssetCheckEvaluation: the one the
    evaluation judged."""
    return AssetCheckEvaluationTargetMaterializationData(
        storage_id=record.storage_id, run_id=record.run_id, timestamp=record.timestamp
    )
