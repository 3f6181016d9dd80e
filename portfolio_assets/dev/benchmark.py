"""End-to-end benchmark of `portfolio-assets refresh` on a generated world.

    python -m portfolio_assets.dev.benchmark --files 70000 --instruments 500 --runs 5

Generates a world with the sample generator (N Stooq files, M instruments,
matched files with 300 to 6,000 daily rows, the rest small), then times real
`portfolio-assets refresh` processes, Dagster's start-up included, in four
scenarios: cold (no outputs, new DAGSTER_HOME), nothing changed, one instrument
appended to a broker list, and a daily update (one row appended to every
matched file). Prints the median wall time and the peak memory of each.
Not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .sample import write_sample

__all__ = ["main"]

REFRESH = [str(Path(sys.executable).parent / "portfolio-assets"), "refresh"]


def _timed(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and peak RSS in MiB of one process."""
    # stderr goes to a file, not a pipe: a pipe nobody reads blocks a chatty process.
    with tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=errors)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            errors.seek(0)
            raise SystemExit(f"{' '.join(command)} failed:\n{errors.read().decode(errors='replace')[-3000:]}")
    return seconds, usage.ru_maxrss / 1024


def _matched_files(world: Path) -> list[Path]:
    with open(world / "data/metadata/tradeable_matches.csv", newline="", encoding="utf-8") as handle:
        paths = dict.fromkeys(row["stooq_path"] for row in csv.DictReader(handle))
    return [world / "data/stooq" / path for path in paths]


def _unmatched_us_tickers(world: Path) -> list[str]:
    with open(world / "data/metadata/tradeable_matches.csv", newline="", encoding="utf-8") as handle:
        matched = {row["matched_ticker"] for row in csv.DictReader(handle)}
    with open(world / "data/metadata/stooq_index.csv", newline="", encoding="utf-8") as handle:
        return [
            row["ticker"]
            for row in csv.DictReader(handle)
            if row["ticker"].endswith(".US") and row["ticker"] not in matched
        ]


def _append_daily_row(paths: list[Path], day: str) -> None:
    for path in paths:
        with open(path, "rb+") as handle:
            handle.seek(0, os.SEEK_END)
            if handle.tell() == 0:
                continue
            handle.seek(-1, os.SEEK_END)
            ending = b"" if handle.read(1) == b"\n" else b"\n"
            ticker = path.name[:-4].upper().encode()
            handle.write(ending + ticker + b",D," + day.encode() + b",000000,10,11,9,10.5,1000,0\n")


def run(
    files: int, instruments: int, runs: int, rows: tuple[int, int], workdir: Path
) -> dict[str, list[tuple[float, float]]]:
    world = workdir / "world"
    if world.exists():
        shutil.rmtree(world)
    started = time.perf_counter()
    sample = write_sample(world, stooq_files=files, instruments=instruments, matched_rows=rows)
    print(
        f"generated {sample.stooq_files} Stooq files, {sample.instruments} instruments, "
        f"{sample.price_rows} price rows in {time.perf_counter() - started:.1f} s",
        flush=True,
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTFOLIO_ASSETS_")}
    results: dict[str, list[tuple[float, float]]] = {
        "cold": [],
        "nothing changed": [],
        "one instrument appended": [],
        "daily update": [],
    }
    lists = sorted((world / "tradeable_instruments").glob("*.csv"))
    for number in range(runs):
        home = workdir / f"dagster_home_{number}"
        shutil.rmtree(home, ignore_errors=True)
        home.mkdir()
        env["DAGSTER_HOME"] = str(home)
        for folder in ("data/metadata", "data/processed"):
            shutil.rmtree(world / folder, ignore_errors=True)
        results["cold"].append(_timed(REFRESH, world, env))
        results["nothing changed"].append(_timed(REFRESH, world, env))
        ticker = _unmatched_us_tickers(world)[number]
        with open(lists[0], "a", encoding="utf-8") as handle:
            handle.write(f"NSQ,US0000000000,{ticker.split('.')[0]},Benchmark {number}\n")
        results["one instrument appended"].append(_timed(REFRESH, world, env))
        _append_daily_row(_matched_files(world), f"2026{(number % 9) + 1:02d}15")
        results["daily update"].append(_timed(REFRESH, world, env))
        print(f"run {number + 1}/{runs}: " + ", ".join(f"{k} {v[-1][0]:.2f} s" for k, v in results.items()), flush=True)
    return results


def _machine() -> str:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores ({model or platform.processor()}), Python {platform.python_version()}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m portfolio_assets.dev.benchmark",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--files", type=int, default=70000)
    parser.add_argument("--instruments", type=int, default=500)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--rows", type=int, nargs=2, default=(300, 6000), metavar=("MIN", "MAX"))
    parser.add_argument("--workdir", type=Path, default=Path("build/benchmark"))
    args = parser.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    results = run(args.files, args.instruments, args.runs, tuple(args.rows), args.workdir.absolute())
    print(f"\n{args.files} Stooq files, {args.instruments} instruments, {args.runs} runs; {_machine()}\n")
    print("| scenario | median s | min s | max s | peak memory MiB |")
    print("|---|---|---|---|---|")
    for name, samples in results.items():
        seconds = [s for s, _ in samples]
        print(
            f"| {name} | {statistics.median(seconds):.2f} | {min(seconds):.2f} | {max(seconds):.2f} "
            f"| {max(m for _, m in samples):.0f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
