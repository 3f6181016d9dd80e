"""The tradeable_universe step: every broker instrument, list by list, row by row.

A list that only grew since the last universe is read from its new rows only, and an
unchanged one not at all (`incremental/universe_parts.py`)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from ..domain.broker_lists import UNIVERSE_COLUMNS
from ..incremental.fingerprints import bytes_fingerprint, combine, lists_fingerprint, read_broker_bytes
from ..incremental.memo import StepMemo, can_reuse, output_stamp
from ..incremental.metadata_files import MetadataFiles
from ..incremental.universe_parts import assemble_universe, load_universe_parts, save_universe_parts
from ..io.atomic_files import remove_leftover_temp_files, write_bytes_if_changed
from ..settings import Settings
from .asset_metadata import Counts, FilePath, JsonValue, MetadataItem, Preview, TableShape
from .common import StepResult, bytes_hash, require_folder
from .registry import cache_version, step_code_version

__all__ = ["UniverseResult", "broker_list_hashes", "build_universe", "metadata"]


@dataclass(frozen=True)
class UniverseResult(StepResult):
    instrument_count: int
    preview: list[tuple[str, ...]]
    """The first instruments, as universe rows."""
    rows_by_source_file: dict[str, int]
    list_hashes: dict[str, str]
    source_version: str  # the tradeable_instruments fingerprint of the bytes actually read
    stats: dict[str, int]
    """How much was read: instruments_parsed, lists_read_whole, lists_grown."""
    seconds: float
    warnings: list[str]

    def input_warnings(self) -> list[str]:
        return self.warnings


def broker_list_hashes(folder: Path) -> dict[str, str]:
    """Content hash of each broker list by file name, to say which list changed."""
    return {path.name: bytes_hash(data) for path, data in read_broker_bytes(folder)}


def _universe_on_disk(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def build_universe(settings: Settings, previous: StepMemo | None = None, force: bool = False) -> UniverseResult:
    started = time.perf_counter()
    require_folder(settings.tradeable_dir, "tradeable_dir", "broker list")
    contents = read_broker_bytes(settings.tradeable_dir)  # one read: parsed and fingerprinted alike
    source_version = lists_fingerprint(contents)
    fingerprint = combine(step_code_version("tradeable_universe", settings), source_version)
    parts_version = cache_version("universe_parts")
    files = MetadataFiles(settings.metadata_dir)
    old_universe = None if force else _universe_on_disk(settings.universe_path)
    known, warning = None, None
    if old_universe is not None:
        known, warning = load_universe_parts(files.universe_parts_path, parts_version, old_universe)
    assembled = assemble_universe(contents, known, old_universe)
    outputs = [settings.universe_path]
    reused = can_reuse(previous, fingerprint, outputs, force)
    if not reused:
        remove_leftover_temp_files(settings.metadata_dir)
        write_bytes_if_changed(settings.universe_path, assembled.data)
    if known is None or known != assembled.parts:
        save_universe_parts(files.universe_parts_path, parts_version, assembled.parts)
    memo = StepMemo(fingerprint, output_stamp(outputs), bytes_fingerprint(assembled.data))
    stats = {
        "instruments_parsed": assembled.instruments_parsed,
        "lists_read_whole": assembled.lists_read_whole,
        "lists_grown": assembled.lists_grown,
    }
    return UniverseResult(
        memo,
        reused,
        assembled.instrument_count,
        assembled.preview(),
        assembled.rows_by_source_file(),
        {part.name: part.list_hash for part in assembled.parts.parts},
        source_version,
        stats,
        round(time.perf_counter() - started, 3),
        [warning] if warning else [],
    )


def metadata(settings: Settings, result: UniverseResult) -> dict[str, MetadataItem]:
    return {
        "path": FilePath(settings.universe_path),
        "shape": TableShape(UNIVERSE_COLUMNS, result.instrument_count),
        "seconds": result.seconds,
        **result.stats,
        "rows_by_source_file": Counts("source_file", result.rows_by_source_file),
        "broker_list_hashes": JsonValue(result.list_hashes),
        "preview": Preview(UNIVERSE_COLUMNS, result.preview),
    }
