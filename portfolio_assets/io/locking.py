"""One refresh at a time per Dagster instance: a file lock, and on a shared PostgreSQL
instance a database lock every host sees.

Held for a whole `portfolio-assets refresh` (and `status`), from before the instance
is first opened (so two commands on a fresh DAGSTER_HOME never race to create its
schema) until the last run ends. The file lock (`filelock`) orders the commands of one
DAGSTER_HOME; a PostgreSQL advisory lock, held on a connection of its own, orders
every host sharing the database. Both die with their holder: the operating system
releases the file lock, and the server ends the session (and its lock) when the
holder's connection closes, or within about 25 s of its host vanishing (TCP
keepalives).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from filelock import FileLock

__all__ = ["ADVISORY_LOCK_KEY", "LOCK_FILE", "exclusive_lock"]

LOCK_FILE = "portfolio_assets.lock"
# The advisory lock's key: any fixed 64-bit number that nothing else on the database uses.
ADVISORY_LOCK_KEY = 0x706F7274666F6C69  # "portfoli"


@contextmanager
def _advisory_lock(libpq_url: str) -> Iterator[None]:
    import psycopg2

    connection: Any = psycopg2.connect(
        libpq_url, connect_timeout=10, keepalives=1, keepalives_idle=10, keepalives_interval=5, keepalives_count=3
    )
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            # The server side too: a holder whose host vanished loses the lock in ~25 s.
            cursor.execute(
                "SET tcp_keepalives_idle = 10; SET tcp_keepalives_interval = 5; SET tcp_keepalives_count = 3"
            )
            cursor.execute("SELECT pg_advisory_lock(%s)", (ADVISORY_LOCK_KEY,))
        yield
    finally:
        connection.close()  # ends the session, which releases the lock


@contextmanager
def exclusive_lock(folder: Path, postgres_url: str | None = None) -> Iterator[float]:
    """Hold the folder's lock (and, given a libpq URL, the database's); yields the seconds
    spent waiting for them."""
    folder.mkdir(parents=True, exist_ok=True)
    # thread_local=False: the lock belongs to the process, whichever thread releases it.
    lock = FileLock(folder / LOCK_FILE, mode=0o644, thread_local=False)
    started = time.perf_counter()
    with ExitStack() as held:
        held.enter_context(lock.acquire())
        if postgres_url is not None:
            held.enter_context(_advisory_lock(postgres_url))
        yield time.perf_counter() - started
