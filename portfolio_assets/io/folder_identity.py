"""Which folder a path names: its device, inode and, where the system records it,
birth time, so that a record made for one folder is never applied to another.

A path is not a folder's identity: a symlink can be re-pointed, a folder can be
deleted and made again under the same name, and a folder moved keeps its files
under a new path. Device and inode follow the folder itself (a move within its file
system keeps them). They are not enough on their own: ext4 hands a deleted folder's
inode to the next folder made, often at once (measured here: five times in a row).
The birth time tells those apart. Python 3.11 reads it nowhere on Linux, so it comes
from `statx(2)` through the C library (`ctypes`, as `atomic_files` does for
`renameat2`); elsewhere from `st_birthtime` where the platform has it. Where no
birth time is known (an old C library, a file system that keeps none) it is None on
both sides of a comparison, and device and inode decide alone.
"""

from __future__ import annotations

import ctypes
import os
import stat as stat_module
import struct
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["FolderIdentity", "folder_identity"]


@dataclass(frozen=True, slots=True)
class FolderIdentity:
    device: int
    inode: int
    born_ns: int | None
    """Birth time in nanoseconds since the epoch; None where the system gives none."""
    path: str
    """The resolved path when the identity was taken: for messages, not for comparing."""

    def same_folder(self, other: FolderIdentity | None) -> bool:
        return other is not None and (self.device, self.inode, self.born_ns) == (
            other.device,
            other.inode,
            other.born_ns,
        )

    def to_json(self) -> dict[str, Any]:
        return {"device": self.device, "inode": self.inode, "born_ns": self.born_ns, "path": self.path}

    @classmethod
    def from_json(cls, value: object) -> FolderIdentity | None:
        """The identity a record holds, or None when it holds none (or a damaged one)."""
        if not isinstance(value, dict):
            return None
        device, inode, born, path = (value.get(k) for k in ("device", "inode", "born_ns", "path"))
        if not (isinstance(device, int) and isinstance(inode, int) and isinstance(path, str)):
            return None
        if born is not None and not isinstance(born, int):
            return None
        return cls(device, inode, born, path)


_AT_FDCWD = -100
_STATX_BTIME = 0x800
_STATX_SIZE = 256  # struct statx, padding included
_STATX_MASK_OFFSET = 0
_STATX_BTIME_OFFSET = 80  # struct statx_timestamp stx_btime: i64 seconds, u32 nanoseconds


def _load_statx() -> ctypes._NamedFuncPointer | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.CDLL(None, use_errno=True).statx
    except (OSError, AttributeError):  # a C library without it (glibc before 2.28)
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_uint, ctypes.c_char_p]
    function.restype = ctypes.c_int
    return function


_statx = _load_statx()


def _birth_ns(path: Path, stat: os.stat_result) -> int | None:
    if _statx is None:
        born: float | None = getattr(stat, "st_birthtime", None)
        return None if born is None else round(born * 1_000_000_000)
    buffer = ctypes.create_string_buffer(_STATX_SIZE)
    if _statx(_AT_FDCWD, os.fsencode(path), 0, _STATX_BTIME, buffer) != 0:
        return None
    mask: int = struct.unpack_from("=I", buffer, _STATX_MASK_OFFSET)[0]
    seconds: int
    nanoseconds: int
    seconds, nanoseconds = struct.unpack_from("=qI", buffer, _STATX_BTIME_OFFSET)
    if not mask & _STATX_BTIME or (seconds, nanoseconds) == (0, 0):
        return None  # the file system keeps no birth time
    return seconds * 1_000_000_000 + nanoseconds


def folder_identity(path: Path) -> FolderIdentity | None:
    """The identity of the folder `path` names now (symlinks followed), or None when
    it names no folder."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    if not stat_module.S_ISDIR(stat.st_mode):
        return None
    return FolderIdentity(stat.st_dev, stat.st_ino, _birth_ns(path, stat), os.path.realpath(path))
