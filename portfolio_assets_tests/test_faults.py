"""Nothing lost: killed refreshes, concurrent refreshes, garbage and vanishing input."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from portfolio_assets.core import export_manifest, pipeline
from portfolio_assets.core.atomic_files import TEMP_PREFIX
from portfolio_assets.core.errors import InputVanished
from portfolio_assets.core.pipeline import build_match_reports, build_price_exports, build_stooq_index, build_universe
from portfolio_assets.core.settings import settings_from_environment

from .conftest import output_files

BIN = Path(sys.executable).parent
AAPL = "data/stooq/d_us_txt/data/daily/us/nasdaq stocks/1/aapl.us.txt"


def build_all() -> None:
    settings = settings_from_environment()
    build_stooq_index(settings)
    build_universe(settings)
    build_match_reports(settings)
    build_price_exports(settings)


def temp_files(root: Path) -> list[Path]:
    return [path for path in root.rglob(f"{TEMP_PREFIX}*")]


def test_binary_garbage_in_a_matched_file_is_an_error_status_and_the_run_succeeds(world: Path) -> None:
    build_all()
    before = (world / "data/metadata/tradeable_matches.csv").read_text().splitlines()
    (world / AAPL).write_bytes(bytes(range(256)) * 8)
    build_all()
    after = (world / "data/metadata/tradeable_matches.csv").read_text().splitlines()
    changed = [row for row in after if row not in before]
    assert len(changed) == 1 and changed[0].startswith("AAPL,") and ",error:UnicodeDecodeError," in changed[0]
    assert not (world / "data/processed/tradeable_prices/aapl.us.csv").exists()
    assert [row for row in before if not row.startswith("AAPL,")] == [r for r in after if not r.startswith("AAPL,")]


def test_stooq_folder_vanishing_while_diagnosing_writes_nothing(world: Path, monkeypatch) -> None:
    build_all()
    with open(world / AAPL, "a") as handle:
        handle.write("AAPL.US,D,20240105,000000,10,11,9,10.7,1200,0\n")
    before = output_files(world)
    real = pipeline.diagnose_path

    def vanish_then_read(path):
        if (world / "data/stooq").exists():
            (world / "data/stooq").rename(world / "moved")
        return real(path)

    monkeypatch.setattr(pipeline, "diagnose_path", vanish_then_read)
    with pytest.raises(InputVanished, match="disappeared"):
        build_match_reports(settings_from_environment())
    assert output_files(world) == before and not temp_files(world)


def test_stooq_folder_vanishing_while_exporting_leaves_only_whole_files(world: Path, monkeypatch,
                                                                        tmp_path_factory) -> None:
    settings = settings_from_environment()
    build_stooq_index(settings)
    build_universe(settings)
    build_match_reports(settings)
    real = export_manifest.export_from_path

    def export_then_vanish(path):
        text = real(path)
        if (world / "data/stooq").exists():
            (world / "data/stooq").rename(world / "moved")
        return text

    monkeypatch.setattr(export_manifest, "export_from_path", export_then_vanish)
    with pytest.raises(InputVanished):
        build_price_exports(settings)
    assert not temp_files(world)
    monkeypatch.setattr(export_manifest, "export_from_path", real)
    (world / "moved").rename(world / "data/stooq")
    build_price_exports(settings)
    reference = tmp_path_factory.mktemp("reference")
    shutil.copytree(world / "data/stooq", reference / "data/stooq")
    shutil.copytree(world / "tradeable_instruments", reference / "tradeable_instruments")
    monkeypatch.chdir(reference)
    build_all()
    assert output_files(world) == output_files(reference)


# --- real processes -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def medium_sample(tmp_path_factory) -> tuple[Path, dict[str, bytes]]:
    """A sample whose cold refresh takes a few seconds, and its from-scratch outputs."""
    root = tmp_path_factory.mktemp("medium")
    subprocess.run([str(BIN / "portfolio-assets"), "sample", str(root), "--stooq-files", "3000",
                    "--instruments", "300"], check=True, capture_output=True)
    reference = tmp_path_factory.mktemp("reference")
    shutil.copytree(root / "data/stooq", reference / "data/stooq", symlinks=True)
    shutil.copytree(root / "tradeable_instruments", reference / "tradeable_instruments")
    refresh_in(reference, reference / "home")
    return root, output_files(reference)


def environment(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTFOLIO_ASSETS_")}
    env["DAGSTER_HOME"] = str(home)
    return env


def refresh_in(root: Path, home: Path) -> subprocess.CompletedProcess:
    home.mkdir(exist_ok=True)
    done = subprocess.run([str(BIN / "portfolio-assets"), "refresh"], cwd=root, env=environment(home),
                          capture_output=True, text=True, timeout=600)
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
    process = subprocess.Popen([str(BIN / "portfolio-assets"), "refresh"], cwd=root, env=environment(home),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
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
    processes = [subprocess.Popen([str(BIN / "portfolio-assets"), "refresh"], cwd=root, env=environment(home),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [process.communicate(timeout=600) for process in processes]
    assert [process.returncode for process in processes] == [0, 0], outputs
    said = [out for out, _ in outputs]
    assert sum("waited" in text for text in said) == 1, said
    assert output_files(root) == expected


def test_a_pool_slot_held_by_a_finished_or_vanished_run_is_freed() -> None:
    import dagster as dg

    from portfolio_assets.runs import free_orphaned_slots

    with dg.instance_for_test() as instance:
        storage = instance.event_log_storage
        storage.set_concurrency_slots("portfolio_assets", 1)
        storage.claim_concurrency_slot("portfolio_assets", "no-such-run", "match_report")
        assert len(storage.get_concurrency_info("portfolio_assets").claimed_slots) == 1
        assert free_orphaned_slots(instance, "portfolio_assets") == ["no-such-run"]
        assert storage.get_concurrency_info("portfolio_assets").claimed_slots == []
