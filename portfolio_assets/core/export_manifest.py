"""The export manifest: for each export, the fingerprint it was written from.

An export is rewritten only when its fingerprint (source file path, size and
mtime; export code version) changed, or its own file is gone or was changed
since it was written. Everything else stays untouched: same inode, same mtime.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .atomic_files import remove_leftover_temp_files, write_text_if_changed
from .errors import InputVanished
from .exports import PlannedExport, existing_export_names
from .fingerprints import text_fingerprint
from .json_cache import load_json_cache, save_json_cache
from .memo import file_stamp
from .parallel import map_files
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


def write_export(job: tuple[Path, Path, bool]) -> tuple[bool, str, str]:
    """Render one export from its source and write it if it changed.

    `job` is (source, target, whether the report found the source missing). A source
    the report saw but that is gone now means the tree is changing under us: stop
    rather than write a header-only file. Returns (written, content hash, output
    stamp); runs in a worker on big runs."""
    source, target, known_missing = job
    if not known_missing and not source.exists():
        raise InputVanished(source, "the price exports were being written")
    text = export_from_path(source)
    written = write_text_if_changed(target, text)
    return written, text_fingerprint(text), file_stamp(target)


def sync_exports(stooq_dir: Path, prices_dir: Path, planned: list[PlannedExport], manifest_path: Path,
                 version: str) -> ExportSync:
    """Bring the export folder in line with `planned`, touching only what changed."""
    loaded = load_json_cache(manifest_path, KIND, version)
    sync = ExportSync(warning=loaded.warning)
    prices_dir.mkdir(parents=True, exist_ok=True)
    remove_leftover_temp_files(prices_dir)
    entries: dict[str, dict[str, str]] = {}
    to_write: list[tuple[PlannedExport, str]] = []
    for item in planned:
        source = f"{item.stooq_path}:{file_stamp(stooq_dir / item.stooq_path)}"
        known = loaded.entries.get(item.file_name)
        if (isinstance(known, dict) and known.get("source") == source
                and known.get("output") == file_stamp(prices_dir / item.file_name) and "content" in known):
            sync.untouched.append(item.file_name)
            entries[item.file_name] = known
            sync.content_hashes[item.file_name] = str(known["content"])
        else:
            to_write.append((item, source))
    outcomes = map_files(write_export, [
        (stooq_dir / item.stooq_path, prices_dir / item.file_name, item.data_status == "missing_file")
        for item, _ in to_write])
    for (item, source), (written, digest, output) in zip(to_write, outcomes):
        (sync.written if written else sync.unchanged).append(item.file_name)
        sync.content_hashes[item.file_name] = digest
        entries[item.file_name] = {"source": source, "output": output, "content": digest}
    sync.files_read = len(to_write)
    keep = {item.file_name for item in planned}
    sync.removed = sorted(existing_export_names(prices_dir) - keep)
    for name in sync.removed:
        (prices_dir / name).unlink(missing_ok=True)
    if entries != loaded.entries:
        save_json_cache(manifest_path, KIND, version, entries)
    return sync
