"""Which members of an archive count (SPEC 1.3), from its central directory alone."""

from __future__ import annotations

import io
import stat
import struct
import warnings
import zipfile
from pathlib import Path

import pytest

from portfolio_assets.domain import stooq_archives
from portfolio_assets.domain.stooq_archives import BrokenArchive, has_end_record, list_archive, read_member
from portfolio_assets.domain.stooq_tree import scan_stooq_tree


def _archive(path: Path, members: list[tuple[str, bytes, int]]) -> Path:
    """An archive of (name, bytes, Unix mode) members, written by zipfile."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as handle, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns of the duplicate names some tests need
        for name, data, mode in members:
            info = zipfile.ZipInfo(name)
            info.external_attr = mode << 16
            info.compress_type = zipfile.ZIP_STORED if name.endswith("stored.txt") else zipfile.ZIP_DEFLATED
            handle.writestr(info, data)
    return path


def test_members_count_as_files_of_the_unpacked_tree_would(tmp_path: Path) -> None:
    regular = stat.S_IFREG | 0o644
    archive = _archive(
        tmp_path / "d_us_txt.zip",
        [
            ("data/", b"", stat.S_IFDIR | 0o755),
            ("data/daily/us/nyse stocks/a.us.txt", b"A", regular),
            ("data/daily/us/B.US.TXT", b"B", regular),
            ("data/daily/us/stored.txt", b"S", regular),
            ("data/daily/us/readme.md", b"R", regular),
            ("data/daily/us/.hidden/c.us.txt", b"C", regular),
            ("data/daily/us/._d.us.txt", b"D", regular),
            ("../e.us.txt", b"E", regular),
            ("/data//daily/us/f.us.txt", b"F", regular),
            ("data/daily/us/link.us.txt", b"a.us.txt", stat.S_IFLNK | 0o777),
            ("data/daily/us/g.us.txt/", b"", stat.S_IFDIR | 0o755),
        ],
    )
    members = list_archive(archive).members
    assert sorted(members) == [
        "d_us_txt/data/daily/us/B.US.TXT",
        "d_us_txt/data/daily/us/f.us.txt",
        "d_us_txt/data/daily/us/nyse stocks/a.us.txt",
        "d_us_txt/data/daily/us/stored.txt",
        "d_us_txt/e.us.txt",
    ]
    assert [read_member(member) for _, member in sorted(members.items())] == [b"B", b"F", b"A", b"S", b"E"]
    assert has_end_record(archive)
    assert not has_end_record(tmp_path / "missing.zip")


def test_an_empty_or_foreign_file_is_no_archive(tmp_path: Path) -> None:
    for name, data in (("empty.zip", b""), ("text.zip", b"not a zip archive at all\n" * 10)):
        path = tmp_path / name
        path.write_bytes(data)
        assert not has_end_record(path)
        with pytest.raises(BrokenArchive, match=name):
            list_archive(path)


def _archive_without_zip64(names: list[str], count: int) -> bytes:
    """An archive of empty stored members as a writer without zip64 leaves it: the end
    record holds `count` modulo 65,536 (written with struct: zipfile takes seconds for
    65,537 members)."""
    local, central = bytearray(), bytearray()
    for name in names:
        raw = name.encode()
        central += struct.pack(
            "<4s4B4HL2L5H2L",
            b"PK\x01\x02",
            20,
            3,
            20,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            len(raw),
            0,
            0,
            0,
            0,
            0o100644 << 16,
            len(local),
        )
        central += raw
        local += struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 0, 0, 0, 0, 0, 0, len(raw), 0) + raw
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, count & 0xFFFF, count & 0xFFFF, len(central), len(local), 0)
    return bytes(local + central) + end


def test_a_member_count_written_modulo_65536_loses_no_member(tmp_path: Path) -> None:
    count = 65_537
    names = [f"d/t{number}.txt" for number in range(count)]
    path = tmp_path / "d_us_txt.zip"
    path.write_bytes(_archive_without_zip64(names, count))
    members = list_archive(path).members
    assert len(members) == count
    assert read_member(members["d_us_txt/d/t65536.txt"]) == b""
    path.write_bytes(_archive_without_zip64(names, count + 1))
    with pytest.raises(BrokenArchive, match=r"d_us_txt\.zip: its central directory holds 65537 members"):
        list_archive(path)


def test_dot_parts_are_dropped_and_the_last_entry_of_a_path_is_the_one_left(tmp_path: Path) -> None:
    regular, link = stat.S_IFREG | 0o644, stat.S_IFLNK | 0o777
    archive = _archive(
        tmp_path / "d_us_txt.zip",
        [
            ("./data/./a.us.txt", b"A", regular),
            ("/data/lead.us.txt", b"S", regular),
            ("data/x/../b.us.txt", b"B", regular),
            ("../../c.us.txt", b"C", regular),
            ("data/link.us.txt", b"L", regular),
            ("data/link.us.txt", b"a.us.txt", link),
            ("data/dir.us.txt", b"D", regular),
            ("data/dir.us.txt/", b"", stat.S_IFDIR | 0o755),
            ("data/twice.us.txt", b"first", regular),
            ("./data//twice.us.txt", b"second", regular),
            ("data/../.hidden.us.txt", b"H", regular),
        ],
    )
    members = list_archive(archive).members
    assert {path: read_member(member) for path, member in members.items()} == {
        "d_us_txt/data/a.us.txt": b"A",
        "d_us_txt/data/lead.us.txt": b"S",
        "d_us_txt/data/x/b.us.txt": b"B",
        "d_us_txt/c.us.txt": b"C",
        "d_us_txt/data/twice.us.txt": b"second",
    }


def test_a_name_that_is_not_utf8_is_refused_on_one_line(tmp_path: Path) -> None:
    path = _archive(tmp_path / "d_us_txt.zip", [("data/aXXb.us.txt", b"A", stat.S_IFREG | 0o644)])
    path.write_bytes(path.read_bytes().replace(b"aXXb", b"a\n\xe9b"))
    with pytest.raises(BrokenArchive) as raised:
        list_archive(path)
    assert str(raised.value).startswith(
        f"Stooq archive {path}, member data/a\\n\\xe9b.us.txt: its name is not valid UTF-8"
    )
    assert len(str(raised.value).splitlines()) == 1


def _dos_archive(path: Path, names: list[str]) -> Path:
    """An archive made on MS-DOS ("version made by" host 0) of members holding their names."""
    with zipfile.ZipFile(path, "w") as handle:
        for name in names:
            info = zipfile.ZipInfo(name)
            info.create_system = 0
            handle.writestr(info, name.encode())
    return path


def test_names_from_a_dos_host_are_read_as_unzip_reads_them(tmp_path: Path) -> None:
    archive = _dos_archive(tmp_path / "d_uk_txt.zip", ["data\\daily\\uk\\lse etfs\\a.uk.txt", "data\\é.uk.txt"])
    members = list_archive(archive).members
    assert sorted(members) == ["d_uk_txt/data/daily/uk/lse etfs/a.uk.txt", "d_uk_txt/data/é.uk.txt"]
    assert read_member(members["d_uk_txt/data/daily/uk/lse etfs/a.uk.txt"]) == b"data\\daily\\uk\\lse etfs\\a.uk.txt"
    # Without the UTF-8 flag unzip converts a name from the DOS code page.
    unflagged = _dos_archive(tmp_path / "d_hk_txt.zip", ["data\\a.hk.txt", "data\\cafXX.hk.txt"])
    unflagged.write_bytes(unflagged.read_bytes().replace(b"cafXX", "café".encode()))
    with pytest.raises(BrokenArchive, match=r"d_hk_txt\.zip, member data\\café\.hk\.txt: its name is not ASCII"):
        list_archive(unflagged)


def _with_compressed_size(data: bytes, extra: bytes = b"", compressed_size: int = 0xFFFFFFFF) -> bytes:
    """A one-member archive whose central directory record says `compressed_size`, with
    `extra` as its extra field (the record's lengths and the end record kept right)."""
    record_at = data.rfind(b"PK\x01\x02")
    end_at = data.rfind(b"PK\x05\x06")
    record = bytearray(data[record_at:end_at])
    name_length, extra_length = struct.unpack_from("<2H", record, 28)
    struct.pack_into("<L", record, 20, compressed_size)
    struct.pack_into("<H", record, 30, len(extra))
    record = record[: 46 + name_length] + extra + record[46 + name_length + extra_length :]
    end = bytearray(data[end_at:])
    struct.pack_into("<L", end, 12, len(record))
    return data[:record_at] + bytes(record) + bytes(end)


def test_a_damaged_directory_is_a_one_line_broken_archive(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as handle:
        handle.writestr("data/a.us.txt", b"A.US,D,20240102,000000,1,2,3,4,5,0\n")
    plain = buffer.getvalue()
    end_at = plain.rfind(b"PK\x05\x06")
    damaged = {
        "short zip64 extra": _with_compressed_size(plain, struct.pack("<HHQ", 1, 24, 36)),
        "size past the end": _with_compressed_size(plain, compressed_size=0xFFFFFFF0),
        "zip64 locator past the end": plain[:end_at]
        + struct.pack("<4sLQL", b"PK\x06\x07", 0, 2**64 - 1, 1)
        + plain[end_at:],
    }
    for label, data in damaged.items():
        path = tmp_path / f"{label}.zip"
        path.write_bytes(data)
        with pytest.raises(BrokenArchive, match=f"Stooq archive {path}: ") as raised:
            list_archive(path)
        assert len(str(raised.value).splitlines()) == 1, label


def test_a_member_inflating_past_its_size_is_refused(tmp_path: Path) -> None:
    path = _archive(tmp_path / "d_us_txt.zip", [("data/a.us.txt", b"A" * 100_000, stat.S_IFREG | 0o644)])
    data = path.read_bytes()
    record_at = data.rfind(b"PK\x01\x02")
    path.write_bytes(data[: record_at + 24] + struct.pack("<L", 10) + data[record_at + 28 :])
    member = list_archive(path).members["d_us_txt/data/a.us.txt"]
    with pytest.raises(BrokenArchive, match="do not match the CRC-32 and size"):
        read_member(member)


def test_a_stub_before_a_zip64_archive_shifts_its_end_record_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(zipfile, "ZIP64_LIMIT", 64)  # zip64 records for a small archive
    path = _archive(
        tmp_path / "d_us_txt.zip", [(f"data/t{number}.us.txt", b"T" * 100, 0o100644) for number in range(3)]
    )
    monkeypatch.undo()
    assert b"PK\x06\x06" in path.read_bytes()
    path.write_bytes(b"#!/bin/sh\nexit 1\n" + path.read_bytes())
    members = list_archive(path).members
    assert [read_member(members[f"d_us_txt/data/t{number}.us.txt"]) for number in range(3)] == [b"T" * 100] * 3


def test_a_scan_forgets_the_listings_of_archives_no_longer_there(tmp_path: Path) -> None:
    stooq, elsewhere = tmp_path / "stooq", tmp_path / "elsewhere"
    stooq.mkdir()
    elsewhere.mkdir()
    archives = [
        _archive(folder / name, [("data/a.us.txt", b"A", 0o100644)])
        for folder, name in ((stooq, "d_us_txt.zip"), (stooq, "d_uk_txt.zip"), (elsewhere, "d_us_txt.zip"))
    ]
    for archive in archives:
        list_archive(archive)
    archives[0].unlink()
    assert [item.relative_path for item in scan_stooq_tree(stooq)] == ["d_uk_txt.zip"]
    assert [str(archive) in stooq_archives._LISTINGS for archive in archives] == [False, True, True]
