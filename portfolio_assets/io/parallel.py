"""Spreading per-file work over the machine's cores when there is enough of it, and
telling whether a process still exists.

Cold runs and daily updates read hundreds to thousands of price files. Reading and
hashing release Python's lock (the GIL), so that work goes to a pool of threads,
which costs nothing to start. Parsing whole files holds the lock, so it pays to
spread it over processes, but only when there is enough of it: measured on the
2-core machine, a pool of worker processes costs about 0.3 s to start, which
parsing on two cores wins back from about `PROCESS_MIN_BYTES` of prices on. The
caller says how many bytes its items will parse. Worker processes come from a
forkserver that preloads the price reader, so they never inherit the state of a
process running Dagster; the pool is shut down, and the forkserver stopped, before
`map_files` returns, so no process outlives the work.

Workers exit when the process that owns the pool dies. Without that, a pool
whose owner is killed (SIGKILL: no cleanup runs) lives on forever: each worker
blocks reading the task queue, whose write end every worker also holds, and
each holds a copy of the forkserver's "alive" pipe, so the forkserver never
sees its client go either. A daemon thread in every worker watches the owner
(pid and start time) and ends the worker once the owner is gone; the
forkserver and multiprocessing's resource tracker then see their pipes close
and exit on their own.

`process_state` is the one answer to "does this process still exist" for the
whole project: the workers ask it about their owner, and `portfolio_assets.instance.runs`
about the process recorded for a Dagster run.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from typing import Literal, TypeVar

import psutil

from ..domain.settings import worker_setting
from .progress import file_progress

__all__ = [
    "MIN_THREADED",
    "PROCESS_MIN_BYTES",
    "THREAD_CHUNK",
    "ProcessState",
    "map_files",
    "process_identity",
    "process_state",
    "worker_count",
]

# Fewer items than this are not worth a thread pool.
MIN_THREADED = 8
# At most this many items go to a thread at once (so that progress still moves).
THREAD_CHUNK = 32
# Parsing at least this many bytes pays for starting worker processes (see above).
PROCESS_MIN_BYTES = 48 * 1024 * 1024
# How often a worker looks at its owner: an orphaned pool is gone within about this long.
OWNER_POLL_SECONDS = 0.5
# Two start times this close name the same process. psutil gives them to 0.01 s on Linux;
# a pid can only be reused after the kernel wraps around the pid space, which never takes
# under a second, so the slack can only ever make a dead process look alive (fail closed).
SAME_START_SECONDS = 1.0
Item = TypeVar("Item")
Result = TypeVar("Result")
ProcessState = Literal["alive", "dead", "unknown"]


def worker_count() -> int:
    """Cores this process may use (PORTFOLIO_ASSETS_WORKERS overrides; 1 disables the pool)."""
    configured = worker_setting()
    if configured is not None:
        return configured
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def process_identity() -> tuple[int, float]:
    """This process as (pid, start time in seconds since the epoch, as psutil reports it)."""
    return os.getpid(), psutil.Process().create_time()


def process_state(pid: int, started: float | None = None) -> ProcessState:
    """Whether the process `pid`, started at `started` (see `process_identity`), exists on this host.

    "dead" only when that is certain: no process has that pid, the one that has it is
    a zombie (it has exited; only its exit status is left), or it started at another
    time (the pid was reused). Anything this process cannot check is "unknown", never
    "dead". With `started` None any process with that pid counts as the one meant.
    Note that start times are wall-clock times: a step of the system clock by more
    than `SAME_START_SECONDS` between recording and checking makes a live process look
    reused (psutil derives them from the boot time, which moves with the clock).
    """
    if pid <= 0:
        return "unknown"
    try:
        # psutil reads /proc on Linux; where it is missing or hidden every process looks
        # absent, so first make sure we can see ourselves.
        psutil.Process(os.getpid()).create_time()
    except (psutil.Error, OSError):
        return "unknown"
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return "dead"
        actual = process.create_time()
    except psutil.NoSuchProcess:  # includes psutil.ZombieProcess
        return "dead"
    except (psutil.Error, OSError, ValueError, OverflowError):  # access denied, odd platforms
        return "unknown"
    if started is not None and abs(actual - started) > SAME_START_SECONDS:
        return "dead"
    return "alive"


def _exit_when_gone(owner_pid: int, owner_started: float) -> None:
    while process_state(owner_pid, owner_started) != "dead":
        time.sleep(OWNER_POLL_SECONDS)
    # The owner cannot collect results any more: end now, without the interpreter's
    # clean-up (which would wait on queue feeder threads talking to a dead process).
    os._exit(1)


def _watch_owner(owner_pid: int, owner_started: float) -> None:
    """Pool initializer: run `_exit_when_gone` beside the worker's task loop."""
    threading.Thread(
        target=_exit_when_gone, args=(owner_pid, owner_started), name="watch-pool-owner", daemon=True
    ).start()


def _in_processes(function: Callable[[Item], Result], items: Sequence[Item], workers: int) -> Iterator[Result]:
    context = multiprocessing.get_context("forkserver")
    # Preloading this module too saves each worker importing psutil for its watcher.
    context.set_forkserver_preload(["portfolio_assets.domain.price_scan", "portfolio_assets.io.parallel"])
    chunk = max(1, len(items) // (workers * 8))
    try:
        with ProcessPoolExecutor(
            max_workers=workers, mp_context=context, initializer=_watch_owner, initargs=process_identity()
        ) as pool:
            yield from pool.map(function, items, chunksize=chunk)
    finally:
        _stop_forkserver()


def _stop_forkserver() -> None:
    """End the forkserver and multiprocessing's resource tracker now rather than when this
    process exits: a refresh's helpers must not outlive it, nor a long-lived process such
    as the Dagster daemon keep them idle. Both have only private stop methods (Python
    3.8 on); where they are missing, the processes still end with this one."""
    from multiprocessing import forkserver, resource_tracker

    for server in (forkserver._forkserver, resource_tracker._resource_tracker):
        stop = getattr(server, "_stop", None)
        if callable(stop):
            # State inherited from another process (a pid of None, a child not ours) means
            # there is nothing of ours to stop.
            with contextlib.suppress(OSError, TypeError, ChildProcessError):
                stop()


def map_files(
    function: Callable[[Item], Result], items: Sequence[Item], label: str = "", parse_bytes: int = 0
) -> list[Result]:
    """`[function(item) for item in items]`, in order, on several cores when worth it.

    `parse_bytes` is how much the items will parse while holding the GIL (see the module's
    docstring); `label` names the work in progress output."""
    workers = min(worker_count(), 8)
    with file_progress(label or "reading files", len(items)) as progress:
        if workers < 2 or len(items) < MIN_THREADED:
            results = []
            for item in items:
                results.append(function(item))
                progress.advance()
            return results
        if parse_bytes >= PROCESS_MIN_BYTES and len(items) >= workers:
            results = []
            for result in _in_processes(function, items, workers):
                results.append(result)
                progress.advance()
            return results

        def counted(part: Sequence[Item]) -> list[Result]:
            done = []
            for item in part:
                done.append(function(item))
                progress.advance()
            return done

        # Items go to the threads in small runs: a future per file costs more than
        # hashing a small one.
        size = max(1, min(THREAD_CHUNK, len(items) // (workers * 8)))
        parts = [items[start : start + size] for start in range(0, len(items), size)]
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="portfolio-assets-files")
        try:
            return [result for part in pool.map(counted, parts) for result in part]
        finally:
            # On a failure the items not started yet are dropped, not worked through.
            pool.shutdown(wait=True, cancel_futures=True)
