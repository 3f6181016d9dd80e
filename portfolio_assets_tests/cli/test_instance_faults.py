"""Issue 20, items 7 and 8: the Dagster instance's storage failing under `init`, `status`
and `refresh` is one line on stderr naming what and where (the traceback goes to
DAGSTER_HOME/portfolio_assets.log), and the next command heals.

- A full DAGSTER_HOME: SQLite's own "database or disk is full", made without root by
  capping the size of every database Dagster opens (`PRAGMA max_page_count`); and, as
  root where a tmpfs can be mounted, a real full file system.
- PostgreSQL down when a command starts (no server at the address); and stopping in the
  middle of a refresh, on a throwaway server of the test's own (PostgreSQL runs only:
  `make test-postgres`).
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import dagster as dg
import pytest
import sqlalchemy
from sqlalchemy.pool import Pool

from portfolio_assets.cli import main as cli
from portfolio_assets.cli.fault_log import LOG_FILE, library_logs_to_file
from portfolio_assets.dagster_defs.assets import POOL
from portfolio_assets.instance.storage_errors import describe_storage_error, postgres_address

from ..helpers import BIN, PROJECT, environment, free_port, from_scratch, output_files
from ..storage import POSTGRES

FULL = "is full: free some space and run again"


@pytest.fixture
def sqlite_home(world: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A new DAGSTER_HOME with the project's dagster.yaml (local SQLite), set for the CLI."""
    home = tmp_path_factory.mktemp("dagster_home")
    shutil.copy(PROJECT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home


def stderr_lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line.strip()]


@contextmanager
def databases_capped() -> Iterator[None]:
    """Every SQLite database opened meanwhile cannot grow: SQLite then fails a write that
    needs a new page with SQLITE_FULL, "database or disk is full", as on a full disk."""

    def cap(connection: object, _record: object) -> None:
        if "sqlite3" in type(connection).__module__:
            connection.execute("PRAGMA max_page_count = 1")  # type: ignore[attr-defined]

    sqlalchemy.event.listen(Pool, "connect", cap)
    try:
        yield
    finally:
        sqlalchemy.event.remove(Pool, "connect", cap)


# --- 7: a full DAGSTER_HOME ---------------------------------------------------------------------


@pytest.mark.parametrize("command", ["init", "status", "refresh"])
def test_a_full_dagster_home_is_one_line_naming_it(
    sqlite_home: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    if command != "init":
        assert cli.main(["init"]) == 0  # the databases exist; they cannot grow any more
    capsys.readouterr()
    with databases_capped():
        assert cli.main([command]) == 1
    log = sqlite_home / LOG_FILE
    assert stderr_lines(capsys) == [f"portfolio-assets: DAGSTER_HOME {sqlite_home} {FULL} (the full error is in {log})"]
    assert "database or disk is full" in log.read_text() and "Traceback" in log.read_text()
    # Space again: the same command goes through.
    assert cli.main([command]) == 0


def test_a_full_disk_under_dagster_home_is_named_as_such(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    inside = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp_path / "portfolio_assets_fresh_state.json"))
    assert describe_storage_error(inside, tmp_path) == f"DAGSTER_HOME {tmp_path} {FULL}"
    elsewhere = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/data/out.csv")
    assert describe_storage_error(elsewhere, tmp_path) is None  # a step's output: named by its own line
    assert describe_storage_error(ValueError("something else"), tmp_path) is None
    # SQLite reports a journal it could not create as a disk I/O error: full when the disk is.
    try:
        raise sqlalchemy.exc.OperationalError("PRAGMA main.table_info", {}, sqlite3.OperationalError("disk I/O error"))
    except sqlalchemy.exc.OperationalError as error:
        io_error = error
    assert describe_storage_error(io_error, tmp_path) == (
        f"the Dagster instance in DAGSTER_HOME {tmp_path} cannot be used: disk I/O error"
    )
    monkeypatch.setattr(os, "statvfs", lambda _: SimpleNamespace(f_bavail=3, f_frsize=4096))
    assert describe_storage_error(io_error, tmp_path) == f"DAGSTER_HOME {tmp_path} {FULL}"


@pytest.mark.slow
def test_a_dagster_home_on_a_full_file_system(world: Path, tmp_path: Path) -> None:
    """The real thing, where this user may mount a small tmpfs (root): every command that
    opens the instance says it in one line, and once space is freed a refresh heals."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small file system needs root")
    home = tmp_path / "small"
    home.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(home)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        shutil.copy(PROJECT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
        env = environment(home)
        command = [str(BIN / "portfolio-assets")]
        assert subprocess.run([*command, "init"], env=env, capture_output=True).returncode == 0
        filler = home / "filler"
        with open(filler, "wb", buffering=0) as handle:  # unbuffered: the write that fails is this one
            while True:
                try:
                    handle.write(b"\0" * 4096)
                except OSError as error:
                    assert error.errno == errno.ENOSPC
                    break
        for name in ("refresh", "status", "init"):
            done = subprocess.run([*command, name], cwd=world, env=env, capture_output=True, text=True, timeout=120)
            assert done.returncode == 1, (name, done.stdout, done.stderr)
            lines = done.stderr.splitlines()
            assert len(lines) == 1 and lines[0].startswith(f"portfolio-assets: DAGSTER_HOME {home} {FULL}"), (
                name,
                lines,
            )
        filler.unlink()
        healed = subprocess.run([*command, "refresh"], cwd=world, env=env, capture_output=True, text=True, timeout=300)
        assert healed.returncode == 0, healed.stdout + healed.stderr
        assert "materialized" in healed.stdout
    finally:
        subprocess.run(["umount", str(home)], check=True)


def test_what_libraries_and_dagster_print_goes_to_the_log_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import logging

    handlers = list(logging.getLogger().handlers)
    with library_logs_to_file(tmp_path):
        # As dagster-postgres logs each retry: on the root logger.
        logging.warning("Retrying failed database connection: %s", "server closed the connection")  # noqa: LOG015
        sys.stderr.write("Exception while writing logger call to event log: too many retries\n")
        sys.stderr.write("warning price_exports: a line of the run's log\n")
    assert capsys.readouterr().err == "warning price_exports: a line of the run's log\n"
    log = (tmp_path / LOG_FILE).read_text()
    assert "Retrying failed database connection: server closed the connection" in log
    assert "Exception while writing logger call to event log" in log
    assert logging.getLogger().handlers == handlers  # nothing of ours left behind


# --- 8: PostgreSQL unavailable ------------------------------------------------------------------


def postgres_home(home: Path, url: str) -> Path:
    config = (PROJECT / "dagster_home" / "dagster.yaml").read_text(encoding="utf-8")
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(config + f"\nstorage:\n  postgres:\n    postgres_url: {url}\n", encoding="utf-8")
    return home


def test_the_address_of_a_postgres_url() -> None:
    assert postgres_address("postgresql://u:p@db.example:6543/x") == "db.example:6543"
    assert postgres_address("postgresql://u@db.example/x") == "db.example:5432"
    assert postgres_address("postgresql://postgres@/postgres?host=/tmp/pg&port=54329") == "/tmp/pg:54329"


@pytest.mark.parametrize("command", ["init", "status", "refresh"])
def test_postgresql_down_at_the_start_is_one_line(
    world: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    port = free_port()  # nothing listens there
    home = postgres_home(tmp_path / "home", f"postgresql+psycopg2://dagster@127.0.0.1:{port}/dagster")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    assert cli.main([command]) == 1
    assert stderr_lines(capsys) == [
        f"portfolio-assets: the Dagster instance's PostgreSQL at 127.0.0.1:{port} is not reachable: "
        "Connection refused; is the server running on that host and accepting TCP/IP connections? "
        f"(the full error is in {home / LOG_FILE})"
    ]
    assert "Traceback" in (home / LOG_FILE).read_text()


# The refresh of the tests below: `portfolio-assets refresh` that stops the PostgreSQL
# server (synchronously, .ci/postgres stop) when a given event of a given step is logged.
STOPPING_POSTGRES_AT = """
import os, subprocess, sys
import dagster as dg
from portfolio_assets.cli.main import main
from portfolio_assets.dagster_defs import failures

event_type, step = os.environ["STOP_AT"].split(":")
emit = failures._OneLineHandler.emit

def emit_or_stop(self, record):
    meta = getattr(record, "dagster_meta", None) or {}
    event = meta.get("dagster_event")
    if event is not None and event.event_type.value == event_type and meta.get("step_key") == step:
        subprocess.run([os.environ["STOP_COMMAND"], "stop"], check=True)
    if record.levelno >= 30:  # what the terminal shows at the default log level
        emit(self, record)

failures._OneLineHandler.emit = emit_or_stop
sys.exit(main(["refresh"]))
"""


@pytest.fixture
def own_postgres() -> Iterator[tuple[str, dict[str, str]]]:
    """A throwaway PostgreSQL server of this test's own (so that stopping it disturbs no
    other test), started as `.ci/postgres` starts the tests' one; yields its URL and the
    environment that makes `.ci/postgres` address it."""
    data = tempfile.mkdtemp(prefix="portfolio_assets_pg_outage_", dir="/tmp")
    env = {**os.environ, "PGPORT": str(free_port()), "PORTFOLIO_ASSETS_PGDATA": data}
    script = str(PROJECT / ".ci" / "postgres")
    try:
        url = subprocess.run([script, "start"], env=env, capture_output=True, text=True, check=True).stdout.strip()
        yield url, env
    finally:
        subprocess.run([script, "stop"], env=env, capture_output=True)
        shutil.rmtree(data, ignore_errors=True)


@pytest.mark.slow
@pytest.mark.skipif(not POSTGRES, reason="needs PostgreSQL: PORTFOLIO_ASSETS_TEST_STORAGE=postgres")
@pytest.mark.parametrize("stop_at", ["STEP_START:match_report", "STEP_SUCCESS:price_exports"])
def test_postgresql_stopping_mid_refresh_is_one_line_and_the_next_refresh_heals(
    world: Path,
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
    own_postgres: tuple[str, dict[str, str]],
    stop_at: str,
) -> None:
    url, server_env = own_postgres
    home = postgres_home(tmp_path / "home", url)
    script = str(PROJECT / ".ci" / "postgres")
    # The script stops this test's server, whatever the environment of the refresh.
    stop = tmp_path / "stop_postgres"
    stop.write_text(
        f"#!/bin/sh\nPGPORT={server_env['PGPORT']} PORTFOLIO_ASSETS_PGDATA={server_env['PORTFOLIO_ASSETS_PGDATA']} "
        f'exec {script} "$@"\n'
    )
    stop.chmod(0o755)
    env = {**environment(home), "PORTFOLIO_ASSETS_LOG_LEVEL": "DEBUG", "STOP_AT": stop_at, "STOP_COMMAND": str(stop)}
    done = subprocess.run(
        [sys.executable, "-c", STOPPING_POSTGRES_AT], cwd=world, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode not in (0, -signal.SIGKILL), done.stderr
    address = postgres_address(url.replace("postgresql+psycopg2://", "postgresql://"))
    assert done.stderr.splitlines() == [
        f"portfolio-assets: the Dagster instance's PostgreSQL at {address} is not reachable: No such file or "
        "directory; is the server running locally and accepting connections on that socket? "
        f"(the full error is in {home / LOG_FILE})"
    ], done.stderr
    assert "Retrying failed database connection" in (home / LOG_FILE).read_text()

    subprocess.run([script, "start"], env=server_env, capture_output=True, check=True)
    healed = subprocess.run(
        [str(BIN / "portfolio-assets"), "refresh"], cwd=world, env=environment(home), capture_output=True, text=True
    )
    assert healed.returncode == 0, healed.stdout + healed.stderr
    said = healed.stdout.splitlines()
    assert said[0].startswith("run ") and said[0].endswith(
        "was left running by a process that is gone: marked failed, pool slot freed"
    ), said
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED])) == []
        assert instance.event_log_storage.get_concurrency_info(POOL).claimed_slots == []
    assert output_files(world) == from_scratch(world, tmp_path_factory)
