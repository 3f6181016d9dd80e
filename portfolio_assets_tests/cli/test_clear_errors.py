"""Issue 14, "clear errors": what the user sees when a setting, a file or the machine is wrong.

Bad settings and flags are one line naming what the user typed; a full disk or a
read-only folder is one line naming the file, before anything else on stderr;
our errors survive pickling; a refresh with settings a running code location
would undo is refused; the instance can be created before dagster commands race
to create it; the fast "nothing changed" path clears what killed runs left.
"""

from __future__ import annotations

import errno
import json
import multiprocessing
import os
import pickle
import shutil
import subprocess
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, NoReturn

import dagster as dg
import pytest

from portfolio_assets.cli import main as cli
from portfolio_assets.dagster_defs.failures import failure_lines, materialize_with_one_line_log
from portfolio_assets.definitions import build_definitions
from portfolio_assets.domain import errors
from portfolio_assets.domain.errors import (
    BrokerListError,
    InputVanished,
    InvalidFolderSetting,
    InvalidSetting,
    MissingInputFolder,
    PortfolioInputError,
    describe_os_error,
)
from portfolio_assets.incremental import export_sync
from portfolio_assets.instance.location_settings import (
    LOCATION_SETTINGS_FILE,
    read_location_settings,
    record_location_settings,
    running_location_conflict,
)
from portfolio_assets.io import atomic_files
from portfolio_assets.io.atomic_files import TEMP_PREFIX
from portfolio_assets.settings import settings_from_environment, value_text
from portfolio_assets.steps import stooq_index
from portfolio_assets.steps.common import MissingUpstreamOutput

from ..helpers import BIN, PROJECT
from ..storage import write_instance_config

OUTPUTS = ("data/metadata/stooq_index.csv", "data/metadata/tradeable_universe.csv")


@pytest.fixture
def home(world: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A new DAGSTER_HOME with the project's dagster.yaml, and no PORTFOLIO_ASSETS_* variable set."""
    root = write_instance_config(tmp_path_factory.mktemp("dagster_home"))
    monkeypatch.setenv("DAGSTER_HOME", str(root))
    for variable in [name for name in os.environ if name.startswith("PORTFOLIO_ASSETS_")]:
        monkeypatch.delenv(variable)
    return root


def stderr_lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line.strip()]


def no_stack(lines: list[str]) -> None:
    text = "\n".join(lines)
    for sign in ("Traceback", "Stack Trace", "Error occurred while executing op", 'File "'):
        assert sign not in text, text


# --- 7: invalid settings and flags --------------------------------------------------------------


@pytest.mark.parametrize("command", ["status", "refresh"])
@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PORTFOLIO_ASSETS_INCLUDE_EMPTY", "maybe"),
        ("PORTFOLIO_ASSETS_LSE_CURRENCY_POLICY", "sometimes"),
        ("PORTFOLIO_ASSETS_LOG_LEVEL", "chatty"),
        ("PORTFOLIO_ASSETS_WORKERS", "many"),
        ("PORTFOLIO_ASSETS_MAX_REMOVED_SHARE", "2"),
        ("PORTFOLIO_ASSETS_MAX_PRICE_LAG_DAYS", "five"),
        ("PORTFOLIO_ASSETS_FRESHNESS_HOURS", "0"),
    ],
)
def test_an_invalid_variable_is_one_line_naming_it(
    home: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    command: str,
    variable: str,
    value: str,
) -> None:
    monkeypatch.setenv(variable, value)
    assert cli.main([command]) == 2
    lines = stderr_lines(capsys)
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"portfolio-assets: {variable}={value} is not valid; expected one of: ")


@pytest.mark.parametrize(
    ("flag", "value", "allowed"),
    [
        ("--include-empty", "maybe", "true, false"),
        ("--lse-currency-policy", "sometimes", "broker, stooq, strict"),
    ],
)
def test_an_invalid_flag_is_one_line_naming_the_flag(
    home: Path, capsys: pytest.CaptureFixture[str], flag: str, value: str, allowed: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["refresh", flag, value])
    assert exited.value.code == 2
    lines = stderr_lines(capsys)
    assert lines == [
        f"portfolio-assets refresh: argument {flag}: {value} is not valid; expected one of: "
        f"{allowed} (see portfolio-assets refresh --help)"
    ]
    assert "PORTFOLIO_ASSETS_" not in lines[0]
    assert not (home / "history").exists()  # refused before Dagster was touched


# --- issue 20, finding 14: a URL where a folder is expected -----------------------------------


@pytest.mark.parametrize("command", ["status", "refresh"])
@pytest.mark.parametrize(
    ("variable", "url"),
    [
        ("PORTFOLIO_ASSETS_PRICES_DIR", "s3://bucket/prices"),
        ("PORTFOLIO_ASSETS_STOOQ_DIR", "https://stooq.com/db/h/"),
        ("PORTFOLIO_ASSETS_METADATA_DIR", "file:///srv/metadata"),
        ("PORTFOLIO_ASSETS_TRADEABLE_DIR", "gs://team/lists"),
    ],
)
def test_a_url_for_a_folder_is_refused_in_one_line_naming_the_variable(
    home: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    command: str,
    variable: str,
    url: str,
) -> None:
    monkeypatch.chdir(home.parent)
    monkeypatch.setenv(variable, url)
    assert cli.main([command]) == 2
    lines = stderr_lines(capsys)
    assert lines == [
        f"portfolio-assets: {variable}={url} is a URL, not a folder; set it to a local folder "
        "(mount the storage and give its path)"
    ]
    scheme = url.split(":", 1)[0]
    assert not (home.parent / f"{scheme}:").exists()  # no local folder named after the URL


def test_a_url_given_as_a_folder_flag_is_refused_naming_the_flag(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(home.parent)
    with pytest.raises(SystemExit) as exited:
        cli.main(["refresh", "--prices-dir", "s3://bucket/prices"])
    assert exited.value.code == 2
    assert stderr_lines(capsys) == [
        "portfolio-assets refresh: argument --prices-dir: s3://bucket/prices is a URL, not a folder; "
        "set it to a local folder (mount the storage and give its path) (see portfolio-assets refresh --help)"
    ]
    assert not (home.parent / "s3:").exists()


def test_a_folder_whose_name_only_contains_a_colon_is_still_a_folder(tmp_path: Path) -> None:
    from portfolio_assets.settings import PRICES_DIR

    assert PRICES_DIR.parse("prices:2026") == (Path.cwd() / "prices:2026")
    assert PRICES_DIR.parse(str(tmp_path / "a://b")) == tmp_path / "a:" / "b"


@pytest.mark.parametrize(
    ("flags", "field", "expected"),
    [
        (["--lse-currency-policy", "STRICT"], "lse_currency_policy", "strict"),
        (["--lse-currency-policy", " stooq "], "lse_currency_policy", "stooq"),
        (["--include-empty", "yes"], "include_empty", "true"),
        (["--include-empty", "0"], "include_empty", "false"),
        (["--include-empty"], "include_empty", "true"),
    ],
)
def test_flags_accept_what_their_variables_accept(flags: list[str], field: str, expected: str) -> None:
    args = cli._parser().parse_args(["status", *flags])
    assert value_text(getattr(cli._settings(args), field)) == expected


@pytest.mark.slow
def test_an_invalid_setting_from_the_shell_is_one_line(tmp_path: Path) -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PORTFOLIO_ASSETS_")}
    environment.update(DAGSTER_HOME=str(tmp_path / "home"), PORTFOLIO_ASSETS_INCLUDE_EMPTY="maybe")
    done = subprocess.run(
        [str(BIN / "portfolio-assets"), "refresh"],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "portfolio-assets: PORTFOLIO_ASSETS_INCLUDE_EMPTY=maybe is not valid; expected one of: true, false"
    ]
    flagged = subprocess.run(
        [str(BIN / "portfolio-assets"), "status", "--include-empty", "maybe"],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert flagged.returncode == 2 and len(flagged.stderr.splitlines()) == 1
    assert "argument --include-empty: maybe is not valid" in flagged.stderr


# --- 7: a full disk, a read-only folder ---------------------------------------------------------


def _full_disk(fd: int, data: bytes) -> None:
    os.close(fd)
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))  # write(2) names no file


@pytest.mark.parametrize("code", [errno.EACCES, errno.EROFS])
def test_a_read_only_output_folder_is_one_line_naming_the_file(
    home: Path, world: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    def read_only(folder: Path) -> NoReturn:
        raise OSError(code, os.strerror(code), str(folder / f"{TEMP_PREFIX}x.part"))

    monkeypatch.setattr(atomic_files, "_create_temp", read_only)
    assert cli.main(["refresh"]) == 1
    lines = stderr_lines(capsys)
    no_stack(lines)
    assert lines[0] == (
        f"portfolio-assets: refresh failed: stooq_index: {world / OUTPUTS[0]}: {os.strerror(code)}; "
        + errors._OS_ERROR_HINTS[code]
    )
    assert all(line.startswith("portfolio-assets: refresh failed: ") for line in lines), lines
    assert TEMP_PREFIX not in "\n".join(lines)


def test_a_full_disk_is_one_line_first_and_leaves_nothing_behind(
    home: Path, world: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(atomic_files, "_write_all", _full_disk)
    assert cli.main(["refresh"]) == 1
    lines = stderr_lines(capsys)
    no_stack(lines)
    assert lines == [
        f"portfolio-assets: refresh failed: {step}: {world / path}: No space left on device; "
        "free some space on that disk and run again"
        for step, path in zip(("stooq_index", "tradeable_universe"), OUTPUTS, strict=False)
    ]
    assert not list(world.rglob(f"{TEMP_PREFIX}*"))
    # The full log, stacks included, is still in the instance.
    with dg.DagsterInstance.get() as instance:
        run = instance.get_runs(limit=1)[0]
        failures = [
            record.dagster_event
            for record in instance.all_logs(run.run_id)
            if record.dagster_event and record.dagster_event.event_type == dg.DagsterEventType.STEP_FAILURE
        ]
        assert len(failures) == 2 and failures[0].step_failure_data.error is not None
        assert failures[0].step_failure_data.error.stack


def test_a_bad_broker_list_is_the_first_line_on_stderr(
    home: Path, world: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (world / "tradeable_instruments/broken.csv").write_bytes(b"symbol,name\nAB\xff,bad\n")
    assert cli.main(["refresh"]) == 1
    lines = stderr_lines(capsys)
    no_stack(lines)
    assert len(lines) == 1 and lines[0].startswith("portfolio-assets: refresh failed: tradeable_universe: broker list ")
    assert "broken.csv, line 2: is not valid UTF-8" in lines[0] and "dagster." not in lines[0]


def test_the_run_log_is_one_line_per_record_without_failures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    @dg.asset
    def warns() -> None:  # the context from Dagster: a `context` parameter would need an annotation Dagster can read
        dg.AssetExecutionContext.get().log.warning("first line\nsecond line")

    @dg.asset(deps=[warns])
    def boom() -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/data/out.csv")

    @dg.asset(deps=[boom])
    def after() -> None:
        pass

    with dg.instance_for_test() as instance:
        result = materialize_with_one_line_log(
            [warns, boom, after],
            instance=instance,
            raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
        )
    assert not result.success
    assert stderr_lines(capsys) == ["warning warns: first line"]
    assert failure_lines(result.all_events) == ["boom: OSError: [Errno 28] No space left on device: '/data/out.csv'"]


def test_an_os_error_reads_as_path_and_problem() -> None:
    assert describe_os_error(OSError(errno.ENOSPC, "No space left on device", "/d/x.csv")) == (
        "/d/x.csv: No space left on device; free some space on that disk and run again"
    )
    assert describe_os_error(OSError(errno.EIO, "Input/output error", "/d/x.csv")) == "/d/x.csv: Input/output error"
    assert describe_os_error(OSError("no errno")) == "no errno"


# --- 8: errors survive pickling -----------------------------------------------------------------

EXAMPLES: dict[type[PortfolioInputError], PortfolioInputError] = {
    BrokerListError: BrokerListError(Path("/lists/a.csv"), "is not valid UTF-8", line=2),
    MissingInputFolder: MissingInputFolder(Path("/data/stooq"), "PORTFOLIO_ASSETS_STOOQ_DIR", "Stooq"),
    InputVanished: InputVanished(Path("/data/stooq"), "the matched Stooq files were being read"),
    InvalidSetting: InvalidSetting("PORTFOLIO_ASSETS_INCLUDE_EMPTY", "not sure", ("true", "false")),
    InvalidFolderSetting: InvalidFolderSetting("PORTFOLIO_ASSETS_PRICES_DIR", "s3://bucket/prices"),
    MissingUpstreamOutput: MissingUpstreamOutput(Path("/meta/stooq_index.csv"), "stooq_index"),
}


def _error_classes() -> list[type[PortfolioInputError]]:
    assert stooq_index and export_sync  # imported for the classes they define
    found: list[type[PortfolioInputError]] = []
    pending: list[type[PortfolioInputError]] = [PortfolioInputError]
    while pending:
        cls = pending.pop()
        if cls.__module__.startswith("portfolio_assets."):
            found.append(cls)
        pending.extend(cls.__subclasses__())
    return sorted(found, key=lambda cls: cls.__qualname__)


@pytest.mark.parametrize("cls", _error_classes(), ids=lambda cls: cls.__name__)
def test_every_error_class_survives_pickling(cls: type[PortfolioInputError]) -> None:
    try:
        error = EXAMPLES.get(cls) or cls("an example message naming /some/file.csv")
    except TypeError:
        pytest.fail(f"{cls.__name__} takes other arguments: add an example to EXAMPLES")
    for protocol in range(2, pickle.HIGHEST_PROTOCOL + 1):
        copy = pickle.loads(pickle.dumps(error, protocol=protocol))
        assert type(copy) is cls
        assert str(copy) == str(error) and copy.args == error.args
        assert copy.__dict__ == error.__dict__


def test_the_examples_keep_their_attributes() -> None:
    copy = pickle.loads(pickle.dumps(EXAMPLES[InvalidSetting]))
    assert (copy.variable, copy.value, copy.allowed) == (
        "PORTFOLIO_ASSETS_INCLUDE_EMPTY",
        "not sure",
        ("true", "false"),
    )
    assert str(copy) == "PORTFOLIO_ASSETS_INCLUDE_EMPTY='not sure' is not valid; expected one of: true, false"
    assert pickle.loads(pickle.dumps(EXAMPLES[BrokerListError])).line == 2
    assert pickle.loads(pickle.dumps(EXAMPLES[MissingUpstreamOutput])).asset == "stooq_index"


@pytest.mark.slow
def test_a_workers_vanished_folder_arrives_as_itself() -> None:
    # Raised in a worker process, as the price exports' workers do; exec is picklable.
    code = (
        "from pathlib import Path\nfrom portfolio_assets.domain.errors import InputVanished\n"
        "raise InputVanished(Path('/data/stooq'), 'the price exports were being written')"
    )
    with (
        ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("forkserver")) as pool,
        pytest.raises(InputVanished, match="disappeared while the price exports") as raised,
    ):
        pool.submit(exec, code).result(timeout=120)
    assert raised.value.path == Path("/data/stooq")


# --- 10: settings of a running code location ----------------------------------------------------


def location_record(home: Path) -> dict[str, Any]:
    """The running code location's settings record in `home` (there must be one)."""
    record = read_location_settings(home)
    assert record is not None, f"no settings record in {home}"
    return record


def test_the_record_is_rewritten_only_when_changed_or_a_minute_old(home: Path) -> None:
    settings = settings_from_environment()
    assert record_location_settings(home, settings, now=1000.0)
    assert not record_location_settings(home, settings, now=1030.0)
    assert record_location_settings(home, settings, now=1061.0)
    other = settings_from_environment({"PORTFOLIO_ASSETS_INCLUDE_EMPTY": "true"})
    assert record_location_settings(home, other, now=1062.0)
    record = location_record(home)
    assert record["recorded_at"] == 1062.0 and record["pid"] == os.getpid()
    assert set(record["settings"]) == set(settings.__dataclass_fields__)
    assert record["settings"]["include_empty"] == "true"


def test_a_conflict_names_the_differing_settings_while_the_record_is_recent(home: Path) -> None:
    theirs = settings_from_environment({"PORTFOLIO_ASSETS_LSE_CURRENCY_POLICY": "strict"})
    ours = settings_from_environment()
    record_location_settings(home, theirs, now=1000.0)
    assert running_location_conflict(home, theirs, now=1010.0) is None
    conflict = running_location_conflict(home, ours, now=1010.0)
    assert conflict and "\n" not in conflict
    assert "PORTFOLIO_ASSETS_LSE_CURRENCY_POLICY (--lse-currency-policy) is strict there, broker here" in conflict
    assert "include_empty" not in conflict and "INCLUDE_EMPTY" not in conflict
    assert running_location_conflict(home, ours, now=1000.0 + 3 * 60 - 1)
    assert running_location_conflict(home, ours, now=1000.0 + 3 * 60 + 1) is None  # sensors stopped


def test_a_record_of_a_process_that_ended_does_not_count(home: Path) -> None:
    theirs = settings_from_environment({"PORTFOLIO_ASSETS_INCLUDE_EMPTY": "true"})
    record_location_settings(home, theirs)
    record = location_record(home)
    pid_max = int(Path("/proc/sys/kernel/pid_max").read_text()) if Path("/proc/sys/kernel/pid_max").exists() else 2**22
    (home / LOCATION_SETTINGS_FILE).write_text(json.dumps({**record, "pid": pid_max + 1}))
    assert running_location_conflict(home, settings_from_environment()) is None


def _tick(name: str) -> None:
    defs = build_definitions()
    with dg.DagsterInstance.get() as instance:
        context = dg.build_sensor_context(
            instance=instance, definitions=defs, resources=defs.resources, sensor_name=name
        )
        defs.resolve_sensor_def(name)(context)


def test_refresh_refuses_settings_the_running_sensors_would_undo(
    home: Path, world: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # `dagster dev` started with include_empty=true: its sensor's tick records that.
    monkeypatch.setenv("PORTFOLIO_ASSETS_INCLUDE_EMPTY", "true")
    _tick("tradeable_instruments_sensor")
    assert location_record(home)["settings"]["include_empty"] == "true"
    monkeypatch.delenv("PORTFOLIO_ASSETS_INCLUDE_EMPTY")
    capsys.readouterr()

    assert cli.main(["refresh"]) == cli.EXIT_REFUSED
    lines = stderr_lines(capsys)
    assert len(lines) == 1 and lines[0].startswith("portfolio-assets: refresh refused: a running code location")
    assert "PORTFOLIO_ASSETS_INCLUDE_EMPTY (--include-empty) is true there, false here" in lines[0]
    assert "dagster dev" in lines[0]
    assert not any((world / path).exists() for path in OUTPUTS)

    assert cli.main(["refresh", "--include-empty", "false"]) == cli.EXIT_REFUSED
    capsys.readouterr()
    assert cli.main(["status"]) == 0  # status only reports it
    assert "portfolio-assets: note: a running code location" in capsys.readouterr().err
    assert cli.main(["refresh", "--include-empty"]) == 0
    assert all((world / path).exists() for path in OUTPUTS)


# --- 11: the instance is created once, before dagster commands race to ---------------------------


@pytest.mark.slow
@pytest.mark.parametrize("first", ["status", "init"])
def test_two_dagster_materializes_at_once_after_the_instance_is_created(tmp_path: Path, first: str) -> None:
    world = tmp_path / "world"
    home = tmp_path / "new_home"
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PORTFOLIO_ASSETS_")}
    environment["DAGSTER_HOME"] = str(home)
    subprocess.run([str(BIN / "portfolio-assets"), "sample", str(world)], check=True, capture_output=True)
    home.mkdir()
    done = subprocess.run(
        [str(BIN / "portfolio-assets"), first], cwd=world, env=environment, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    command = [str(BIN / "dagster"), "asset", "materialize", "--select", "*", "-m", "portfolio_assets"]
    processes = [
        subprocess.Popen(command, cwd=world, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [process.communicate(timeout=600) for process in processes]
    assert [process.returncode for process in processes] == [0, 0], outputs
    assert (world / "data/metadata/tradeable_matches.csv").is_file()


@pytest.mark.slow
@pytest.mark.parametrize("target", ["demo", "dev"])
def test_make_creates_the_instance_before_anything_else(target: str) -> None:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    planned = subprocess.run(
        ["make", "-n", "-o", "pyproject.toml", target], cwd=PROJECT, capture_output=True, text=True, timeout=60
    ).stdout.splitlines()
    commands = [line for line in planned if "portfolio-assets" in line or "dagster " in line]
    assert commands and commands[0].endswith("portfolio-assets init"), planned


# --- 12: the fast path clears leftovers of killed runs ------------------------------------------


def _leftover(folder: Path, name: str, age: float) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{TEMP_PREFIX}{name}.part"
    path.write_bytes(b"half a file")
    os.utime(path, (time.time() - age, time.time() - age))
    return path


@pytest.mark.parametrize("command", ["status", "refresh"])
def test_the_fast_path_removes_old_temporary_files(
    home: Path, world: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    assert cli.main(["refresh"]) == 0
    folders = [
        world / "data/metadata",
        world / "data/metadata/match_changes",
        world / "data/processed/tradeable_prices",
        home,
    ]
    old = [_leftover(folder, "old", age=3600) for folder in folders]
    young = [_leftover(folder, "young", age=5) for folder in folders]

    def no_dagster(*_args: object, **_kwargs: object) -> NoReturn:
        raise AssertionError("the fast path should have answered")

    monkeypatch.setattr(cli, "_locked_instance", no_dagster)
    capsys.readouterr()
    assert cli.main([command]) == 0
    said = capsys.readouterr().out
    assert ("nothing changed since the last check" in said) if command == "refresh" else ("stale" not in said)
    assert not any(path.exists() for path in old)
    assert all(path.exists() for path in young)
