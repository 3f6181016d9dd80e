"""Stooq's archives read as they are downloaded (SPEC 1.3): every output equals, byte for
byte, what the same tree unpacked gives, through every recompute scenario of SPEC 6; a
broken, half-downloaded or conflicting archive is a one-line error naming it, and
changes no output.

Two worlds share the broker lists: `unpacked` holds the Stooq folders as files,
`zipped` holds the same folders as archives (written here with `zipfile`), except
`d_pl_txt`, kept unpacked in both, so that archives and folders mix. After each change
to the unpacked tree the archives are written anew (a new download), and the steps run
in both worlds as a refresh would, each with its own memos."""

from __future__ import annotations

import os
import shutil
import stat
import struct
import subprocess
import warnings
import zipfile
from pathlib import Path
from typing import Any

import pytest

from portfolio_assets.domain import stooq_archives
from portfolio_assets.domain.errors import PortfolioInputError
from portfolio_assets.domain.stooq_archives import ArchiveFolderConflict, BrokenArchive, list_archive
from portfolio_assets.domain.stooq_tree import counted_paths, scan_stooq_tree
from portfolio_assets.incremental.archive_changes import describe_archive_changes
from portfolio_assets.incremental.metadata_files import MetadataFiles
from portfolio_assets.settings import Settings
from portfolio_assets.steps.common import StepResult
from portfolio_assets.steps.registry import ASSET_KEYS, cache_version, get_asset

from ..helpers import STOOQ_HEADER, stooq_rows, write_file, zip_folder

ZIPPED_FOLDERS = ("d_us_txt", "d_uk_txt")
DAYS = ["20240102", "20240103", "20240104", "20240105"]
US = [f"t{number}.us" for number in range(12)]
UK = [f"u{number}.uk" for number in range(6)]


def _us(name: str) -> str:
    return f"d_us_txt/data/daily/us/nasdaq stocks/{int(name[1:-3]) % 3}/{name}.txt"


def _uk(name: str) -> str:
    return f"d_uk_txt/data/daily/uk/lse etfs/{name}.txt"


def _copy_changed(source: str, target: str) -> None:
    if not os.path.exists(target) or Path(source).read_bytes() != Path(target).read_bytes():
        shutil.copy2(source, target)


class Worlds:
    def __init__(self, root: Path) -> None:
        self.tree = root / "tree"  # the unpacked tree the archives are made of
        for name in US:
            write_file(self.tree / _us(name), stooq_rows(name.upper(), DAYS))
        for name in UK:
            write_file(self.tree / _uk(name), stooq_rows(name.upper(), DAYS[:2]))
        write_file(self.tree / "d_pl_txt/data/daily/pl/wse stocks/exm.txt", STOOQ_HEADER)
        write_file(self.tree / "d_us_txt/data/daily/us/.hidden/h.us.txt", stooq_rows("H.US", DAYS))
        write_file(self.tree / "d_us_txt/data/daily/us/readme.md", "not a price file")
        symbols = [f"NSQ,US{index},{name[:-3].upper()},Name" for index, name in enumerate(US)]
        symbols += [f"LSE,GB{index},{name[:-3].upper()}:LN,Name" for index, name in enumerate(UK)]
        symbols += ["GPW,PL1,EXM,Exm", "NSQ,US99,H,Hidden"]
        lists = root / "lists"
        write_file(lists / "broker.csv", "market,isin,symbol,name\n" + "\n".join(symbols) + "\n")
        self.settings: dict[str, Settings] = {}
        self.previous: dict[str, dict[str, StepResult]] = {}
        for kind in ("unpacked", "zipped"):
            base = root / kind
            self.settings[kind] = Settings(
                base / "stooq", lists, base / "metadata", base / "prices", base / "store", "broker", include_empty=False
            )
            self.previous[kind] = {}
        self.sync()

    def sync(self) -> None:
        """Both worlds' Stooq folders made again from the tree: the archives are new downloads."""
        unpacked = self.settings["unpacked"].stooq_dir
        shutil.rmtree(unpacked, ignore_errors=True)
        shutil.copytree(self.tree, unpacked)
        zipped = self.settings["zipped"].stooq_dir
        zipped.mkdir(parents=True, exist_ok=True)
        for folder in ZIPPED_FOLDERS:
            zip_folder(self.tree / folder, zipped / f"{folder}.zip")
        # The folder kept unpacked is only written where it changed, as unzip -o would
        # leave it had it been given only the new files.
        shutil.copytree(self.tree / "d_pl_txt", zipped / "d_pl_txt", dirs_exist_ok=True, copy_function=_copy_changed)

    def refresh(self, kind: str) -> dict[str, StepResult]:
        """Every step in order with its last memo, as a refresh runs them."""
        results = {}
        for key in ASSET_KEYS:
            previous = self.previous[kind].get(key)
            results[key] = get_asset(key).build(self.settings[kind], previous.memo if previous else None)
        self.previous[kind] = results
        return results

    def refresh_both(self) -> dict[str, StepResult]:
        """Both refreshed; the outputs must be equal. Returns the zipped world's results."""
        unpacked = self.refresh("unpacked")
        zipped = self.refresh("zipped")
        outputs = {kind: _output_files(self.settings[kind].metadata_dir.parent) for kind in self.settings}
        assert outputs["zipped"] == outputs["unpacked"]
        assert any(name.startswith("prices/") for name in outputs["zipped"])
        # price_store's version names its tables' versions and the exports' stamps, which
        # differ between two worlds; its rows are the exports', compared above.
        for key in ASSET_KEYS:
            if key != "price_store":
                assert zipped[key].data_version == unpacked[key].data_version, key
        return zipped


def _output_files(base: Path) -> dict[str, bytes]:
    """Every report and export (CSV) of a world, by path relative to it (caches left out:
    they hold stamps that differ between the worlds)."""
    return {
        path.relative_to(base).as_posix(): path.read_bytes()
        for folder in (base / "metadata", base / "prices")
        for path in sorted(folder.rglob("*.csv"))
    }


def archive_changes(settings: Settings) -> list[str]:
    """What `status` says changed in the archives."""
    summaries = MetadataFiles(settings.metadata_dir).diagnostics_cache_path
    return describe_archive_changes(settings.stooq_dir, settings.index_path, summaries, cache_version("diagnostics"))


@pytest.fixture
def worlds(tmp_path: Path) -> Worlds:
    return Worlds(tmp_path)


def _read_stats(results: dict[str, StepResult]) -> tuple[float, float]:
    report = results["match_report"]
    stats = getattr(report, "stats", {})
    return stats.get("stooq_files_read", 0), stats.get("stooq_bytes_read", 0)


def test_archives_give_the_unpacked_outputs_through_every_recompute_scenario(worlds: Worlds) -> None:
    first = worlds.refresh_both()
    index = worlds.settings["zipped"].index_path.read_text(encoding="utf-8")
    assert "d_us_txt/data/daily/us/nasdaq stocks/1/t1.us.txt" in index
    assert ".hidden" not in index and "readme" not in index and "exm.txt" in index
    assert _read_stats(first)[0] == len(US) + len(UK) + 1

    # The daily update: one member one row longer; only it is decompressed.
    with open(worlds.tree / _us("t1.us"), "a", encoding="utf-8") as handle:
        handle.write("T1.US,D,20240108,000000,1,2,0.5,11,1000,0\n")
    worlds.sync()
    assert archive_changes(worlds.settings["zipped"]) == ["archive d_us_txt.zip: 1 member changed"]
    results = worlds.refresh_both()
    files_read, bytes_read = _read_stats(results)
    assert files_read == 1
    assert bytes_read == (worlds.tree / _us("t1.us")).stat().st_size
    # price_exports appends the new row match_report decompressed: the member is not read again.
    exports = getattr(results["price_exports"], "stats", {})
    assert exports["exports_appended"] == 1 and exports["stooq_bytes_read"] == 0

    # A member rewritten, one added, one removed.
    write_file(worlds.tree / _uk("u2.uk"), stooq_rows("U2.UK", ["20230101"], close="0"))
    write_file(worlds.tree / _us("t12.us"), stooq_rows("T12.US", DAYS))
    (worlds.tree / _us("t3.us")).unlink()
    worlds.sync()
    assert archive_changes(worlds.settings["zipped"]) == [
        "archive d_uk_txt.zip: 1 member changed",
        "archive d_us_txt.zip: 1 member added, 1 member removed",
    ]
    worlds.refresh_both()
    assert archive_changes(worlds.settings["zipped"]) == []

    # Nothing changed in the bytes, but every archive is a new download: nothing is read.
    worlds.sync()
    results = worlds.refresh_both()
    assert _read_stats(results)[0] == 0
    assert results["match_report"].reused and results["price_exports"].reused

    # Nothing at all: every step reuses its outputs.
    assert all(result.reused for result in worlds.refresh("zipped").values())


def test_an_unchanged_archive_is_listed_once(worlds: Worlds, monkeypatch: pytest.MonkeyPatch) -> None:
    listed: list[str] = []
    read_directory = stooq_archives._central_directory

    def counting(path: Path, *args: Any) -> Any:
        listed.append(path.name)
        return read_directory(path, *args)

    monkeypatch.setattr(stooq_archives, "_central_directory", counting)
    root = worlds.settings["zipped"].stooq_dir
    for _ in range(3):
        counted_paths(root, scan_stooq_tree(root))
    assert sorted(listed) == ["d_uk_txt.zip", "d_us_txt.zip"]
    zip_folder(worlds.tree / "d_uk_txt", root / "d_uk_txt.zip")  # a new download
    counted_paths(root, scan_stooq_tree(root))
    assert sorted(listed) == ["d_uk_txt.zip", "d_uk_txt.zip", "d_us_txt.zip"]


def _refused(worlds: Worlds, expected: type[PortfolioInputError], *named: str) -> None:
    """The zipped world's refresh fails with one line naming `named`, and changes no output."""
    settings = worlds.settings["zipped"]
    before = _output_files(settings.metadata_dir.parent)
    with pytest.raises(expected) as raised:
        worlds.refresh("zipped")
    message = str(raised.value)
    assert "\n" not in message
    for name in named:
        assert name in message, message
    assert _output_files(settings.metadata_dir.parent) == before


def test_a_half_downloaded_archive_is_refused_and_loses_nothing(worlds: Worlds) -> None:
    worlds.refresh_both()
    archive = worlds.settings["zipped"].stooq_dir / "d_us_txt.zip"
    data = archive.read_bytes()
    archive.write_bytes(data[: len(data) // 2])
    _refused(worlds, BrokenArchive, "d_us_txt.zip", "still downloading")
    # A download that reserved its full size: zeros where the end record will be.
    archive.write_bytes(data[: len(data) // 2] + bytes(len(data) - len(data) // 2))
    _refused(worlds, BrokenArchive, "d_us_txt.zip")


def test_a_corrupt_member_is_an_error_naming_archive_and_member(worlds: Worlds) -> None:
    worlds.refresh_both()
    with open(worlds.tree / _us("t4.us"), "a", encoding="utf-8") as handle:
        handle.write("T4.US,D,20240108,000000,1,2,0.5,11,1000,0\n")
    worlds.sync()
    archive = worlds.settings["zipped"].stooq_dir / "d_us_txt.zip"
    member = list_archive(archive).members["d_us_txt/" + _us("t4.us").partition("/")[2]]
    data = bytearray(archive.read_bytes())
    name_length, extra_length = struct.unpack_from("<HH", data, member.header_offset + 26)
    start = member.header_offset + 30 + name_length + extra_length
    for at in range(start + 2, start + member.compress_size - 2):
        data[at] ^= 0x5A  # damaged compressed bytes: the CRC-32 (or the stream) fails
    archive.write_bytes(bytes(data))
    _refused(worlds, BrokenArchive, "d_us_txt.zip", "t4.us.txt")


def test_an_archive_beside_its_folder_is_an_error_naming_both(worlds: Worlds) -> None:
    worlds.refresh_both()
    stooq = worlds.settings["zipped"].stooq_dir
    shutil.copytree(worlds.tree / "d_uk_txt", stooq / "d_uk_txt")
    _refused(worlds, ArchiveFolderConflict, "d_uk_txt.zip", "d_uk_txt/")
    shutil.rmtree(stooq / "d_uk_txt")
    shutil.copy(stooq / "d_uk_txt.zip", stooq / "d_uk_txt.ZIP")
    _refused(worlds, ArchiveFolderConflict, "d_uk_txt.zip", "d_uk_txt.ZIP")


def test_a_member_name_that_is_not_utf8_is_an_error_naming_archive_and_member(worlds: Worlds) -> None:
    worlds.refresh_both()

    def odd_name(handle: zipfile.ZipFile) -> None:
        handle.writestr("data/daily/us/cafX.us.txt", stooq_rows("CAFE.US", DAYS))

    archive = worlds.settings["zipped"].stooq_dir / "d_us_txt.zip"
    zip_folder(worlds.tree / "d_us_txt", archive, odd_name)
    # The name as a Latin-1 tool writes it, without the UTF-8 flag: the byte 0xE9 alone,
    # which zipfile reads as cp437 and unzip writes as it is.
    archive.write_bytes(archive.read_bytes().replace(b"cafX.us.txt", b"caf\xe9.us.txt"))
    _refused(worlds, BrokenArchive, "d_us_txt.zip", "caf\\xe9.us.txt")


def test_zip64_archives_are_read(worlds: Worlds, monkeypatch: pytest.MonkeyPatch) -> None:
    """Archives over 4 GB carry zip64 records; here zipfile is made to write them for a
    small archive (its limit lowered): zip64 sizes and offsets in the central directory,
    zip64 extra fields in the local headers, and a zip64 end record."""
    monkeypatch.setattr(zipfile, "ZIP64_LIMIT", 64)
    worlds.sync()
    monkeypatch.undo()
    data = (worlds.settings["zipped"].stooq_dir / "d_us_txt.zip").read_bytes()
    assert b"PK\x06\x06" in data and b"PK\x06\x07" in data  # the zip64 end record and its locator
    worlds.refresh_both()


def test_a_stub_before_the_archive_and_a_repeated_member_read_as_unzip_reads_them(
    worlds: Worlds, recwarn: pytest.WarningsRecorder
) -> None:
    """A self-extractor's stub before the archive shifts every offset; of two members with
    one name the last is what `unzip -o` leaves, here the one the unpacked tree holds."""
    worlds.refresh_both()
    name = _uk("u1.uk").partition("/")[2]
    newer = (worlds.tree / _uk("u1.uk")).read_text(encoding="utf-8") + "U1.UK,D,20240110,000000,1,2,0.5,11,1000,0\n"
    (worlds.tree / _uk("u1.uk")).write_text(newer, encoding="utf-8")
    worlds.sync()

    def older_first(handle: zipfile.ZipFile) -> None:
        handle.writestr(name, stooq_rows("U1.UK", ["20200101"]))  # zipfile warns of the duplicate
        handle.writestr(name, newer)

    archive = worlds.settings["zipped"].stooq_dir / "d_uk_txt.zip"
    without = worlds.tree.parent / "d_uk_txt"
    shutil.copytree(worlds.tree / "d_uk_txt", without)
    (without / name).unlink()
    zip_folder(without, archive, older_first)
    archive.write_bytes(b"#!/bin/sh\nexit 1\n" + archive.read_bytes())
    worlds.refresh_both()


def _odd_archive(path: Path, members: list[tuple[str, str, int]], host: int) -> None:
    """An archive of (name, text, Unix mode) members made on `host` ("version made by")."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as handle, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns of the duplicate names wanted here
        for name, text, mode in members:
            info = zipfile.ZipInfo(name, (2024, 1, 2, 0, 0, 0))
            info.create_system = host
            info.external_attr = mode << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            handle.writestr(info, text)


@pytest.mark.skipif(shutil.which("unzip") is None, reason="needs unzip")
def test_odd_member_names_give_what_unzip_o_of_the_same_archives_gives(tmp_path: Path) -> None:
    regular, link = stat.S_IFREG | 0o644, stat.S_IFLNK | 0o777
    us = "data/daily/us/nasdaq stocks"
    lists = tmp_path / "lists"
    symbols = "".join(f"NSQ,US{name},{name},Name\n" for name in "ABCDE") + "LSE,GB1,F:LN,Name\n"
    write_file(lists / "broker.csv", "market,isin,symbol,name\n" + symbols)
    settings = {
        kind: Settings(
            tmp_path / kind / "stooq",
            lists,
            tmp_path / kind / "metadata",
            tmp_path / kind / "prices",
            tmp_path / kind / "store",
            "broker",
            False,
        )
        for kind in ("unpacked", "zipped")
    }
    zipped = settings["zipped"].stooq_dir
    zipped.mkdir(parents=True)
    settings["unpacked"].stooq_dir.mkdir(parents=True)
    _odd_archive(
        zipped / "d_us_txt.zip",
        [
            (f"./{us}/a.us.txt", stooq_rows("A.US", DAYS), regular),
            (f"../{us}/b.us.txt", stooq_rows("B.US", DAYS), regular),
            (f"data/daily/us/x/../{us}/c.us.txt", stooq_rows("C.US", DAYS), regular),
            (f"{us}/d.us.txt", stooq_rows("D.US", DAYS), regular),
            (f"{us}/d.us.txt", "a.us.txt", link),
            (f"{us}/e.us.txt", stooq_rows("E.US", DAYS[:1]), regular),
            (f"{us}//e.us.txt", stooq_rows("E.US", DAYS), regular),
        ],
        host=3,
    )
    _odd_archive(
        zipped / "d_uk_txt.zip", [("data\\daily\\uk\\lse etfs\\f.uk.txt", stooq_rows("F.UK", DAYS), regular)], host=0
    )
    for archive in sorted(zipped.glob("*.zip")):
        unpacked = settings["unpacked"].stooq_dir / archive.name[:-4]
        done = subprocess.run(["unzip", "-o", "-q", archive, "-d", unpacked], capture_output=True, check=False)
        assert done.returncode in (0, 1), done.stderr  # 1: warnings (the skipped `../`)
    outputs = {}
    for kind, kind_settings in settings.items():
        for key in ASSET_KEYS:
            get_asset(key).build(kind_settings, None)
        outputs[kind] = _output_files(tmp_path / kind)
    assert outputs["zipped"] == outputs["unpacked"]
    assert sorted(name for name in outputs["zipped"] if name.startswith("prices/")) != []
    assert b"D.US" not in b"".join(outputs["zipped"].values())  # the symlink left last is not followed


def test_a_corrupt_member_of_a_new_download_leaves_reports_and_exports_and_says_so(worlds: Worlds) -> None:
    worlds.refresh_both()
    write_file(worlds.tree / _us("t12.us"), stooq_rows("T12.US", DAYS))  # the new download adds a member
    with open(worlds.tree / _us("t4.us"), "a", encoding="utf-8") as handle:
        handle.write("T4.US,D,20240108,000000,1,2,0.5,11,1000,0\n")
    worlds.sync()
    archive = worlds.settings["zipped"].stooq_dir / "d_us_txt.zip"
    member = list_archive(archive).members["d_us_txt/" + _us("t4.us").partition("/")[2]]
    data = bytearray(archive.read_bytes())
    data[member.header_offset + 30 + len(member.name) + 2] ^= 0x5A  # damaged compressed data
    archive.write_bytes(bytes(data))
    settings = worlds.settings["zipped"]
    before = _output_files(settings.metadata_dir.parent)
    with pytest.raises(BrokenArchive) as raised:
        worlds.refresh("zipped")
    assert "t4.us.txt" in str(raised.value) and "reports and price exports were left as they were" in str(raised.value)
    after = _output_files(settings.metadata_dir.parent)
    index = "metadata/stooq_index.csv"
    assert {name: content for name, content in after.items() if name != index} == {
        name: content for name, content in before.items() if name != index
    }
    assert b"t12.us.txt" in after[index]
