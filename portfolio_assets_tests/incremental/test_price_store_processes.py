"""Readers never see a half-written store: a reader in another process, reading in a loop
while refreshes write, gets only committed versions and no error; and a refresh killed at
any moment leaves the last complete store readable, and the next refresh completes it."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from portfolio_assets.data import read_bars, read_prices

from .store_worlds import Row, StoreWorld, stored_rows

pytestmark = pytest.mark.slow

TICKERS = [f"T{number:03d}.US" for number in range(40)]


def fingerprint(table: pa.Table) -> str:
    """The rows of a store version, as one hash (the reader computes the same)."""
    digest = hashlib.sha256()
    for name in ("ticker", "line", "close"):
        digest.update(repr(table.column(name).to_pylist()).encode())
    return digest.hexdigest()


def reads_fingerprint(store: Path) -> list[str]:
    """What a backtest reads of the store, a hash for each call (a refresh may commit
    between them): read_prices' frame (its tickers, dates and closes), read_bars' rows."""
    closes = read_prices(store_dir=store)
    bars = read_bars(fields=["close"], store_dir=store).sort_values(["ticker", "line"])
    frame = hashlib.sha256(repr(list(closes.columns)).encode())
    frame.update(pd.util.hash_pandas_object(closes, index=True).to_numpy().tobytes())
    rows = hashlib.sha256()
    for name in ("ticker", "line", "close"):
        rows.update(repr(bars[name].tolist()).encode())
    return [frame.hexdigest(), rows.hexdigest()]


READER = """
import json, os, sys
sys.path.insert(0, sys.argv[4])
from pathlib import Path
from portfolio_assets_tests.incremental.test_price_store_processes import reads_fingerprint
store, out, stop = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
results = []
while not os.path.exists(stop):
    try:
        results.append(["ok", reads_fingerprint(store)])
    except Exception as error:
        results.append(["error", f"{type(error).__name__}: {error}"])
with open(out, "w") as handle:
    json.dump(results, handle)
"""


def _days(count: int, start: int = 0) -> list[Row]:
    return [(f"2024{1 + (day // 28) % 12:02d}{1 + day % 28:02d}", str(day)) for day in range(start, start + count)]


def _refreshes(world: StoreWorld) -> list[dict[str, list[Row]]]:
    """Refreshes as a daily update brings them: every ticker grows, one is revised, one
    goes, one comes."""
    exports = {ticker: _days(300) for ticker in TICKERS}
    states = [dict(exports)]
    for step in range(1, 7):
        exports = {ticker: rows + _days(1, 300 + step) for ticker, rows in exports.items()}
        revised = TICKERS[step]
        if revised in exports:
            exports[revised] = [(day, "9") for day, _ in exports[revised]]
        exports.pop(TICKERS[-step], None)
        exports[f"NEW{step}.US"] = _days(300)
        states.append(dict(exports))
    return states


def test_a_reader_in_a_loop_sees_only_committed_versions(tmp_path: Path) -> None:
    world = StoreWorld(tmp_path)
    states = _refreshes(world)
    world.write(states[0])
    world.sync()
    committed = set(reads_fingerprint(world.store))
    out, stop = tmp_path / "reads.json", tmp_path / "stop"
    project = str(Path(__file__).resolve().parents[2])
    reader = subprocess.Popen([sys.executable, "-c", READER, str(world.store), str(out), str(stop), project])
    try:
        time.sleep(1.0)
        for state in states[1:]:
            world.write(state)
            world.sync()
            committed.update(reads_fingerprint(world.store))
            time.sleep(0.3)
    finally:
        stop.touch()
        assert reader.wait(timeout=60) == 0
    reads = json.loads(out.read_text())
    errors = [detail for kind, detail in reads if kind == "error"]
    assert not errors, errors[:3]
    seen = {part for kind, detail in reads if kind == "ok" for part in detail}
    assert len(reads) >= 10 and len(seen) >= 3  # it did read during the refreshes
    assert seen <= committed, f"{len(seen - committed)} state(s) never committed"


WRITER = """
import sys
sys.path.insert(0, sys.argv[2])
from pathlib import Path
from portfolio_assets_tests.incremental.store_worlds import StoreWorld
import json
world = StoreWorld(Path(sys.argv[1]))
world.exports = json.loads(Path(sys.argv[3]).read_text())
print("ready", flush=True)
world.sync()
print("done", flush=True)
"""


def test_a_refresh_killed_at_any_moment_leaves_the_last_complete_store(tmp_path: Path) -> None:
    world = StoreWorld(tmp_path)
    before = {ticker: _days(400) for ticker in TICKERS}
    world.write(before)
    world.sync()
    complete = fingerprint(stored_rows(world.store))
    after = {ticker: [(day, "7") for day, _ in rows] + _days(2, 400) for ticker, rows in before.items()}
    del after[TICKERS[0]]
    world.write(after)
    state = tmp_path / "exports.json"
    state.write_text(json.dumps(after))
    project = str(Path(__file__).resolve().parents[2])
    finished = fingerprint(world.from_scratch())
    killed = 0
    for delay in (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.8):
        with subprocess.Popen(
            [sys.executable, "-c", WRITER, str(world.root), project, str(state)], stdout=subprocess.PIPE, text=True
        ) as writer:
            assert writer.stdout is not None and writer.stdout.readline().strip() == "ready"
            time.sleep(delay)
            os.kill(writer.pid, signal.SIGKILL)
            writer.wait(timeout=30)
        killed += 1
        now = fingerprint(stored_rows(world.store))
        assert now in (complete, finished), f"killed after {delay} s, the store is neither version"
        if now == finished:
            break  # this one committed before the kill
    assert killed >= 2, "every refresh committed before its kill: kill sooner"
    # Whatever was killed where, the next refresh completes the store.
    world.sync()
    assert stored_rows(world.store).equals(world.from_scratch())


RACER = """
import json, sys, time
sys.path.insert(0, sys.argv[2])
from pathlib import Path
from portfolio_assets_tests.incremental.store_worlds import StoreWorld
world = StoreWorld(Path(sys.argv[1]))
world.exports = json.loads(sys.argv[3])
world.grown = {name: tuple(stamps) for name, stamps in json.loads(sys.argv[4]).items()}
start = float(sys.argv[5])
while time.time() < start:
    pass
print(sorted(world.sync().appended), flush=True)
"""


def test_two_refreshes_at_once_take_turns(tmp_path: Path) -> None:
    """Two refreshes over one store (two shells with their own DAGSTER_HOME): the second
    waits for the first, finds its rows stored, and appends nothing twice."""
    world = StoreWorld(tmp_path)
    exports = {ticker: _days(5) for ticker in TICKERS[:5]}
    world.write(exports)
    world.sync()
    world.write({ticker: rows + _days(1, 5) for ticker, rows in exports.items()})
    project = str(Path(__file__).resolve().parents[2])
    start = str(time.time() + 2.0)  # both past their imports, then at once
    arguments = [str(world.root), project, json.dumps(world.exports), json.dumps(world.grown), start]
    racers = [
        subprocess.Popen([sys.executable, "-c", RACER, *arguments], stdout=subprocess.PIPE, text=True) for _ in range(2)
    ]
    outputs = sorted(racer.communicate(timeout=60)[0].strip() for racer in racers)
    assert all(racer.returncode == 0 for racer in racers)
    assert outputs == [str(sorted(exports)), "[]"]  # one appended, the other found it done
    assert world.stored().equals(world.from_scratch())
    assert not world.sync().rebuilt
