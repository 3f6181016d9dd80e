"""The refresh lock: one holder at a time, and a killed holder never keeps it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from portfolio_assets.io.locking import exclusive_lock

HOLD = (
    "import sys, time\n"
    "from pathlib import Path\n"
    "from portfolio_assets.io.locking import exclusive_lock\n"
    "with exclusive_lock(Path(sys.argv[1])):\n"
    "    print('held', flush=True)\n"
    "    time.sleep(float(sys.argv[2]))\n"
)


def holder(folder: Path, seconds: float) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(folder), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None and process.stdout.readline().strip() == "held"
    return process


def test_a_second_holder_waits_for_the_first(tmp_path: Path) -> None:
    first = holder(tmp_path, 1.5)
    with exclusive_lock(tmp_path) as waited:
        pass
    first.communicate()
    assert waited >= 1.0  # the first held it for 1.5 s after saying so


def test_a_killed_holder_releases_the_lock(tmp_path: Path) -> None:
    first = holder(tmp_path, 600)
    os.kill(first.pid, signal.SIGKILL)
    first.communicate()
    started = time.monotonic()
    with exclusive_lock(tmp_path):
        assert time.monotonic() - started < 5


def test_the_lock_file_is_left_for_the_next_holder(tmp_path: Path) -> None:
    with exclusive_lock(tmp_path / "home") as waited:
        assert waited < 5
    with exclusive_lock(tmp_path / "home"):
        pass
    assert (tmp_path / "home" / "portfolio_assets.lock").exists()
