"""Which members of an archive count (SPEC 1.3), from its central directory alone."""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path

import pytest

from portfolio_assets.domain.stooq_archives import BrokenArchive, has_end_record, list_archive, read_member


def _archive(path: Path, members: list[tuple[str, bytes, int]]) -> Path:
    """An archive of (name, bytes, Unix mode) members, written by zipfile."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as handle:
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
    ]
    assert [read_member(member) for _, member in sorted(members.items())] == [b"B", b"F", b"A", b"S"]
    assert has_end_record(archive)
    assert not has_end_record(tmp_path / "missing.zip")


def test_an_empty_or_foreign_file_is_no_archive(tmp_path: Path) -> None:
    for name, data in (("empty.zip", b""), ("text.zip", b"not a zip archive at all\n" * 10)):
        path = tmp_path / name
        path.write_bytes(data)
        assert not has_end_record(path)
        with pytest.raises(BrokenArchive, match=name):
            list_archive(path)
