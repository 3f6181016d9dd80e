"""Per-file work spread over threads or processes: same results, and no process left behind."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from portfolio_assets.io import parallel


def _square(value: int) -> int:
    return value * value


@pytest.mark.parametrize("parse_bytes", [0, parallel.PROCESS_MIN_BYTES])
def test_results_come_back_in_order(monkeypatch, parse_bytes: int) -> None:
    monkeypatch.setenv("PORTFOLIO_ASSETS_WORKERS", "2")
    assert parallel.map_files(_square, list(range(300)), parse_bytes=parse_bytes) == [v * v for v in range(300)]


def test_a_failure_stops_the_threads_and_is_raised(monkeypatch) -> None:
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
