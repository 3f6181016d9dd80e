"""Remembered diagnostics per matched Stooq file, keyed by its size and mtime.

match_report reads only the files that changed or are newly matched; entries
for files no longer matched are dropped so the cache stays the size of the
universe.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .diagnostics import Diagnostics
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


def diagnose_with_cache(stooq_dir: Path, relative_paths: Iterable[str], cache_path: Path, version: str,
                        diagnose_file: Callable[[Path], Diagnostics]) -> DiagnosedFiles:
    loaded = load_json_cache(cache_path, KIND, version)
    result = DiagnosedFiles(warning=loaded.warning)
    entries: dict[str, list] = {}
    for relative_path in relative_paths:
        stamp = file_stamp(stooq_dir / relative_path)
        result.stamps[relative_path] = stamp
        cached = loaded.entries.get(relative_path)
        summary = None
        if isinstance(cached, list) and len(cached) == 6 and cached[0] == stamp and stamp != "missing":
            try:
                summary = Diagnostics(*(str(v) for v in cached[1:3]), int(cached[3]), *map(str, cached[4:]))
                result.reused += 1
            except (TypeError, ValueError):
                summary = None
        if summary is None:
            summary = diagnose_file(stooq_dir / relative_path)
            result.files_read += 1
        result.by_path[relative_path] = summary
        entries[relative_path] = [stamp, summary.price_start, summary.price_end, summary.price_rows,
                                  summary.data_status, summary.data_flags]
    if entries != loaded.entries:
        save_json_cache(cache_path, KIND, version, entries)
    return result
