"""Atomic writes: a reader sees the old file or the new one, never half a file or a leftover.

Faults are made by patching `os` (os.replace, os.fdopen, ...): atomic_files calls them
through the module, so a patch there is what it calls."""

from __future__ import annotations

import errno
import os
import sys
from pathlib import Path
from typing import BinaryIO, Literal

import pytest

from portfolio_assets.io import atomic_files
from portfolio_assets.io.atomic_files import (
    TEMP_PREFIX,
    create_file_durably,
    remove_leftover_temp_files,
    replace_all,
    stage_appended,
    stage_spliced,
    write_bytes_atomic,
    write_text_atomic,
)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (None, "ticker,stem\n"),
        ("old text\n", "new text\n"),
        ("a longer old text than the new one\n" * 100, "short\n"),
        (None, ""),
        (None, "caf\u00e9 \u20ac\n"),
    ],
)
def test_write_replaces_content_and_leaves_nothing_else(tmp_path: Path, old: str | None, new: str) -> None:
    target = tmp_path / "reports" / "tradeable_matches.csv"
    if old is not None:
        target.parent.mkdir()
        target.write_text(old, encoding="utf-8")
    write_text_atomic(target, new)
    assert target.read_bytes() == new.encode("utf-8")
    assert sorted(os.listdir(target.parent)) == ["tradeable_matches.csv"]


def test_write_creates_missing_folders(tmp_path: Path) -> None:
    target = tmp_path / "data" / "processed" / "tradeable_prices" / "abc.us.csv"
    write_bytes_atomic(target, b"ticker\n")
    assert target.read_bytes() == b"ticker\n"


class _FailingHandle:
    """A file opened for writing whose disk fills half-way through the first write."""

    def __init__(self, handle: BinaryIO) -> None:
        self._handle = handle

    def __enter__(self) -> _FailingHandle:
        return self

    def __exit__(self, *exc_info: object) -> Literal[False]:
        self._handle.close()
        return False

    def write(self, data: bytes) -> int:
        self._handle.write(data[: len(data) // 2])
        raise OSError(28, "No space left on device")


def test_failed_write_keeps_old_file_and_leaves_no_temp_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "stooq_index.csv"
    target.write_text("old index\n", encoding="utf-8")
    real_fdopen = os.fdopen

    def failing_fdopen(fd: int, mode: Literal["wb"]) -> _FailingHandle:
        """atomic_files' only use: os.fdopen(fd, "wb")."""
        return _FailingHandle(real_fdopen(fd, mode))

    monkeypatch.setattr(os, "fdopen", failing_fdopen)
    with pytest.raises(OSError):
        write_text_atomic(target, "new index that will not fit\n" * 1000)
    monkeypatch.undo()
    assert target.read_text(encoding="utf-8") == "old index\n"
    assert os.listdir(tmp_path) == ["stooq_index.csv"]


def _only_recognisable_leftovers(folder: Path, keep: str) -> None:
    """Anything but `keep` is a temporary file that the next run's clean-up removes."""
    others = [name for name in os.listdir(folder) if name != keep]
    assert all(name.startswith(TEMP_PREFIX) for name in others)
    assert remove_leftover_temp_files(folder) == len(others)
    assert os.listdir(folder) == [keep]


def test_failed_replace_keeps_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "tradeable_matches.csv"
    target.write_text("old report\n", encoding="utf-8")

    def failing_replace(source: Path, destination: Path) -> None:
        raise PermissionError(13, "Permission denied", str(destination))

    monkeypatch.setattr(os, "replace", failing_replace)
    monkeypatch.setattr(atomic_files, "_renameat2", None)  # no swap: the rename is os.replace
    with pytest.raises(OSError):
        write_text_atomic(target, "new report\n")
    monkeypatch.undo()
    assert target.read_text(encoding="utf-8") == "old report\n"
    _only_recognisable_leftovers(tmp_path, "tradeable_matches.csv")


def test_target_that_is_a_folder_is_an_error(tmp_path: Path) -> None:
    target = tmp_path / "abc.us.csv"
    target.mkdir()
    with pytest.raises(OSError):
        write_text_atomic(target, "ticker\n")
    assert target.is_dir()
    _only_recognisable_leftovers(tmp_path, "abc.us.csv")


def test_text_that_cannot_be_encoded_keeps_old_file(tmp_path: Path) -> None:
    target = tmp_path / "tradeable_unmatched.csv"
    target.write_text("old\n", encoding="utf-8")
    with pytest.raises(UnicodeEncodeError):
        write_text_atomic(target, "bad \ud800 surrogate\n")
    assert target.read_text(encoding="utf-8") == "old\n"
    assert os.listdir(tmp_path) == ["tradeable_unmatched.csv"]


def test_leftovers_of_a_killed_run_are_removed_and_nothing_else(tmp_path: Path) -> None:
    (tmp_path / f"{TEMP_PREFIX}abc.part").write_bytes(b"half")
    (tmp_path / f"{TEMP_PREFIX}def.part").write_bytes(b"")
    (tmp_path / "abc.us.csv").write_text("ticker\n")
    (tmp_path / ".hidden.csv").write_text("x\n")
    assert remove_leftover_temp_files(tmp_path) == 2
    assert sorted(os.listdir(tmp_path)) == [".hidden.csv", "abc.us.csv"]
    assert remove_leftover_temp_files(tmp_path / "missing") == 0


def test_a_full_disk_names_the_target_not_the_temporary_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "tradeable_universe.csv"
    target.write_text("old\n", encoding="utf-8")

    def full(fd: int, data: bytes) -> None:
        os.close(fd)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))  # write(2) names no file

    monkeypatch.setattr(atomic_files, "_write_all", full)
    with pytest.raises(OSError) as raised:
        write_text_atomic(target, "new\n")
    assert (raised.value.errno, raised.value.filename) == (errno.ENOSPC, str(target))
    assert raised.value.strerror == os.strerror(errno.ENOSPC)
    assert target.read_text(encoding="utf-8") == "old\n" and os.listdir(tmp_path) == [target.name]


def test_a_read_only_folder_names_the_target_and_keeps_the_error_type(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "stooq_index.csv"

    def read_only(folder: Path) -> tuple[int, Path]:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(folder / f"{TEMP_PREFIX}abc.part"))

    monkeypatch.setattr(atomic_files, "_create_temp", read_only)
    with pytest.raises(PermissionError) as raised:
        write_text_atomic(target, "ticker\n")
    assert raised.value.filename == str(target) and raised.value.errno == errno.EACCES


def test_a_failed_replace_names_the_target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "abc.us.csv"

    def failing_replace(source: Path, destination: Path) -> None:
        raise OSError(errno.EXDEV, os.strerror(errno.EXDEV), str(source), str(destination))

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError) as raised:
        write_text_atomic(target, "ticker\n")
    monkeypatch.undo()
    assert raised.value.filename == str(target)
    assert os.listdir(tmp_path) == []


def test_replacing_a_file_swaps_it_in_whole(tmp_path: Path) -> None:
    target = tmp_path / "abc.us.csv"
    target.write_text("old\n", encoding="utf-8")
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    write_bytes_atomic(target, b"new\n", rebuildable=True)
    assert target.read_text(encoding="utf-8") == "new\n" and sorted(p.name for p in tmp_path.iterdir()) == [
        "abc.us.csv",
        "link.csv",
    ]
    write_bytes_atomic(link, b"replaces the link\n", rebuildable=True)  # as os.replace does: the link goes
    assert not link.is_symlink() and target.read_text(encoding="utf-8") == "new\n"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="renameat2 is Linux's")
def test_an_existing_export_is_swapped_not_renamed_over(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """ext4 makes a rename over an existing file wait for the new data; the swap does not
    (for exports: other files keep os.replace and ext4's safeguard)."""
    target = tmp_path / "abc.us.csv"
    target.write_text("old\n", encoding="utf-8")

    def no_replace(source: Path, destination: Path) -> None:
        raise AssertionError("os.replace used for an existing regular file")

    monkeypatch.setattr(os, "replace", no_replace)
    replace_all([(stage_appended(target, b"more\n"), target)], rebuildable=True)
    write_bytes_atomic(target, b"new\n", rebuildable=True)
    assert target.read_text(encoding="utf-8") == "new\n" and [p.name for p in tmp_path.iterdir()] == ["abc.us.csv"]


def test_a_copy_the_kernel_refuses_goes_through_a_buffer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """sendfile between files is Linux's; elsewhere (or where a file system refuses) a buffer."""
    source = tmp_path / "source.txt"
    source.write_bytes(b"x" * 3_000_000)
    target = tmp_path / "export.csv"

    def refused(*arguments: int) -> int:
        raise OSError(errno.ENOTSOCK, "Socket operation on non-socket")

    monkeypatch.setattr(os, "sendfile", refused)
    with open(source, "rb") as handle:
        staged = stage_spliced(target, [b"head\n", (handle, 1, 2_999_999)])
    assert staged is not None
    replace_all([(staged, target)], rebuildable=True)
    assert target.read_bytes() == b"head\n" + b"x" * 2_999_999


def test_a_source_that_shrank_or_moved_is_not_copied(tmp_path: Path) -> None:
    source = tmp_path / "source.txt"
    source.write_bytes(b"0123456789")
    target = tmp_path / "export.csv"
    target.write_bytes(b"old\n")
    with open(source, "rb") as handle:
        assert stage_spliced(target, [(handle, 0, 20)]) is None  # fewer bytes than asked for
        assert stage_spliced(target, [(handle, 0, 10)], still_valid=lambda: False) is None
    assert target.read_bytes() == b"old\n" and [p.name for p in sorted(tmp_path.iterdir())] == [
        "export.csv",
        "source.txt",
    ]


def test_an_export_target_that_is_a_folder_stays_a_folder(tmp_path: Path) -> None:
    target = tmp_path / "abc.us.csv"
    target.mkdir()
    (target / "inside.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(OSError):
        write_bytes_atomic(target, b"ticker\n", rebuildable=True)
    assert (target / "inside.txt").read_text(encoding="utf-8") == "mine"
    assert [p.name for p in tmp_path.iterdir()] == ["abc.us.csv"]


def test_files_the_pipeline_cannot_write_again_keep_os_replace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "2026-12.jsonl"
    target.write_text("old\n", encoding="utf-8")
    replaced: list[Path] = []
    real = os.replace

    def recording_replace(source: Path, destination: Path) -> None:
        replaced.append(destination)
        real(source, destination)

    monkeypatch.setattr(os, "replace", recording_replace)
    write_text_atomic(target, "new\n")
    assert replaced == [target] and target.read_text(encoding="utf-8") == "new\n"


@pytest.mark.parametrize("hard_links", [True, False])
def test_a_durable_new_file_never_takes_an_existing_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hard_links: bool
) -> None:
    """Linked into place, or renamed where the file system has no hard links (FAT, some
    network shares): either way an existing file keeps its bytes unless replacing is asked."""
    if not hard_links:

        def no_links(*_: object) -> None:
            raise OSError(errno.EPERM, os.strerror(errno.EPERM))

        monkeypatch.setattr(os, "link", no_links)
    target = tmp_path / ".marker"
    assert create_file_durably(target, b"first\n")
    assert not create_file_durably(target, b"second\n")
    assert target.read_bytes() == b"first\n"
    assert create_file_durably(target, b"third\n", replace=True)
    assert target.read_bytes() == b"third\n"
    assert os.listdir(tmp_path) == [".marker"]
