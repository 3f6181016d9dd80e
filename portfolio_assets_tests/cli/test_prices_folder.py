"""Issue 20, the prices folder through `portfolio-assets refresh` and `status`: the
pipeline's records of what it wrote hold for the folder whose marker holds their token
alone (a new folder, a re-pointed link or a folder made again owns nothing; a folder
moved, or copied back into place, keeps its exports); a file the pipeline did not write is never overwritten or removed
unless adopted; a stray whose name is not UTF-8 is reported like any other; and a
full disk while the exports are staged changes no export."""

from __future__ import annotations

import errno
import json
import os
import shutil
import threading
from pathlib import Path

import dagster as dg
import pytest

from portfolio_assets.cli import main as cli
from portfolio_assets.data import read_prices
from portfolio_assets.domain.exports import EXPORT_HEADER
from portfolio_assets.io import atomic_files
from portfolio_assets.io.atomic_files import TEMP_PREFIX
from portfolio_assets.io.folder_marker import FOLDER_MARKER

from ..helpers import AAPL, STOOQ_HEADER, from_scratch, output_files, stooq_rows, write_file
from ..storage import write_instance_config

PRICES = Path("data/processed/tradeable_prices")
MY_NOTES = "my notes about apple, not a price file\n"
MY_KIM = "ticker,per,date\nmy own KIM series\n"


@pytest.fixture
def home(world: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A new DAGSTER_HOME with the project's dagster.yaml, for `portfolio-assets` in process."""
    root = write_instance_config(tmp_path_factory.mktemp("dagster_home"))
    monkeypatch.setenv("DAGSTER_HOME", str(root))
    # The CLI sets the variables of the flags it is given: these are undone after the test.
    monkeypatch.setenv("PORTFOLIO_ASSETS_PRICES_DIR", str(PRICES))
    return root


def latest_check_evaluation(instance: dg.DagsterInstance, asset: str, check: str) -> dg.AssetCheckEvaluation:
    """The latest evaluation of `asset`'s check `check` in `instance`."""
    key = dg.AssetCheckKey(dg.AssetKey(asset), check)
    [execution] = instance.event_log_storage.get_latest_asset_check_execution_by_key([key]).values()
    event = execution.event
    assert event is not None and event.dagster_event is not None, f"{key} has no evaluation"
    evaluation = event.dagster_event.event_specific_data
    assert isinstance(evaluation, dg.AssetCheckEvaluation), evaluation
    return evaluation


def portfolio_assets(capsys: pytest.CaptureFixture[str], *arguments: str) -> tuple[int, str, list[str]]:
    """`portfolio-assets ARGUMENTS` in process: exit status, stdout, stderr's lines."""
    code = cli.main(list(arguments))
    captured = capsys.readouterr()
    errors = [line for line in captured.err.splitlines() if line.strip() and "dagster.yaml" not in line]
    return code, captured.out, errors


def drop_kim(world: Path) -> None:
    """The instrument behind kim.us.csv leaves the universe: its export is no longer planned."""
    lists = world / "tradeable_instruments" / "broker_b.csv"
    lists.write_text("\n".join(line for line in lists.read_text().splitlines() if "KIM" not in line) + "\n")


def users_folder(folder: Path) -> dict[str, str]:
    """A folder of the user's holding a file with the name of an export the run must write
    (aapl.us.csv) and one with the name of an export no longer planned (kim.us.csv)."""
    write_file(folder / "aapl.us.csv", MY_NOTES)
    write_file(folder / "kim.us.csv", MY_KIM)
    return {"aapl.us.csv": MY_NOTES, "kim.us.csv": MY_KIM}


def contents(folder: Path) -> dict[str, str]:
    return {path.name: path.read_text() for path in sorted(folder.iterdir())}


def assert_refused_naming(errors: list[str], *names: str) -> None:
    assert len(errors) == 1, errors
    assert errors[0].startswith("portfolio-assets: refresh failed: price_exports: price_exports would overwrite")
    assert all(name in errors[0] for name in names) and "--adopt-exports" in errors[0]
    assert "nothing was written or removed" in errors[0]


# --- item 1: the records hold for the folder they describe ---------------------------------------


def test_a_new_prices_folder_holding_the_users_files_is_refused(
    world: Path, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert portfolio_assets(capsys, "refresh")[0] == 0
    drop_kim(world)
    mine = users_folder(world / "new_prices")
    code, _, errors = portfolio_assets(capsys, "refresh", "--prices-dir", "new_prices")
    assert code == 1
    assert_refused_naming(errors, "aapl.us.csv")
    assert f"its records are of another folder, {(world / PRICES).resolve()}" in errors[0]
    assert contents(world / "new_prices") == mine  # not overwritten, not removed
    # Moved away, the rest is written; kim.us.csv (the user's) stays, reported as a stray.
    (world / "new_prices/aapl.us.csv").rename(world / "aapl_notes.csv")
    code, _, errors = portfolio_assets(capsys, "refresh", "--prices-dir", "new_prices")
    assert code == 0, errors
    assert (world / "new_prices/kim.us.csv").read_text() == MY_KIM
    assert (world / "new_prices/aapl.us.csv").read_text().startswith(EXPORT_HEADER)
    code, out, _ = portfolio_assets(capsys, "status", "--prices-dir", "new_prices")
    assert code == 0 and "left alone: kim.us.csv" in out


def test_a_re_pointed_prices_link_owns_nothing_in_its_new_folder(
    world: Path, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (world / "prices_a").mkdir()
    (world / "data/processed").mkdir(parents=True)
    os.symlink(world / "prices_a", world / PRICES)
    assert portfolio_assets(capsys, "refresh")[0] == 0
    before = contents(world / "prices_a")
    drop_kim(world)
    mine = users_folder(world / "prices_b")
    os.symlink(world / "prices_b", world / "link")
    os.replace(world / "link", world / PRICES)  # the user re-points the link
    code, _, errors = portfolio_assets(capsys, "refresh")
    assert code == 1
    assert_refused_naming(errors, "aapl.us.csv")
    assert f"its records are of another folder, {(world / 'prices_a').resolve()}" in errors[0]
    assert contents(world / "prices_b") == mine
    assert contents(world / "prices_a") == before


def test_a_prices_folder_made_again_owns_nothing(world: Path, home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert portfolio_assets(capsys, "refresh")[0] == 0
    shutil.rmtree(world / PRICES)
    mine = users_folder(world / PRICES)
    code, _, errors = portfolio_assets(capsys, "refresh")
    assert code == 1
    assert_refused_naming(errors, "aapl.us.csv", "kim.us.csv")
    assert contents(world / PRICES) == mine


def test_a_moved_prices_folder_keeps_its_exports(world: Path, home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert portfolio_assets(capsys, "refresh", "--prices-dir", "data/processed/one")[0] == 0
    (world / "data/processed/one").rename(world / "data/processed/two")
    drop_kim(world)
    code, out, errors = portfolio_assets(capsys, "refresh", "--prices-dir", "data/processed/two")
    assert code == 0, errors
    assert "records" not in out + "\n".join(errors)  # no word of another folder
    # Its own export no longer planned is removed: the folder is still the pipeline's.
    assert sorted(p.name for p in (world / "data/processed/two").iterdir()) == [
        FOLDER_MARKER,
        "aapl.us.csv",
        "iuhc.uk.csv",
    ]


def test_a_prices_folder_copied_back_into_place_keeps_its_exports(
    world: Path, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Review point 1: the folder is the pipeline's after anything that keeps its files but
    not its device, inode or birth time (a share or a disk mounted again, overlayfs copying
    an image's folder up at the first write, a backup restored): here copied elsewhere, the
    original removed and the copy put in its place. Formerly refused as "another folder"."""
    assert portfolio_assets(capsys, "refresh")[0] == 0
    shutil.copytree(world / PRICES, world / "data/processed/copy", symlinks=True)
    shutil.rmtree(world / PRICES)
    (world / "data/processed/copy").rename(world / PRICES)
    drop_kim(world)
    with open(world / AAPL, "a") as handle:  # the daily update
        handle.write("AAPL.US,D,20240105,000000,10,11,9,10.7,1200,0\n")
    code, out, errors = portfolio_assets(capsys, "refresh")
    assert code == 0, errors
    assert "records" not in out + "\n".join(errors)
    assert (world / PRICES / "aapl.us.csv").read_text().endswith("AAPL.US,D,20240105,000000,10,11,9,10.7,1200,0\n")
    assert not (world / PRICES / "kim.us.csv").exists()  # its own export no longer planned: removed


def test_a_prices_folder_emptied_to_its_marker_owns_nothing(
    world: Path, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Review point 2: `rm -rf prices; mkdir prices` on a file system that keeps no birth
    time (ext4 with small inodes, NFSv3) gives the new folder the old one's inode, device
    and (no) birth time: the old records took it for their folder. Simulated as exactly
    that identity: the same folder emptied of every file. Without the marker it owns nothing."""
    assert portfolio_assets(capsys, "refresh")[0] == 0
    inode = os.stat(world / PRICES).st_ino
    for path in (world / PRICES).iterdir():
        path.unlink()
    mine = users_folder(world / PRICES)
    code, _, errors = portfolio_assets(capsys, "refresh")
    assert code == 1
    assert_refused_naming(errors, "aapl.us.csv", "kim.us.csv")
    assert f"this one was made again or lost its {FOLDER_MARKER}" in errors[0]
    assert os.stat(world / PRICES).st_ino == inode
    assert contents(world / PRICES) == mine  # nothing written, not even a marker


def test_a_marker_the_records_do_not_know_owns_nothing(
    world: Path, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The metadata folder lost (or a copy of another installation's prices folder): the
    marker alone does not make the pipeline the owner of files it has no record of."""
    assert portfolio_assets(capsys, "refresh")[0] == 0
    for name in ("exports_written.json", "export_manifest.json"):
        (world / "data/metadata" / name).unlink()
    before = contents(world / PRICES)
    code, _, errors = portfolio_assets(capsys, "refresh", "--force")
    assert code == 1
    assert_refused_naming(errors, "aapl.us.csv")
    assert "the metadata folder has no record of it" in errors[0]
    assert contents(world / PRICES) == before
    assert portfolio_assets(capsys, "refresh", "--adopt-exports")[0] == 0


def test_the_marker_is_in_no_listing_report_note_or_check(
    world: Path, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The marker is the pipeline's own hidden file: never a stray, an unexpected export
    or a change of the folder that makes price_exports stale."""
    assert portfolio_assets(capsys, "refresh")[0] == 0
    marker = world / PRICES / FOLDER_MARKER
    assert marker.is_file()
    code, out, errors = portfolio_assets(capsys, "status")
    assert (code, errors) == (0, []) and FOLDER_MARKER not in out and "left alone" not in out
    code, out, _ = portfolio_assets(capsys, "status", "--json")
    assert code == 0 and all(asset["notes"] == [] and asset["status"] == "fresh" for asset in json.loads(out)["assets"])
    with dg.DagsterInstance.get() as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey("price_exports"))
        assert event is not None and event.asset_materialization is not None
        assert event.asset_materialization.metadata["files_not_written_by_the_pipeline"].value == "(none)"
        evaluation = latest_check_evaluation(instance, "price_exports", "exports_match_the_report")
        assert evaluation.passed
        assert evaluation.metadata["present_exports"].value == evaluation.metadata["expected_exports"].value == 3
        assert evaluation.metadata["unexpected"].value == evaluation.metadata["not_written_by_the_pipeline"].value
        assert evaluation.metadata["unexpected"].value == "(none)"
    assert read_prices(prices_dir=world / PRICES, metadata_dir=world / "data/metadata").shape[1] == 3


def test_adopting_takes_over_earlier_exports_and_nothing_else(
    world: Path, home: Path, capsys: pytest.CaptureFixture[str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The exports of the old tool (prepare_tradeable_data.py) already in the prices folder."""
    old_apple = f"{EXPORT_HEADER}\nAAPL.US,D,20240102,000000,10,11,9,10.5,1000,0\n"
    write_file(world / PRICES / "aapl.us.csv", old_apple)
    write_file(world / PRICES / "iuhc.uk.csv", MY_NOTES)
    old_unplanned = write_file(world / PRICES / "old.us.csv", f"{EXPORT_HEADER}\nOLD.US,D,20200102,0,1,1,1,1,1,0\n")
    code, _, errors = portfolio_assets(capsys, "refresh")
    assert code == 1
    assert_refused_naming(errors, "aapl.us.csv", "iuhc.uk.csv")
    code, _, errors = portfolio_assets(capsys, "refresh", "--adopt-exports")
    assert code == 1 and len(errors) == 1
    assert "iuhc.uk.csv" in errors[0] and "is not a price export" in errors[0] and "aapl.us.csv" not in errors[0]
    assert (world / PRICES / "aapl.us.csv").read_text() == old_apple
    assert (world / PRICES / "iuhc.uk.csv").read_text() == MY_NOTES
    (world / PRICES / "iuhc.uk.csv").rename(world / "iuhc_notes.txt")
    code, _, errors = portfolio_assets(capsys, "refresh", "--adopt-exports")
    assert code == 0, errors
    assert old_unplanned.read_text().startswith(EXPORT_HEADER + "\nOLD.US")  # not planned: not adopted
    old_unplanned.unlink()
    assert output_files(world) == from_scratch(world, tmp_path_factory)
    # Adopted, aapl.us.csv is the pipeline's: it goes when its instrument leaves.
    lists = world / "tradeable_instruments" / "broker_a.csv"
    lists.write_text(lists.read_text().replace("NSQ,US0378331005,AAPL,Apple\n", ""))
    assert portfolio_assets(capsys, "refresh")[0] == 0
    assert not (world / PRICES / "aapl.us.csv").exists()


# --- item 4: a stray whose name is not UTF-8 ----------------------------------------------------


def test_a_stray_named_in_bytes_that_are_not_utf8_is_reported_and_left_alone(
    world: Path, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert portfolio_assets(capsys, "refresh")[0] == 0
    stray = os.path.join(os.fsencode(world / PRICES), b"caf\xe9.csv")
    with open(stray, "wb") as handle:
        handle.write(b"mine\n")
    shown = "caf\\xe9.csv"
    code, out, errors = portfolio_assets(capsys, "status")
    assert (code, errors) == (0, [])
    assert f"left alone: {shown}" in out
    # A run of price_exports with the stray there: its log, metadata and check name it.
    with open(world / AAPL, "a") as handle:
        handle.write("AAPL.US,D,20240105,000000,10,11,9,10.7,1200,0\n")
    code, out, errors = portfolio_assets(capsys, "refresh")
    assert code == 0, errors
    assert shown in out + "\n".join(errors)
    code, out, errors = portfolio_assets(capsys, "status", "--json")  # the fast path's record
    assert (code, errors) == (0, [])
    assert shown in json.loads(out)["assets"][3]["notes"][0]
    with open(stray, "rb") as handle:
        assert handle.read() == b"mine\n"
    with dg.DagsterInstance.get() as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey("price_exports"))
        assert event is not None and event.asset_materialization is not None
        listed = event.asset_materialization.metadata["files_not_written_by_the_pipeline"].value
        assert listed == f"- {shown}"
        evaluation = latest_check_evaluation(instance, "price_exports", "exports_match_the_report")
        assert evaluation.metadata["not_written_by_the_pipeline"].value == f"- {shown}"


# --- item 10: a full disk while the exports are staged ------------------------------------------

TICKERS = [f"t{number:02d}" for number in range(24)]


@pytest.fixture
def many_exports(world: Path) -> Path:
    """The world plus 24 more matched instruments, each with its export."""
    days = ["20240102", "20240103", "20240104"]
    for ticker in TICKERS:
        write_file(
            world / f"data/stooq/d_us_txt/data/daily/us/nyse stocks/3/{ticker}.us.txt",
            stooq_rows(f"{ticker.upper()}.US", days),
        )
    write_file(
        world / "tradeable_instruments/broker_c.csv",
        "market,isin,symbol,name\n" + "".join(f"NSQ,US{n:010d},{t.upper()},{t}\n" for n, t in enumerate(TICKERS)),
    )
    return world


def test_a_full_prices_disk_during_a_daily_update_changes_no_export(
    many_exports: Path,
    home: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    world = many_exports
    assert portfolio_assets(capsys, "refresh")[0] == 0
    before = {path.name: path.read_bytes() for path in (world / PRICES).iterdir()}
    assert len(before) == 28  # 27 exports and the folder's marker
    for path in (world / "data/stooq").rglob("*.txt"):  # the daily update: a row more everywhere
        if path.read_text() != STOOQ_HEADER:
            with open(path, "a") as handle:
                handle.write(f"{path.stem.upper()},D,20240105,000000,10,11,9,10.7,1200,0\n")
    prices = (world / PRICES).resolve()
    real_create = atomic_files._create_temp
    staged = []
    lock = threading.Lock()

    def disk_fills_after_ten(folder: Path) -> tuple[int, Path]:
        if Path(folder).resolve() == prices:
            with lock:
                staged.append(folder)
                if len(staged) > 10:
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_create(folder)

    monkeypatch.setattr(atomic_files, "_create_temp", disk_fills_after_ten)
    code, _, errors = portfolio_assets(capsys, "refresh")
    assert code == 1
    assert len(errors) == 1 and errors[0].startswith("portfolio-assets: refresh failed: price_exports: ")
    assert errors[0].endswith("No space left on device; free some space on that disk and run again")
    assert {path.name: path.read_bytes() for path in (world / PRICES).iterdir()} == before
    assert not list((world / PRICES).glob(f"{TEMP_PREFIX}*"))
    monkeypatch.setattr(atomic_files, "_create_temp", real_create)
    assert portfolio_assets(capsys, "refresh")[0] == 0
    assert output_files(world) == from_scratch(world, tmp_path_factory)
