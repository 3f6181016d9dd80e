"""The export manifest: for each export, the fingerprint it was written from.

An export is rewritten only when its fingerprint (source file path, size and
mtime; export code version) changed, or its own file is gone or was changed
since it was written. Everything else stays untouched: same inode, same mtime.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .atomic_files import remove_leftover_temp_files, write_text_if_changed
from .exports import PlannedExport, existing_export_names
from .json_cache import load_json_cache, save_json_cache
from .memo import file_stamp
from .price_scan import export_from_path

__all__ = ["ExportSync", "sync_exports"]

KIND = "export_manifest"


@dataclass
class ExportSync:
    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    untouched: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    files_read: int = 0
    content_hashes: dict[str, str] = field(default_factory=dict)
    warning: str | None = None


def sync_exports(stooq_dir: Path, prices_dir: Path, planned: list[PlannedExport], manifest_path: Path,
                 version: str, content_hash) -> ExportSync:
    """Bring the export folder in line with `planned`, touching only what changed."""
    loaded = load_json_cache(manifest_path, KIND, version)
    sync = ExportSync(warning=loaded.warning)
    prices_dir.mkdir(parents=True, exist_ok=True)
    remove_leftover_temp_files(prices_dir)
    entries: dict[str, dict[str, str]] = {}
    for item in planned:
        target = prices_dir / item.file_name
        source = f"{item.stooq_path}:{file_stamp(stooq_dir / item.stooq_path)}"
        known = loaded.entries.get(item.file_name)
        if (isinstance(known, dict) and known.get("source") == source
                and known.get("output") == file_stamp(target) and "content" in known):
            sync.untouched.append(item.file_name)
            entries[item.file_name] = known
            sync.content_hashes[item.file_name] = str(known["content"])
            continue
        text = export_from_path(stooq_dir / item.stooq_path)
        sync.files_read += 1
        if write_text_if_changed(target, text):
            sync.written.append(item.file_name)
        else:
            sync.unchanged.append(item.file_name)
        digest = content_hash(text)
        sync.content_hashes[item.file_name] = digest
        entries[item.file_name] = {"source": source, "output": file_stamp(target), "content": digest}
    keep = {item.file_name for item in planned}
    sync.removed = sorted(existing_export_names(prices_dir) - keep)
    for name in sync.removed:
        (prices_dir / name).unlink(missing_ok=True)
    if entries != loaded.entries:
        save_json_cache(manifest_path, KIND, version, entries)
    return sync
