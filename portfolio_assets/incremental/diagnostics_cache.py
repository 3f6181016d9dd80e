"""Remembered diagnostics per matched Stooq file, keyed by its size and mtime.

match_report reads only the files that changed or are newly matched; entries
for files no longer matched are dropped so the cache stays the size of the
universe. A file that could not be read (gone, or an OS error) is never
remembered: a folder moved away for a moment must not leave `missing_file`
behind under the files' real stamps.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..domain.diagnostics import Diagnostics
from ..io.parallel import map_files
from .json_cache import load_json_cache, save_json_cache
from .memo import file_stamp

__all__ = ["DiagnosedFiles", "diagnose_with_cache"]

KIND = "diagnostics_cache"


@dataclass
class DiagnosedFiles:
    by_path: dict[str, Diagnostics] = field(default_factory=dict)
    stamps: dict[str, str] = field(default_factory=dict)
    files_read: int = 0
    reused: int = 0
    warning: str | None = None


def _was_read(diagnostics: Diagnostics) -> bool:
    """False for a file that could not be read at all (as opposed to read and found bad)."""
    status = diagnostics.data_status
    return status != "missing_file" and not (status.startswith("error:") and status != "error:UnicodeDecodeError")


def diagnose_with_cache(
    stooq_dir: Path,
    relative_paths: Iterable[str],
    cache_path: Path,
    version: str,
    diagnose_file: Callable[[Path], Diagnostics],
    force: bool = False,
) -> DiagnosedFiles:
    """Diagnostics of every path, reading only files whose stamp moved (all with `force`)."""
    loaded = load_json_cache(cache_path, KIND, version)
    result = DiagnosedFiles(warning=loaded.warning)
    known = {} if force else loaded.entries
    to_read: list[str] = []
    for relative_path in relative_paths:
        stamp = file_stamp(stooq_dir / relative_path)
        result.stamps[relative_path] = stamp
        cached = known.get(relative_path)
        if isinstance(cached, list) and len(cached) == 6 and cached[0] == stamp and stamp != "missing":
            try:
                result.by_path[relative_path] = Diagnostics(
                    str(cached[1]), str(cached[2]), int(cached[3]), str(cached[4]), str(cached[5])
                )
                result.reused += 1
                continue
            except (TypeError, ValueError):
                pass
        to_read.append(relative_path)
    summaries = map_files(diagnose_file, [stooq_dir / path for path in to_read])
    result.by_path.update(zip(to_read, summaries, strict=False))
    result.files_read = len(to_read)
    result.by_path = {path: result.by_path[path] for path in result.stamps}
    entries = {
        path: [result.stamps[path], s.price_start, s.price_end, s.price_rows, s.data_status, s.data_flags]
        for path, s in result.by_path.items()
        if _was_read(s)
    }
    if entries != loaded.entries or loaded.warning:
        save_json_cache(cache_path, KIND, version, entries)
    return result
