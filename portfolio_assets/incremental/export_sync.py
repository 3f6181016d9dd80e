"""Keeping the export folder in line with the report, without losing anyone's files.

Two records beside the reports:
- the export manifest: for each export, the fingerprint it was written from.
  An export is rewritten only when that fingerprint (source file path, size
  and mtime; export code version) changed, or its own file is gone or was
  changed since it was written. Everything else stays untouched.
- the record of exports written: the name of every file the pipeline wrote
  into the prices folder. Only those are ever removed; any other file there
  is a stray, reported and left alone. It is saved before a new name is
  written, so a run killed mid-way never leaves a file of its own unrecorded,
  and it outlives code version changes (unlike the manifest).

A run that would remove more than a set share of the existing exports (an
emptied Stooq tree, a wrong broker folder) stops before touching anything,
unless forced.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ..domain.errors import InputVanished, PortfolioInputError
from ..domain.exports import EXPORT_HEADER, PlannedExport
from ..domain.price_scan import export_from_path
from ..io.atomic_files import remove_leftover_temp_files, write_text_if_changed
from ..io.parallel import map_files
from .export_folder import existing_export_names
from .fingerprints import text_fingerprint
from .json_cache import LoadedCache, load_json_cache, save_json_cache
from .memo import file_stamp

__all__ = ["ExportSync", "UnsafeExportChange", "stray_exports", "sync_exports"]

KIND = "export_manifest"
WRITTEN_KIND = "exports_written"


class UnsafeExportChange(PortfolioInputError):
    """A change to the export folder that could lose files, refused before anything is touched."""


@dataclass
class ExportSync:
    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    untouched: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    strays: list[str] = field(default_factory=list)  # files the pipeline did not write: left alone
    files_read: int = 0
    content_hashes: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


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


def _written_version(prices_dir: Path) -> str:
    """The record describes one folder: pointing prices_dir elsewhere starts a new one."""
    return os.path.realpath(prices_dir)


def _load_written(written_path: Path, prices_dir: Path) -> LoadedCache:
    return load_json_cache(written_path, WRITTEN_KIND, _written_version(prices_dir))


def _owned(written: LoadedCache, manifest: LoadedCache) -> set[str]:
    # Every name in a manifest was written by the pipeline too (manifests from before
    # the record existed).
    return set(written.entries) | set(manifest.entries)


def stray_exports(
    prices_dir: Path, planned: list[PlannedExport], manifest_path: Path, written_path: Path, version: str
) -> list[str]:
    """CSV files in the prices folder that the report does not call for and the pipeline
    did not write: they are the user's, reported and never removed."""
    owned = _owned(_load_written(written_path, prices_dir), load_json_cache(manifest_path, KIND, version))
    return sorted(existing_export_names(prices_dir) - {item.file_name for item in planned} - owned)


def _is_export(path: Path) -> bool:
    """Whether a file starts with the export header (one of ours, or the old tool's)."""
    try:
        with path.open("rb") as handle:
            return handle.readline().rstrip(b"\r\n") == EXPORT_HEADER.encode()
    except OSError:
        return False


def _refuse_unsafe(
    prices_dir: Path,
    planned: list[PlannedExport],
    present: set[str],
    owned: set[str],
    removable: list[str],
    max_removed_share: float,
) -> None:
    existing = len(present & owned)
    if removable and len(removable) > max_removed_share * existing:
        shown = ", ".join(removable[:5]) + (" ..." if len(removable) > 5 else "")
        raise UnsafeExportChange(
            f"price_exports would remove {len(removable)} of the {existing} exports in {prices_dir} "
            f"({shown}), more than PORTFOLIO_ASSETS_MAX_REMOVED_SHARE={max_removed_share:g} of them; "
            "nothing was written or removed. Check the Stooq folder and the broker lists (an unmounted "
            "share, an unpacking in progress?); if the change is intended, run `portfolio-assets refresh "
            "--force` or raise PORTFOLIO_ASSETS_MAX_REMOVED_SHARE"
        )
    foreign = [
        item.file_name
        for item in planned
        if item.file_name in present and item.file_name not in owned and not _is_export(prices_dir / item.file_name)
    ]
    if foreign:
        more = f" (and {len(foreign) - 1} more)" if len(foreign) > 1 else ""
        raise UnsafeExportChange(
            f"{prices_dir / foreign[0]}{more} would be overwritten by an export, but the pipeline did not "
            "write it and it is not a price export; nothing was written or removed. Move it out of the "
            "prices folder (PORTFOLIO_ASSETS_PRICES_DIR)"
        )


def sync_exports(
    stooq_dir: Path,
    prices_dir: Path,
    planned: list[PlannedExport],
    manifest_path: Path,
    written_path: Path,
    version: str,
    *,
    force: bool = False,
    max_removed_share: float = 0.5,
) -> ExportSync:
    """Bring the export folder in line with `planned`, touching only what changed.

    `force` re-renders every export from its source, trusting no manifest, and allows
    removing any share of the exports; it still removes only files the pipeline wrote."""
    manifest = load_json_cache(manifest_path, KIND, version)
    written_record = _load_written(written_path, prices_dir)
    sync = ExportSync(warnings=[w for w in (manifest.warning, written_record.warning) if w])
    owned = _owned(written_record, manifest)
    prices_dir.mkdir(parents=True, exist_ok=True)
    present = existing_export_names(prices_dir)
    keep = {item.file_name for item in planned}
    removable = sorted((present - keep) & owned)
    sync.strays = sorted(present - keep - owned)
    _refuse_unsafe(prices_dir, planned, present, owned, removable, 1.0 if force else max_removed_share)
    remove_leftover_temp_files(prices_dir)
    trusted = {} if force else manifest.entries
    entries: dict[str, dict[str, str]] = {}
    to_write: list[tuple[PlannedExport, str]] = []
    for item in planned:
        source = f"{item.stooq_path}:{file_stamp(stooq_dir / item.stooq_path)}"
        known = trusted.get(item.file_name)
        if (
            isinstance(known, dict)
            and known.get("source") == source
            and known.get("output") == file_stamp(prices_dir / item.file_name)
            and "content" in known
        ):
            sync.untouched.append(item.file_name)
            entries[item.file_name] = known
            sync.content_hashes[item.file_name] = str(known["content"])
        else:
            to_write.append((item, source))
    now_owned = owned | {item.file_name for item, _ in to_write}
    if now_owned != owned:
        save_json_cache(written_path, WRITTEN_KIND, _written_version(prices_dir), dict.fromkeys(now_owned, 1))
    outcomes = map_files(
        write_export,
        [
            (stooq_dir / item.stooq_path, prices_dir / item.file_name, item.data_status == "missing_file")
            for item, _ in to_write
        ],
    )
    for (item, source), (written, digest, output) in zip(to_write, outcomes, strict=False):
        (sync.written if written else sync.unchanged).append(item.file_name)
        sync.content_hashes[item.file_name] = digest
        entries[item.file_name] = {"source": source, "output": output, "content": digest}
    sync.files_read = len(to_write)
    for name in removable:
        (prices_dir / name).unlink(missing_ok=True)
    sync.removed = removable
    final_owned = now_owned - set(removable)
    if final_owned != set(written_record.entries) or written_record.warning:
        save_json_cache(written_path, WRITTEN_KIND, _written_version(prices_dir), dict.fromkeys(final_owned, 1))
    if entries != manifest.entries or manifest.warning:
        save_json_cache(manifest_path, KIND, version, entries)
    return sync
