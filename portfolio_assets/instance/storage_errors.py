"""The Dagster instance's storage failing, in one line: a full DAGSTER_HOME, a PostgreSQL
server that cannot be reached.

Dagster's storage raises SQLAlchemy's errors wrapping sqlite3's or psycopg2's, and
dagster-postgres raises its own exception after retrying a connection; our own
PostgreSQL lock raises psycopg2's error as it is. They arrive as pages of traceback, with
the cause at the bottom. `describe_storage_error` finds the cause in the exception's
chain (by the classes' names and modules, so that nothing here imports Dagster,
SQLAlchemy or a driver) and says it in one line the user can act on:

- `DAGSTER_HOME /path is full: free some space and run again`, when SQLite reports a
  full database, or any SQLite error (SQLite reports a journal it could not grow as a
  "disk I/O error") or an ENOSPC/EDQUOT error under DAGSTER_HOME comes with less than
  LOW_SPACE_BYTES free on that file system;
- `the Dagster instance in DAGSTER_HOME /path cannot be used: <SQLite's message>` for
  other SQLite errors (a locked or unreadable database, a file size limit);
- `the Dagster instance's PostgreSQL at HOST:PORT is not reachable: <reason>` for a
  connection that could not be made or was lost.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import yaml

from .dagster_internals.storage_tables import POSTGRES_RETRIES_EXHAUSTED
from .storage_config import read_storage_config

__all__ = ["LOW_SPACE_BYTES", "describe_storage_error", "postgres_address"]

# Below this much free space a failed write to the instance is taken for a full disk:
# SQLite needs room for its journal beside every write, so a disk this full fails writes
# long before it reaches zero, and the advice (free some space) holds either way.
LOW_SPACE_BYTES = 16 * 1024 * 1024
_FULL = (errno.ENOSPC, errno.EDQUOT)
# psycopg2's errors for a connection that could not be made or was lost.
_CONNECTION_ERRORS = {("psycopg2", "OperationalError"), ("psycopg2", "InterfaceError")}


def _chain(error: BaseException) -> Iterator[BaseException]:
    """`error`, then what it wraps: its cause or context, and a SQLAlchemy error's `orig`."""
    seen: set[int] = set()
    pending = [error]
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        for inner in (getattr(current, "orig", None), current.__cause__, current.__context__):
            if isinstance(inner, BaseException):
                pending.append(inner)


def _kind(error: BaseException) -> tuple[str, str]:
    cls = type(error)
    return cls.__module__.split(".")[0], cls.__name__


def _lines(error: BaseException) -> list[str]:
    return [line.strip() for line in str(error).splitlines() if line.strip()]


def _first_line(error: BaseException) -> str:
    lines = _lines(error)
    return lines[0] if lines else type(error).__name__


def _low_on_space(folder: Path) -> bool:
    try:
        stat = os.statvfs(folder)
    except OSError:
        return False
    return stat.f_bavail * stat.f_frsize < LOW_SPACE_BYTES


def _under(path: object, folder: Path) -> bool:
    if not isinstance(path, str | bytes | os.PathLike):
        return False
    try:
        return Path(os.fsdecode(path)).absolute().is_relative_to(folder.absolute())
    except (TypeError, ValueError):
        return False


def postgres_address(url: str) -> str:
    """HOST:PORT of a PostgreSQL URL (a socket folder given as `?host=` counts as the host)."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    host = query.get("host", [parts.hostname or "localhost"])[0]
    port = query.get("port", [str(parts.port or 5432)])[0]
    return f"{host}:{port}"


def _postgres_reason(causes: list[BaseException]) -> str:
    """What went wrong with the connection, without the address (the caller names it)."""
    drivers = [error for error in causes if _kind(error) in _CONNECTION_ERRORS]
    if not drivers:
        return _first_line(causes[0])
    lines = _lines(drivers[-1]) or [type(drivers[-1]).__name__]
    # 'connection to server at "127.0.0.1", port 5432 failed: Connection refused', then
    # libpq's hint 'Is the server running on that host and accepting TCP/IP connections?'
    _, failed, rest = lines[0].partition(" failed: ")
    reason = (rest if failed else lines[0]).removeprefix("FATAL:").strip() or type(drivers[-1]).__name__
    hint = next((line for line in lines[1:] if line.startswith("Is the server running")), None)
    return f"{reason}; {hint[0].lower()}{hint[1:]}" if hint else reason


def describe_storage_error(error: BaseException, dagster_home: Path) -> str | None:
    """One line for a failure of the instance's storage in `dagster_home`, or None when
    `error` is something else."""
    causes = list(_chain(error))
    home = f"DAGSTER_HOME {dagster_home}"
    if any(
        isinstance(cause, OSError) and cause.errno in _FULL and _under(cause.filename, dagster_home) for cause in causes
    ):
        return f"{home} is full: free some space and run again"
    sqlite_errors = [cause for cause in causes if isinstance(cause, sqlite3.Error)]
    if sqlite_errors:
        message = _first_line(sqlite_errors[-1])
        if "database or disk is full" in message or _low_on_space(dagster_home):
            return f"{home} is full: free some space and run again"
        return f"the Dagster instance in {home} cannot be used: {message}"
    connection_lost = [
        cause for cause in causes if _kind(cause) in _CONNECTION_ERRORS or _kind(cause) == POSTGRES_RETRIES_EXHAUSTED
    ]
    if connection_lost:
        try:
            url = read_storage_config(dagster_home).libpq_url
        except (OSError, ValueError, yaml.YAMLError):
            url = None
        where = f" at {postgres_address(url)}" if url else ""
        return f"the Dagster instance's PostgreSQL{where} is not reachable: {_postgres_reason(connection_lost)}"
    return None
