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
process running Dagster; the workers are stopped, and the forkserver with them,
before `map_files` returns, so no process outlives the work.

The pool is our own rather than `concurrent.futures.ProcessPoolExecutor`: each
worker has one pipe to the owner, gets one batch of items at a time, answers it
as a whole, and keeps the index of the item it is on in memory it shares with
the owner (one number, no lock). So the owner always knows which item a worker
is on, and a worker that dies (the kernel's out-of-memory killer sends SIGKILL)
shows at once as the end of its pipe: the work ends with one `WorkerProcessDied`
naming the file, the signal and what to do, instead of a `BrokenProcessPool`
without a hint (or multiprocessing's own tracebacks). Nor does the pool need a
named semaphore: the executor's queues lock with them, which multiprocessing
registers with its resource tracker when a forkserver starts the workers, and
once a worker or the owner is killed the tracker finds them still registered and
warns of "leaked semaphore objects" on the terminal. Pipes, processes and the
shared number (a file unlinked as soon as it is made) register nothing there.

Workers exit when the process that owns the pool dies. A waiting worker sees the
end of its pipe at once, a busy one before its next item; and a daemon
thread in every worker watches the owner (pid and start time) and ends the worker
within `OWNER_POLL_SECONDS` even in the middle of a long file. Each worker holds a
copy of the forkserver's "alive" pipe, so the forkserver (and multiprocessing's
resource tracker) exit on their own once the workers are gone.

`process_state` is the one answer to "does this process still exist" for the
whole project: the workers ask it about their owner, and `portfolio_assets.instance.runs`
about the process recorded for a Dagster run.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import pickle
import selectors
import signal
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from multiprocessing.context import ForkServerContext
from multiprocessing.process import BaseProcess
from typing import Any, Literal, TypeVar

import psutil

from ..domain.errors import WorkerProcessDied
from ..settings import WORKERS
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
# How long the workers get to finish the item they are on once the work ends (on a failure,
# most often) before they are killed.
STOP_GRACE_SECONDS = 30.0
# Two start times this close name the same process. psutil gives them to 0.01 s on Linux;
# a pid can only be reused after the kernel wraps around the pid space, which never takes
# under a second, so the slack can only ever make a dead process look alive (fail closed).
SAME_START_SECONDS = 1.0
Item = TypeVar("Item")
Result = TypeVar("Result")
ProcessState = Literal["alive", "dead", "unknown"]


def worker_count() -> int:
    """Cores this process may use (PORTFOLIO_ASSETS_WORKERS overrides; 1 disables the pool)."""
    configured = WORKERS.read()
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
    # The owner cannot collect results any more: end now, without the interpreter's clean-up.
    os._exit(1)


class WorkerTraceback(Exception):
    """Where an error raised in a worker process came from: the worker's formatted
    traceback, attached as the error's `__cause__` so that the run's full log shows it."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def _portable(error: BaseException) -> tuple[BaseException, str]:
    """`error` (or, if it cannot cross a pipe, a RuntimeError saying what it was) and its traceback."""
    text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    try:
        pickle.loads(pickle.dumps(error))
    except Exception:  # noqa: BLE001 - any failure to pickle or unpickle it
        return RuntimeError(f"{type(error).__name__}: {error}"), text
    return error, text


def _serve(
    function: Callable[[Any], Any], connection: Connection, on_item: Any, owner_pid: int, owner_started: float
) -> None:
    """A worker process's life: batches of `(index, item)` in; per batch, one answer out:
    the results in order, and the error that ended the batch early, if one did.

    Before each item it writes the item's index to `on_item`, memory it shares with the
    owner, which reads it if this process dies. It ends when the owner closes its end of
    the pipe (seen while waiting for a batch, between two items, or when an answer can no
    longer be sent), and when the owner dies."""
    # Ctrl-C on a terminal reaches the whole process group; the owner handles it and ends us.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(
        target=_exit_when_gone, args=(owner_pid, owner_started), name="watch-pool-owner", daemon=True
    ).start()
    # One selector for the whole life: Connection.poll would build one per call.
    owner_closed = selectors.DefaultSelector()
    owner_closed.register(connection, selectors.EVENT_READ)
    try:
        while True:
            batch = connection.recv()
            results: list[Any] = []
            failure = None
            for index, item in batch:
                # The owner sends nothing while a batch is under way, so anything to read
                # is the end of the pipe: the owner wants no more.
                if results and owner_closed.select(0):
                    return
                on_item.value = index
                try:
                    results.append(function(item))
                except BaseException as error:  # noqa: BLE001 - every error goes back to the owner
                    failure = _portable(error)
                    break
            try:
                connection.send((results, failure))
            except OSError:
                raise
            except Exception as error:  # noqa: BLE001 - a result that cannot be pickled
                connection.send(([], _portable(error)))
    except (EOFError, OSError):
        return  # the owner closed the pipe, or died


class _Worker:
    """A worker process, the owner's end of its pipe, the index of the item it is on (shared
    memory the worker writes), and the indices of the batch it is working through."""

    def __init__(self, process: BaseProcess, connection: Connection, on_item: Any) -> None:
        self.process = process
        self.connection = connection
        self.on_item = on_item
        self.batch: list[int] = []


def _start_workers(
    context: ForkServerContext, function: Callable[[Any], Any], count: int, workers: list[_Worker]
) -> None:
    """Start `count` workers into `workers`, where each is as soon as it runs: if a later
    one fails to start, the caller still stops those already running."""
    owner_pid, owner_started = process_identity()
    for number in range(count):
        ours, theirs = context.Pipe(duplex=True)
        # Memory without a lock: one writer, and the owner reads it only once the writer is dead.
        on_item = context.RawValue("q", -1)
        process = context.Process(
            target=_serve,
            args=(function, theirs, on_item, owner_pid, owner_started),
            name=f"portfolio-assets-worker-{number}",
            daemon=True,
        )
        try:
            process.start()
        except BaseException:
            ours.close()
            raise
        finally:
            # Only the worker holds its end now, so its death shows here as the end of the pipe.
            theirs.close()
        workers.append(_Worker(process, ours, on_item))


def _stop_workers(workers: list[_Worker]) -> None:
    """Close every pipe, so each worker ends after the item it is on, and wait for them all."""
    for worker in workers:
        worker.connection.close()
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for worker in workers:
        worker.process.join(max(0.0, deadline - time.monotonic()))
        if worker.process.exitcode is None:
            # Stuck (in a hung read, say): its work is abandoned, and atomic writes leave
            # at most a temporary file, which the next refresh removes.
            worker.process.kill()
            worker.process.join()


def _in_processes(
    function: Callable[[Item], Result],
    items: Sequence[Item],
    count: int,
    advance: Callable[[int], None],
    item_file: Callable[[Item], object] | None,
) -> list[Result]:
    """Each worker has one batch of items at a time and answers it as a whole, so messages
    stay few; the item it is on it keeps in memory shared with this process, so that its
    death, which shows at once as the end of its pipe, can name that item."""
    context = multiprocessing.get_context("forkserver")
    # Preloading this module too saves each worker importing psutil for its watcher.
    context.set_forkserver_preload(["portfolio_assets.domain.price_scan", "portfolio_assets.io.parallel"])
    size = max(1, len(items) // (count * 8))
    batches = deque(list(range(start, min(start + size, len(items)))) for start in range(0, len(items), size))
    results: list[Any] = [None] * len(items)
    unanswered = len(items)
    workers: list[_Worker] = []

    def give_batch(worker: _Worker) -> None:
        worker.batch = batches.popleft() if batches else []
        if worker.batch:
            try:
                worker.connection.send([(index, items[index]) for index in worker.batch])
            except OSError:
                # Dead before it took its batch (between two batches, or at start-up): the
                # same one line as a death seen on its pipe, not a bare BrokenPipeError.
                raise died(worker) from None
        else:
            answering.unregister(worker.connection)  # done: its exit from now on is no failure

    def died(worker: _Worker) -> WorkerProcessDied:
        worker.process.join(STOP_GRACE_SECONDS)  # the exit status comes from the forkserver
        index = worker.on_item.value
        on = str(item_file(items[index])) if index in worker.batch and item_file is not None else None
        return WorkerProcessDied(worker.process.exitcode, on)

    # One selector for the whole map: multiprocessing.connection.wait builds one per call.
    answering = selectors.DefaultSelector()
    try:
        _start_workers(context, function, count, workers)
        for worker in workers:
            answering.register(worker.connection, selectors.EVENT_READ, worker)
            give_batch(worker)
        while unanswered:
            for key, _ in answering.select():
                worker = key.data
                try:
                    answered, failure = worker.connection.recv()
                except (EOFError, OSError):
                    raise died(worker) from None
                if failure is not None:
                    error, text = failure
                    error.__cause__ = WorkerTraceback(text)
                    raise error
                for index, result in zip(worker.batch, answered, strict=True):
                    results[index] = result
                unanswered -= len(answered)
                advance(len(answered))
                give_batch(worker)
        return results
    finally:
        answering.close()
        _stop_workers(workers)
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
    function: Callable[[Item], Result],
    items: Sequence[Item],
    label: str = "",
    parse_bytes: int = 0,
    item_file: Callable[[Item], object] | None = None,
) -> list[Result]:
    """`[function(item) for item in items]`, in order, on several cores when worth it.

    `parse_bytes` is how much the items will parse while holding the GIL (see the module's
    docstring); `label` names the work in progress output; `item_file` names the file an
    item works on, for the error a worker process's death raises (`WorkerProcessDied`)."""
    workers = min(worker_count(), 8)
    with file_progress(label or "reading files", len(items)) as progress:
        if workers < 2 or len(items) < MIN_THREADED:
            results = []
            for item in items:
                results.append(function(item))
                progress.advance()
            return results
        if parse_bytes >= PROCESS_MIN_BYTES and len(items) >= workers:
            return _in_processes(function, items, workers, progress.advance, item_file)

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
