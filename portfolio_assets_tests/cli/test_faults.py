"""Nothing lost: refreshes killed at any moment or run twice at once heal to a from-scratch run,
and a pool slot a dead run held is freed. (Bad input at the steps: steps/test_bad_input.py.)"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from portfolio_assets.io.atomic_files import TEMP_PREFIX

from ..helpers import BIN, environment, output_files


def temp_files(root: Path) -> list[Path]:
    return [path for path in root.rglob(f"{TEMP_PREFIX}*")]


# --- real processes -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def medium_sample(tmp_path_factory) -> tuple[Path, dict[str, bytes]]:
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


def refresh_in(root: Path, home: Path) -> subprocess.CompletedProcess:
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
def test_sigkill_at_any_moment_then_refresh_heals(medium_sample, tmp_path, delay) -> None:
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
def test_two_refreshes_at_once_on_a_fresh_instance(medium_sample, tmp_path) -> None:
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
