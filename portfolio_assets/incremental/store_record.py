"""The price store's record beside the reports (`price_store.json`), read without the
table library: which export bytes each stored ticker was read from, and the versions of
the store's two tables the pipeline last committed (their commit files are the step's
outputs, so that status and the output checks need no Delta reader)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .json_cache import LoadedCache, load_json_cache

__all__ = ["RECORD_KIND", "commit_file", "load_store_record", "store_outputs"]

RECORD_KIND = "price_store"


def load_store_record(path: Path, version: str | None = None) -> LoadedCache:
    """The record at `path` (of any format version when `version` is None)."""
    if version is not None:
        return load_json_cache(path, RECORD_KIND, version)
    import json

    try:
        document: Any = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return LoadedCache({})
    if (
        not isinstance(document, dict)
        or document.get("kind") != RECORD_KIND
        or not isinstance(document.get("entries"), dict)
    ):
        return LoadedCache({})
    extra = {key: value for key, value in document.items() if key not in ("kind", "version", "entries")}
    return LoadedCache(document["entries"], None, extra)


def commit_file(table: Path, version: int) -> Path:
    """The log file of `table`'s commit `version` (Delta's naming: twenty digits)."""
    return table / "_delta_log" / f"{version:020d}.json"


def store_outputs(store_dir: Path, record_path: Path) -> list[Path]:
    """The commit files of the table versions the record names (version 0 without one)."""
    extra = load_store_record(record_path).extra
    versions = []
    for name, key in (("prices", "prices_version"), ("matched", "matched_version")):
        value = extra.get(key)
        versions.append(commit_file(store_dir / name, value if isinstance(value, int) and value >= 0 else 0))
    return versions
