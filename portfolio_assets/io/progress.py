"""Progress of long file work: whether this process shows it, where, and how.

A step that reads or writes thousands of files wraps its loop in `file_progress`.
Nothing is shown unless this process turned progress on (`enable_progress`, or
`progress_shown` for a block): only `portfolio-assets refresh` does, around its runs,
which Dagster executes in the same process. Runs of the UI, the daemon or a test
show nothing, and then `advance` is an empty method. PORTFOLIO_ASSETS_PROGRESS=0
(or `false`) keeps progress off even there.

Work that ends within `SHOW_AFTER_SECONDS` shows nothing at all, so short refreshes
print exactly what they printed before. Longer work shows, on a terminal, a tqdm bar
(`label: 40%|████ | 1200/3000 [00:02<00:03, 500files/s]`) redrawn in place and left
as the last state when the work ends; anywhere else (a pipe, a log file, CI) plain
lines such as `match_report: reading Stooq files: 1200/6109 files`, at most one
every `LINE_EVERY_SECONDS`, and a closing line when the work ends.

Progress goes to the stderr the process had when progress was enabled, through a
copy of its file descriptor: while a step runs, Dagster points descriptor 2 at the
step's captured log (and mirrors that file to the old stderr with `tail`), so the
step itself would see no terminal there, and a bar would fill the captured log.

`advance` may be called from any thread (a thread pool's workers): the count is kept
under a lock. Work in other processes is counted by the process that owns the pool,
as their results arrive.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Protocol, TextIO

from ..settings import PROGRESS

if TYPE_CHECKING:
    from tqdm import tqdm
    from typing_extensions import Never  # typing's from Python 3.11

__all__ = [
    "LINE_EVERY_SECONDS",
    "SHOW_AFTER_SECONDS",
    "Progress",
    "disable_progress",
    "enable_progress",
    "file_progress",
    "progress_enabled",
    "progress_shown",
]

# Work that ends sooner shows nothing; later, a bar (tqdm's own `delay`) or the first line.
SHOW_AFTER_SECONDS = 2.0
# Plain lines (stderr not a terminal) come at most this often.
LINE_EVERY_SECONDS = 5.0


class _Switch:
    """Whether this process shows progress: where it goes (None while off), and the
    copy of stderr that enable_progress opened, closed when progress is turned off."""

    output: TextIO | None = None
    owned: TextIO | None = None


_switch = _Switch()
_clock = time.monotonic  # replaced by the tests


class Progress(Protocol):
    """What `file_progress` yields."""

    def advance(self, n: int = 1) -> None:
        """Count `n` more files done."""


def enable_progress(stream: TextIO | None = None) -> bool:
    """Show progress of `file_progress` on `stream` from now on, in this process.

    `stream` None means this process's stderr, as a copy of its file descriptor taken
    now (see the module's doc). Returns False, leaving progress off, when
    PORTFOLIO_ASSETS_PROGRESS turns it off; an invalid value raises InvalidSetting."""
    disable_progress()
    if not PROGRESS.read():
        return False
    if stream is None:
        stream = _switch.owned = _copy_of_stderr()
    _switch.output = stream
    return True


def disable_progress() -> None:
    """Show no progress from now on (the default)."""
    owned, _switch.output, _switch.owned = _switch.owned, None, None
    if owned is not None and owned is not sys.stderr:
        with suppress(OSError):  # a terminal that went away: nothing more to show on it
            owned.close()


def progress_enabled() -> bool:
    return _switch.output is not None


@contextmanager
def progress_shown(stream: TextIO | None = None) -> Iterator[bool]:
    """Progress on for the block (`enable_progress`), off again after it; yields whether it is on."""
    try:
        yield enable_progress(stream)
    finally:
        disable_progress()


def _copy_of_stderr() -> TextIO:
    try:
        descriptor = os.dup(sys.stderr.fileno())
    except (AttributeError, ValueError, OSError):
        return sys.stderr  # no descriptor (a test's captured stream): write to it as it is
    return os.fdopen(descriptor, "w", encoding=sys.stderr.encoding or "utf-8", errors="replace", buffering=1)


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError, OSError):
        return False


def _columns(stream: TextIO) -> int:
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, ValueError, OSError):
        return 0


class _Silent:
    """Progress off, or nothing to count: advance does nothing (the hot loops call it per file)."""

    __slots__ = ()

    def advance(self, n: int = 1) -> None:
        pass


_SILENT = _Silent()


class _Bar:
    """A tqdm bar on a terminal; tqdm's `delay` keeps it hidden for SHOW_AFTER_SECONDS."""

    def __init__(self, label: str, total: int, stream: TextIO) -> None:
        from tqdm import tqdm

        self._lock = threading.Lock()
        # A terminal that reports no size (some pseudo-terminals) would get an empty bar.
        sized = _columns(stream) > 0
        self._bar: tqdm[Never] | None = tqdm(
            total=total,
            desc=label,
            unit="files",
            file=stream,
            delay=SHOW_AFTER_SECONDS,
            leave=True,
            dynamic_ncols=sized,  # follows the terminal's width
            ncols=None if sized else 80,
            disable=False,  # tqdm's default (None) would decide on the terminal itself
        )

    def advance(self, n: int = 1) -> None:
        with self._lock:
            if self._bar is not None:
                try:
                    self._bar.update(n)
                except (OSError, ValueError):
                    self._bar = None  # the terminal went away: the work goes on without it

    def close(self, completed: bool) -> None:
        with self._lock:
            if self._bar is not None:
                with suppress(OSError, ValueError):
                    self._bar.close()  # left on screen if shown; nothing if never shown
                self._bar = None


class _Lines:
    """Plain lines where stderr is not a terminal: none before SHOW_AFTER_SECONDS, then at
    most one every LINE_EVERY_SECONDS, and a closing line if any was shown."""

    def __init__(self, label: str, total: int, stream: TextIO) -> None:
        self._label = label
        self._total = total
        self._stream: TextIO | None = stream
        self._lock = threading.Lock()
        self._done = 0
        self._started = _clock()
        self._next_line_at = self._started + SHOW_AFTER_SECONDS
        self._shown = False

    def advance(self, n: int = 1) -> None:
        with self._lock:
            self._done += n
            now = _clock()
            if now >= self._next_line_at:
                self._next_line_at = now + LINE_EVERY_SECONDS
                self._write(f"{self._label}: {self._done}/{self._total} files")

    def close(self, completed: bool) -> None:
        with self._lock:
            if self._shown:
                seconds = _clock() - self._started
                ending = f"in {seconds:.1f} s" if completed else f"stopped after {seconds:.1f} s"
                self._write(f"{self._label}: {self._done}/{self._total} files {ending}")
            self._stream = None

    def _write(self, line: str) -> None:
        if self._stream is None:
            return
        try:
            self._stream.write(line + "\n")
            self._stream.flush()
        except (OSError, ValueError):
            self._stream = None  # the reader went away: the work goes on without it
            return
        self._shown = True


@contextmanager
def file_progress(label: str, total: int) -> Iterator[Progress]:
    """Count `total` files of work named `label` ("match_report: reading Stooq files").

    Call `advance()` once per file done (or `advance(n)` per batch of n). Shows
    nothing unless progress is on (see the module's doc) and the work takes longer
    than SHOW_AFTER_SECONDS."""
    stream = _switch.output
    if stream is None or total <= 0:
        yield _SILENT
        return
    shown: _Bar | _Lines
    if _is_terminal(stream):
        shown = _Bar(label, total, stream)
    else:
        shown = _Lines(label, total, stream)
    completed = False
    try:
        yield shown
        completed = True
    finally:
        shown.close(completed)
