"""One refresh at a time per Dagster instance: an advisory file lock (from `filelock`).

Held for a whole `portfolio-assets refresh`, from before the instance is first
opened (so two commands on a fresh DAGSTER_HOME never race to create its
schema) until the last run ends. The operating system releases the lock when its
process dies, so a killed refresh never leaves it held.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock

__all__ = ["LOCK_FILE", "exclusive_lock"]

LOCK_FILE = "portfolio_assets.lock"


@contextmanager
def exclusive_lock(folder: Path) -> Iterator[float]:
    """Hold the folder's lock; yields the seconds spent waiting for it."""
    folder.mkdir(parents=True, exist_ok=True)
    # thread_local=False: the lock belongs to the process, whichever thread releases it.
    lock = FileLock(folder / LOCK_FILE, mode=0o644, thread_local=False)
    started = time.perf_counter()
    with lock.acquire():
        yield time.perf_counter() - started
