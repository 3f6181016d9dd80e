"""Spreading per-file work over the machine's cores when there is enough of it.

Cold runs and daily updates read hundreds to thousands of price files; below
`MIN_PARALLEL` items the work stays in this process, since starting workers
costs more than it saves. Workers come from a forkserver that preloads the
price reader, so they never inherit the state of a process running Dagster.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

from .settings import worker_setting

__all__ = ["MIN_PARALLEL", "map_files", "worker_count"]

MIN_PARALLEL = 200
Item = TypeVar("Item")
Result = TypeVar("Result")


def worker_count() -> int:
    """Cores this process may use (PORTFOLIO_ASSETS_WORKERS overrides; 1 disables the pool)."""
    configured = worker_setting()
    if configured is not None:
        return configured
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def map_files(function: Callable[[Item], Result], items: Sequence[Item]) -> list[Result]:
    """`[function(item) for item in items]`, in order, on several cores when worth it."""
    workers = min(worker_count(), 8)
    if workers < 2 or len(items) < MIN_PARALLEL:
        return [function(item) for item in items]
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["portfolio_assets.core.price_scan"])
    chunk = max(1, len(items) // (workers * 8))
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        return list(pool.map(function, items, chunksize=chunk))
