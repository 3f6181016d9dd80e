"""A folder's marker: it goes where the folder goes and is gone with it, so a folder
moved keeps its token and one made again, or behind a re-pointed link, has none."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from portfolio_assets.io.atomic_files import TEMP_PREFIX
from portfolio_assets.io.folder_marker import FOLDER_MARKER, folder_token, mark_folder


def test_a_folder_is_marked_once_and_keeps_its_token(tmp_path: Path) -> None:
    assert folder_token(tmp_path) is None
    token = mark_folder(tmp_path)
    assert folder_token(tmp_path) == token == mark_folder(tmp_path)
    text = (tmp_path / FOLDER_MARKER).read_text(encoding="ascii")
    assert text.startswith(f"{token}\n") and "Do not copy it" in text
    assert os.listdir(tmp_path) == [FOLDER_MARKER]  # no temporary file left
    # Created like any file the user makes (0o666 less the umask), not 0o600.
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE((tmp_path / FOLDER_MARKER).stat().st_mode) == 0o666 & ~umask


def test_a_moved_folder_keeps_its_token(tmp_path: Path) -> None:
    """A move (or a share, a subvolume or a disk mounted again, which change its device
    number) leaves the files inside a folder as they were."""
    (tmp_path / "one").mkdir()
    token = mark_folder(tmp_path / "one")
    (tmp_path / "one").rename(tmp_path / "two")
    assert folder_token(tmp_path / "two") == token


def test_a_folder_made_again_has_no_token(tmp_path: Path) -> None:
    """Whatever inode the new folder gets (ext4 often hands out the deleted one's)."""
    (tmp_path / "prices").mkdir()
    token = mark_folder(tmp_path / "prices")
    (tmp_path / "prices" / FOLDER_MARKER).unlink()
    (tmp_path / "prices").rmdir()
    (tmp_path / "prices").mkdir()
    assert folder_token(tmp_path / "prices") is None
    assert mark_folder(tmp_path / "prices") != token


def test_a_re_pointed_link_leads_to_another_token(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    os.symlink(tmp_path / "a", tmp_path / "link")
    token = mark_folder(tmp_path / "link")
    assert folder_token(tmp_path / "a") == token
    os.remove(tmp_path / "link")
    os.symlink(tmp_path / "b", tmp_path / "link")
    assert folder_token(tmp_path / "link") is None


def test_a_marker_that_holds_no_token_is_none_and_replaced(tmp_path: Path) -> None:
    """Cut short or edited: no record can name it, so it is replaced by a new one."""
    (tmp_path / FOLDER_MARKER).write_bytes(b"")
    assert folder_token(tmp_path) is None
    token = mark_folder(tmp_path)
    assert folder_token(tmp_path) == token
    (tmp_path / FOLDER_MARKER).write_text("0123456789ABCDEF0123456789abcdef\n", encoding="ascii")  # not lower case
    assert folder_token(tmp_path) is None
    assert folder_token(tmp_path / "missing") is None


def test_something_else_by_the_markers_name_is_never_replaced(tmp_path: Path) -> None:
    """A link (possibly to another folder's marker) or a folder by the marker's name is
    not the pipeline's: it gives no token and is left alone, with a line naming it."""
    (tmp_path / "other").mkdir()
    token = mark_folder(tmp_path / "other")
    (tmp_path / "here").mkdir()
    os.symlink(tmp_path / "other" / FOLDER_MARKER, tmp_path / "here" / FOLDER_MARKER)
    assert folder_token(tmp_path / "here") is None
    with pytest.raises(FileExistsError, match="move it away") as raised:
        mark_folder(tmp_path / "here")
    assert raised.value.filename == str(tmp_path / "here" / FOLDER_MARKER)
    assert os.readlink(tmp_path / "here" / FOLDER_MARKER) == str(tmp_path / "other" / FOLDER_MARKER)
    assert folder_token(tmp_path / "other") == token
    assert not [name for name in os.listdir(tmp_path / "here") if name.startswith(TEMP_PREFIX)]
