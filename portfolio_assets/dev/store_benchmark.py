"""The price store's benchmark: what the store adds to a cold and a daily refresh, how fast
a backtest loads it, and its size, on a benchmark world's exports.

    python -m portfolio_assets.dev.store_benchmark --world /dev/shm/bench100k/world \\
        --workdir /dev/shm/store-bench --runs 3
    python -m portfolio_assets.dev.benchmark ... --store   (the same, after the scenarios)

The world's exports and match report (after a refresh) are copied into the work folder
once; the world itself is never changed. Each run, in this order, each measurement a
separate process (like the refresh scenarios, this module imports nothing of the package;
the processes do):

- store cold: the store built from the copied exports with no store and no record (the
  price_store step's work in a cold refresh, without Dagster);
- store daily: one row appended to every export (the next calendar day), then the store
  brought up to date (its work in the daily update);
- read_prices, store: every ticker's close as the wide frame, from the store;
- read_prices, CSV: the same frame from the CSV exports (the reading before the store);
- read_bars, all: the whole store, every field, long, into pandas.

Each line is the median over the runs, with every run's value; sizes are of the CSV
exports and of the store's prices table (its data files and log) after the last run.
Goals (issue 23): wide closes <= 2 s and <= 1/20 of the CSV reading; whole long load
<= 1 s; store daily <= 1 s; store cold <= 5 s; store size <= 1/3 of the CSVs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

__all__ = ["append_a_day", "main", "run_store_benchmark"]

_SYNC = """
import json, sys, time
from pathlib import Path
from portfolio_assets.domain.exports import plan_exports
from portfolio_assets.domain.reports import read_match_report
from portfolio_assets.incremental.memo import written_stamp
from portfolio_assets.incremental.price_store import sync_price_store
from portfolio_assets.dev.store_benchmark import append_a_day
work, daily = Path(sys.argv[1]), sys.argv[2] == "daily"
grown = {}
if daily:  # as price_exports does it, and records it in its manifest
    before = {path.name: written_stamp(path) for path in (work / "prices").glob("*.csv")}
    append_a_day(work / "prices")
    grown = {name: (written_stamp(work / "prices" / name), stamp) for name, stamp in before.items()}
started = time.perf_counter()
matches = read_match_report(work / "metadata" / "tradeable_matches.csv")
done = sync_price_store(work / "store", work / "prices", plan_exports(matches, False), matches,
                        work / "metadata" / "price_store.json", "bench", grown=grown)
print(json.dumps({"seconds": time.perf_counter() - started, "parts": done.seconds, "rows": done.rows_written}))
"""

_READ = """
import json, sys, time, warnings
from pathlib import Path
from portfolio_assets import data
work, what = Path(sys.argv[1]), sys.argv[2]
started = time.perf_counter()
if what == "store":
    frame = data.read_prices(store_dir=work / "store")
elif what == "csv":
    frame = data.read_prices(prices_dir=work / "prices", metadata_dir=work / "metadata")
else:
    frame = data.read_bars(store_dir=work / "store")
print(json.dumps({"seconds": time.perf_counter() - started, "shape": list(frame.shape)}))
"""


def _child(script: str, *args: str) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"benchmark process failed:\n{done.stderr[-2000:]}")
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _folder_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


_COPY_MARKER = ".store_benchmark_copy"
"""Marks the exports' copy the benchmark made in its work folder: the one it may replace."""
# io/folder_marker.py's FOLDER_MARKER, which the sync puts in the store it makes (not
# imported: this module imports nothing of the package, see above).
_STORE_MARKER = ".portfolio_assets_folder"


def _remove_own(folder: Path, marker: str) -> None:
    """Remove `folder` when it carries `marker`, which only the benchmark (or the store's
    sync) puts there; any other folder by its name is not the benchmark's: refused."""
    if not folder.exists():
        return
    if not (folder / marker).is_file():
        raise SystemExit(
            f"{folder} was not made by the store benchmark (no {marker} in it): "
            "move it away or choose another --workdir"
        )
    shutil.rmtree(folder)


def _copy_world(world: Path, work: Path) -> None:
    _remove_own(work / "prices", _COPY_MARKER)
    shutil.copytree(world / "data" / "processed" / "tradeable_prices", work / "prices")
    (work / "prices" / _COPY_MARKER).write_text("made by portfolio_assets.dev.store_benchmark\n", encoding="utf-8")
    (work / "metadata").mkdir(parents=True, exist_ok=True)
    shutil.copy2(world / "data" / "metadata" / "tradeable_matches.csv", work / "metadata")


def append_a_day(prices: Path) -> None:
    """One row more in every export: its last row again, dated the next calendar day."""
    for path in prices.glob("*.csv"):
        data = path.read_bytes()
        last = data.rstrip(b"\n").rsplit(b"\n", 1)[-1].split(b",")
        if len(last) < 3 or not last[2].isdigit() or len(last[2]) != 8:
            continue
        day = last[2].decode()
        following = date(int(day[:4]), int(day[4:6]), int(day[6:])) + timedelta(days=1)
        last[2] = following.strftime("%Y%m%d").encode()
        with open(path, "ab") as handle:
            handle.write(b",".join(last) + b"\n")


def _median(values: list[float]) -> str:
    runs = " / ".join(f"{value:.2f}" for value in values)
    return f"{statistics.median(values):.2f} s ({runs})"


def run_store_benchmark(world: Path, work: Path, runs: int) -> str:
    """Measure `runs` times on a copy of `world`'s exports in `work`; a Markdown report."""
    work.mkdir(parents=True, exist_ok=True)
    _copy_world(world, work)
    timings: dict[str, list[float]] = {"cold": [], "daily": [], "store": [], "csv": [], "bars": []}
    shapes: dict[str, object] = {}
    for _ in range(runs):
        _remove_own(work / "store", _STORE_MARKER)
        (work / "metadata" / "price_store.json").unlink(missing_ok=True)
        timings["cold"].append(float(_child(_SYNC, str(work), "cold")["seconds"]))  # type: ignore[arg-type]
        timings["daily"].append(float(_child(_SYNC, str(work), "daily")["seconds"]))  # type: ignore[arg-type]
        for what in ("store", "csv", "bars"):
            result = _child(_READ, str(work), what)
            timings[what].append(float(result["seconds"]))  # type: ignore[arg-type]
            shapes[what] = result["shape"]
    csv_bytes = sum(path.stat().st_size for path in (work / "prices").glob("*.csv"))
    store_bytes = _folder_bytes(work / "store" / "prices")
    ratio = statistics.median(timings["csv"]) / max(statistics.median(timings["store"]), 1e-9)
    lines = [
        f"price store on {len(list((work / 'prices').glob('*.csv'))):,} exports ({csv_bytes / 1e6:,.0f} MB), "
        f"{runs} run(s), {os.cpu_count()} cores",
        "",
        "| measurement | median (runs) | goal |",
        "|---|---|---|",
        f"| store cold (build from the exports) | {_median(timings['cold'])} | <= 5 s |",
        f"| store daily (one row per export appended) | {_median(timings['daily'])} | <= 1 s |",
        f"| read_prices() from the store, wide {shapes['store']} | {_median(timings['store'])} | <= 2 s |",
        f"| read_prices() from the CSV exports | {_median(timings['csv'])} | store <= 1/20 of it |",
        f"| read_bars(), whole store long {shapes['bars']} | {_median(timings['bars'])} | <= 1 s |",
        f"| CSV reading / store reading | {ratio:.1f}x | >= 20x |",
        f"| store size / CSV size | {store_bytes / 1e6:,.0f} MB / {csv_bytes / 1e6:,.0f} MB = "
        f"{store_bytes / csv_bytes:.0%} | <= 33 % |",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--world", type=Path, required=True, help="a benchmark world after a refresh")
    parser.add_argument("--workdir", type=Path, default=Path("build/store-benchmark"))
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    print(run_store_benchmark(args.world, args.workdir, args.runs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
