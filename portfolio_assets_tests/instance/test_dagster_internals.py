"""Contract of the Dagster adapter (`portfolio_assets/instance/dagster_internals/`): what the
project uses of Dagster beyond its public API still is where, and what, the adapter expects.

After a Dagster upgrade these tests fail first, each naming what moved: the installed
release against the pin, each private import, each signature the adapter calls, each tag
or metadata name, each log text it parses (produced by a real run and parsed back), and
each storage table and column the fast path reads. The stale-status resolver's own
contract, against the UI's GraphQL, is in test_dagster_staleness.py.

No `from __future__ import annotations`: Dagster reads the assets' return types.
"""

import ast
import importlib
import importlib.metadata
import inspect
import logging
import multiprocessing
import os
import uuid
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import tomllib

from portfolio_assets.dagster_defs.location import build_definitions
from portfolio_assets.dagster_defs.sources import stooq_files, tradeable_instruments
from portfolio_assets.instance import dagster_internals
from portfolio_assets.instance.dagster_internals import library, storage_tables
from portfolio_assets.instance.run_launcher import LivenessCheckingRunLauncher
from portfolio_assets.instance.storage_config import read_storage_config
from portfolio_assets.steps.registry import ASSET_KEYS

from ..storage import POSTGRES, write_instance_config

PROJECT = Path(__file__).resolve().parents[2]
LIBRARY = Path(library.__file__)


# --- the release ----------------------------------------------------------------------------


def _pinned_dagster_packages() -> dict[str, str]:
    """Every dagster package pyproject.toml pins exactly (dependencies and extras)."""
    project = tomllib.loads((PROJECT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    requirements = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        requirements += extra
    pins = {}
    for requirement in requirements:
        name, _, version = requirement.partition("==")
        if name.strip().startswith("dagster") and version:
            pins[name.strip()] = version.strip()
    return pins


def test_the_installed_dagster_is_the_release_the_adapter_was_checked_against() -> None:
    pins = _pinned_dagster_packages()
    assert pins["dagster"] == dagster_internals.DAGSTER_RELEASE, (
        "pyproject.toml pins another dagster than the adapter was checked against: check "
        "portfolio_assets/instance/dagster_internals/ against it, then set DAGSTER_RELEASE"
    )
    installed = {name: importlib.metadata.version(name) for name in pins}
    assert installed == pins, "installed dagster packages differ from pyproject.toml's pins"


# --- private imports and signatures ---------------------------------------------------------


def _private_imports() -> list[tuple[str, str]]:
    """(module, name) of every `from dagster._... import name` (and dagster_shared) in the
    adapter, read from its source so that this test names them even when the adapter no
    longer imports."""
    found = []
    for node in ast.walk(ast.parse(LIBRARY.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(("dagster._", "dagster_shared")):
            found += [(node.module, alias.name) for alias in node.names]
    return found


@pytest.mark.parametrize(("module", "name"), _private_imports(), ids=str)
def test_each_private_name_the_adapter_imports_is_still_there(module: str, name: str) -> None:
    try:
        imported = importlib.import_module(module)
    except ImportError as error:
        pytest.fail(f"dagster moved module {module} (the adapter imports {name} from it): {error}")
    assert hasattr(imported, name), f"dagster moved {name} out of {module}"


def _resolve(path: str) -> Any:
    """The object at "module:qualified.name", failing with what moved."""
    module, _, name = path.partition(":")
    found: Any = importlib.import_module(module)
    for part in name.split("."):
        assert hasattr(found, part), f"dagster moved {name} (expected in {module})"
        found = getattr(found, part)
    return found


# What the adapter and the project's extension points call, with the parameters they pass.
SIGNATURES = [
    (
        "dagster._core.definitions.data_version:CachingStaleStatusResolver",
        {"instance", "asset_graph", "loading_context"},
    ),
    ("dagster._core.asset_graph_view.asset_graph_view:AssetGraphView", {"temporal_context", "instance", "asset_graph"}),
    ("dagster._core.definitions.temporal_context:TemporalContext", {"effective_dt", "last_event_id"}),
    ("dagster._core.definitions.data_version:get_input_data_version_tag", {"input_key"}),
    ("dagster._core.launcher:CheckRunHealthResult", {"status", "msg", "run_worker_id"}),
    ("dagster:AssetCheckEvaluation", {"target_materialization_data"}),
    ("dagster:Executor.execute", {"plan_context", "execution_plan"}),
    ("dagster:DagsterInstance.all_logs", {"run_id", "of_type"}),
    ("dagster:DefaultRunLauncher.from_config_value", {"inst_data", "config_value"}),
]


@pytest.mark.parametrize(("path", "expected"), SIGNATURES, ids=[row[0].partition(":")[2] for row in SIGNATURES])
def test_each_internal_the_adapter_calls_takes_the_parameters_it_passes(path: str, expected: set[str]) -> None:
    target = _resolve(path)
    parameters = list(inspect.signature(target).parameters)
    if inspect.isclass(target) and parameters == ["args", "kwargs"]:
        # A Dagster record class: it takes its annotated fields (its checked signature is
        # put in place only on first use).
        parameters = [name for cls in target.__mro__ for name in getattr(cls, "__annotations__", {})]
    missing = expected - set(parameters)
    assert not missing, f"dagster's {path} no longer takes {sorted(missing)}: {parameters}"


def test_the_run_launchers_extension_points_are_as_the_launcher_uses_them(instance: dg.DagsterInstance) -> None:
    assert {"FAILED", "RUNNING"} <= {status.name for status in library.WorkerStatus}
    # Our launcher keeps DefaultRunLauncher's configuration: built from dagster.yaml as itself.
    assert dg.DefaultRunLauncher.config_type() == {}
    built = LivenessCheckingRunLauncher.from_config_value(None, {})  # type: ignore[arg-type]
    assert type(built) is LivenessCheckingRunLauncher
    assert library.launcher_instance(built) is None
    built.register_instance(instance)
    assert library.launcher_instance(built) is instance


# --- tags and metadata keys -----------------------------------------------------------------


def test_the_names_dagster_owns_have_the_values_stored_records_carry() -> None:
    """Stored events and runs carry these names: a new spelling would orphan them."""
    assert library.DATA_VERSION_TAG == "dagster/data_version"
    assert library.CODE_VERSION_TAG == "dagster/code_version"
    assert library.input_data_version_tag("stooq_files") == "dagster/input_data_version/stooq_files"
    assert library.MAX_RETRIES_TAG == "dagster/max_retries"
    assert library.GRPC_INFO_TAG == ".dagster/grpc_info"
    assert library.EPHEMERAL_JOB_NAME == "__ephemeral_asset_job__"


def test_the_table_metadata_keys_are_dagsters_standard_ones() -> None:
    from dagster._core.definitions.metadata.metadata_set import TableMetadataSet

    schema = dg.TableSchema(columns=[dg.TableColumn("symbol", "string")])
    standard = set(TableMetadataSet(row_count=1, column_schema=schema).keys())
    assert standard == {library.ROW_COUNT_METADATA_KEY, library.COLUMN_SCHEMA_METADATA_KEY}


@dg.observable_source_asset
def upstream_source() -> dg.ObserveResult:
    return dg.ObserveResult(data_version=dg.DataVersion("never observed this way"))


@dg.asset(deps=[upstream_source], code_version="code-1")
def downstream() -> dg.MaterializeResult[None]:
    return dg.MaterializeResult(data_version=dg.DataVersion("data-1"))


def test_dagster_records_versions_under_the_adapters_tags(instance: dg.DagsterInstance) -> None:
    """An observation tagged with the data version tag is the source's version; a
    materialization records its data, code and input versions under the adapter's tags."""
    instance.report_runless_asset_event(
        dg.AssetObservation(asset_key="upstream_source", tags={library.DATA_VERSION_TAG: "source-1"})
    )
    observed = instance.fetch_observations(dg.AssetKey("upstream_source"), limit=1).records[0]
    assert observed.asset_observation is not None and observed.asset_observation.data_version == "source-1"
    result = dg.materialize([upstream_source, downstream], instance=instance, selection=[downstream])
    assert result.success
    event = instance.get_latest_materialization_event(dg.AssetKey("downstream"))
    assert event is not None and event.asset_materialization is not None
    tags = event.asset_materialization.tags or {}
    assert tags[library.DATA_VERSION_TAG] == "data-1"
    assert tags[library.CODE_VERSION_TAG] == "code-1"
    assert tags[library.input_data_version_tag("upstream_source")] == "source-1"
    # A check evaluation reported for this materialization (as output_files_sensor does).
    record = instance.fetch_materializations(dg.AssetKey("downstream"), limit=1).records[0]
    target = library.materialization_target(record)
    assert (target.storage_id, target.run_id, target.timestamp) == (record.storage_id, record.run_id, record.timestamp)
    evaluation = dg.AssetCheckEvaluation(
        asset_key=dg.AssetKey("downstream"), check_name="a_check", passed=False, target_materialization_data=target
    )
    assert evaluation.target_materialization_data == target


# --- the asset graph ------------------------------------------------------------------------


def test_the_graph_built_with_the_public_api_is_the_definitions_graph() -> None:
    defs = build_definitions()
    assets = [asset for asset in defs.assets or () if isinstance(asset, dg.AssetsDefinition | dg.SourceAsset)]
    assert stooq_files in assets and tradeable_instruments in assets
    ours = library.asset_graph_of(assets)
    theirs = defs.resolve_asset_graph()
    keys = [dg.AssetKey(key) for key in (*ASSET_KEYS, "stooq_files", "tradeable_instruments")]
    for key in keys:
        mine, full = ours.get(key), theirs.get(key)
        assert (mine.parent_keys, mine.code_version, mine.is_observable) == (
            full.parent_keys,
            full.code_version,
            full.is_observable,
        ), key.to_user_string()
    assert set(ours.asset_check_keys) == set(theirs.asset_check_keys)


def test_the_resolver_tells_missing_fresh_and_stale_with_its_cause(instance: dg.DagsterInstance) -> None:
    graph = library.asset_graph_of([upstream_source, downstream])

    def judged() -> library.DagsterStaleness:
        return library.dagster_staleness(instance, graph, ["downstream"])["downstream"]

    assert judged() == library.DagsterStaleness("missing", ())
    instance.report_runless_asset_event(
        dg.AssetObservation(asset_key="upstream_source", tags={library.DATA_VERSION_TAG: "source-1"})
    )
    assert dg.materialize([upstream_source, downstream], instance=instance, selection=[downstream]).success
    assert judged() == library.DagsterStaleness("fresh", ())
    instance.report_runless_asset_event(
        dg.AssetObservation(asset_key="upstream_source", tags={library.DATA_VERSION_TAG: "source-2"})
    )
    staleness = judged()
    assert staleness.status == "stale"
    assert [(cause.category, cause.dependency) for cause in staleness.causes] == [("data", "upstream_source")]


# --- engine events naming a run's process ---------------------------------------------------


@dg.op
def one_step() -> None:
    """A step, so that the executor records its process."""


@dg.job(executor_def=dg.in_process_executor)
def in_process_job() -> None:
    one_step()


@dg.job(executor_def=dg.multiprocess_executor)
def multiprocess_job() -> None:
    one_step()


def _remote_origin() -> Any:
    from dagster._core.remote_origin import GrpcServerCodeLocationOrigin, RemoteJobOrigin, RemoteRepositoryOrigin

    location = GrpcServerCodeLocationOrigin(host="localhost", port=4266, location_name="portfolio_assets")
    return RemoteJobOrigin(RemoteRepositoryOrigin(location, "__repository__"), "in_process_job")


def test_a_code_servers_run_worker_and_the_in_process_executor_name_their_process(
    instance: dg.DagsterInstance,
) -> None:
    """What a code server's run worker records (Dagster's own function, called here as the
    code server calls it in its subprocess), then the executor before its first step."""
    from dagster._grpc.impl import _run_in_subprocess
    from dagster._grpc.types import ExecuteExternalJobArgs
    from dagster._serdes import serialize_value

    recon = dg.reconstructable(in_process_job)
    run = instance.create_run_for_job(in_process_job, job_code_origin=recon.get_python_origin())
    arguments = ExecuteExternalJobArgs(job_origin=_remote_origin(), run_id=run.run_id, instance_ref=instance.get_ref())
    statuses: list[object] = []
    _run_in_subprocess(serialize_value(arguments), recon, multiprocessing.Event(), statuses.append, lambda _: None)
    assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.SUCCESS  # type: ignore[union-attr]
    events = library.run_process_events(instance, run.run_id)
    pid = os.getpid()
    assert events == [
        (f"Started process for run (pid: {pid}).", pid),
        (f"Executing steps in process (pid: {pid})", pid),
    ]
    assert library.run_process_pid(instance, run.run_id) == pid


@pytest.mark.slow
def test_the_multiprocess_executor_names_its_parent_process(instance: dg.DagsterInstance) -> None:
    with dg.execute_job(dg.reconstructable(multiprocess_job), instance=instance) as result:
        assert result.success
        run_id = result.run_id
    pid = os.getpid()
    assert library.run_process_events(instance, run_id) == [
        (f"Executing steps using multiprocess executor: parent process (pid: {pid})", pid)
    ]


class _StubCodeServer:
    """What DefaultRunLauncher reads of a code server's client before it asks it to start a run."""

    use_ssl = False

    def __init__(self, host: str, port: int | None, socket: str | None) -> None:
        self.host, self.port, self.socket = host, port, socket

    def start_run(self, *_: object) -> None:
        raise ConnectionRefusedError("a stub: the tag is all this test needs")


@pytest.mark.parametrize(
    ("port", "socket", "expected"),
    [
        (4000, None, library.CodeServer("code-server.internal", unix_socket=False)),
        (None, "/tmp/grpc.sock", library.CodeServer("code-server.internal", unix_socket=True)),
    ],
)
def test_the_launching_code_server_is_read_from_the_tag_dagster_writes(
    instance: dg.DagsterInstance, port: int | None, socket: str | None, expected: library.CodeServer
) -> None:
    run = instance.create_run_for_job(in_process_job, remote_job_origin=_remote_origin())
    assert library.launching_code_server(run) is None
    with pytest.raises(ConnectionRefusedError):
        dg.DefaultRunLauncher.launch_run_from_grpc_client(
            instance,
            run,
            _StubCodeServer("code-server.internal", port, socket),  # type: ignore[arg-type]
        )
    tagged = instance.get_run_by_id(run.run_id)
    assert tagged is not None
    assert library.launching_code_server(tagged) == expected


WRAPPED: list[dg.Executor] = []


def _record_wrapped(executor: dg.Executor) -> dg.Executor:
    WRAPPED.append(executor)
    return executor


@dg.job(executor_def=library.wrapped_in_process_executor(_record_wrapped, description="a test"))
def wrapped_executor_job() -> None:
    one_step()


def test_an_in_process_executor_wrapped_runs_what_it_wraps(instance: dg.DagsterInstance) -> None:
    """As `dagster asset materialize` runs a code location's job: with the job's executor."""
    assert wrapped_executor_job.executor_def.name == dg.in_process_executor.name == "in_process"
    WRAPPED.clear()
    with dg.execute_job(dg.reconstructable(wrapped_executor_job), instance=instance) as result:
        assert result.success
    assert len(WRAPPED) == 1


# --- the instance: storage kind and pool slots ----------------------------------------------


def test_the_storage_kind_is_told_from_the_instance(instance: dg.DagsterInstance) -> None:
    assert library.is_local_sqlite(instance) is not POSTGRES


def test_pool_slots_are_limited_claimed_listed_and_freed(instance: dg.DagsterInstance) -> None:
    pool = "contract_pool"
    assert library.pool_slots_supported(instance)
    assert not library.pool_limit_configured(instance, pool)
    library.set_pool_limit(instance, pool, 1)
    assert library.pool_limit_configured(instance, pool)
    run = instance.create_run_for_job(in_process_job)
    assert instance.event_log_storage.claim_concurrency_slot(pool, run.run_id, "one_step").is_claimed
    assert library.pool_slot_holders(instance, pool) == [run.run_id]
    library.free_pool_slots(instance, run.run_id)
    assert library.pool_slot_holders(instance, pool) == []


# --- run logs -------------------------------------------------------------------------------


@dg.op
def failing_step() -> int:
    raise ValueError("the input is bad\nsecond line")


@dg.op
def after_failing(value: int) -> None:
    """Never runs: its input failed."""


@dg.graph
def failing_graph() -> None:
    after_failing(failing_step())


failing_job = failing_graph.to_job(name="failing_job")


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _execute_with_records(graph: dg.GraphDefinition, handler: _Records) -> dg.ExecuteInProcessResult:
    """Execute `graph` with a logger that hands every record of its log to `handler`."""

    @dg.logger
    def recording(_: dg.InitLoggerContext) -> logging.Logger:
        logger = logging.Logger("contract", level=logging.DEBUG)  # noqa: LOG001 - outside the logging tree
        logger.addHandler(handler)
        return logger

    job = graph.to_job(name="recorded", logger_defs={"recording": recording})
    return job.execute_in_process(raise_on_error=False, run_config={"loggers": {"recording": {}}})


def test_run_log_records_carry_the_step_the_event_and_the_message() -> None:
    run_log = _Records()
    result = _execute_with_records(failing_graph, run_log)
    assert not result.success
    logged = [library.run_log_record(record) for record in run_log.records]
    failures = [entry for entry in logged if entry.event is not None and entry.event.is_step_failure]
    assert [entry.step_key for entry in failures] == ["failing_step"]
    skipped = [entry for entry in logged if library.is_skipped_step_message(entry.message)]
    assert [(entry.step_key, entry.event, entry.message) for entry in skipped] == [
        ("after_failing", None, "Dependencies for step after_failing failed: ['failing_step']. Not executing.")
    ]
    # A plain record (no Dagster metadata) is its message.
    plain = logging.LogRecord("any", logging.INFO, __file__, 1, " hello ", None, None)
    assert library.run_log_record(plain) == library.RunLogRecord(None, None, "hello")


def test_a_steps_error_headline_is_the_users_exception() -> None:
    result = failing_job.execute_in_process(raise_on_error=False)
    failure = next(event for event in result.all_events if event.is_step_failure)
    error = failure.step_failure_data.error
    assert error is not None and str(error.cls_name).startswith("Dagster")  # Dagster's wrapper first
    assert library.step_error_headline(error) == "ValueError: the input is bad"
    assert library.step_error_headline(None) == ""


@dg.asset(check_specs=[dg.AssetCheckSpec("gate", asset="gated", blocking=True)])
def gated() -> dg.MaterializeResult:  # type: ignore[type-arg]
    return dg.MaterializeResult(check_results=[dg.AssetCheckResult(check_name="gate", passed=False)])


def test_a_failed_blocking_checks_headline_names_the_asset_and_the_check() -> None:
    result = dg.materialize([gated], raise_on_error=False)
    failure = next(event for event in result.all_events if event.is_step_failure)
    error = failure.step_failure_data.error
    assert error is not None and error.cls_name == "DagsterAssetCheckFailedError"
    # What `refresh` prints for it (failures.failure_lines), on one line.
    assert library.step_error_headline(error) == (
        "DagsterAssetCheckFailedError: 1 blocking asset check failed with ERROR severity: gated: gate"
    )


# --- storage tables, read without Dagster ---------------------------------------------------


def test_the_ended_run_statuses_are_dagsters() -> None:
    def finished(status: dg.DagsterRunStatus) -> bool:
        if status == dg.DagsterRunStatus.QUEUED:
            return False  # a queued run needs a code location's origin to be built; it is waiting
        return dg.DagsterRun(job_name="job", status=status).is_finished

    ended = {status.value for status in dg.DagsterRunStatus if finished(status)}
    assert set(storage_tables.ENDED_RUN_STATUSES) == ended


def test_the_tables_and_columns_read_are_in_dagsters_schema() -> None:
    from dagster._core.storage.event_log.schema import SqlEventLogStorageTable
    from dagster._core.storage.runs.schema import RunsTable

    assert RunsTable.name == storage_tables.RUNS_TABLE
    assert storage_tables.RUN_STATUS_COLUMN in RunsTable.c, f"runs.{storage_tables.RUN_STATUS_COLUMN} moved"
    assert SqlEventLogStorageTable.name == storage_tables.EVENT_LOGS_TABLE
    assert storage_tables.EVENT_ID_COLUMN in SqlEventLogStorageTable.c


def test_the_postgres_error_the_adapter_names_is_dagster_postgres(tmp_path: Path) -> None:
    package, name = storage_tables.POSTGRES_RETRIES_EXHAUSTED
    exception = getattr(importlib.import_module(f"{package}.utils"), name)
    assert exception.__module__.split(".")[0] == package


def _runs_in_flight(home: Path) -> int | None:
    if POSTGRES:
        url = read_storage_config(home).libpq_url
        assert url is not None
        state = storage_tables.postgres_event_log_state(url)
        return None if state is None else state[2]
    return storage_tables.sqlite_runs_in_flight(home)


def _event_log_state(home: Path) -> object:
    if POSTGRES:
        url = read_storage_config(home).libpq_url
        assert url is not None
        return storage_tables.postgres_event_log_state(url)
    return storage_tables.sqlite_event_log_files(home)


def test_runs_and_events_are_read_where_dagster_writes_them(tmp_path: Path) -> None:
    home = write_instance_config(tmp_path / "home")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert _runs_in_flight(home) == 0
        run = instance.add_run(
            dg.DagsterRun(job_name="job", run_id=str(uuid.uuid4()), status=dg.DagsterRunStatus.STARTED)
        )
        if not POSTGRES:
            assert storage_tables.sqlite_runs_path(home).is_file()
        assert _runs_in_flight(home) == 1
        before = _event_log_state(home)
        instance.report_engine_event("an event of the run", run)
        after = _event_log_state(home)
        assert after != before, "an event left the storage the fast path reads unchanged"
        if not POSTGRES:
            assert f"{run.run_id}.db" in [name for name, _, _ in storage_tables.sqlite_event_log_files(home)]
        instance.report_run_failed(run, message="ended")
        assert _runs_in_flight(home) == 0
