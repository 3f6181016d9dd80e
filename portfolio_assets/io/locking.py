"""One refresh at a time per Dagster instance: an advisory file lock.

Held for a whole `portfolio-assets refresh`, from before the instance is first
opened (so two commands on a fresh DAGSTER_HOME never race to create its
schema) until the last run ends. The lock dies with its process, so a killed
refresh never leaves it held.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["LOCK_FILE", "exclusive_lock"]

LOCK_FILE = "portfolio_assets.lock"


@contextmanager
def exclusive_lock(folder: Path) -> Iterator[float]:
    """Hold the folder's lock; yields the seconds spent waiting for it."""
    folder.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    started = time.perf_counter()
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield time.perf_counter() - started
    finally:
        fcntl.flock(descriptor, fcntl.LOCK_UN)
        os.close(descriptor)
