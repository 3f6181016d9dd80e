"""Per-instrument caches and manifests as small JSON files beside the reports.

A cache file is written atomically, names its kind and the code version it was
made with, and is trusted only if it loads completely and both still match;
otherwise it is discarded with a warning and rebuilt. It may carry other fields
beside its entries (the export records name the folder they describe), which the
caller judges. JSON loads a few thousand
entries in milliseconds, needs no extra dependency and is readable by a user
who wants to see why something was (not) recomputed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..io.atomic_files import write_text_atomic

__all__ = ["LoadedCache", "load_json_cache", "save_json_cache"]


@dataclass(frozen=True)
class LoadedCache:
    entries: dict[str, Any]
    warning: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    """The file's fields other than kind, version and entries."""


def load_json_cache(path: Path, kind: str, version: str) -> LoadedCache:
    """The entries of a cache file, or none (with a warning when it was unusable)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return LoadedCache({})
    except (OSError, UnicodeDecodeError) as error:
        return LoadedCache({}, f"{path} is unreadable ({type(error).__name__}); rebuilding it")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        return LoadedCache({}, f"{path} is corrupt ({error}); discarding it and rebuilding")
    if not isinstance(document, dict) or not isinstance(document.get("entries"), dict):
        return LoadedCache({}, f"{path} is not a {kind} file; discarding it and rebuilding")
    if document.get("kind") != kind or document.get("version") != version:
        return LoadedCache({})  # made by other code: silently outdated, not corrupt
    extra = {key: value for key, value in document.items() if key not in ("kind", "version", "entries")}
    return LoadedCache(document["entries"], extra=extra)


def save_json_cache(
    path: Path, kind: str, version: str, entries: dict[str, Any], extra: Mapping[str, Any] | None = None
) -> None:
    document = {**(extra or {}), "kind": kind, "version": version, "entries": entries}
    write_text_atomic(path, json.dumps(document, separators=(",", ":"), sort_keys=True))
