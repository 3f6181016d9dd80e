"""Dagster's storage read as files and SQL tables, without importing Dagster.

The CLI's fast path answers "nothing changed" in milliseconds, so it cannot import
Dagster (seconds); it reads the instance's storage directly instead. This module is the
only place that knows how Dagster lays that storage out (dagster 1.13.27, see the
package docstring):

- local SQLite under DAGSTER_HOME: the run storage in `history/runs.db` (table `runs`,
  column `status`), the event log in one database per run plus an index, all in
  `history/runs/`; every event written changes one of those files;
- PostgreSQL: the tables `runs` (column `status`) and `event_logs` (column `id`, which
  grows with every event of every host).

It also names the exception dagster-postgres raises when its storage cannot be reached,
so that a lost database is told in one line without importing dagster-postgres.

Every read is read-only and fails soft (None): the caller then asks Dagster.
portfolio_assets_tests/instance/test_dagster_internals.py holds these names to
Dagster's own schema and layout.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

__all__ = [
    "ENDED_RUN_STATUSES",
    "EVENT_ID_COLUMN",
    "EVENT_LOGS_TABLE",
    "POSTGRES_RETRIES_EXHAUSTED",
    "RUNS_TABLE",
    "RUN_STATUS_COLUMN",
    "EventLogFile",
    "postgres_event_log_state",
    "sqlite_event_log_files",
    "sqlite_runs_in_flight",
    "sqlite_runs_path",
]

# The run statuses after which a run writes nothing more (dagster.DagsterRunStatus values,
# spelled out: this module does not import Dagster). Any other status is in flight.
ENDED_RUN_STATUSES = ("SUCCESS", "FAILURE", "CANCELED")
RUNS_TABLE, RUN_STATUS_COLUMN = "runs", "status"
EVENT_LOGS_TABLE, EVENT_ID_COLUMN = "event_logs", "id"
_IN_FLIGHT_RUNS = (
    f"SELECT count(*) FROM {RUNS_TABLE} "
    f"WHERE {RUN_STATUS_COLUMN} NOT IN ({', '.join(repr(status) for status in ENDED_RUN_STATUSES)})"
)
# What dagster-postgres raises once its retries of a lost connection ran out, as (top-level
# package, class name): recognised without importing it (the postgres extra may be absent).
POSTGRES_RETRIES_EXHAUSTED = ("dagster_postgres", "DagsterPostgresException")
# How long a read may wait for a locked SQLite file or an unanswering server, in seconds.
_TIMEOUT_SECONDS = 2

EventLogFile = tuple[str, int, int]
"""One file of the local event log: (name, size in bytes, mtime in nanoseconds)."""


def sqlite_runs_path(dagster_home: Path) -> Path:
    """The local SQLite run storage of the instance in `dagster_home`."""
    return dagster_home / "history" / "runs.db"


def _sqlite_event_log_folder(dagster_home: Path) -> Path:
    return dagster_home / "history" / "runs"


def sqlite_event_log_files(dagster_home: Path) -> list[EventLogFile]:
    """Every file of the local event log, by name; raises OSError when it cannot be listed."""
    entries = sorted(os.scandir(_sqlite_event_log_folder(dagster_home)), key=lambda entry: entry.name)
    files = []
    for entry in entries:
        stat = entry.stat(follow_symlinks=False)
        files.append((entry.name, stat.st_size, stat.st_mtime_ns))
    return files


def sqlite_runs_in_flight(dagster_home: Path) -> int | None:
    """How many runs the local run storage records as in flight (None: cannot tell)."""
    runs = sqlite_runs_path(dagster_home)
    if not runs.exists():
        return 0  # no run was ever created here
    try:
        # Read-only: never a checkpoint or a journal of ours in Dagster's database.
        connection = sqlite3.connect(f"{runs.absolute().as_uri()}?mode=ro", uri=True, timeout=_TIMEOUT_SECONDS)
        try:
            row = connection.execute(_IN_FLIGHT_RUNS).fetchone()
        finally:
            connection.close()
    except sqlite3.Error:
        return None
    return None if row is None else int(row[0])


def postgres_event_log_state(libpq_url: str) -> tuple[int, int, int] | None:
    """(newest event id, number of events, runs in flight) of the shared instance in the
    database at `libpq_url`, in one query; None when it cannot be read."""
    try:
        import psycopg2  # only with the postgres extra; a few milliseconds, no Dagster

        with (
            psycopg2.connect(libpq_url, connect_timeout=_TIMEOUT_SECONDS) as connection,
            connection.cursor() as cursor,
        ):
            cursor.execute(
                f"SELECT coalesce(max({EVENT_ID_COLUMN}), 0), count(*), ({_IN_FLIGHT_RUNS}) FROM {EVENT_LOGS_TABLE}"
            )
            row = cursor.fetchone()
        connection.close()
    except Exception:  # noqa: BLE001 - no driver, no server, no table: don't know, ask Dagster
        return None
    if row is None:
        return None
    return int(row[0]), int(row[1]), int(row[2])
