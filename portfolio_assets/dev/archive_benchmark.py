"""The benchmark's archive scenarios (issue 22): the world zipped as Stooq ships it.

    python -m portfolio_assets.dev.benchmark --files 100000 --instruments 7000 --runs 3 \\
        --workdir /dev/shm/archives-bench --reuse-world --archives

The world of the benchmark (`benchmark.prepare_world`) is zipped once, one archive per
top folder `d_*_txt` (deflate, level 6, directory entries included, as Stooq ships
them), into `<workdir>/archives/base/`; a second set, `<workdir>/archives/daily/`,
holds the same archives with one row appended to every matched member (the matched
files of a cold refresh of the unpacked world). Both are kept for `--reuse-world`.
A second world, `<workdir>/zipped/`, holds the archives in its Stooq folder and a copy
of the broker lists. Each run, on the same machine and in this order:

- cold (unpacked): a cold `refresh` of the unpacked world, for comparison;
- cold (archives): the base archives copied into the zipped world (new files), its
  outputs removed, a new DAGSTER_HOME, `refresh`;
- nothing changed (archives): `refresh` again;
- daily update (archives): the daily archives copied over the base ones (a new
  download), `refresh`;
- unzip -o: `unzip -o -q` of the same daily archives into an empty folder, one after
  the other, as a user unpacked them before this issue (the folder is removed after).

Floor components, measured in each run beside the scenarios:

- dagster_fixed: `benchmark.dagster_fixed`;
- decompress (matched members): every matched member of the daily archives read from
  its local header, inflated in one call and its CRC-32 checked (zlib, which lets go
  of the GIL), each thread's archive opened once, on `CORES` threads;
- parse (new rows): the last line of each of those members, parsed as
  `benchmark.read_and_parse` parses new rows.

Goals (issue 22): nothing changed <= 0.25 s; daily update <= unzip -o, and <= 2.0 x
(dagster_fixed + decompress + parse new rows); cold (archives) <= cold (unpacked) +
decompress; the peak memory of every process tree < 1.5 GiB.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import statistics
import sys
import time
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from .benchmark import (
    CORES,
    REFRESH,
    Measured,
    _last_line,
    _parse_tail,
    dagster_fixed,
    measure_process,
    new_dagster_home,
    project_instance_config,
)

__all__ = ["ArchiveResults", "archive_report", "run_archives"]

GIB = 1024.0
NOTHING_CHANGED_GOAL = 0.25
DAILY_FLOOR_GOAL = 2.0
SCENARIOS = ("cold (unpacked)", "cold (archives)", "nothing changed (archives)", "daily update (archives)", "unzip -o")
DAILY_ROW = b",D,20261215,000000,10,11,9,10.5,1000,0\n"


@dataclass(slots=True)
class ArchiveResults:
    scenarios: dict[str, list[Measured]] = field(default_factory=lambda: {name: [] for name in SCENARIOS})
    components: dict[str, list[float]] = field(default_factory=dict)
    archives: dict[str, int] = field(default_factory=dict)
    """Each archive's size in bytes (the daily set)."""
    members: int = 0
    matched: int = 0
    matched_bytes: int = 0

    def component(self, name: str, seconds: float) -> None:
        self.components.setdefault(name, []).append(seconds)


def _matched_paths(world: Path) -> list[str]:
    with open(world / "data/metadata/tradeable_matches.csv", newline="", encoding="utf-8") as handle:
        return list(dict.fromkeys(row["stooq_path"] for row in csv.DictReader(handle) if row["stooq_path"]))


def _with_row(data: bytes, ticker: bytes) -> bytes:
    if not data:
        return data
    return data + (b"" if data.endswith(b"\n") else b"\n") + ticker + DAILY_ROW


def _zip_folder(folder: Path, archive: Path, matched: set[str] | None) -> int:
    """Zip `folder` as Stooq ships it; with `matched` (paths relative to the Stooq root),
    those members get one row more. Returns the number of members."""
    partial = archive.with_name(archive.name + ".partial")
    count = 0
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as handle:
        for path in sorted(folder.rglob("*")):
            name = path.relative_to(folder).as_posix()
            if path.is_dir():
                handle.write(path, name)
                continue
            data = path.read_bytes()
            if matched is not None and f"{folder.name}/{name}" in matched:
                data = _with_row(data, path.name[:-4].upper().encode())
            info = zipfile.ZipInfo.from_file(path, name)
            info.compress_type = zipfile.ZIP_DEFLATED
            handle.writestr(info, data, compresslevel=6)
            count += 1
    os.replace(partial, archive)
    return count


def prepare_archives(workdir: Path, world: Path, matched: list[str], reuse: bool) -> dict[str, Path]:
    """The base and daily archive sets (made now, or kept from an earlier run with the same
    world and matched files), by set name."""
    sets = {"base": workdir / "archives/base", "daily": workdir / "archives/daily"}
    stooq = world / "data/stooq"
    folders = sorted(path.name for path in stooq.iterdir() if path.is_dir())
    key = {
        "world": hashlib.sha256((workdir / "world.json").read_bytes()).hexdigest()
        if (workdir / "world.json").is_file()
        else "",
        "matched": len(matched),
        "folders": folders,
    }
    marker = workdir / "archives/made.json"
    if reuse and marker.is_file() and json.loads(marker.read_text(encoding="utf-8")) == key:
        print(f"reused the archives in {workdir / 'archives'}", flush=True)
        return sets
    shutil.rmtree(workdir / "archives", ignore_errors=True)
    for folder in sets.values():
        folder.mkdir(parents=True)
    started = time.perf_counter()
    wanted = set(matched)
    jobs = [
        (stooq / name, sets[kind] / f"{name}.zip", wanted if kind == "daily" else None)
        for name in folders
        for kind in sets
    ]
    with ThreadPoolExecutor(max_workers=CORES) as pool:  # zlib lets go of the GIL while compressing
        list(pool.map(lambda job: _zip_folder(*job), jobs))
    marker.write_text(json.dumps(key), encoding="utf-8")
    print(f"made {len(jobs)} archives in {time.perf_counter() - started:.1f} s", flush=True)
    return sets


def _place(archives: Path, stooq: Path) -> None:
    """Copy a set of archives into the Stooq folder, each as a new file (a new download)."""
    stooq.mkdir(parents=True, exist_ok=True)
    for archive in sorted(archives.glob("*.zip")):
        partial = stooq / f".{archive.name}.partial"
        shutil.copyfile(archive, partial)
        os.replace(partial, stooq / archive.name)


def _members_of(archive: Path, wanted: set[str]) -> list[zipfile.ZipInfo]:
    with zipfile.ZipFile(archive) as handle:
        folder = archive.name[:-4]
        return [info for info in handle.infolist() if f"{folder}/{info.filename}" in wanted]


def _decompress(job: tuple[Path, Sequence[zipfile.ZipInfo]]) -> list[bytes]:
    """The last lines of members, each read whole from its local header and inflated in
    one call (zlib lets go of the GIL), its CRC-32 checked: the least work of a reader."""
    archive, infos = job
    tails = []
    with open(archive, "rb") as handle:
        for info in infos:
            header = os.pread(handle.fileno(), 30, info.header_offset)
            start = info.header_offset + 30 + int.from_bytes(header[26:28], "little")
            start += int.from_bytes(header[28:30], "little")
            data = zlib.decompressobj(-zlib.MAX_WBITS).decompress(os.pread(handle.fileno(), info.compress_size, start))
            if zlib.crc32(data) != info.CRC:
                raise SystemExit(f"{archive}: {info.filename} fails its CRC-32")
            tails.append(_last_line(data))
    return tails


def _chunks(items: Sequence[zipfile.ZipInfo], parts: int) -> Iterator[Sequence[zipfile.ZipInfo]]:
    size = max(1, -(-len(items) // parts))
    for start in range(0, len(items), size):
        yield items[start : start + size]


def decompress_matched(archives: Path, matched: list[str]) -> tuple[float, float, int, int]:
    """Seconds to decompress every matched member on CORES threads (each with the archive
    open once), seconds to parse their last lines, and members and bytes decompressed."""
    wanted = set(matched)
    listed = {archive: _members_of(archive, wanted) for archive in sorted(archives.glob("*.zip"))}
    jobs = [(archive, part) for archive, infos in listed.items() for part in _chunks(infos, CORES * 4)]
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=CORES) as pool:
        tails = [tail for part in pool.map(_decompress, jobs) for tail in part]
    decompressed = time.perf_counter() - started
    share = -(-len(tails) // CORES)
    joined = [b"".join(tails[at : at + share]) for at in range(0, len(tails), share)]
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=CORES) as pool:
        list(pool.map(_parse_tail, joined))
    parsed = time.perf_counter() - started
    members = sum(len(infos) for infos in listed.values())
    size = sum(info.file_size for infos in listed.values() for info in infos)
    return decompressed, parsed, members, size


def _unzip_command(archives: Path, target: Path) -> list[str]:
    commands = " && ".join(
        f"unzip -o -q '{archive}' -d '{target / archive.name[:-4]}'" for archive in sorted(archives.glob("*.zip"))
    )
    return ["sh", "-c", commands]


def run_archives(workdir: Path, world: Path, runs: int, reuse: bool) -> ArchiveResults:
    """The archive scenarios, `runs` times (see the module's doc)."""
    if shutil.which("unzip") is None:
        raise SystemExit("the archive scenarios time `unzip -o` beside the refresh: install unzip")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTFOLIO_ASSETS_")}
    results = ArchiveResults()
    zipped = workdir / "zipped"
    shutil.rmtree(zipped, ignore_errors=True)
    shutil.copytree(world / "tradeable_instruments", zipped / "tradeable_instruments")
    scratch = workdir / "unzipped"
    sets: dict[str, Path] = {}
    matched: list[str] = []
    for number in range(runs):
        for folder in ("data/metadata", "data/processed"):
            shutil.rmtree(world / folder, ignore_errors=True)
            shutil.rmtree(zipped / folder, ignore_errors=True)
        home = workdir / f"dagster_home_{number}"
        new_dagster_home(home, project_instance_config())
        results.scenarios["cold (unpacked)"].append(measure_process(REFRESH, world, {**env, "DAGSTER_HOME": str(home)}))
        if not sets:
            matched = _matched_paths(world)
            sets = prepare_archives(workdir, world, matched, reuse)
            results.archives = {path.name: path.stat().st_size for path in sorted(sets["daily"].glob("*.zip"))}
            results.members = sum(len(zipfile.ZipFile(path).infolist()) for path in sets["daily"].glob("*.zip"))

        _place(sets["base"], zipped / "data/stooq")
        home = workdir / f"dagster_home_zipped_{number}"
        new_dagster_home(home, project_instance_config())
        zipped_env = {**env, "DAGSTER_HOME": str(home)}
        results.scenarios["cold (archives)"].append(measure_process(REFRESH, zipped, zipped_env))
        results.scenarios["nothing changed (archives)"].append(measure_process(REFRESH, zipped, zipped_env))
        _place(sets["daily"], zipped / "data/stooq")
        results.scenarios["daily update (archives)"].append(measure_process(REFRESH, zipped, zipped_env))

        fixed = dagster_fixed(workdir, env)
        results.component("dagster_fixed", fixed.seconds)
        decompressed, parsed, results.matched, results.matched_bytes = decompress_matched(sets["daily"], matched)
        results.component("decompress (matched members)", decompressed)
        results.component("parse (new rows)", parsed)

        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir()
        results.scenarios["unzip -o"].append(measure_process(_unzip_command(sets["daily"], scratch), scratch, env))
        shutil.rmtree(scratch, ignore_errors=True)
        print(
            f"run {number + 1}/{runs}: "
            + ", ".join(f"{name} {samples[-1].seconds:.2f} s" for name, samples in results.scenarios.items())
            + f"; dagster_fixed {fixed.seconds:.2f} s, decompress {decompressed:.2f} s, parse {parsed:.2f} s",
            flush=True,
        )
    return results


def archive_report(results: ArchiveResults, runs: int) -> str:
    medians = {name: statistics.median(samples) for name, samples in results.components.items()}
    scenario = {name: statistics.median(s.seconds for s in samples) for name, samples in results.scenarios.items()}
    daily_floor = medians["dagster_fixed"] + medians["decompress (matched members)"] + medians["parse (new rows)"]
    cold_bound = scenario["cold (unpacked)"] + medians["decompress (matched members)"]
    goals = {
        "cold (archives)": (cold_bound, f"<= cold (unpacked) + decompress = {cold_bound:.2f}"),
        "nothing changed (archives)": (NOTHING_CHANGED_GOAL, f"<= {NOTHING_CHANGED_GOAL}"),
        "daily update (archives)": (
            min(scenario["unzip -o"], DAILY_FLOOR_GOAL * daily_floor),
            f"<= unzip -o ({scenario['unzip -o']:.2f}) and <= {DAILY_FLOOR_GOAL} x floor "
            f"{daily_floor:.2f} = {DAILY_FLOOR_GOAL * daily_floor:.2f}",
        ),
    }
    total = sum(results.archives.values())
    lines = [
        "## Archives (issue 22)",
        "",
        f"- {len(results.archives)} archives, {total / 1e6:,.1f} MB zipped, {results.members:,} entries; "
        f"{results.matched:,} matched members, {results.matched_bytes / 1e6:,.1f} MB unpacked; {runs} runs; "
        f"{CORES} threads",
        "",
        "| scenario | median s | min s | max s | goal | verdict | peak tree MiB | left |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, samples in results.scenarios.items():
        seconds = [sample.seconds for sample in samples]
        bound, text = goals.get(name, (None, "(compared with)"))
        peak = max(sample.tree_mib for sample in samples)
        verdict = "" if bound is None else ("met" if scenario[name] <= bound else "missed")
        if name != "unzip -o" and peak >= 1.5 * GIB:
            verdict += " (memory missed)"
        lines.append(
            f"| {name} | {scenario[name]:.2f} | {min(seconds):.2f} | {max(seconds):.2f} | {text} | {verdict} "
            f"| {peak:.0f} | {max(sample.left for sample in samples)} |"
        )
    lines += ["", "| component | median s | min s | max s |", "|---|---|---|---|"]
    for component, values in results.components.items():
        lines.append(f"| {component} | {medians[component]:.3f} | {min(values):.3f} | {max(values):.3f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit("run it through the benchmark: python -m portfolio_assets.dev.benchmark ... --archives")
