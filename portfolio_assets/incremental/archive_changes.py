"""What changed in each of Stooq's archives since the outputs were made, in words, for
`portfolio-assets status`: "archive d_us_txt.zip: 6,992 members changed, 3 members added".

Changed members are the members the reports read (the matched ones, which have a file
summary) whose size or CRC-32 moved; added and removed ones are counted against the
index. Only the central directories are read.
"""

from __future__ import annotations

from pathlib import Path

from ..domain.stooq_archives import archive_folder, is_archive_name, list_archive
from ..domain.stooq_tree import read_index
from .file_summaries import load_file_summaries

__all__ = ["describe_archive_changes"]


def describe_archive_changes(stooq_dir: Path, index_path: Path, summaries_path: Path, version: str) -> list[str]:
    """One line per archive with a change; none for an archive without."""
    try:
        names = sorted(entry.name for entry in stooq_dir.iterdir() if is_archive_name(entry.name) and entry.is_file())
    except OSError:
        return []
    if not names:
        return []
    try:
        indexed = {entry.relative_path for entry in read_index(index_path)}
    except (OSError, ValueError):
        indexed = set()
    summaries = load_file_summaries(summaries_path, version)[0]
    lines = []
    for name in names:
        members = list_archive(stooq_dir / name).members
        prefix = archive_folder(name) + "/"
        changed = sum(1 for path, known in summaries.items() if path in members and members[path].stamp != known.stamp)
        added = sum(1 for path in members if path not in indexed)
        removed = sum(1 for path in indexed if path.startswith(prefix) and path not in members)
        shown = [
            f"{count:,} member{'s' if count != 1 else ''} {what}"
            for count, what in ((changed, "changed"), (added, "added"), (removed, "removed"))
            if count
        ]
        if shown:
            lines.append(f"archive {name}: {', '.join(shown)}")
    return lines
