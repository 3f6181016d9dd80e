"""Where a Stooq file's bytes come from: a file of the unpacked tree, or a member of an
archive standing for its folder (SPEC 1.3, `domain/stooq_archives.py`).

Every step that stamps or reads a Stooq file by its relative path asks a `StooqSources`
of the root: a file's stamp is its stat (`memo.stat_stamp`), a member's is its size and
CRC-32 from the central directory, so "an unchanged stamp is never read" holds for both,
and a member whose size and CRC-32 survive a new download is never decompressed.

A member that only grew is decompressed once per refresh: match_report hands the bytes
it appended (`remember_appended`) to price_exports in the same process, which appends
them to the export (`appended_since`) when the member's stamp is still the one they
came from; in another process, price_exports decompresses the member itself.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..domain.stooq_archives import ArchiveMember, archive_folder, is_archive_name, list_archive
from .memo import file_stamp

__all__ = [
    "StooqSource",
    "StooqSources",
    "appended_since",
    "remember_appended",
    "source_path",
    "source_size",
    "source_stamp",
]

StooqSource = Path | ArchiveMember
"""A file's path, or an archive member (a path that does not exist stands for a file gone)."""


class StooqSources:
    """The sources of one Stooq root, by relative path; the archives at its top are
    looked up once, each listed when first asked for (and only while unchanged)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._archives: dict[str, Path] | None = None

    def _archive_of(self, relative_path: str) -> Path | None:
        if self._archives is None:
            self._archives = {}
            try:
                entries = list(os.scandir(self.root))
            except OSError:
                entries = []
            for entry in entries:
                if is_archive_name(entry.name) and entry.is_file(follow_symlinks=False):
                    self._archives[archive_folder(entry.name)] = Path(entry.path)
        return self._archives.get(relative_path.partition("/")[0]) if self._archives else None

    def locate(self, relative_path: str) -> StooqSource:
        """Where the bytes of the file at `relative_path` are."""
        archive = self._archive_of(relative_path)
        if archive is not None:
            member = list_archive(archive).members.get(relative_path)
            if member is not None:
                return member
        return self.root / relative_path

    def stamp(self, relative_path: str) -> str:
        """The file's stamp (`memo.file_stamp`), a member's `<size>:crc32:<crc>`, or `missing`."""
        return source_stamp(self.locate(relative_path))


def source_stamp(source: StooqSource) -> str:
    """A file's stamp (`memo.file_stamp`, `missing` when gone), or a member's."""
    return source.stamp if isinstance(source, ArchiveMember) else file_stamp(source)


def source_path(source: StooqSource) -> Path:
    """The file an error about a source names: the file, or the member's archive."""
    return source.archive if isinstance(source, ArchiveMember) else source


def source_size(source: StooqSource) -> int:
    """The size of a source's bytes (0 for one that cannot be stat-ed)."""
    if isinstance(source, ArchiveMember):
        return source.size
    try:
        return source.stat().st_size
    except OSError:
        return 0


# Bytes appended to archive members, by relative path: (member stamp, earlier size, bytes).
_APPENDED: dict[str, tuple[str, int, bytes]] = {}


def remember_appended(appended: dict[str, tuple[str, int, bytes]]) -> None:
    """Keep the bytes appended to members (verified: their earlier part hashed to the
    summary's, the whole to the member's CRC-32), replacing what was kept before."""
    _APPENDED.clear()
    _APPENDED.update(appended)


def appended_since(relative_path: str, stamp: str, size: int) -> bytes | None:
    """The bytes appended to the member at `relative_path` after its first `size` bytes,
    if they were kept for this very stamp."""
    kept = _APPENDED.get(relative_path)
    return kept[2] if kept is not None and kept[0] == stamp and kept[1] == size else None
