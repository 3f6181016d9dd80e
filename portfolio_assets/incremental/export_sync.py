"""Keeping the export folder in line with the report, without losing anyone's files.

Two records beside the reports:
- the export manifest: for each export, the source it was written from (path,
  stamp, size and SHA-256) and the stamp of the file written. An export whose
  own file is unchanged since it was written stays untouched while its source
  has the same stamp or, by match_report's file summaries, the same bytes. When
  the summaries say the source only had rows appended to the bytes the export
  was written from, only those rows are read and added to a copy of the export,
  renamed into place. Anything else is rendered from the whole source again.
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

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Literal

from ..domain.errors import InputVanished, PortfolioInputError
from ..domain.exports import EXPORT_HEADER, PlannedExport
from ..domain.price_files import MissingPriceFile
from ..domain.price_scan import EXPORT_HEADER_LINE, appended_export_rows, export_from_bytes
from ..io.atomic_files import append_atomic, remove_leftover_temp_files, write_spliced, write_text_if_changed
from ..io.parallel import map_files
from .export_folder import existing_export_names
from .file_summaries import FileSummary, read_stamped
from .json_cache import LoadedCache, load_json_cache, save_json_cache
from .memo import file_stamp, stat_stamp

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
    files_appended: int = 0
    bytes_read: int = 0
    content_hashes: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


MISSING_SOURCE = "missing"
UNREADABLE_SOURCE = "unreadable"


@dataclass(frozen=True, slots=True)
class ExportJob:
    source: Path
    target: Path
    known_missing: bool
    """The report found the source missing: a header-only export is expected."""
    how: Literal["render", "append", "copy"] = "render"
    offset: int = 0
    """To append: the size of the source bytes the current export was written from. To
    copy: where the source's bytes start being the export's rows (`export_offset`)."""
    source_sha256: str = ""
    """To append or copy: the hash the file summaries give the source's current bytes."""
    source_stamp: str = ""
    """To append or copy: the stamp those bytes had; a source that moved since is rendered."""


@dataclass(frozen=True, slots=True)
class ExportWrite:
    written: bool
    source_stamp: str
    source_size: int
    source_sha256: str
    """The export's identity: it is a function of its source's bytes (MISSING_SOURCE if none)."""
    output_stamp: str
    bytes_read: int
    appended: bool = False


def _render(job: ExportJob) -> ExportWrite:
    source = read_stamped(job.source)
    if isinstance(source, tuple):
        data, stamp = source
        text = export_from_bytes(data)
        size, digest = len(data), hashlib.sha256(data).hexdigest()
    elif isinstance(source, MissingPriceFile) and not job.known_missing:
        # The report saw this source but it is gone now: the tree is changing under us.
        # Stop rather than write a header-only file.
        raise InputVanished(job.source, "the price exports were being written")
    else:
        # Gone as the report said, or unreadable (a permission, an I/O error): the header
        # alone, as SPEC 2 has it for a file with no usable rows (with include_empty).
        text, stamp, size, data = export_from_bytes(None), file_stamp(job.source), 0, b""
        digest = MISSING_SOURCE if isinstance(source, MissingPriceFile) else f"{UNREADABLE_SOURCE}:{source.error_name}"
    written = write_text_if_changed(job.target, text, rebuildable=True)
    return ExportWrite(written, stamp, size, digest, file_stamp(job.target), len(data))


def _append(job: ExportJob) -> ExportWrite | None:
    """Add the rows appended to the source since `job.offset` to the export, or None when
    the source is not the one the file summaries describe (it moved since)."""
    try:
        with open(job.source, "rb") as handle:
            before = os.fstat(handle.fileno())
            appended = os.pread(handle.fileno(), max(0, before.st_size - job.offset), job.offset)
            after = os.fstat(handle.fileno())
    except FileNotFoundError:
        raise InputVanished(job.source, "the price exports were being written") from None
    except OSError:
        return None
    stamp = stat_stamp(before)
    if stamp != job.source_stamp or stat_stamp(after) != stamp or job.offset + len(appended) != before.st_size:
        return None
    rows = appended_export_rows(appended)
    if rows is None:
        return None
    if rows:
        append_atomic(job.target, rows)
    return ExportWrite(
        bool(rows), stamp, before.st_size, job.source_sha256, file_stamp(job.target), len(appended), True
    )


def _holds(target: Path, source: BinaryIO, offset: int, size: int) -> bool:
    """Whether `target` already is the export header followed by `source` from `offset`."""
    try:
        if target.stat().st_size != size:
            return False
        return target.read_bytes() == EXPORT_HEADER_LINE + os.pread(source.fileno(), size, offset)
    except OSError:
        return False


def _copy(job: ExportJob) -> ExportWrite | None:
    """Write the export as its header line and the source's bytes from `job.offset` on,
    copied by the kernel: the source is never read into Python. None when the source is
    not the one the file summaries describe, before or after the copy (it moved)."""
    try:
        source = open(job.source, "rb")  # noqa: SIM115 - closed below, after the copy
    except FileNotFoundError:
        raise InputVanished(job.source, "the price exports were being written") from None
    except OSError:
        return None
    with source:
        stat = os.fstat(source.fileno())
        stamp = stat_stamp(stat)
        if stamp != job.source_stamp:
            return None
        count = stat.st_size - job.offset
        written = not _holds(job.target, source, job.offset, len(EXPORT_HEADER_LINE) + count)
        if written and not write_spliced(
            job.target,
            [EXPORT_HEADER_LINE, (source, job.offset, count)],
            still_valid=lambda: stat_stamp(os.fstat(source.fileno())) == stamp,
        ):
            return None
    return ExportWrite(written, stamp, stat.st_size, job.source_sha256, file_stamp(job.target), 0)


def write_export(job: ExportJob) -> ExportWrite:
    """Bring one export up to date with its source (runs in a worker thread on big runs)."""
    done = _append(job) if job.how == "append" else _copy(job) if job.how == "copy" else None
    return done if done is not None else _render(job)


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


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _intact(known: object, stooq_path: str, target: Path) -> bool:
    """Whether a manifest entry is complete, for this source, and its export file is the
    one written (same stamp)."""
    return (
        isinstance(known, dict)
        and known.get("source") == stooq_path
        and isinstance(known.get("stamp"), str)
        and isinstance(known.get("size"), int)
        and isinstance(known.get("sha256"), str)
        and known.get("output") == file_stamp(target)
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
    summaries: dict[str, FileSummary] | None = None,
) -> ExportSync:
    """Bring the export folder in line with `planned`, touching only what changed.

    `summaries` are match_report's file summaries (by Stooq path), which say when a
    source's bytes are the ones an export was made from, or only grew from them.
    `force` re-renders every export from its source, trusting no manifest, and allows
    removing any share of the exports; it still removes only files the pipeline wrote."""
    manifest = load_json_cache(manifest_path, KIND, version)
    if force:
        summaries = None  # from the sources' bytes alone, trusting no record
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
    entries: dict[str, dict[str, object]] = {}
    to_write: list[tuple[PlannedExport, ExportJob]] = []
    for item in planned:
        source_path, target = stooq_dir / item.stooq_path, prices_dir / item.file_name
        stamp = file_stamp(source_path)
        known = trusted.get(item.file_name)
        summary = (summaries or {}).get(item.stooq_path)
        if summary is not None and summary.stamp != stamp:
            summary = None  # made from other bytes than the file holds now
        job = ExportJob(source_path, target, item.data_status == "missing_file")
        if _intact(known, item.stooq_path, target):
            assert isinstance(known, dict)
            # An export written while its source could not be read is not of its bytes.
            read = not str(known["sha256"]).startswith(UNREADABLE_SOURCE)
            same_source = read and (
                known["stamp"] == stamp or (summary is not None and known["sha256"] == summary.sha256)
            )
            if same_source and (stamp != "missing" or job.known_missing):
                sync.untouched.append(item.file_name)
                entries[item.file_name] = {**known, "stamp": stamp}
                sync.content_hashes[item.file_name] = str(known["sha256"])
                continue
            if summary is not None and summary.earlier == (known["size"], known["sha256"]):
                job = ExportJob(source_path, target, False, "append", int(known["size"]), summary.sha256, stamp)
        if job.how == "render" and summary is not None and summary.export_offset is not None:
            job = ExportJob(source_path, target, False, "copy", summary.export_offset, summary.sha256, stamp)
        to_write.append((item, job))
    now_owned = owned | {item.file_name for item, _ in to_write}
    if now_owned != owned:
        save_json_cache(written_path, WRITTEN_KIND, _written_version(prices_dir), dict.fromkeys(now_owned, 1))
    outcomes = map_files(
        write_export,
        [job for _, job in to_write],
        label="price_exports: writing exports",
        parse_bytes=sum(_size(job.source) for _, job in to_write if job.how == "render"),
    )
    for (item, _), done in zip(to_write, outcomes, strict=True):
        (sync.written if done.written else sync.unchanged).append(item.file_name)
        sync.content_hashes[item.file_name] = done.source_sha256
        sync.bytes_read += done.bytes_read
        sync.files_appended += done.appended
        entries[item.file_name] = {
            "source": item.stooq_path,
            "stamp": done.source_stamp,
            "size": done.source_size,
            "sha256": done.source_sha256,
            "output": done.output_stamp,
        }
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
