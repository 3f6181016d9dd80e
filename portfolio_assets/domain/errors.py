"""The errors the domain raises for bad input, each naming the file (and line),
and the one-line wording of an OSError (which path, what went wrong) the user sees.

Every error here survives pickling with its message and attributes: a worker
process's error reaches the parent as itself, not as a TypeError about `__init__`.
"""

from __future__ import annotations

import errno
import os
import re
import shlex
import signal
from pathlib import Path
from typing import Any

__all__ = [
    "BrokerListError",
    "FolderConflict",
    "InputVanished",
    "InvalidFolderSetting",
    "InvalidSetting",
    "MissingInputFolder",
    "PortfolioInputError",
    "WorkerProcessDied",
    "describe_exit",
    "describe_os_error",
    "one_line",
    "printable",
]


def _rebuilt(cls: type[BaseException], args: tuple[Any, ...], state: dict[str, Any]) -> BaseException:
    """An error of `cls` with these args (the message) and attributes, made without `__init__`."""
    error = cls.__new__(cls, *args)  # BaseException.__new__ sets .args
    error.__dict__.update(state)
    return error


class PortfolioInputError(ValueError):
    """Base class: input that the pipeline refuses to process."""

    def __reduce__(self) -> tuple[Any, ...]:
        # The default pickles `self.args` (the message) and calls `cls(*args)` when
        # unpickling, which fails for every subclass whose __init__ takes other
        # arguments. Rebuild from the message and attributes instead, without running
        # __init__ again (it would also recompute things like the working directory).
        return (_rebuilt, (type(self), self.args, dict(self.__dict__)))


class BrokerListError(PortfolioInputError):
    """A broker list that cannot be read: not UTF-8, not CSV, or no symbol column."""

    def __init__(self, path: Path, problem: str, line: int | None = None) -> None:
        self.path = Path(path)
        self.line = line
        where = f"{self.path}" if line is None else f"{self.path}, line {line}"
        super().__init__(f"broker list {where}: {problem}")


class MissingInputFolder(PortfolioInputError):
    """An input folder (Stooq tree or broker folder) that does not exist."""

    def __init__(self, path: Path, variable: str, what: str) -> None:
        self.path = Path(path)
        self.variable = variable
        super().__init__(
            f"{what} folder {self.path} does not exist (resolved from the working "
            f"directory {Path.cwd()}); create it or set {variable} to the right path"
        )


class InputVanished(PortfolioInputError):
    """An input that existed when the step started and disappeared while it ran."""

    def __init__(self, path: Path, while_doing: str) -> None:
        self.path = Path(path)
        super().__init__(
            f"{self.path} disappeared while {while_doing}; nothing was written. "
            "Run again once the input is back in place"
        )


class InvalidSetting(PortfolioInputError):
    """A setting whose value is not one of the allowed values."""

    def __init__(self, variable: str, value: str, allowed: tuple[str, ...]) -> None:
        self.variable = variable
        self.value = str(value)
        self.allowed = tuple(allowed)
        # Written as the user would type it in a shell: NAME=value, quoted only if needed.
        super().__init__(f"{variable}={shlex.quote(self.value)} {self.problem}")

    @property
    def problem(self) -> str:
        """What is wrong, without the variable's name (the CLI names its flag instead)."""
        return f"is not valid; expected one of: {', '.join(self.allowed)}"


class InvalidFolderSetting(InvalidSetting):
    """A folder setting that is a URL: the pipeline reads and writes local folders only."""

    def __init__(self, variable: str, value: str) -> None:
        super().__init__(variable, value, ())

    @property
    def problem(self) -> str:
        return "is a URL, not a folder; set it to a local folder (mount the storage and give its path)"


class FolderConflict(PortfolioInputError):
    """Two folder settings that overlap, or an output folder that is not a folder.

    The pipeline writes and removes files in its output folders, so a prices folder
    that is also the broker folder (say) would cost the user their files."""


class WorkerProcessDied(RuntimeError):
    """A worker process that ended while it had files to work on (the kernel's
    out-of-memory killer, most often). Not bad input: the same run may well pass again."""

    def __init__(self, exitcode: int | None, file: str | None) -> None:
        self.exitcode = exitcode
        self.file = file
        working_on = f" working on {file}" if file else ""
        super().__init__(
            f"a worker process died{working_on} ({describe_exit(exitcode)}); run again, "
            "or set PORTFOLIO_ASSETS_WORKERS=1 to parse in this process"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # As PortfolioInputError's: the default would call __init__ with the message alone.
        return (_rebuilt, (type(self), self.args, dict(self.__dict__)))


def describe_exit(exitcode: int | None) -> str:
    """How a child process ended, from its exit code as multiprocessing gives it
    (minus the signal's number when a signal ended it)."""
    if exitcode is None:
        return "its exit status is unknown"
    if exitcode >= 0:
        return f"it exited with status {exitcode}"
    try:
        name = signal.Signals(-exitcode).name
    except ValueError:
        name = f"signal {-exitcode}"
    # The kernel's out-of-memory killer sends SIGKILL, which nothing else sends on its own.
    return f"killed by {name}{', often the out-of-memory killer' if name == 'SIGKILL' else ''}"


# What to do about the OSErrors a user can fix; others are shown as they are.
_OS_ERROR_HINTS = {
    errno.ENOSPC: "free some space on that disk and run again",
    errno.EDQUOT: "the disk quota is used up; free some space and run again",
    errno.EACCES: "fix its permissions for this user, or point the folder's PORTFOLIO_ASSETS_* variable elsewhere",
    errno.EPERM: "fix its permissions for this user, or point the folder's PORTFOLIO_ASSETS_* variable elsewhere",
    errno.EROFS: "that file system is mounted read-only; point the folder's PORTFOLIO_ASSETS_* variable elsewhere",
}


def describe_os_error(error: OSError) -> str:
    """One line for an OSError: the path, what went wrong (`strerror`) and, when the
    user can fix it, how."""
    what = error.strerror or str(error) or type(error).__name__
    where = f"{error.filename}: " if error.filename else ""
    hint = _OS_ERROR_HINTS.get(error.errno) if error.errno is not None else None
    return f"{where}{what}{f'; {hint}' if hint else ''}".replace("\n", " ")


_TERMINAL_CODES = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def one_line(error: BaseException) -> str:
    """An error's message as one line without terminal colour codes (the Delta library's
    messages span lines and colour their parts)."""
    lines = [line.strip() for line in _TERMINAL_CODES.sub("", str(error)).splitlines()]
    return " ".join(line for line in lines if line) or type(error).__name__


def printable(name: str | os.PathLike[str]) -> str:
    """A file name or path as text any output takes (terminal, log, JSON, Dagster metadata):
    `os.scandir` hands bytes that are not UTF-8 over as surrogates, shown as `\\x..` escapes."""
    text = os.fspath(name)
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(text).decode("utf-8", "backslashreplace")
    return text
