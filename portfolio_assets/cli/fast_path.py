"""A fast answer to "is anything stale?" that never needs Dagster when nothing changed.

After Dagster has found every asset fresh, the CLI records the state it saw:
the two source fingerprints, the code versions (which carry the result
settings), the output stamps, and a marker of the instance's event storage
(size and mtime of every event-log file on local SQLite; the newest event id in the
shared database on PostgreSQL, read with one query), read without Dagster through
`instance/dagster_internals/storage_tables.py`, the one module that knows its layout.
A later check answers "fresh" only if all of these are equal again. Any event
written since, by a UI run, a sensor, the shell or an observation, changes the
marker; any input, setting, code or output change changes the state. Anything
else (no record, another storage backend, an unreadable file, a database that does
not answer within 2 s) means "don't
know", and the caller asks Dagster. When the answer is "fresh", no run has
written an event since, so `remove_leftovers` clears what killed runs left.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import yaml

from ..domain.stooq_tree import StooqFile, scan_stooq_tree
from ..incremental.export_folder import existing_export_names
from ..incremental.fingerprints import stooq_fingerprint, text_fingerprint, tradeable_fingerprint
from ..incremental.memo import output_stamp
from ..incremental.metadata_files import MetadataFiles
from ..instance.dagster_internals.storage_tables import (
    postgres_event_log_state,
    sqlite_event_log_files,
    sqlite_runs_in_flight,
)
from ..instance.storage_config import StorageConfig, read_storage_config
from ..io.atomic_files import remove_leftover_temp_files, write_text_atomic
from ..settings import Settings
from ..steps.registry import asset_keys, output_paths, step_code_version

__all__ = [
    "FRESH_STATE_FILE",
    "LEFTOVER_AGE_SECONDS",
    "instance_marker",
    "known_fresh",
    "observed_state",
    "record_fresh_state",
    "recorded_notes",
    "remove_leftovers",
]

FRESH_STATE_FILE = "portfolio_assets_fresh_state.json"
# Temporary files live for one write (milliseconds); older ones belong to no live writer.
LEFTOVER_AGE_SECONDS = 60


def instance_marker(dagster_home: Path) -> str | None:
    """A value that changes whenever any event is written to the instance, or None when
    it cannot be known (another storage, an unreadable file, no answer) or a run is
    recorded as in flight."""
    try:
        storage = read_storage_config(dagster_home)
    except (OSError, ValueError, yaml.YAMLError):
        return None
    if storage.kind == "postgres":
        return _postgres_marker(storage)
    if storage.kind != "sqlite" or sqlite_runs_in_flight(dagster_home) != 0:
        return None
    try:
        digest = hashlib.sha256()
        for name, size, mtime_ns in sqlite_event_log_files(dagster_home):
            digest.update(f"{name}\0{size}\0{mtime_ns}\n".encode())
    except OSError:
        return None
    return digest.hexdigest()


def _postgres_marker(storage: StorageConfig) -> str | None:
    """The newest event id of the shared event log (every host's events raise it), or None
    while any host's run is recorded as in flight."""
    state = postgres_event_log_state(storage.libpq_url) if storage.libpq_url else None
    if state is None or state[2] != 0:
        return None
    return f"postgres:{state[0]}:{state[1]}"


def observed_state(
    settings: Settings,
    sources: dict[str, str] | None = None,
    stooq_scan: list[StooqFile] | None = None,
    output_stamps: dict[str, str] | None = None,
) -> dict[str, object]:
    """What the answer depends on, besides the instance.

    `sources` are the versions already observed; `output_stamps` the stamps the last
    materializations recorded (a check found the files still match them), else the
    files on disk are stamped now."""
    if sources is None:
        sources = observed_sources(settings, stooq_scan)
    return {
        "settings": {name: str(getattr(settings, name)) for name in settings.__dataclass_fields__},
        "sources": dict(sources),
        # A CSV dropped into (or taken out of) the prices folder changes what status
        # reports about files the pipeline did not write.
        "export_folder": text_fingerprint(*sorted(existing_export_names(settings.prices_dir))),
        "code_versions": {key: step_code_version(key, settings) for key in asset_keys()},
        "outputs": dict(output_stamps)
        if output_stamps is not None
        else {key: output_stamp(output_paths(key, settings)) for key in asset_keys()},
    }


def observed_sources(settings: Settings, stooq_scan: list[StooqFile] | None = None) -> dict[str, str]:
    """The sources' fingerprints as the observations make them."""
    scan = stooq_scan if stooq_scan is not None else scan_stooq_tree(settings.stooq_dir)
    return {
        "stooq_files": stooq_fingerprint(scan),
        "tradeable_instruments": tradeable_fingerprint(settings.tradeable_dir),
    }


def record_fresh_state(
    dagster_home: Path, marker: str, state: dict[str, object], notes: dict[str, list[str]] | None = None
) -> None:
    """Record the state Dagster found fresh, with the notes `status` showed for it."""
    write_text_atomic(
        dagster_home / FRESH_STATE_FILE, json.dumps({"marker": marker, "state": state, "notes": notes or {}})
    )


def recorded_notes(dagster_home: Path) -> dict[str, list[str]]:
    """The notes recorded with the fresh state (valid while `known_fresh` says True)."""
    try:
        notes = json.loads((dagster_home / FRESH_STATE_FILE).read_text(encoding="utf-8")).get("notes", {})
    except (OSError, ValueError, AttributeError):
        return {}
    return {str(key): [str(note) for note in value] for key, value in notes.items() if isinstance(value, list)}


def known_fresh(dagster_home: Path, settings: Settings, stooq_scan: list[StooqFile] | None = None) -> bool:
    """True only when the recorded fresh state provably still holds."""
    try:
        recorded = json.loads((dagster_home / FRESH_STATE_FILE).read_text(encoding="utf-8"))
        marker = instance_marker(dagster_home)
        if marker is None or recorded.get("marker") != marker:
            return False
        if not (settings.stooq_dir.is_dir() and settings.tradeable_dir.is_dir()):
            return False
        recorded_state: object = recorded.get("state")
        sources = observed_sources(settings, stooq_scan)
        if not isinstance(recorded_state, dict) or recorded_state.get("sources") != sources:
            return False  # an input changed: no need to stamp the outputs to know
        current_state: object = json.loads(json.dumps(observed_state(settings, sources)))  # as the record holds it
        return recorded_state == current_state
    except (OSError, ValueError, TypeError, AttributeError):
        return False


def remove_leftovers(dagster_home: Path, settings: Settings, older_than_seconds: float = LEFTOVER_AGE_SECONDS) -> int:
    """Remove temporary files that killed runs left in the output folders and DAGSTER_HOME,
    as `refresh` does before its runs; return how many.

    Call only after `known_fresh` said True: then no run has written an event since
    Dagster found everything fresh, so no run has started since; and a temporary
    file lives for one write, so the age limit spares any a live writer may own.
    A folder that cannot be cleaned is left for the next refresh."""
    removed = 0
    for folder in (
        settings.metadata_dir,
        MetadataFiles(settings.metadata_dir).change_history_dir,
        settings.prices_dir,
        dagster_home,
    ):
        try:
            removed += remove_leftover_temp_files(folder, older_than_seconds=older_than_seconds)
        except OSError:
            continue
    return removed
