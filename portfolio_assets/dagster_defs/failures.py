"""How bad input and faults surface: in Dagster, and on the shell of `portfolio-assets refresh`.

- In a step, our PortfolioInputError, a worker process that died (WorkerProcessDied)
  and any OSError (full disk, read-only folder) fail the step with a `dg.Failure`
  whose headline is one line naming the file.
- A refresh's runs print their log one line per record, on stderr, and leave
  failures out: the refresh ends with one line per failed step instead, taken
  from the failure events. The full log, stacks included, stays in the instance
  (and the UI).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import dagster as dg

from ..domain.errors import PortfolioInputError, WorkerProcessDied, describe_os_error
from ..instance.dagster_internals.library import (
    EPHEMERAL_JOB_NAME,
    is_skipped_step_message,
    run_log_record,
    step_error_headline,
)

__all__ = ["failing_clearly", "failure_lines", "materialize_with_one_line_log", "one_line_console_logger"]


@contextmanager
def failing_clearly() -> Iterator[None]:
    """Bad input, a dead worker process or an OSError fails the step with one line (file,
    line, variable, or the path and what went wrong) as the headline, instead of "Error
    occurred while executing op"."""
    try:
        yield
    except (PortfolioInputError, WorkerProcessDied) as error:
        raise dg.Failure(description=str(error)) from error
    except OSError as error:
        metadata = {"path": dg.MetadataValue.path(str(error.filename))} if error.filename else {}
        raise dg.Failure(description=describe_os_error(error), metadata=metadata) from error


# Failure records: the refresh's closing message says the same in one line per step.
_FAILURE_EVENTS = frozenset({dg.DagsterEventType.STEP_FAILURE, dg.DagsterEventType.RUN_FAILURE})


def _left_to_the_summary(record: logging.LogRecord, event: Any, message: str) -> bool:
    if event is not None and getattr(event, "event_type", None) in _FAILURE_EVENTS:
        return True
    # The executor's message for a step it skips follows a step failure; the summary
    # names that failure.
    return event is None and record.levelno >= logging.ERROR and is_skipped_step_message(message)


class _OneLineHandler(logging.Handler):
    """Each run-log record as one line on stderr: level, step, the first line of the message."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            logged = run_log_record(record)
            message = logged.message
            if _left_to_the_summary(record, logged.event, message):
                return
            step = logged.step_key
            first = message.splitlines()[0] if message else ""
            # sys.stderr looked up now, not when the handler was made: it may be replaced.
            sys.stderr.write(f"{record.levelname.lower()}{f' {step}' if step else ''}: {first}\n")
        except Exception:  # noqa: BLE001 - a log line must never fail the run
            self.handleError(record)


@dg.logger(
    config_schema={
        "log_level": dg.Field(
            str, is_required=False, default_value="WARNING", description="Records below this level are not printed."
        )
    },
    description="One line per record on stderr; step and run failures are left to the caller's summary.",
)
def one_line_console_logger(init_context: dg.InitLoggerContext) -> logging.Logger:
    level = logging.getLevelName(str(init_context.logger_config["log_level"]).upper())
    # A logger of its own, outside the logging tree: nothing propagates to the root logger.
    run_logger = logging.Logger(  # noqa: LOG001 - kept out of the logging tree on purpose
        "portfolio_assets.refresh", level=level if isinstance(level, int) else "WARNING"
    )
    run_logger.addHandler(_OneLineHandler())
    return run_logger


def materialize_with_one_line_log(
    assets: Sequence[Any],
    run_config: Any = None,
    instance: dg.DagsterInstance | None = None,
    resources: Mapping[str, object] | None = None,
    raise_on_error: bool = True,
    tags: Mapping[str, str] | None = None,
    selection: Any = None,
) -> dg.ExecuteInProcessResult:
    """`dg.materialize` with `one_line_console_logger` as the "console" logger.

    dg.materialize always uses Dagster's colored console logger, which prints each
    step failure's stack before the caller can say anything; so the same job is
    built here with our logger, under the job name dg.materialize gives its own (so these
    runs look the same in the UI). `run_config["loggers"]["console"]` configures it."""
    definitions = dg.Definitions(
        assets=list(assets),
        resources=resources,
        jobs=[dg.define_asset_job(EPHEMERAL_JOB_NAME, selection=selection)],
        loggers={"console": one_line_console_logger},
    )
    return definitions.resolve_job_def(EPHEMERAL_JOB_NAME).execute_in_process(
        run_config=run_config, instance=instance, raise_on_error=raise_on_error, tags=tags
    )


def _one_line(text: str) -> str:
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


def failure_lines(events: Iterable[Any]) -> list[str]:
    """One line per failed step: "step: what went wrong", our own message when there is one.

    A run that failed outside any step (it could not start, say) gives "run: ..."."""
    events = list(events)
    lines: list[str] = []
    for event in events:
        if event.event_type != dg.DagsterEventType.STEP_FAILURE:
            continue
        data = event.step_failure_data
        user = data.user_failure_data
        description = (user.description if user is not None else None) or step_error_headline(data.error)
        line = f"{event.step_key}: {_one_line(description) or 'failed'}"
        if line not in lines:
            lines.append(line)
    if not lines:
        for event in events:
            error = getattr(event.event_specific_data, "error", None)
            if event.event_type == dg.DagsterEventType.RUN_FAILURE and error is not None:
                lines.append(f"run: {_one_line(step_error_headline(error)) or 'failed'}")
    return lines
