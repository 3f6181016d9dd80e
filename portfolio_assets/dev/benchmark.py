"""End-to-end benchmark of `portfolio-assets refresh`, each scenario beside its floor.

    python -m portfolio_assets.dev.benchmark --files 70000 --instruments 500 --runs 5
    python -m portfolio_assets.dev.benchmark --files 100000 --instruments 7000 --runs 3 \\
        --workdir /dev/shm/bench --reuse-world

Generates a world with the sample generator (N Stooq files, M instruments, matched
files with `--rows` daily rows, default 300 to 6,000, the rest 5 to 40), then times
real `portfolio-assets refresh` processes, Dagster's start-up included, in four
scenarios per run, in this order on one world:

- cold: no outputs (data/metadata and data/processed removed), a new DAGSTER_HOME holding
  only the project's dagster.yaml (dagster_home/dagster.yaml, what the README sets up);
- nothing changed: the same command again;
- one instrument appended: a broker list gains a row naming an unmatched US ticker;
- daily update: one row appended to every matched file.

`--store` then measures the price store on the world's exports (dev/store_benchmark.py:
its cold build and daily update alone, read_prices from the store and from the CSVs,
the whole store long, its size).

Beside them, in the same run and on the same world (the file system cache warm for
both, as it is after the scenario), it measures the FLOOR of each scenario: the least
work that scenario cannot avoid. A floor is a sum of components; each component is
measured once per run, right after the scenario it belongs to, and a scenario's floor
is the sum of its components' medians over the runs. `cores` below is the number of
CPUs this process may run on (`os.sched_getaffinity`).

- dagster_fixed: wall time of a separate process, `python -P
  portfolio_assets/dev/trivial_dagster.py` (run by its path: it imports Dagster and
  nothing of this package), that defines four trivial assets in a chain and
  materializes them in one in-process run on a fresh instance (a new DAGSTER_HOME
  each time, local SQLite storage as a cold refresh has, telemetry off as in the
  project's dagster.yaml). Interpreter
  start-up and `import dagster` included.
- stat_tree: an lstat of every file under data/stooq and tradeable_instruments, by a
  recursive `os.scandir` and `DirEntry.stat(follow_symlinks=False)` in this process
  (one thread). `find -type f -printf '%s %T@'` over the same folders is timed too, as
  a reference only (it is in no floor).
- read (matched files): every byte of every distinct matched file (the `stooq_path`s
  of tradeable_matches.csv after the cold refresh), `open` + `read` on `cores` threads.
- parse (matched files): `pyarrow.csv.read_csv` of each of those files' bytes (header
  row for names, types inferred, `use_threads=False` per call) on `cores` threads; a
  file pyarrow refuses (empty, UTF-16) counts with the time it took.
- read (new file), parse (new file): the same two for the one file the appended
  instrument newly matches.
- read + sha256 (matched files): every byte of every distinct matched file after the
  daily update, read and hashed with hashlib's sha256 (the project's hash) on `cores`
  threads.
- parse (new rows): `pyarrow.csv.read_csv` of only the appended row of each of those
  files (its last line, cut out of the bytes just read; the column names given), all
  of a batch's new rows joined and parsed in one call per core (one call per file
  would mostly measure pyarrow's per-call cost, not parsing).

Reading and parsing go in batches of about 64 MiB (all of a batch read, then all of
it parsed), so the benchmark itself never holds the whole world in memory.

Floors:

- cold = dagster_fixed + stat_tree + read (matched) + parse (matched)
- nothing changed = stat_tree (dagster_fixed is printed beside it, not added: the
  "nothing changed" check need not start Dagster)
- one instrument appended = dagster_fixed + stat_tree + read (new file) + parse (new file)
- daily update = dagster_fixed + stat_tree + read + sha256 (matched) + parse (new rows)

Goals, as ratios of the median to the floor: cold <= 2.0, nothing changed <= 1.3, one
instrument appended <= 1.5, daily update <= 2.0.

Memory: while each refresh (and each dagster_fixed process) runs, a thread samples
every 50 ms the sum of the resident set sizes of the process and all its
descendants (psutil); "peak tree" is the largest sum seen (shared pages count once
per process, so a forked worker's inherited pages count twice). "peak process" is
the largest single process: the highest VmHWM (/proc/<pid>/status, the peak RSS of
the program since its exec) seen over the samples. "ru_maxrss" is what `wait4`
reports for the refresh; on Linux it is never below the benchmark's own peak RSS
(the kernel carries the parent's high-water mark over at exec), which the report
prints beside it. "left" counts the processes still alive 0.2 s after the refresh
exited: every descendant seen while sampling (same pid and start time), and every
process in the refresh's session (it is started with `start_new_session`); it should
be 0. The benchmark then ends those processes (they are its own).

`--reuse-world` keeps a world generated earlier with the same arguments (and the same
sample.py): the sizes of its Stooq files and a copy of its broker lists are kept in
the work folder at generation, and the rows and instruments earlier benchmarks
appended are cut off again before the runs. The outputs are reset every run either
way. Not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import hashlib
import io
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import psutil
import pyarrow as pa
import pyarrow.csv as pacsv

from .sample import write_sample
from .store_benchmark import run_store_benchmark

__all__ = [
    "CORES",
    "Measured",
    "ReadAndParse",
    "TreeSampler",
    "dagster_fixed",
    "find_tree",
    "main",
    "measure_process",
    "read_and_parse",
    "stat_tree",
]

REFRESH = [str(Path(sys.executable).parent / "portfolio-assets"), "refresh"]
TRIVIAL_DAGSTER = Path(__file__).with_name("trivial_dagster.py")
CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
SAMPLE_INTERVAL = 0.05
BATCH_BYTES = 64 * 2**20
STOOQ_COLUMNS = ["ticker", "per", "date", "time", "open", "high", "low", "close", "volume", "openint"]
MIB = 2**20

GOALS = {"cold": 2.0, "nothing changed": 1.3, "one instrument appended": 1.5, "daily update": 2.0}
SCENARIOS = tuple(GOALS)


# --- one measured process --------------------------------------------------------------------


class TreeSampler:
    """Samples the summed RSS of a process and all its descendants from a thread."""

    def __init__(self, pid: int, interval: float = SAMPLE_INTERVAL) -> None:
        self.pid = pid
        self.interval = interval
        self.peak_bytes = 0  # of the summed RSS of the tree
        self.process_peak_bytes = 0  # of the largest single process (its VmHWM where Linux has it)
        self.samples = 0
        self.seen: dict[int, psutil.Process] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"sampler-{pid}", daemon=True)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        self.sample()
        while not self._stop.wait(self.interval):
            self.sample()

    def sample(self) -> None:
        try:
            root = psutil.Process(self.pid)
            tree = [root, *root.children(recursive=True)]
        except psutil.Error:
            return  # gone (or a zombie): nothing left to measure
        total = 0
        for process in tree:
            try:
                rss = process.memory_info().rss
            except psutil.Error:
                continue
            total += rss
            self.process_peak_bytes = max(self.process_peak_bytes, rss, _high_water_mark(process.pid))
            self.seen.setdefault(process.pid, process)
        self.samples += 1
        self.peak_bytes = max(self.peak_bytes, total)

    def survivors(self) -> list[psutil.Process]:
        """Processes of the tree or of the root's session that are still alive."""
        alive = {pid: p for pid, p in self.seen.items() if pid != self.pid and p.is_running()}
        for process in psutil.process_iter():
            try:
                if process.pid != self.pid and os.getsid(process.pid) == self.pid:
                    alive.setdefault(process.pid, process)
            except (OSError, psutil.Error):
                continue
        return [p for p in alive.values() if _alive(p)]


def _high_water_mark(pid: int) -> int:
    """The peak RSS of the program a process runs (VmHWM: a new program starts a new
    count), 0 where /proc does not tell."""
    try:
        with open(f"/proc/{pid}/status", "rb") as handle:
            for line in handle:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


@dataclass(frozen=True, slots=True)
class Measured:
    """One process: wall seconds, peak RSS of its tree and of its largest process, its
    ru_maxrss, and how many processes it left alive."""

    seconds: float
    tree_mib: float
    process_mib: float
    maxrss_mib: float
    left: int


def measure_process(
    command: Sequence[str], cwd: Path, env: dict[str, str], *, settle: float = 0.2, end_leftovers: bool = True
) -> Measured:
    """Run `command` to its end in a new session and measure it (see the module's doc)."""
    # stderr goes to a file, not a pipe: a pipe nobody reads blocks a chatty process.
    with tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        process = subprocess.Popen(
            list(command), cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=errors, start_new_session=True
        )
        with TreeSampler(process.pid) as sampler:
            _, status, usage = os.wait4(process.pid, 0)
            seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        time.sleep(settle)
        left = sampler.survivors()
        if end_leftovers and left:
            for leftover in left:
                try:
                    leftover.terminate()
                except psutil.Error:
                    continue
            _, still = psutil.wait_procs(left, timeout=3)
            for leftover in still:
                try:
                    leftover.kill()
                except psutil.Error:
                    continue
        if process.returncode != 0:
            errors.seek(0)
            raise SystemExit(f"{' '.join(command)} failed:\n{errors.read().decode(errors='replace')[-3000:]}")
    return Measured(
        seconds, sampler.peak_bytes / MIB, sampler.process_peak_bytes / MIB, usage.ru_maxrss / 1024, len(left)
    )


# --- floor components --------------------------------------------------------------------------


# The instance a user of this project has (the README: DAGSTER_HOME=dagster_home); telemetry off
# there, as on the trivial run's instance, so neither pays for writing telemetry logs.
PROJECT_INSTANCE_CONFIG = Path(__file__).resolve().parents[2] / "dagster_home" / "dagster.yaml"
NO_TELEMETRY = "telemetry:\n  enabled: false\n"


def new_dagster_home(home: Path, config: str) -> None:
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    (home / "dagster.yaml").write_text(config, encoding="utf-8")


def project_instance_config() -> str:
    try:
        return PROJECT_INSTANCE_CONFIG.read_text(encoding="utf-8")
    except OSError:
        return NO_TELEMETRY


def dagster_fixed(workdir: Path, env: dict[str, str]) -> Measured:
    """The trivial four-asset Dagster run, in its own process, on a new DAGSTER_HOME."""
    home = workdir / "trivial_dagster_home"
    new_dagster_home(home, NO_TELEMETRY)
    try:
        return measure_process(
            [sys.executable, "-P", str(TRIVIAL_DAGSTER)], workdir, {**env, "DAGSTER_HOME": str(home)}
        )
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _walk(folder: str) -> Iterator[os.DirEntry[str]]:
    """Every entry that is not a directory under `folder`, symlinks not followed."""
    pending = [folder]
    while pending:
        with os.scandir(pending.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    pending.append(entry.path)
                else:
                    yield entry


def stat_tree(folders: Sequence[Path]) -> tuple[float, int]:
    """Seconds to lstat every file under `folders`, and how many files."""
    started = time.perf_counter()
    files = 0
    for folder in folders:
        for entry in _walk(str(folder)):
            entry.stat(follow_symlinks=False)
            files += 1
    return time.perf_counter() - started, files


def find_tree(folders: Sequence[Path]) -> float | None:
    """Seconds `find` takes to print every file's size and mtime (None without `find`)."""
    find = shutil.which("find")
    if find is None:
        return None
    started = time.perf_counter()
    subprocess.run(
        [find, *map(str, folders), "-type", "f", "-printf", "%s %T@\n"], stdout=subprocess.DEVNULL, check=True
    )
    return time.perf_counter() - started


@dataclass(slots=True)
class ReadAndParse:
    """Seconds spent reading (and hashing) and parsing, and what was read and parsed."""

    read_seconds: float = 0.0
    parse_seconds: float = 0.0
    files: int = 0
    bytes_read: int = 0
    rows_parsed: int = 0
    refused: int = 0  # files pyarrow would not parse


_READ_OPTIONS = pacsv.ReadOptions(use_threads=False)
_TAIL_OPTIONS = pacsv.ReadOptions(use_threads=False, column_names=STOOQ_COLUMNS)
# A ragged last line (a messy file's) is skipped, not allowed to refuse the others joined to it.
_TAIL_PARSE = pacsv.ParseOptions(invalid_row_handler=lambda row: "skip")


def _read(path: Path) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def _read_and_hash(path: Path) -> bytes:
    data = _read(path)
    hashlib.sha256(data).digest()
    return data


def _last_line(data: bytes) -> bytes:
    body = data.rstrip(b"\r\n")
    return body[body.rfind(b"\n") + 1 :] + b"\n"


def _parse(data: bytes) -> int:
    """Rows parsed, or -1 when pyarrow refuses the file."""
    try:
        return int(pacsv.read_csv(io.BytesIO(data), read_options=_READ_OPTIONS).num_rows)
    except pa.ArrowException:
        return -1


def _parse_tail(data: bytes) -> int:
    """Parse appended rows (the files' last lines, joined)."""
    try:
        return int(pacsv.read_csv(io.BytesIO(data), read_options=_TAIL_OPTIONS, parse_options=_TAIL_PARSE).num_rows)
    except pa.ArrowException:
        return -1


def _batches(paths: Sequence[Path]) -> Iterator[list[Path]]:
    batch: list[Path] = []
    size = 0
    for path in paths:
        batch.append(path)
        with contextlib.suppress(OSError):  # gone: the read will say so
            size += path.stat().st_size
        if size >= BATCH_BYTES:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def read_and_parse(paths: Sequence[Path], *, hash_them: bool = False, new_rows_only: bool = False) -> ReadAndParse:
    """Read every byte of `paths` (hashing them if asked), then parse them (all, or only
    each file's last line), on CORES threads, a batch of about 64 MiB at a time."""
    reader: Callable[[Path], bytes] = _read_and_hash if hash_them else _read
    parser: Callable[[bytes], int] = _parse_tail if new_rows_only else _parse
    result = ReadAndParse()
    with ThreadPoolExecutor(max_workers=CORES) as pool:
        for batch in _batches(paths):  # the sizes looked up here are not timed
            started = time.perf_counter()
            contents = list(pool.map(reader, batch))
            read = time.perf_counter()
            if new_rows_only:
                # The least parsing of the new rows: all of them, in one call per core.
                tails = [_last_line(content) for content in contents]
                share = -(-len(tails) // CORES)
                joined = [b"".join(tails[at : at + share]) for at in range(0, len(tails), share)]
                rows = list(pool.map(parser, joined))
            else:
                rows = list(pool.map(parser, contents))
            result.read_seconds += read - started
            result.parse_seconds += time.perf_counter() - read
            result.files += len(batch)
            result.bytes_read += sum(map(len, contents))
            result.rows_parsed += sum(count for count in rows if count > 0)
            result.refused += sum(count < 0 for count in rows)
    return result


# --- the world -----------------------------------------------------------------------------


def _matched_files(world: Path) -> list[Path]:
    with open(world / "data/metadata/tradeable_matches.csv", newline="", encoding="utf-8") as handle:
        paths = dict.fromkeys(row["stooq_path"] for row in csv.DictReader(handle) if row["stooq_path"])
    return [world / "data/stooq" / path for path in paths]


def _unmatched_us_files(world: Path) -> list[tuple[str, str]]:
    """(ticker, relative path) of the US index rows no instrument matches, in index order."""
    with open(world / "data/metadata/tradeable_matches.csv", newline="", encoding="utf-8") as handle:
        matched = {row["matched_ticker"] for row in csv.DictReader(handle)}
    with open(world / "data/metadata/stooq_index.csv", newline="", encoding="utf-8") as handle:
        found: dict[str, str] = {}
        for row in csv.DictReader(handle):
            if row["ticker"].endswith(".US") and row["ticker"] not in matched:
                found.setdefault(row["ticker"], row["relative_path"])
    return list(found.items())


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


def _file_sizes(folder: Path) -> dict[str, int]:
    return {
        os.path.relpath(entry.path, folder): entry.stat(follow_symlinks=False).st_size for entry in _walk(str(folder))
    }


def _restore_world(world: Path, manifest: dict[str, object], pristine_lists: Path) -> bool:
    """Cut the rows earlier benchmarks appended and put back the broker lists; False when
    the world is not the one the manifest describes."""
    sizes = manifest.get("sizes")
    stooq = world / "data/stooq"
    if not isinstance(sizes, dict) or not stooq.is_dir() or not pristine_lists.is_dir():
        return False
    found = _file_sizes(stooq)
    if found.keys() != sizes.keys():
        return False
    for relative, size in found.items():
        recorded = sizes[relative]
        if size < recorded:
            return False
        if size > recorded:
            os.truncate(stooq / relative, recorded)
    shutil.rmtree(world / "tradeable_instruments", ignore_errors=True)
    shutil.copytree(pristine_lists, world / "tradeable_instruments")
    return True


def prepare_world(
    workdir: Path, files: int, instruments: int, rows: tuple[int, int], reuse: bool
) -> tuple[Path, dict[str, int]]:
    """The world under `workdir` (generated, or kept and restored), and its description."""
    world = workdir / "world"
    manifest_path, pristine_lists = workdir / "world.json", workdir / "world_lists"
    key = {
        "files": files,
        "instruments": instruments,
        "rows": list(rows),
        "sample": hashlib.sha256(Path(__file__).with_name("sample.py").read_bytes()).hexdigest(),
    }
    if reuse and manifest_path.is_file():
        started = time.perf_counter()
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        if manifest.get("key") == key and _restore_world(world, manifest, pristine_lists):
            print(f"reused the world in {world} (restored in {time.perf_counter() - started:.1f} s)", flush=True)
            return world, dict(manifest["summary"])
        print("the world there is not the one asked for: generating it again", flush=True)
    for stale in (world, pristine_lists):
        if stale.exists():
            shutil.rmtree(stale)
    manifest_path.unlink(missing_ok=True)
    started = time.perf_counter()
    sample = write_sample(world, stooq_files=files, instruments=instruments, matched_rows=rows)
    summary = {
        "stooq_files": sample.stooq_files,
        "ignored_files": sample.ignored_files,
        "instruments": sample.instruments,
        "price_rows": sample.price_rows,
    }
    print(
        f"generated {sample.stooq_files} Stooq files, {sample.instruments} instruments, "
        f"{sample.price_rows} price rows in {time.perf_counter() - started:.1f} s",
        flush=True,
    )
    shutil.copytree(world / "tradeable_instruments", pristine_lists)
    manifest = {"key": key, "summary": summary, "sizes": _file_sizes(world / "data/stooq")}
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    return world, summary


# --- the runs --------------------------------------------------------------------------------


@dataclass(slots=True)
class Results:
    scenarios: dict[str, list[Measured]] = field(default_factory=lambda: {name: [] for name in SCENARIOS})
    components: dict[str, list[float]] = field(default_factory=dict)
    dagster_peaks: list[float] = field(default_factory=list)
    matched_files: int = 0
    matched_bytes: int = 0
    tree_files: int = 0

    def component(self, name: str, seconds: float) -> None:
        self.components.setdefault(name, []).append(seconds)


def run(workdir: Path, world: Path, runs: int, code: Path | None = None) -> Results:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTFOLIO_ASSETS_")}
    if code is not None:
        # Another checkout of the project (`git worktree add`), measured side by side: its
        # package comes first on the refresh processes' path, the installed one after it.
        env["PYTHONPATH"] = os.pathsep.join([str(code), *filter(None, [env.get("PYTHONPATH")])])
    results = Results()
    lists = sorted((world / "tradeable_instruments").glob("*.csv"))
    folders = [world / "data/stooq", world / "tradeable_instruments"]
    for number in range(runs):
        home = workdir / f"dagster_home_{number}"
        new_dagster_home(home, project_instance_config())
        env["DAGSTER_HOME"] = str(home)
        for folder in ("data/metadata", "data/processed"):
            shutil.rmtree(world / folder, ignore_errors=True)

        results.scenarios["cold"].append(measure_process(REFRESH, world, env))
        matched = read_and_parse(_matched_files(world))
        results.component("read (matched files)", matched.read_seconds)
        results.component("parse (matched files)", matched.parse_seconds)
        if number == 0:
            results.matched_files, results.matched_bytes = matched.files, matched.bytes_read

        results.scenarios["nothing changed"].append(measure_process(REFRESH, world, env))
        seconds, results.tree_files = stat_tree(folders)
        results.component("stat_tree", seconds)
        found = find_tree(folders)
        if found is not None:
            results.component("find -printf (reference)", found)
        fixed = dagster_fixed(workdir, env)
        results.component("dagster_fixed", fixed.seconds)
        results.dagster_peaks.append(fixed.tree_mib)

        ticker, relative = _unmatched_us_files(world)[number]
        with open(lists[0], "a", encoding="utf-8") as handle:
            handle.write(f"NSQ,US0000000000,{ticker.split('.')[0]},Benchmark {number}\n")
        results.scenarios["one instrument appended"].append(measure_process(REFRESH, world, env))
        new_file = read_and_parse([world / "data/stooq" / relative])
        results.component("read (new file)", new_file.read_seconds)
        results.component("parse (new file)", new_file.parse_seconds)

        _append_daily_row(_matched_files(world), f"2026{(number % 9) + 1:02d}15")
        results.scenarios["daily update"].append(measure_process(REFRESH, world, env))
        daily = read_and_parse(_matched_files(world), hash_them=True, new_rows_only=True)
        results.component("read + sha256 (matched files)", daily.read_seconds)
        results.component("parse (new rows)", daily.parse_seconds)

        print(
            f"run {number + 1}/{runs}: "
            + ", ".join(f"{name} {samples[-1].seconds:.2f} s" for name, samples in results.scenarios.items())
            + f"; dagster_fixed {fixed.seconds:.2f} s, stat_tree {seconds:.2f} s",
            flush=True,
        )
    return results


FLOORS: dict[str, tuple[str, ...]] = {
    "cold": ("dagster_fixed", "stat_tree", "read (matched files)", "parse (matched files)"),
    "nothing changed": ("stat_tree",),
    "one instrument appended": ("dagster_fixed", "stat_tree", "read (new file)", "parse (new file)"),
    "daily update": ("dagster_fixed", "stat_tree", "read + sha256 (matched files)", "parse (new rows)"),
}


def _machine() -> str:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{CORES} cores of {os.cpu_count()} ({model or platform.processor()}), {platform.system()} {platform.release()}"
    )


def report(results: Results, summary: dict[str, int], runs: int, rows: tuple[int, int], load: str) -> str:
    medians = {name: statistics.median(values) for name, values in results.components.items()}
    floors = {name: sum(medians[part] for part in parts) for name, parts in FLOORS.items()}
    lines = [
        f"## Benchmark, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC",
        "",
        f"- world: {summary['stooq_files']:,} Stooq files ({summary['ignored_files']} more the index skips), "
        f"{summary['instruments']:,} instruments, {summary['price_rows']:,} price rows; matched files carry "
        f"{rows[0]:,} to {rows[1]:,} rows; {results.matched_files:,} matched files of "
        f"{results.matched_bytes / 1e6:,.1f} MB (at the first cold run); stat_tree sees "
        f"{results.tree_files:,} files",
        f"- machine: {_machine()}; load average {load} at the start",
        f"- Python {platform.python_version()}, pyarrow {pa.__version__}, psutil {psutil.__version__}; "
        f"{runs} runs; {CORES} threads for reading and parsing",
        "",
        "| scenario | median s | min s | max s | floor s | ratio | goal | peak tree MiB | peak process MiB "
        "| ru_maxrss MiB | left |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, samples in results.scenarios.items():
        seconds = [sample.seconds for sample in samples]
        median = statistics.median(seconds)
        ratio = median / floors[name] if floors[name] > 0 else float("inf")
        verdict = "met" if ratio <= GOALS[name] else "missed"
        lines.append(
            f"| {name} | {median:.2f} | {min(seconds):.2f} | {max(seconds):.2f} | {floors[name]:.2f} "
            f"| {ratio:.2f} | <= {GOALS[name]} ({verdict}) | {max(s.tree_mib for s in samples):.0f} "
            f"| {max(s.process_mib for s in samples):.0f} | {max(s.maxrss_mib for s in samples):.0f} "
            f"| {max(s.left for s in samples)} |"
        )
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    lines += [
        "",
        f"Memory: the largest of the runs; ru_maxrss is at least the benchmark's own peak RSS, {own:.0f} MiB "
        "(Linux carries it over at exec); left: processes alive 0.2 s after the refresh exited.",
        "",
        "Floor components, measured in each run beside the scenarios (a floor is the sum of its components' medians):",
        "",
        "| component | median s | min s | max s | in the floor of |",
        "|---|---|---|---|---|",
    ]
    for component, values in results.components.items():
        users = ", ".join(name for name, parts in FLOORS.items() if component in parts) or "none (reference)"
        if component == "dagster_fixed":
            users += f"; peak tree {max(results.dagster_peaks):.0f} MiB"
        lines.append(
            f"| {component} | {statistics.median(values):.3f} | {min(values):.3f} | {max(values):.3f} | {users} |"
        )
    lines += ["", "Floors: " + "; ".join(f"{name} = {' + '.join(parts)}" for name, parts in FLOORS.items())]
    return "\n".join(lines)


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
    parser.add_argument(
        "--reuse-world",
        action="store_true",
        help="keep the world generated earlier in --workdir with the same arguments (restored to as generated)",
    )
    parser.add_argument(
        "--code",
        type=Path,
        help="time the refresh of another checkout of the project (a folder holding portfolio_assets/), "
        "e.g. an earlier commit's `git worktree`; the floors are measured the same",
    )
    parser.add_argument(
        "--archives",
        action="store_true",
        help="time the world zipped as Stooq ships it instead (dev/archive_benchmark.py), unzip -o beside it",
    )
    parser.add_argument(
        "--store",
        action="store_true",
        help="then measure the price store on the world's exports (dev/store_benchmark.py)",
    )
    args = parser.parse_args(argv)
    workdir = args.workdir.absolute()
    workdir.mkdir(parents=True, exist_ok=True)
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    rows = (args.rows[0], args.rows[1])
    world, summary = prepare_world(workdir, args.files, args.instruments, rows, args.reuse_world)
    if args.archives:
        from .archive_benchmark import archive_report, run_archives  # it builds on this module

        print("\n" + archive_report(run_archives(workdir, world, args.runs, args.reuse_world), args.runs))
        return 0
    results = run(workdir, world, args.runs, None if args.code is None else args.code.absolute())
    if args.code is not None:
        print(f"\nrefresh code: {args.code.absolute()}")
    print("\n" + report(results, summary, args.runs, rows, load))
    if args.store:
        print("\n" + run_store_benchmark(world, workdir / "store_benchmark", args.runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
