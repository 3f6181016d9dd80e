"""A folder's identity: the same folder after a move, another one behind a re-pointed
link or under a name made again."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from portfolio_assets.io.folder_identity import FolderIdentity, folder_identity


def test_a_moved_folder_is_the_same_folder(tmp_path: Path) -> None:
    (tmp_path / "one").mkdir()
    before = folder_identity(tmp_path / "one")
    (tmp_path / "one").rename(tmp_path / "two")
    after = folder_identity(tmp_path / "two")
    assert before is not None and before.same_folder(after)
    assert after is not None and after.path == str((tmp_path / "two").resolve())


def test_a_re_pointed_link_names_another_folder(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    os.symlink(tmp_path / "a", tmp_path / "link")
    through_link = folder_identity(tmp_path / "link")
    assert through_link is not None and through_link.same_folder(folder_identity(tmp_path / "a"))
    os.remove(tmp_path / "link")
    os.symlink(tmp_path / "b", tmp_path / "link")
    assert not through_link.same_folder(folder_identity(tmp_path / "link"))


def test_a_folder_made_again_is_another_folder(tmp_path: Path) -> None:
    (tmp_path / "prices").mkdir()
    first = folder_identity(tmp_path / "prices")
    (tmp_path / "prices").rmdir()
    (tmp_path / "prices").mkdir()
    assert first is not None and not first.same_folder(folder_identity(tmp_path / "prices"))


def test_the_same_inode_born_at_another_time_is_another_folder(tmp_path: Path) -> None:
    """ext4 gives a deleted folder's inode to the next one made: the birth time tells them apart."""
    folder = folder_identity(tmp_path)
    assert folder is not None
    assert not folder.same_folder(replace(folder, born_ns=(folder.born_ns or 0) + 1))
    assert folder.same_folder(replace(folder, path="/elsewhere"))  # the path is for messages only


def test_identities_survive_json_and_damaged_ones_are_none(tmp_path: Path) -> None:
    folder = folder_identity(tmp_path)
    assert folder is not None and FolderIdentity.from_json(folder.to_json()) == folder
    assert FolderIdentity.from_json(None) is None
    assert FolderIdentity.from_json({"device": "1", "inode": 2, "born_ns": None, "path": "/x"}) is None
    assert folder_identity(tmp_path / "missing") is None
    (tmp_path / "file").write_text("x", encoding="utf-8")
    assert folder_identity(tmp_path / "file") is None
