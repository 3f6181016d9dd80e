"""Where the full detail of a fault goes, so that the terminal gets one line.

`portfolio-assets` prints one line per problem on stderr. Libraries log more than that
through Python's root logger: dagster-postgres logs a warning, with the driver's whole
message, for every retry of a lost connection (pages of them while a server is down),
and a root logger without a handler prints them on stderr. While a command runs, the
root logger writes to `DAGSTER_HOME/portfolio_assets.log` instead (created only when
something is logged; past 1 MB renamed to `portfolio_assets.log.1`), and so do the
notes Dagster writes on stderr itself when it cannot store a run's log record, and the
"Exception ignored in" tracebacks of generators Dagster leaves behind then. An error
the command reports in one line is written there with its traceback. A log that cannot
be written (a full disk) is skipped silently: the one line on the terminal still says
what is wrong.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO, cast

__all__ = ["LOG_FILE", "library_logs_to_file", "log_error"]

LOG_FILE = "portfolio_assets.log"
# Past this size the log is renamed to portfolio_assets.log.1 (replacing the older one).
MAX_LOG_BYTES = 1_000_000
_LOGGER = "portfolio_assets.cli"
# What Dagster 1.13 writes on stderr itself (dagster/_core/instance/types.py) when a log
# record cannot be stored; the error that follows reaches the command, which says it once.
DAGSTER_STDERR_NOTES = ("Exception while writing logger call to event log",)


class _LogFile(logging.Handler):
    """Appends each record to the log file, opened per record (records are rare: faults and
    retries), so the file exists only once something was logged. A record it cannot
    write is dropped instead of printing a "--- Logging error ---" traceback.

    Plain `logging`, not `logging.handlers`: this module is imported on the fast path."""

    def __init__(self, dagster_home: Path) -> None:
        super().__init__()
        self.path = dagster_home / LOG_FILE
        self.failed = False
        self.setFormatter(logging.Formatter("%(asctime)s %(process)d %(name)s %(levelname)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record) + "\n"
            if self.path.exists() and self.path.stat().st_size > MAX_LOG_BYTES:
                os.replace(self.path, self.path.with_name(LOG_FILE + ".1"))
            with open(self.path, "a", encoding="utf-8") as log:
                log.write(text)
        except Exception:  # noqa: BLE001 - a full disk, say: the terminal's one line still tells
            self.failed = True


class _StderrWithoutDagstersNotes:
    """sys.stderr, except the lines Dagster writes there itself when it cannot store a log
    record (one per record while the database is away), which go to the log file."""

    def __init__(self, stderr: TextIO, log: _LogFile) -> None:
        self._stderr = stderr
        self._log = log

    def write(self, text: str) -> int:
        if text.startswith(DAGSTER_STDERR_NOTES):
            self._log.handle(
                logging.makeLogRecord({"name": "dagster", "levelno": logging.WARNING, "msg": text.strip()})
            )
            return len(text)
        return self._stderr.write(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stderr, name)  # flush, isatty, fileno, encoding: the terminal's


@contextmanager
def library_logs_to_file(dagster_home: Path | None) -> Iterator[None]:
    """While the command runs, what libraries log goes to the log file in `dagster_home`
    (nothing changes when there is none)."""
    if dagster_home is None:
        yield
        return
    handler = _LogFile(dagster_home)
    root = logging.getLogger()
    root.addHandler(handler)
    stderr, unraisable = sys.stderr, sys.unraisablehook
    sys.stderr = cast("TextIO", _StderrWithoutDagstersNotes(stderr, handler))

    def log_unraisable(problem: Any) -> None:
        # "Exception ignored in: <generator ...>": Dagster's step generator, closed while
        # the database is away, fails once more on the way out; the command says it once.
        error = problem.exc_value
        trace = (type(error), error, problem.exc_traceback) if error is not None else None
        message = f"{problem.err_msg or 'Exception ignored in'}: {problem.object!r}"
        handler.handle(logging.LogRecord("python", logging.WARNING, __file__, 0, message, None, trace))

    sys.unraisablehook = log_unraisable
    try:
        yield
    finally:
        sys.stderr, sys.unraisablehook = stderr, unraisable
        root.removeHandler(handler)


def log_error(dagster_home: Path | None, summary: str, error: BaseException) -> Path | None:
    """Write `summary` and `error`'s traceback to the log file; returns its path, or None
    when it could not be written."""
    if dagster_home is None:
        return None
    handler = _LogFile(dagster_home)
    handler.handle(
        logging.LogRecord(_LOGGER, logging.ERROR, __file__, 0, summary, None, (type(error), error, error.__traceback__))
    )
    return None if handler.failed else handler.path
