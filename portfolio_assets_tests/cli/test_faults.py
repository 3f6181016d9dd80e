"""Nothing lost: refreshes killed at any moment or run twice at once heal to a from-scratch run,
and a pool slot a dead run held is freed. (Bad input at the steps: steps/test_bad_input.py.)"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from portfolio_assets.io.atomic_files import TEMP_PREFIX
from portfolio_assets.io.parallel import PROCESS_MIN_BYTES

from ..helpers import BIN, environment, output_files, stooq_rows, wait_for, write_file


def temp_files(root: Path) -> list[Path]:
    return [path for path in root.rglob(f"{TEMP_PREFIX}*")]


# --- real processes -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def medium_sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, bytes]]:
    """A sample whose cold refresh takes a few seconds, and its from-scratch outputs."""
    root = tmp_path_factory.mktemp("medium")
    subprocess.run(
        [str(BIN / "portfolio-assets"), "sample", str(root), "--stooq-files", "3000", "--instruments", "300"],
        check=True,
        capture_output=True,
    )
    reference = tmp_path_factory.mktemp("reference")
    shutil.copytree(root / "data/stooq", reference / "data/stooq", symlinks=True)
    shutil.copytree(root / "tradeable_instruments", reference / "tradeable_instruments")
    refresh_in(reference, reference / "home")
    return root, output_files(reference)


def refresh_in(root: Path, home: Path) -> subprocess.CompletedProcess[str]:
    home.mkdir(exist_ok=True)
    done = subprocess.run(
        [str(BIN / "portfolio-assets"), "refresh"],
        cwd=root,
        env=environment(home),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


@pytest.mark.slow
@pytest.mark.parametrize("delay", [0.3, 1.2, 2.0, 2.8, 3.6, 4.5])
def test_sigkill_at_any_moment_then_refresh_heals(
    medium_sample: tuple[Path, dict[str, bytes]], tmp_path: Path, delay: float
) -> None:
    root, expected = medium_sample
    for folder in ("data/metadata", "data/processed"):
        shutil.rmtree(root / folder, ignore_errors=True)
    home = tmp_path / "home"
    home.mkdir()
    process = subprocess.Popen(
        [str(BIN / "portfolio-assets"), "refresh"],
        cwd=root,
        env=environment(home),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    time.sleep(delay)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    healed = refresh_in(root, home)
    assert output_files(root) == expected, healed.stdout
    assert not temp_files(root)
    assert "nothing is stale" in refresh_in(root, home).stdout


@pytest.mark.slow
def test_two_refreshes_at_once_on_a_fresh_instance(
    medium_sample: tuple[Path, dict[str, bytes]], tmp_path: Path
) -> None:
    root, expected = medium_sample
    for folder in ("data/metadata", "data/processed"):
        shutil.rmtree(root / folder, ignore_errors=True)
    home = tmp_path / "fresh_home"
    home.mkdir()
    processes = [
        subprocess.Popen(
            [str(BIN / "portfolio-assets"), "refresh"],
            cwd=root,
            env=environment(home),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [process.communicate(timeout=600) for process in processes]
    assert [process.returncode for process in processes] == [0, 0], outputs
    said = [out for out, _ in outputs]
    assert sum("waited" in text for text in said) == 1, said
    assert output_files(root) == expected


def test_a_pool_slot_held_by_a_finished_or_vanished_run_is_freed() -> None:
    import dagster as dg

    from portfolio_assets.instance.runs import free_orphaned_slots

    with dg.instance_for_test() as instance:
        storage = instance.event_log_storage
        storage.set_concurrency_slots("portfolio_assets", 1)
        storage.claim_concurrency_slot("portfolio_assets", "no-such-run", "match_report")
        assert len(storage.get_concurrency_info("portfolio_assets").claimed_slots) == 1
        assert free_orphaned_slots(instance, "portfolio_assets") == ["no-such-run"]
        assert storage.get_concurrency_info("portfolio_assets").claimed_slots == []


# --- a worker process killed ----------------------------------------------------------------

NASDAQ = "data/stooq/d_us_txt/data/daily/us/nasdaq stocks/1"
# A matched file whose size alone (sparse, so nothing is written) takes match_report's
# parsing past PROCESS_MIN_BYTES, to worker processes.
TRAP_FILE = "trap.us.txt"
# Loaded by every Python process of the refresh (PYTHONPATH): the worker process that opens
# TRAP_FILE is SIGKILLed, as the out-of-memory killer would, or SIGKILLs the refresh itself
# (the leader of the process group the test starts it in).
TRAP_SITECUSTOMIZE = """\
import os, signal, sys

def _trap(event, args):
    if event != "open" or not str(args[0]).endswith("/{trap_file}"):
        return
    process = sys.modules.get("multiprocessing.process")
    if process is not None and process.parent_process() is not None:  # a worker process
        os.kill({victim}, signal.SIGKILL)

sys.addaudithook(_trap)
"""


def _write_matched_files(root: Path, tickers: list[str], trap: bool) -> None:
    folder = root / NASDAQ
    for ticker in tickers:
        write_file(folder / f"{ticker}.us.txt", stooq_rows(f"{ticker.upper()}.US", ["20240102", "20240103"]))
    if trap:
        with open(folder / TRAP_FILE, "w") as handle:
            handle.write(stooq_rows("TRAP.US", ["20240102"]))
            handle.truncate(PROCESS_MIN_BYTES + 1024 * 1024)


def _broker_list(root: Path, tickers: list[str]) -> None:
    rows = "".join(f"NSQ,US{number:04d},{ticker.upper()},{ticker}\n" for number, ticker in enumerate(tickers))
    write_file(root / "tradeable_instruments/broker_a.csv", "market,isin,symbol,name\n" + rows)


def _trapped_refresh(root: Path, home: Path, victim: str) -> subprocess.Popen[str]:
    """`refresh` in a process group of its own, on two workers, with the trap set."""
    trap = root / "trap"
    write_file(trap / "sitecustomize.py", TRAP_SITECUSTOMIZE.format(trap_file=TRAP_FILE, victim=victim))
    env = {**environment(home), "PYTHONPATH": str(trap), "PORTFOLIO_ASSETS_WORKERS": "2"}
    return subprocess.Popen(
        [str(BIN / "portfolio-assets"), "refresh"],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _printed(err: str, home: Path) -> str:
    """What a refresh printed on stderr, and what its helpers printed into the steps' captured
    stderr: started during a step, they have that file as stderr, which Dagster mirrors to
    the terminal only while the refresh lives."""
    captured = sorted((home / "storage").glob("*/compute_logs/*.err"))
    assert captured, "no step's stderr was captured"
    return err + "".join(path.read_text(errors="replace") for path in captured)


def _left_in_group(group: int) -> list[str]:
    left = []
    for process in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            if os.getpgid(process.pid) == group and process.status() != psutil.STATUS_ZOMBIE:
                left.append(f"{process.pid} {process.status()} {process.ppid()} {process.cmdline()}")
    return left


@pytest.mark.slow
def test_a_killed_parse_worker_fails_the_step_with_one_line(tmp_path: Path) -> None:
    tickers = [f"t{number:02d}" for number in range(10)]
    _broker_list(tmp_path, [*tickers, "trap"])
    _write_matched_files(tmp_path, tickers[:2], trap=False)
    home = tmp_path / "home"
    refresh_in(tmp_path, home)  # two files: parsed in this process
    # What match_report and price_exports wrote (the two steps before them see the new files).
    before = {
        path: data
        for path, data in output_files(tmp_path).items()
        if path.endswith(("/tradeable_matches.csv", "/tradeable_unmatched.csv")) or "/processed/" in path
    }
    assert len(before) == 4, list(before)
    _write_matched_files(tmp_path, tickers[2:], trap=True)  # nine new files, one past the threshold

    refresh = _trapped_refresh(tmp_path, home, victim="os.getpid()")
    out, err = refresh.communicate(timeout=120)

    trap_path = tmp_path.resolve() / NASDAQ / TRAP_FILE
    assert refresh.returncode == 1, out + err
    assert err.splitlines()[-1] == (
        f"portfolio-assets: refresh failed: match_report: a worker process died working on {trap_path} "
        "(killed by SIGKILL, often the out-of-memory killer); run again, or set PORTFOLIO_ASSETS_WORKERS=1 "
        "to parse in this process"
    ), err
    assert "Traceback" not in err
    assert "leaked semaphore" not in _printed(err, home)
    # match_report wrote nothing: the reports and exports of the first refresh are intact.
    assert {path: data for path, data in output_files(tmp_path).items() if path in before} == before
    assert not any(path.endswith("t05.csv") for path in output_files(tmp_path))
    # Dagster's own helpers (its log mirror) may take a moment after the refresh exits.
    wait_for(lambda: not _left_in_group(refresh.pid), 30, "the refresh's helpers to exit", interval=0.1)


@pytest.mark.slow
def test_a_refresh_killed_while_its_workers_run_leaves_no_warning(tmp_path: Path) -> None:
    tickers = [f"t{number:02d}" for number in range(10)]
    _broker_list(tmp_path, [*tickers, "trap"])
    _write_matched_files(tmp_path, tickers, trap=True)
    home = tmp_path / "home"
    home.mkdir()

    refresh = _trapped_refresh(tmp_path, home, victim="os.getpgid(0)")
    out, err = refresh.communicate(timeout=120)

    assert refresh.returncode == -signal.SIGKILL, out + err
    # The workers, the forkserver and the resource tracker follow within a second or so.
    wait_for(lambda: not _left_in_group(refresh.pid), 30, "the refresh's helpers to exit", interval=0.1)
    assert "leaked semaphore" not in _printed(err, home)
    assert "Traceback" not in err
