"""The settings a running code location works with, so `refresh` never fights its sensors.

A code location (`dagster dev`, a daemon) takes its settings from its own
environment when it starts; its sensors then keep the assets fresh *for those
settings*. A `refresh` with other flags or variables would materialize results
that the sensors find stale and redo within a minute. So each sensor tick
records the settings it runs with in DAGSTER_HOME (`record_location_settings`),
and `refresh` refuses to run while a recent record disagrees with its own
(`running_location_conflict`).

A record counts as recent for three intervals of the slowest sensor, and at least three
times as long as it may go unwritten (`REWRITE_AFTER_SECONDS`); one whose
process (on this host) is gone does not count at all, so stopping `dagster dev`
frees `refresh` at once. Dagster-free: the CLI reads it before importing Dagster.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import Any

from ..domain.errors import PortfolioInputError
from ..io.atomic_files import write_text_atomic
from ..settings import Settings, sensor_intervals, setting, value_text

__all__ = [
    "LOCATION_SETTINGS_FILE",
    "RECENT_INTERVALS",
    "REWRITE_AFTER_SECONDS",
    "read_location_settings",
    "record_location_settings",
    "running_location_conflict",
    "setting_values",
]

LOCATION_SETTINGS_FILE = "portfolio_assets_location_settings.json"
# Sensors tick every few seconds; rewriting the record each time would be wasted I/O.
REWRITE_AFTER_SECONDS = 60
RECENT_INTERVALS = 3


def _normal(recorded: object) -> str:
    """A recorded value as `setting_values` writes it (a record may come from older code)."""
    text = str(recorded)
    return text.lower() if text.lower() in ("true", "false") else text


def setting_values(settings: Settings) -> dict[str, str]:
    """Every field of `settings` as text, as the record holds it."""
    return {name: value_text(getattr(settings, name)) for name in settings.__dataclass_fields__}


def _slowest_sensor_seconds() -> int:
    try:
        return max(sensor_intervals().values())
    except PortfolioInputError:
        return 60  # the definitions refuse such a value; the default until they load


def read_location_settings(dagster_home: Path) -> dict[str, Any] | None:
    """The record, or None when there is none or it cannot be read.

    Parsed JSON, possibly written by older code: only its `settings` is known to be a
    dict; other fields are checked where they are used."""
    try:
        record = json.loads((dagster_home / LOCATION_SETTINGS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and isinstance(record.get("settings"), dict) else None


def record_location_settings(dagster_home: Path, settings: Settings, now: float | None = None) -> bool:
    """Record that this process's sensors run with `settings`; True if the file was written.

    Written atomically, and only when the settings (or the process) changed or the
    record is older than REWRITE_AFTER_SECONDS, so its age says the sensors still run."""
    now = time.time() if now is None else now
    values = setting_values(settings)
    previous = read_location_settings(dagster_home)
    if (
        previous is not None
        and previous["settings"] == values
        and previous.get("pid") == os.getpid()
        and 0 <= now - float(previous.get("recorded_at", 0)) < REWRITE_AFTER_SECONDS
    ):
        return False
    record = {
        "settings": values,
        "recorded_at": now,
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "slowest_sensor_seconds": _slowest_sensor_seconds(),
    }
    write_text_atomic(dagster_home / LOCATION_SETTINGS_FILE, json.dumps(record, indent=1, sort_keys=True) + "\n")
    return True


def _process_gone(record: dict[str, Any]) -> bool:
    """Whether the recording process is known to have ended (only knowable on this host)."""
    pid = record.get("pid")
    if record.get("host") != socket.gethostname() or not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False  # it exists but belongs to someone else (EPERM)
    return False


def running_location_conflict(dagster_home: Path, settings: Settings, now: float | None = None) -> str | None:
    """One line naming the settings in which `settings` differ from those of a code location
    whose sensors ran recently; None when there is no such difference. The caller says
    what it does about it (refresh refuses, status notes it)."""
    record = read_location_settings(dagster_home)
    if record is None:
        return None
    now = time.time() if now is None else now
    try:
        age = now - float(record.get("recorded_at", 0))
        # A record is rewritten only once a minute: with every sensor ticking faster than
        # that, the minute sets how old a running location's record may be.
        slowest = max(int(record.get("slowest_sensor_seconds") or 0), _slowest_sensor_seconds())
        window = RECENT_INTERVALS * max(slowest, REWRITE_AFTER_SECONDS)
    except (TypeError, ValueError):
        return None
    if not -60 <= age <= window or _process_gone(record):
        return None  # no sensor of a running location has ticked lately
    theirs = record["settings"]
    ours = setting_values(settings)
    differing = [name for name in ours if name in theirs and _normal(theirs[name]) != ours[name]]
    if not differing:
        return None
    described = "; ".join(
        f"{setting(name).variable} ({setting(name).flag}) is {_normal(theirs[name])} there, {ours[name]} here"
        for name in differing
    )
    return (
        f"a running code location (process {record.get('pid')} on {record.get('host')}, settings recorded "
        f"by its sensors {max(age, 0):.0f} s ago) uses other settings: {described}"
    )
