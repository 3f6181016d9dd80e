"""Per-file work spread over threads or processes: same results, and no process left behind."""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
from collections.abc import Callable
from multiprocessing.context import ForkServerContext
from pathlib import Path

import psutil
import pytest

from portfolio_assets.domain.errors import InputVanished, WorkerProcessDied
from portfolio_assets.io import parallel


def _square(value: int) -> int:
    return value * value


@pytest.mark.parametrize("parse_bytes", [0, parallel.PROCESS_MIN_BYTES])
def test_results_come_back_in_order(monkeypatch: pytest.MonkeyPatch, parse_bytes: int) -> None:
    monkeypatch.setenv("PORTFOLIO_ASSETS_WORKERS", "2")
    assert parallel.map_files(_square, list(range(300)), parse_bytes=parse_bytes) == [v * v for v in range(300)]


def test_a_failure_stops_the_threads_and_is_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTFOLIO_ASSETS_WORKERS", "2")
    done: list[int] = []

    def fail_at_ten(value: int) -> int:
        if value == 10:
            raise ValueError("ten")
        done.append(value)
        return value

    with pytest.raises(ValueError, match="ten"):
        parallel.map_files(fail_at_ten, list(range(10_000)))
    assert len(done) < 10_000  # the rest were dropped, not worked through


@pytest.mark.slow
def test_no_worker_process_outlives_the_work() -> None:
    code = (
        "import psutil\nfrom portfolio_assets.io.parallel import map_files\n"
        "from portfolio_assets.io.parallel import PROCESS_MIN_BYTES\n"
        "assert map_files(abs, [-1] * 500, parse_bytes=PROCESS_MIN_BYTES) == [1] * 500\n"
        "print(len(psutil.Process().children(recursive=True)))\n"
    )
    env = {**os.environ, "PORTFOLIO_ASSETS_WORKERS": "2"}
    ran = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120, check=True)
    assert ran.stdout.strip() == "0", ran.stderr


def _killed_at_file_37(path: Path) -> str:
    if path.name == "file-37.txt":
        os.kill(os.getpid(), signal.SIGKILL)  # as the out-of-memory killer does
    return path.name


def _descendants() -> set[int]:
    return {child.pid for child in psutil.Process().children(recursive=True)}


@pytest.mark.slow
def test_a_killed_worker_process_ends_the_work_with_one_line_and_leaves_no_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PORTFOLIO_ASSETS_WORKERS", "2")
    before = _descendants()
    files = [Path(f"/prices/file-{number}.txt") for number in range(200)]
    with pytest.raises(WorkerProcessDied) as raised:
        parallel.map_files(_killed_at_file_37, files, parse_bytes=parallel.PROCESS_MIN_BYTES, item_file=lambda f: f)
    assert str(raised.value) == (
        "a worker process died working on /prices/file-37.txt (killed by SIGKILL, often the out-of-memory "
        "killer); run again, or set PORTFOLIO_ASSETS_WORKERS=1 to parse in this process"
    )
    assert _descendants() - before == set()  # the other worker, the forkserver, the resource tracker
    assert str(pickle.loads(pickle.dumps(raised.value))) == str(raised.value)


def _name(path: Path) -> str:
    return path.name


@pytest.mark.slow
def test_a_worker_dead_before_it_takes_a_batch_ends_the_work_with_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker killed between two batches (here: before its first) shows as a failed send,
    which must give the same line as a death seen on its pipe."""
    monkeypatch.setenv("PORTFOLIO_ASSETS_WORKERS", "2")
    start_workers = parallel._start_workers

    def start_then_kill_one(
        context: ForkServerContext, function: Callable[[Path], str], count: int, workers: list[parallel._Worker]
    ) -> None:
        start_workers(context, function, count, workers)
        workers[0].process.kill()
        workers[0].process.join(10)

    monkeypatch.setattr(parallel, "_start_workers", start_then_kill_one)
    before = _descendants()
    files = [Path(f"/prices/file-{number}.txt") for number in range(200)]
    with pytest.raises(WorkerProcessDied) as raised:
        parallel.map_files(_name, files, parse_bytes=parallel.PROCESS_MIN_BYTES, item_file=lambda f: f)
    assert str(raised.value) == (
        "a worker process died (killed by SIGKILL, often the out-of-memory killer); "
        "run again, or set PORTFOLIO_ASSETS_WORKERS=1 to parse in this process"
    )
    assert _descendants() - before == set()


def _vanished(path: Path) -> str:
    if path.name == "file-5.txt":
        raise InputVanished(path, "the price exports were being written")
    return path.name


@pytest.mark.slow
def test_an_error_in_a_worker_process_arrives_as_itself_with_its_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTFOLIO_ASSETS_WORKERS", "2")
    files = [Path(f"/prices/file-{number}.txt") for number in range(50)]
    with pytest.raises(InputVanished, match=r"file-5\.txt disappeared while the price exports") as raised:
        parallel.map_files(_vanished, files, parse_bytes=parallel.PROCESS_MIN_BYTES)
    assert raised.value.path == files[5]
    assert isinstance(raised.value.__cause__, parallel.WorkerTraceback)
    assert "in _vanished" in str(raised.value.__cause__)  # for the run's full log
