"""The benchmark's floor measurements and its process-tree sampler, on a tiny world.

Times are not asserted: only that every component measures something and that the
sampler sees a child's memory and the processes a run leaves behind."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import psutil
import pytest

from portfolio_assets.dev.benchmark import dagster_fixed, find_tree, measure_process, read_and_parse, stat_tree
from portfolio_assets.dev.sample import write_sample


@pytest.fixture(scope="module")
def tiny_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    world = tmp_path_factory.mktemp("bench") / "world"
    write_sample(world, stooq_files=200, instruments=60)
    return world


def _prices(world: Path) -> list[Path]:
    return sorted(path for path in (world / "data/stooq").rglob("*") if path.suffix.lower() == ".txt")


def test_stat_tree_counts_every_file(tiny_world: Path) -> None:
    folders = [tiny_world / "data/stooq", tiny_world / "tradeable_instruments"]
    seconds, files = stat_tree(folders)
    expected = sum(1 for folder in folders for path in folder.rglob("*") if not path.is_dir())
    assert seconds > 0
    assert files == expected >= 200
    found = find_tree(folders)
    assert found is None or found > 0


def test_reading_and_parsing_measure_every_byte(tiny_world: Path) -> None:
    paths = _prices(tiny_world)
    whole = read_and_parse(paths)
    assert whole.read_seconds > 0 and whole.parse_seconds > 0
    assert whole.files == len(paths)
    assert whole.bytes_read == sum(path.stat().st_size for path in paths)
    assert whole.rows_parsed > len(paths)  # most files have many rows
    assert whole.refused < len(paths) // 10  # only the messy few (empty, UTF-16)

    hashed = read_and_parse(paths, hash_them=True, new_rows_only=True)
    assert hashed.read_seconds > 0 and hashed.parse_seconds > 0
    assert hashed.bytes_read == whole.bytes_read
    assert 0 < hashed.rows_parsed <= len(paths)  # one line per file


@pytest.mark.slow
def test_the_sampler_sums_the_memory_of_the_whole_tree(tmp_path: Path) -> None:
    child = "x = bytearray(200_000_000); import time; time.sleep(1)"
    parent = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {child!r}], check=True)"
    measured = measure_process([sys.executable, "-c", parent], tmp_path, dict(os.environ))
    assert measured.tree_mib >= 190
    assert measured.process_mib >= 190  # the child's own peak
    assert measured.seconds > 0
    assert measured.left == 0


@pytest.mark.slow
def test_processes_left_behind_are_counted_and_ended(tmp_path: Path) -> None:
    pid_file = tmp_path / "orphan.pid"
    orphan = f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(30)"
    parent = (
        f"import subprocess, sys, time, os; subprocess.Popen([sys.executable, '-c', {orphan!r}]); "
        f"[time.sleep(0.05) for _ in range(100) if not os.path.exists({str(pid_file)!r})]; time.sleep(0.2)"
    )
    measured = measure_process([sys.executable, "-c", parent], tmp_path, dict(os.environ))
    assert measured.left == 1
    pid = int(pid_file.read_text())
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


@pytest.mark.slow
def test_dagster_fixed_runs_the_trivial_run_on_a_fresh_instance(tmp_path: Path) -> None:
    measured = dagster_fixed(tmp_path, dict(os.environ))
    assert measured.seconds > 0
    assert measured.tree_mib > 0
    assert measured.left == 0
    assert not (tmp_path / "trivial_dagster_home").exists()


def test_the_archive_floor_decompresses_every_matched_member_with_its_new_row(tiny_world: Path, tmp_path: Path) -> None:
    from portfolio_assets.dev.archive_benchmark import _zip_folder, decompress_matched

    stooq = tiny_world / "data/stooq"
    prices = [path.relative_to(stooq).as_posix() for path in _prices(tiny_world)]
    matched = [path for path in prices if not any(part.startswith(".") for part in path.split("/"))][:20]
    for folder in sorted(path for path in stooq.iterdir() if path.is_dir()):
        _zip_folder(folder, tmp_path / f"{folder.name}.zip", set(matched))
    seconds, parse_seconds, members, size = decompress_matched(tmp_path, matched)
    assert seconds > 0 and parse_seconds >= 0
    assert members == len(matched) == 20
    grown = sum(1 for path in matched if (stooq / path).stat().st_size > 0)
    assert size > sum((stooq / path).stat().st_size for path in matched) + grown * 30  # a row each


def test_the_store_benchmark_removes_only_folders_it_made(tmp_path: Path) -> None:
    from portfolio_assets.dev.store_benchmark import run_store_benchmark

    world, work = tmp_path / "world", tmp_path / "work"
    (world / "data/processed/tradeable_prices").mkdir(parents=True)
    (world / "data/metadata").mkdir(parents=True)
    (world / "data/metadata/tradeable_matches.csv").write_text("x\n")
    for folder in ("prices", "store"):  # a work folder holding the user's own folder by that name
        mine = work / folder / "mine.txt"
        mine.parent.mkdir(parents=True)
        mine.write_text("mine")
        with pytest.raises(SystemExit, match=f"{folder} was not made by the store benchmark"):
            run_store_benchmark(world, work, runs=1)
        assert mine.read_text() == "mine"
        if folder == "prices":  # moved away: the benchmark makes its copy, then meets the store
            shutil.rmtree(work / "prices")
