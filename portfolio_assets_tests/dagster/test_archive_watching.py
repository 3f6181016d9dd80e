"""Stooq's archives watched: the sensor waits for a half-downloaded archive and stats
archives every tick while walking unpacked folders less often; the fast path answers
"nothing changed" from the archives' stat alone, and `status` names what a new
download changed. SQLite only: none of it is about storage (the PostgreSQL pass runs
test_sensors.py and test_fresh_state.py, not this file)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import dagster as dg
import pytest

from portfolio_assets.cli.fast_path import known_fresh
from portfolio_assets.cli.refresh import refresh
from portfolio_assets.dagster_defs.sensors import stooq_tick
from portfolio_assets.dagster_defs.sources import record_observations
from portfolio_assets.definitions import build_definitions
from portfolio_assets.domain import stooq_archives
from portfolio_assets.domain.stooq_tree import StooqFile, scan_stooq_tree
from portfolio_assets.incremental import export_sync, file_summaries, watching
from portfolio_assets.instance.stale_status import asset_statuses
from portfolio_assets.settings import settings_from_environment
from portfolio_assets.steps.registry import ASSET_KEYS

from ..helpers import AAPL, zip_folder
from ..storage import write_instance_config
from .test_sensors import observed, settle, tick, ticked


@pytest.fixture
def zipped(world: Path, instance: dg.DagsterInstance) -> Path:
    """The world with d_us_txt as the archive Stooq ships (d_uk_txt and d_pl_txt unpacked), refreshed."""
    stooq = world / "data/stooq"
    zip_folder(stooq / "d_us_txt", stooq / "d_us_txt.zip")
    shutil.rmtree(stooq / "d_us_txt")
    for path in world.rglob("*"):
        if path.is_file():
            settle(path)
    assert refresh(build_definitions(), instance, settings_from_environment(), report=lambda _: None).success
    return world


def test_stooq_sensor_waits_for_a_half_downloaded_archive_then_sees_it(
    zipped: Path, instance: dg.DagsterInstance
) -> None:
    archive = zipped / "data/stooq/d_us_txt.zip"
    whole = archive.read_bytes()
    # A browser that reserved the download's size: zeros where the end record will be.
    archive.write_bytes(whole[:100] + bytes(len(whole) - 100))
    settle(archive)
    result = tick(instance, "stooq_files_sensor")
    assert isinstance(result, dg.SkipReason) and "d_us_txt.zip" in str(result.skip_message)
    archive.write_bytes(whole)
    settle(archive)
    first = ticked(instance, "stooq_files_sensor")
    assert observed(first) == [] and "next tick" in str(first.skip_reason)
    assert observed(ticked(instance, "stooq_files_sensor", first.cursor)) == ["stooq_files"]


def test_stooq_sensor_stats_archives_every_tick_and_walks_folders_less_often(
    zipped: Path, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    resolved = settings_from_environment()

    def at(now: float, cursor: str | None) -> dg.SensorResult | dg.SkipReason:
        context = dg.build_sensor_context(instance=instance, cursor=cursor)
        result = stooq_tick(context, resolved, walk_seconds=60, now=now)
        for event in result.asset_events if isinstance(result, dg.SensorResult) else []:
            instance.report_runless_asset_event(event)
        return result

    now = time.time()
    looked = at(now, None)
    assert isinstance(looked, dg.SensorResult) and "as last observed" in str(looked.skip_reason)
    # An unpacked file changed: not seen before the next walk is due.
    unpacked = next((zipped / "data/stooq/d_uk_txt").rglob("*.txt"))
    with open(unpacked, "a") as handle:
        handle.write("IUHC.UK,D,20240105,000000,10,11,9,10.7,1200,0\n")
    settle(unpacked)
    skipped = at(now + 5, looked.cursor)
    assert isinstance(skipped, dg.SkipReason) and "walked every 60 s" in str(skipped.skip_message)
    # A new archive: the folder is looked at now, unpacked folders with it.
    archive = zipped / "data/stooq/d_us_txt.zip"
    archive.write_bytes(archive.read_bytes())  # the same bytes, downloaded again
    settle(archive)
    first = at(now + 10, looked.cursor)
    assert isinstance(first, dg.SensorResult) and "next tick" in str(first.skip_reason)
    seen = at(now + 15, first.cursor)
    assert observed(seen) == ["stooq_files"]
    assert isinstance(seen, dg.SensorResult)
    # The clock set back an hour: the walk is due, not an hour away.
    with open(unpacked, "a") as handle:
        handle.write("IUHC.UK,D,20240108,000000,10,11,9,10.7,1200,0\n")
    settle(unpacked)
    walked = at(now - 3600, seen.cursor)
    assert isinstance(walked, dg.SensorResult) and "next tick" in str(walked.skip_reason)
    # A download in progress beside unpacked folders: waited for without a walk.
    walks: list[Path] = []

    def counted_scan(root: Path) -> list[StooqFile]:
        walks.append(root)
        return scan_stooq_tree(root)

    monkeypatch.setattr(watching, "scan_stooq_tree", counted_scan)
    download = zipped / "data/stooq/d_hk_txt.zip"
    for part in range(1, 4):
        download.write_bytes(archive.read_bytes()[: 100 * part])
        waiting = at(time.time(), walked.cursor)
        assert isinstance(waiting, dg.SkipReason) and "d_hk_txt.zip" in str(waiting.skip_message)
    assert walks == []


def test_with_archives_nothing_changed_opens_none_and_a_new_download_is_named(
    world: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    stooq = world / "data/stooq"
    unpacked = tmp_path_factory.mktemp("unpacked") / "d_us_txt"
    shutil.move(stooq / "d_us_txt", unpacked)
    zip_folder(unpacked, stooq / "d_us_txt.zip")
    root = write_instance_config(tmp_path_factory.mktemp("dagster_home"))
    with dg.DagsterInstance.from_config(str(root)) as instance:
        defs = build_definitions()
        assert refresh(defs, instance, settings_from_environment(), report=lambda _: None).success
        with monkeypatch.context() as patched:

            def refused(*_: object, **__: object) -> None:
                raise AssertionError("an unchanged archive was opened")

            # Neither a listing (none kept from the refresh) nor a member's read: the
            # archive is not opened at all.
            patched.setattr(stooq_archives, "_LISTINGS", {})
            patched.setattr(stooq_archives, "_central_directory", refused)
            # Patched where it is used: these modules imported the name.
            patched.setattr(file_summaries, "read_member", refused)
            patched.setattr(export_sync, "read_member", refused)
            assert known_fresh(root, settings_from_environment())  # the archives' stat alone says nothing changed

        with open(unpacked / AAPL.split("d_us_txt/", 1)[1], "a") as handle:
            handle.write("AAPL.US,D,20240105,000000,10,11,9,10.7,1200,0\n")
        zip_folder(unpacked, stooq / "d_us_txt.zip")  # the next day's download
        assert not known_fresh(root, settings_from_environment())
        record_observations(instance, settings_from_environment())  # as `status` does first
        statuses = asset_statuses(defs, instance, settings_from_environment(), ASSET_KEYS)
        causes = {status.key: status.causes for status in statuses}
        # d_uk_txt/ and d_pl_txt/ are still unpacked: whether their files changed is not known
        # without walking them, so the general line follows.
        assert causes["stooq_index"][0] == "archive d_us_txt.zip: 1 member changed"
        assert refresh(defs, instance, settings_from_environment(), report=lambda _: None).success
        assert known_fresh(root, settings_from_environment())
