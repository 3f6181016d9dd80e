"""The tradeable_universe step: every broker instrument, list by list, row by row."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ..domain.broker_lists import Instrument, parse_broker_list, render_universe
from ..domain.settings import Settings
from ..incremental.fingerprints import combine, lists_fingerprint, read_broker_bytes, text_fingerprint
from ..incremental.memo import StepMemo, can_reuse, output_stamp
from ..io.atomic_files import remove_leftover_temp_files, write_text_if_changed
from .common import StepResult, bytes_hash, require_folder
from .registry import step_code_version

__all__ = ["UniverseResult", "broker_list_hashes", "build_universe"]


@dataclass(frozen=True)
class UniverseResult(StepResult):
    instruments: list[Instrument]
    rows_by_source_file: dict[str, int]
    list_hashes: dict[str, str]
    source_version: str  # the tradeable_instruments fingerprint of the bytes actually read
    seconds: float


def broker_list_hashes(folder: Path) -> dict[str, str]:
    """Content hash of each broker list by file name, to say which list changed."""
    return {path.name: bytes_hash(data) for path, data in read_broker_bytes(folder)}


def build_universe(settings: Settings, previous: StepMemo | None = None, force: bool = False) -> UniverseResult:
    started = time.perf_counter()
    require_folder(settings.tradeable_dir, "tradeable_dir", "broker list")
    contents = read_broker_bytes(settings.tradeable_dir)  # one read: parsed and fingerprinted alike
    source_version = lists_fingerprint(contents)
    fingerprint = combine(step_code_version("tradeable_universe", settings), source_version)
    instruments = [item for path, data in contents for item in parse_broker_list(path, data)]
    text = render_universe(instruments)
    outputs = [settings.universe_path]
    reused = can_reuse(previous, fingerprint, outputs, force)
    if not reused:
        remove_leftover_temp_files(settings.metadata_dir)
        write_text_if_changed(settings.universe_path, text)
    sources = Counter(item.source_file for item in instruments)
    memo = StepMemo(fingerprint, output_stamp(outputs), text_fingerprint(text))
    hashes = {path.name: bytes_hash(data) for path, data in contents}
    return UniverseResult(
        memo, reused, instruments, dict(sources), hashes, source_version, round(time.perf_counter() - started, 3)
    )
