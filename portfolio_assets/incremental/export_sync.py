"""Keeping the export folder in line with the report, without losing anyone's files.

Two records beside the reports, each naming the prices folder it describes by the
random token of the marker file inside it (`io/folder_marker.py`) and applying to that
folder alone, so a folder moved or mounted again keeps them and a new folder, a
re-pointed link or a folder made again (none has the marker) starts with none. The
marker is made before the first export is written into a folder:
- the export manifest: for each export, the source it was written from (path,
  stamp, size and SHA-256), the stamp of the file written and, when rows were only
  appended to it, the stamp of the file it grew from. An export whose
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

A file the pipeline did not write is never removed and never overwritten: one with
the name of an export the run must write stops the run before anything is touched,
unless the run adopts it (`adopt`: a file that starts with the export header line,
an earlier export or the old tool's). A run that would remove more than a set share
of the existing exports (an emptied Stooq tree, a wrong broker folder) stops before
touching anything too, unless forced.

Every new or changed export is first staged as a temporary file in the prices folder;
only when all are staged are they swapped in, and then stale exports removed. A
failure while staging (a full disk) removes the temporary files and changes no
export, so a backtest never reads a mix of old and new prices.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from stat import S_ISREG
from typing import Any, BinaryIO, Literal

from ..domain.diagnostics import MISSING_FILE
from ..domain.errors import InputVanished, PortfolioInputError, printable
from ..domain.exports import EXPORT_HEADER, EXPORT_HEADER_LINE, PlannedExport
from ..domain.price_files import MissingPriceFile
from ..domain.price_scan import appended_export_rows, export_from_bytes
from ..domain.stooq_archives import ArchiveMember, read_member
from ..io.atomic_files import (
    file_holds,
    remove_leftover_temp_files,
    replace_all,
    stage_appended,
    stage_bytes,
    stage_spliced,
)
from ..io.folder_marker import FOLDER_MARKER, folder_token, mark_folder
from ..io.parallel import map_files
from .export_folder import existing_export_names
from .file_summaries import FileSummary, read_stamped
from .json_cache import LoadedCache, load_json_cache, save_json_cache
from .memo import stat_stamp, written_stamp
from .stooq_sources import StooqSource, StooqSources, appended_since, source_path, source_size, source_stamp

__all__ = ["ExportSync", "UnsafeExportChange", "stray_exports", "sync_exports"]

KIND = "export_manifest"
WRITTEN_KIND = "exports_written"
WRITTEN_VERSION = "3"
"""The format of the record of exports written; a record of another format is not trusted."""


class UnsafeExportChange(PortfolioInputError):
    """A change to the export folder that could lose files, refused before anything is touched."""


@dataclass
class ExportSync:
    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    untouched: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    strays: list[str] = field(default_factory=list)  # files the pipeline did not write: left alone
    adopted: list[str] = field(default_factory=list)  # files of others taken over (and rewritten) on request
    files_read: int = 0
    files_appended: int = 0
    bytes_read: int = 0
    content_hashes: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


MISSING_SOURCE = "missing"
UNREADABLE_SOURCE = "unreadable"


@dataclass(frozen=True, slots=True)
class ExportJob:
    source: StooqSource
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
    appended: bytes | None = None
    """To append from an archive member: its bytes from `offset` on, when match_report
    kept them (`stooq_sources.appended_since`), so it is not decompressed again."""


@dataclass(frozen=True, slots=True)
class StagedExport:
    staged: Path | None
    """The temporary file holding the new export, None when the export already holds it."""
    source_stamp: str
    source_size: int
    source_sha256: str
    """The export's identity: it is a function of its source's bytes (MISSING_SOURCE if none)."""
    bytes_read: int
    appended: bool = False


def _render(job: ExportJob) -> StagedExport:
    source = read_stamped(job.source)
    if isinstance(source, tuple):
        data, stamp = source
        text = export_from_bytes(data)
        size, digest = len(data), hashlib.sha256(data).hexdigest()
    elif isinstance(source, MissingPriceFile) and not job.known_missing:
        # The report saw this source but it is gone now: the tree is changing under us.
        # Stop rather than write a header-only file.
        raise InputVanished(source_path(job.source), "the price exports were being written")
    else:
        # Gone as the report said, or unreadable (a permission, an I/O error): the header
        # alone, as SPEC 2 has it for a file with no usable rows (with include_empty).
        text, stamp, size, data = export_from_bytes(None), source_stamp(job.source), 0, b""
        digest = MISSING_SOURCE if isinstance(source, MissingPriceFile) else f"{UNREADABLE_SOURCE}:{source.error_name}"
    encoded = text.encode("utf-8")
    staged = None if file_holds(job.target, encoded) else stage_bytes(job.target, encoded)
    return StagedExport(staged, stamp, size, digest, len(data))


def _from_member(job: ExportJob, member: ArchiveMember) -> StagedExport | None:
    """`_append` or `_copy` for an archive member: its bytes are decompressed (verified
    against its CRC-32), and only the rows from `job.offset` on are used."""
    if member.stamp != job.source_stamp:
        return None
    if job.how == "append" and job.appended is not None:
        rows = appended_export_rows(job.appended)
        if rows is None:
            return None
        staged = stage_appended(job.target, rows) if rows else None
        return StagedExport(staged, member.stamp, member.size, job.source_sha256, 0, True)
    data = read_member(member)
    if len(data) < job.offset:
        return None
    if job.how == "append":
        rows = appended_export_rows(data[job.offset :])
        if rows is None:
            return None
        staged = stage_appended(job.target, rows) if rows else None
        # The whole member was decompressed to reach its new rows: all of it counts as read.
        return StagedExport(staged, member.stamp, len(data), job.source_sha256, len(data), True)
    encoded = EXPORT_HEADER_LINE + data[job.offset :]
    staged = None if file_holds(job.target, encoded) else stage_bytes(job.target, encoded)
    return StagedExport(staged, member.stamp, len(data), job.source_sha256, len(data))


def _append(job: ExportJob) -> StagedExport | None:
    """Stage the export with the rows appended to the source since `job.offset` added, or
    None when the source is not the one the file summaries describe (it moved since)."""
    if isinstance(job.source, ArchiveMember):
        return _from_member(job, job.source)
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
    staged = stage_appended(job.target, rows) if rows else None
    return StagedExport(staged, stamp, before.st_size, job.source_sha256, len(appended), True)


def _holds(target: Path, source: BinaryIO, offset: int, size: int) -> bool:
    """Whether `target` already is the export header followed by `source` from `offset`."""
    try:
        if target.stat().st_size != size:
            return False
        return target.read_bytes() == EXPORT_HEADER_LINE + os.pread(source.fileno(), size, offset)
    except OSError:
        return False


def _copy(job: ExportJob) -> StagedExport | None:
    """Stage the export as its header line and the source's bytes from `job.offset` on,
    copied by the kernel: the source is never read into Python. None when the source is
    not the one the file summaries describe, before or after the copy (it moved)."""
    if isinstance(job.source, ArchiveMember):
        return _from_member(job, job.source)
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
        if _holds(job.target, source, job.offset, len(EXPORT_HEADER_LINE) + count):
            return StagedExport(None, stamp, stat.st_size, job.source_sha256, 0)
        staged = stage_spliced(
            job.target,
            [EXPORT_HEADER_LINE, (source, job.offset, count)],
            still_valid=lambda: stat_stamp(os.fstat(source.fileno())) == stamp,
        )
    return None if staged is None else StagedExport(staged, stamp, stat.st_size, job.source_sha256, 0)


def stage_export(job: ExportJob) -> StagedExport:
    """Stage one export brought up to date with its source, as a temporary file beside it
    (runs in a worker thread or process on big runs)."""
    done = _append(job) if job.how == "append" else _copy(job) if job.how == "copy" else None
    return done if done is not None else _render(job)


@dataclass(frozen=True, slots=True)
class _RecordedFolder:
    """The prices folder a record describes: the token of its marker (`io/folder_marker.py`)."""

    token: str
    path: str
    """The folder's resolved path when the record was made: for messages, not for comparing."""

    def to_json(self) -> dict[str, str]:
        return {"token": self.token, "path": self.path}

    @classmethod
    def from_json(cls, value: object) -> _RecordedFolder | None:
        """The folder a record names, or None when it names none (a damaged record)."""
        if not isinstance(value, dict):
            return None
        token, path = value.get("token"), value.get("path")
        return cls(token, path) if isinstance(token, str) and token and isinstance(path, str) else None


@dataclass(frozen=True)
class _FolderRecords:
    """What the two records say about the prices folder now at the configured path."""

    token: str | None
    """The token of the folder's marker (None: it has none yet)."""
    path: str
    """The folder's resolved path now."""
    owned: set[str]
    """Names the pipeline wrote into this folder (either record's)."""
    written: set[str]
    """The names exports_written.json holds for this folder."""
    manifest: dict[str, Any]
    """What each export in this folder was written from (empty for another folder's record)."""
    current: bool
    """Both records describe this folder as it is, by its current path, and loaded cleanly:
    nothing to save unless their entries change."""
    warnings: list[str]
    not_owned_because: str | None = None
    """Why the folder owns nothing though records exist (they are of another folder, or lost)."""


def _describes(loaded: LoadedCache, token: str | None) -> tuple[bool, _RecordedFolder | None]:
    recorded = _RecordedFolder.from_json(loaded.extra.get("folder"))
    return token is not None and recorded is not None and recorded.token == token, recorded


def _load_records(prices_dir: Path, manifest_path: Path, written_path: Path, version: str) -> _FolderRecords:
    """The records as they apply to the folder at `prices_dir`: to the folder whose marker
    holds the token they name, and to no other (a folder with no marker owns nothing)."""
    token = folder_token(prices_dir)
    here = os.path.realpath(prices_dir)
    written = load_json_cache(written_path, WRITTEN_KIND, WRITTEN_VERSION)
    manifest = load_json_cache(manifest_path, KIND, version)
    warnings = [w for w in (manifest.warning, written.warning) if w]
    written_here, written_folder = _describes(written, token)
    manifest_here, manifest_folder = _describes(manifest, token)
    names = written.entries if written_here else {}
    entries = manifest.entries if manifest_here else {}
    elsewhere = [
        folder
        for folder, applies, loaded in (
            (written_folder, written_here, written),
            (manifest_folder, manifest_here, manifest),
        )
        if folder is not None and not applies and loaded.entries
    ]
    why = None
    records = f"the export records ({written_path.name}, {manifest_path.name})"
    if elsewhere and elsewhere[0].path == here:
        why = f"its records are of a folder once at this path: this one was made again or lost its {FOLDER_MARKER}"
        warnings.append(
            f"{records} describe a prices folder once at {printable(here)}, not the one there now (made again, or "
            f"its {FOLDER_MARKER} removed or replaced): the pipeline owns no file in it yet"
        )
    elif elsewhere:
        why = f"its records are of another folder, {printable(elsewhere[0].path)}"
        warnings.append(
            f"{records} describe the prices folder {printable(elsewhere[0].path)}, not the folder now at "
            f"{printable(here)} (another folder or a re-pointed link: its {FOLDER_MARKER} holds another token "
            "or none): the pipeline owns no file in it yet"
        )
    elif token is not None and not (written_here or manifest_here):
        why = f"its {FOLDER_MARKER} says the pipeline wrote there, but the metadata folder has no record of it"
    current = (
        written_here
        and manifest_here
        and not warnings
        and all(folder is not None and folder.path == here for folder in (written_folder, manifest_folder))
    )
    # Every name in the manifest was written by the pipeline too: a damaged or lost
    # record of exports written still leaves it the owner of what the manifest lists.
    return _FolderRecords(token, here, set(names) | set(entries), set(names), entries, current, warnings, why)


def _save_written(written_path: Path, folder: _RecordedFolder, names: set[str]) -> None:
    save_json_cache(
        written_path, WRITTEN_KIND, WRITTEN_VERSION, dict.fromkeys(sorted(names), 1), {"folder": folder.to_json()}
    )


def stray_exports(
    prices_dir: Path, planned: list[PlannedExport], manifest_path: Path, written_path: Path, version: str
) -> list[str]:
    """CSV files in the prices folder that the report does not call for and the pipeline
    did not write: they are the user's, reported and never removed."""
    owned = _load_records(prices_dir, manifest_path, written_path, version).owned
    return sorted(existing_export_names(prices_dir) - {item.file_name for item in planned} - owned)


def _is_export(path: Path) -> bool:
    """Whether a regular file starts with the export header line (an earlier export of
    ours, or the old tool's)."""
    try:
        # A link is not adopted (its target is someone's file), nor a pipe (opening it
        # would wait for a writer).
        if not S_ISREG(os.lstat(path).st_mode):
            return False
        with path.open("rb") as handle:
            return handle.readline(len(EXPORT_HEADER_LINE) + 1).rstrip(b"\r\n") == EXPORT_HEADER.encode()
    except OSError:
        return False


def _listed(names: list[str]) -> str:
    """`a.csv, b.csv, c.csv and 4 more`: the first few names and a count of the rest."""
    shown = ", ".join(names[:3])
    return f"{shown} and {len(names) - 3} more" if len(names) > 3 else shown


def _refuse_unsafe(
    prices_dir: Path,
    planned: list[PlannedExport],
    present: set[str],
    owned: set[str],
    removable: list[str],
    max_removed_share: float,
    adopt: bool,
    not_owned_because: str | None = None,
) -> set[str]:
    """Stop before anything is touched when the run could lose a file; else the names of
    the files it adopts (files of others that it will overwrite, with `adopt`)."""
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
    # Any entry counts, not only the regular files listed: a link or a folder the user
    # put there under an export's name is theirs too.
    foreign = sorted(
        item.file_name
        for item in planned
        if item.file_name not in owned and os.path.lexists(prices_dir / item.file_name)
    )
    if not foreign:
        return set()
    files, them = (f"{len(foreign)} files", "them") if len(foreign) > 1 else ("a file", "it")
    if not adopt:
        why = f" ({not_owned_because})" if not_owned_because else ""
        raise UnsafeExportChange(
            f"price_exports would overwrite {files} in {prices_dir} that the pipeline did not write{why}: "
            f"{_listed(foreign)}; nothing was written or removed. Move {them} out of that folder; or, to replace "
            "earlier price exports (such as those of prepare_tradeable_data.py), run `portfolio-assets refresh "
            "--adopt-exports`, which takes over only files that start with the export header line"
        )
    not_exports = [name for name in foreign if not _is_export(prices_dir / name)]
    if not_exports:
        files, them = (f"{len(not_exports)} files", "them") if len(not_exports) > 1 else ("a file", "it")
        raise UnsafeExportChange(
            f"price_exports would overwrite {files} in {prices_dir} that the pipeline did not write and that "
            f"{'are not price exports' if len(not_exports) > 1 else 'is not a price export'} (no export header "
            f"line): {_listed(not_exports)}; nothing was written, removed or adopted. Move {them} out of that folder"
        )
    return set(foreign)


def _intact(known: object, stooq_path: str, target: Path) -> bool:
    """Whether a manifest entry is complete, for this source, and its export file is the
    one written (same stamp)."""
    return (
        isinstance(known, dict)
        and known.get("source") == stooq_path
        and isinstance(known.get("stamp"), str)
        and isinstance(known.get("size"), int)
        and isinstance(known.get("sha256"), str)
        and known.get("output") == written_stamp(target)
    )


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)


def _stage_all(prices_dir: Path, jobs: list[ExportJob]) -> list[StagedExport]:
    """Every export of `jobs` staged beside its target, or none: after a failure (a full
    disk) the temporary files are removed and the error raised, no export changed."""
    try:
        return map_files(
            stage_export,
            jobs,
            label="price_exports: writing exports",
            parse_bytes=sum(source_size(job.source) for job in jobs if job.how == "render"),
            item_file=lambda job: job.source,
        )
    except BaseException:
        # map_files returns only when every worker has stopped: what they staged is in
        # the folder, under the temporary prefix, and this run is its one writer.
        remove_leftover_temp_files(prices_dir)
        raise


def sync_exports(
    stooq_dir: Path,
    prices_dir: Path,
    planned: list[PlannedExport],
    manifest_path: Path,
    written_path: Path,
    version: str,
    *,
    force: bool = False,
    adopt: bool = False,
    max_removed_share: float = 0.5,
    summaries: dict[str, FileSummary] | None = None,
) -> ExportSync:
    """Bring the export folder in line with `planned`, touching only what changed.

    `summaries` are match_report's file summaries (by Stooq path), which say when a
    source's bytes are the ones an export was made from, or only grew from them.
    `force` re-renders every export from its source, trusting no manifest, and allows
    removing any share of the exports; it still removes or overwrites only files the
    pipeline wrote. `adopt` takes over the files with an export's name that start with
    the export header line (earlier exports whose record is lost, the old tool's)."""
    if force:
        summaries = None  # from the sources' bytes alone, trusting no record
    prices_dir.mkdir(parents=True, exist_ok=True)
    records = _load_records(prices_dir, manifest_path, written_path, version)
    sync = ExportSync(warnings=records.warnings)
    owned = set(records.owned)
    present = existing_export_names(prices_dir)
    keep = {item.file_name for item in planned}
    removable = sorted((present - keep) & owned)
    sync.strays = sorted(present - keep - owned)
    share = 1.0 if force else max_removed_share
    adopted = _refuse_unsafe(prices_dir, planned, present, owned, removable, share, adopt, records.not_owned_because)
    sync.adopted = sorted(adopted)
    owned |= adopted
    # Marked before the first file is written into it: from now on the records name this
    # folder by the marker's token (a folder marked already keeps its token).
    folder = _RecordedFolder(mark_folder(prices_dir), records.path)
    current = records.current and folder.token == records.token
    remove_leftover_temp_files(prices_dir)
    trusted = {} if force else records.manifest
    entries: dict[str, dict[str, object]] = {}
    to_write: list[tuple[PlannedExport, ExportJob]] = []
    sources = StooqSources(stooq_dir)
    grew_from: dict[str, str] = {}  # an export appended to: the stamp of the file it grew from
    for item in planned:
        source, target = sources.locate(item.stooq_path), prices_dir / item.file_name
        stamp = source_stamp(source)
        known = trusted.get(item.file_name)
        summary = (summaries or {}).get(item.stooq_path)
        if summary is not None and summary.stamp != stamp:
            summary = None  # made from other bytes than the file holds now
        job = ExportJob(source, target, item.data_status == MISSING_FILE)
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
                offset = int(known["size"])
                kept = appended_since(item.stooq_path, stamp, offset) if isinstance(source, ArchiveMember) else None
                job = ExportJob(source, target, False, "append", offset, summary.sha256, stamp, kept)
                grew_from[item.file_name] = str(known["output"])
        if job.how == "render" and summary is not None and summary.export_offset is not None:
            job = ExportJob(source, target, False, "copy", summary.export_offset, summary.sha256, stamp)
        to_write.append((item, job))
    staged = _stage_all(prices_dir, [job for _, job in to_write])
    now_owned = owned | {item.file_name for item, _ in to_write}
    try:
        # Recorded before any new name appears in the folder: a run killed from here on
        # leaves no file of its own unrecorded.
        if now_owned != records.written or not current:
            _save_written(written_path, folder, now_owned)
        swaps = [(done.staged, job.target) for (_, job), done in zip(to_write, staged, strict=True) if done.staged]
        replaced: list[Path] = []
        replace_all(swaps, rebuildable=True, old_files=replaced)
    except BaseException:
        remove_leftover_temp_files(prices_dir)
        raise
    # The old versions, swapped out under temporary names: removed once all are in place,
    # on several threads (freeing their blocks is what takes time).
    map_files(_remove, replaced, label="price_exports: removing replaced exports")
    for (item, job), done in zip(to_write, staged, strict=True):
        (sync.written if done.staged is not None else sync.unchanged).append(item.file_name)
        sync.content_hashes[item.file_name] = done.source_sha256
        sync.bytes_read += done.bytes_read
        sync.files_appended += done.appended and done.staged is not None
        entries[item.file_name] = {
            "source": item.stooq_path,
            "stamp": done.source_stamp,
            "size": done.source_size,
            "sha256": done.source_sha256,
            # Stamped once in place: the swap gave the path its staged inode.
            "output": written_stamp(job.target),
            # The export is the file of that stamp with rows added at its end: the price
            # store, holding that file's rows, reads the new ones alone.
            **({"grew_from": grew_from[item.file_name]} if done.appended and done.staged is not None else {}),
        }
    sync.files_read = len(to_write)
    for name in removable:
        (prices_dir / name).unlink(missing_ok=True)
    sync.removed = removable
    # Every export planned is now in the folder, and nothing else the pipeline wrote:
    # names it wrote once and the user removed since are no longer its own.
    if keep != now_owned or not current:
        _save_written(written_path, folder, keep)
    if entries != records.manifest or not current:
        save_json_cache(manifest_path, KIND, version, entries, {"folder": folder.to_json()})
    return sync
