"""Which folder is which: a hidden marker file inside a folder, holding a random token
that records made for the folder name, so that they are never applied to another.

A path is not a folder's identity: a symlink can be re-pointed, a folder can be
deleted and made again under the same name, and a folder moved keeps its files under
a new path. Nor is what `stat` says: the device number changes when a network share,
a btrfs subvolume or a USB disk is mounted again; the birth time changes when
overlayfs copies a folder up from an image's lower layer, and is missing on many file
systems; without it a folder made again often gets the deleted one's inode (ext4 hands
it out at once). A file inside the folder goes wherever the folder goes (a move, a
remount, a copy-up) and is gone with it: a new folder, or one made again, has none.

The marker is a dot-file, so the folder's listings (which skip hidden files) never
show it. A copy of the folder (`cp -r`) carries the marker, so it is taken for the
same folder: its files are byte for byte the ones written there.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import uuid
from pathlib import Path

from .atomic_files import create_file_durably

__all__ = ["FOLDER_MARKER", "folder_token", "mark_folder"]

FOLDER_MARKER = ".portfolio_assets_folder"
_TOKEN = re.compile(rb"[0-9a-f]{32}")
_EXPLANATION = (
    "portfolio-assets: this file marks the prices folder whose exports the pipeline wrote "
    "(its records in exports_written.json name the token above). Do not copy it into another "
    "folder or edit it: a folder without it owns no export.\n"
)


def folder_token(folder: Path) -> str | None:
    """The token of the marker in `folder`, or None when there is none: no such folder,
    no marker, or something else by its name (a link, a folder, a file not holding a token)."""
    marker = folder / FOLDER_MARKER
    try:
        # A link is not followed: it could lead to another folder's marker.
        fd = os.open(marker, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        try:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                return None  # a pipe or a device: never read
            first_line = handle.readline(64).rstrip(b"\r\n")
        except OSError:
            return None
    return first_line.decode("ascii") if _TOKEN.fullmatch(first_line) else None


def mark_folder(folder: Path, explanation: str = _EXPLANATION) -> str:
    """The token of `folder`'s marker, the marker made first (atomically, and on disk
    before this returns) when the folder has none; `explanation` follows the token in it.

    A regular file by the marker's name that holds no token (edited, or cut short) is
    replaced; anything else by that name (a folder, a link) raises FileExistsError: it is
    not the pipeline's to replace."""
    marker = folder / FOLDER_MARKER
    for _ in range(3):  # another writer may make or change the marker meanwhile
        token = folder_token(folder)
        if token is not None:
            return token
        try:
            damaged = stat.S_ISREG(os.lstat(marker).st_mode)
        except FileNotFoundError:
            damaged = False
        else:
            if not damaged:
                raise FileExistsError(
                    errno.EEXIST,
                    "not the pipeline's folder marker (a folder or a link by its name); move it away",
                    str(marker),
                )
        token = uuid.uuid4().hex
        if create_file_durably(marker, f"{token}\n{explanation}".encode("ascii"), replace=damaged):
            return token
    raise FileExistsError(errno.EEXIST, "changed again and again while the pipeline marked its folder", str(marker))
