"""User settings: their environment variables, defaults and validation (issue 2 table)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .currency import LSE_CURRENCY_POLICIES
from .errors import FolderConflict, InvalidFolderSetting, InvalidSetting

__all__ = [
    "FOLDER_FLAGS",
    "SETTING_DEFAULTS",
    "SETTING_VARIABLES",
    "Settings",
    "check_folders",
    "max_price_lag_days",
    "max_removed_share",
    "max_unmatched_share",
    "parse_folder",
    "parse_include_empty",
    "parse_policy",
    "price_exports_freshness_hours",
    "progress_setting",
    "refresh_log_level",
    "sensor_intervals",
    "settings_from_environment",
    "settings_from_values",
    "worker_setting",
]

SETTING_VARIABLES = {
    "stooq_dir": "PORTFOLIO_ASSETS_STOOQ_DIR",
    "tradeable_dir": "PORTFOLIO_ASSETS_TRADEABLE_DIR",
    "metadata_dir": "PORTFOLIO_ASSETS_METADATA_DIR",
    "prices_dir": "PORTFOLIO_ASSETS_PRICES_DIR",
    "lse_currency_policy": "PORTFOLIO_ASSETS_LSE_CURRENCY_POLICY",
    "include_empty": "PORTFOLIO_ASSETS_INCLUDE_EMPTY",
}
SETTING_DEFAULTS = {
    "stooq_dir": "data/stooq",
    "tradeable_dir": "tradeable_instruments",
    "metadata_dir": "data/metadata",
    "prices_dir": "data/processed/tradeable_prices",
    "lse_currency_policy": "broker",
    "include_empty": "false",
}
_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off")


def parse_policy(value: str) -> str:
    policy = value.strip().lower()
    if policy not in LSE_CURRENCY_POLICIES:
        raise InvalidSetting(SETTING_VARIABLES["lse_currency_policy"], value, LSE_CURRENCY_POLICIES)
    return policy


def parse_include_empty(value: str | bool) -> bool:
    if isinstance(value, bool):
        return value
    text = value.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise InvalidSetting(SETTING_VARIABLES["include_empty"], value, ("true", "false"))


# `s3://bucket/prices`, `file:///data`, `https://...`: a scheme followed by `://`. Taken
# as a path it would silently become the local folder `./s3:/bucket/prices`.
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def parse_folder(field: str, value: str) -> Path:
    """A folder setting as an absolute local path; a URL is refused, not taken for a folder."""
    if _URL.match(value.strip()):
        raise InvalidFolderSetting(SETTING_VARIABLES[field], value)
    return Path(value).absolute()


@dataclass(frozen=True, slots=True)
class Settings:
    """Validated settings; relative paths resolve against the working directory."""

    stooq_dir: Path
    tradeable_dir: Path
    metadata_dir: Path
    prices_dir: Path
    lse_currency_policy: str
    include_empty: bool

    @property
    def index_path(self) -> Path:
        return self.metadata_dir / "stooq_index.csv"

    @property
    def universe_path(self) -> Path:
        return self.metadata_dir / "tradeable_universe.csv"

    @property
    def match_report_path(self) -> Path:
        return self.metadata_dir / "tradeable_matches.csv"

    @property
    def unmatched_report_path(self) -> Path:
        return self.metadata_dir / "tradeable_unmatched.csv"

    @property
    def match_cache_path(self) -> Path:
        return self.metadata_dir / "match_cache.json"

    @property
    def diagnostics_cache_path(self) -> Path:
        return self.metadata_dir / "diagnostics_cache.json"

    @property
    def universe_parts_path(self) -> Path:
        """Where each broker list's rows are in the universe, and what is known of its bytes."""
        return self.metadata_dir / "universe_parts.json"

    @property
    def report_parts_path(self) -> Path:
        """Where each broker list's rows are in the two reports, and what they were made from."""
        return self.metadata_dir / "report_parts.json"

    @property
    def coverage_checked_path(self) -> Path:
        """Each broker list's rows the every_instrument_reported_once check found consistent."""
        return self.metadata_dir / "coverage_checked.json"

    @property
    def export_manifest_path(self) -> Path:
        return self.metadata_dir / "export_manifest.json"

    @property
    def exports_written_path(self) -> Path:
        """The names of every export the pipeline wrote into prices_dir: the only
        files a run may ever remove there."""
        return self.metadata_dir / "exports_written.json"

    @property
    def change_history_dir(self) -> Path:
        """What changed at each materialization of match_report: one JSON line each, in
        one file per month (append-only)."""
        return self.metadata_dir / "match_changes"

    @property
    def pending_change_path(self) -> Path:
        """The change record of a materialization whose reports are being replaced."""
        return self.change_history_dir / "pending.json"


def _environment(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    """The given variables, or the process environment (read when called, not at import)."""
    return os.environ if environ is None else environ


SENSOR_INTERVAL_VARIABLES = {
    "tradeable_instruments_sensor": ("PORTFOLIO_ASSETS_TRADEABLE_SENSOR_SECONDS", 5),
    "stooq_files_sensor": ("PORTFOLIO_ASSETS_STOOQ_SENSOR_SECONDS", 60),
    "output_files_sensor": ("PORTFOLIO_ASSETS_OUTPUT_SENSOR_SECONDS", 10),
    "portfolio_assets_automation": ("PORTFOLIO_ASSETS_AUTOMATION_SECONDS", 5),
}
UNMATCHED_SHARE_VARIABLE = ("PORTFOLIO_ASSETS_MAX_UNMATCHED_SHARE", 0.25)


def _whole_number(environ: Mapping[str, str] | None, variable: str, default: int, minimum: int, unit: str) -> int:
    raw = _environment(environ).get(variable) or str(default)
    if not (raw.strip().isascii() and raw.strip().isdigit()) or int(raw) < minimum:
        raise InvalidSetting(variable, raw, (f"a whole number of {unit}, at least {minimum}",))
    return int(raw)


def sensor_intervals(environ: Mapping[str, str] | None = None) -> dict[str, int]:
    """Seconds between ticks of each sensor; a non-positive or non-integer value is an error."""
    return {
        sensor: _whole_number(environ, variable, default, 1, "seconds")
        for sensor, (variable, default) in SENSOR_INTERVAL_VARIABLES.items()
    }


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def refresh_log_level(environ: Mapping[str, str] | None = None) -> str:
    """How much of a run's log `portfolio-assets refresh` prints (PORTFOLIO_ASSETS_LOG_LEVEL)."""
    raw = _environment(environ).get("PORTFOLIO_ASSETS_LOG_LEVEL") or "WARNING"
    if raw.strip().upper() not in LOG_LEVELS:
        raise InvalidSetting("PORTFOLIO_ASSETS_LOG_LEVEL", raw, LOG_LEVELS)
    return raw.strip().upper()


PROGRESS_VARIABLE = "PORTFOLIO_ASSETS_PROGRESS"


def progress_setting(environ: Mapping[str, str] | None = None) -> bool:
    """PORTFOLIO_ASSETS_PROGRESS: whether `portfolio-assets refresh` may show progress (default
    true; `0` or `false` turns it off)."""
    raw = _environment(environ).get(PROGRESS_VARIABLE) or "true"
    text = raw.strip().lower()
    if text not in _TRUE + _FALSE:
        raise InvalidSetting(PROGRESS_VARIABLE, raw, ("true", "false"))
    return text in _TRUE


def worker_setting(environ: Mapping[str, str] | None = None) -> int | None:
    """PORTFOLIO_ASSETS_WORKERS as a number of processes, or None for all cores."""
    if not _environment(environ).get("PORTFOLIO_ASSETS_WORKERS"):
        return None
    return _whole_number(environ, "PORTFOLIO_ASSETS_WORKERS", 1, 1, "processes")


def _share(environ: Mapping[str, str] | None, variable: str, default: float) -> float:
    """A setting that is a number from 0 to 1."""
    raw = _environment(environ).get(variable) or str(default)
    try:
        share = float(raw)
    except ValueError:
        share = -1.0
    if not 0 <= share <= 1:
        raise InvalidSetting(variable, raw, ("a number from 0 to 1",))
    return share


def max_unmatched_share(environ: Mapping[str, str] | None = None) -> float:
    """The share of unmatched instruments above which the match report check warns."""
    return _share(environ, *UNMATCHED_SHARE_VARIABLE)


REMOVED_SHARE_VARIABLE = ("PORTFOLIO_ASSETS_MAX_REMOVED_SHARE", 0.5)


def max_removed_share(environ: Mapping[str, str] | None = None) -> float:
    """The share of existing exports one run may remove without --force (an empty or
    half-unpacked Stooq tree, a wrong broker folder would otherwise wipe them)."""
    return _share(environ, *REMOVED_SHARE_VARIABLE)


PRICE_LAG_VARIABLE = ("PORTFOLIO_ASSETS_MAX_PRICE_LAG_DAYS", 5)


def max_price_lag_days(environ: Mapping[str, str] | None = None) -> int:
    """How many business days a matched instrument's price_end may lag the newest of its
    region before the price lag check warns. Only that check reads it."""
    variable, default = PRICE_LAG_VARIABLE
    return _whole_number(environ, variable, default, 0, "business days")


FRESHNESS_VARIABLE = ("PORTFOLIO_ASSETS_FRESHNESS_HOURS", 36)


def price_exports_freshness_hours(environ: Mapping[str, str] | None = None) -> int:
    """Hours after its last materialization at which price_exports shows as overdue in the
    UI (its FreshnessPolicy). Changes no result."""
    variable, default = FRESHNESS_VARIABLE
    return _whole_number(environ, variable, default, 1, "hours")


_FOLDERS = ("stooq_dir", "tradeable_dir", "metadata_dir", "prices_dir")
_OUTPUT_FOLDERS = ("metadata_dir", "prices_dir")
FOLDER_FLAGS = {
    "stooq_dir": "--stooq-dir",
    "tradeable_dir": "--tradeable-dir",
    "metadata_dir": "--metadata-dir",
    "prices_dir": "--prices-dir",
}


def _named(field: str, path: Path) -> str:
    return f"{SETTING_VARIABLES[field]} ({FOLDER_FLAGS[field]}) = {path}"


def check_folders(settings: Settings) -> None:
    """Refuse folders that overlap or output folders that are files.

    The steps write into the output folders and remove files they wrote there; if one
    folder equalled, contained or lay inside another, a run could overwrite or remove
    the broker lists, the Stooq files, the reports or a user's own files. Symlinks are
    followed, so a link into another folder is caught too."""
    real = {field: Path(os.path.realpath(getattr(settings, field))) for field in _FOLDERS}
    # Output folders come last, and each pair names the later one first: the folder
    # the user most likely mistyped.
    for position, second in enumerate(_FOLDERS):
        for first in reversed(_FOLDERS[position + 1 :]):
            a, b = real[first], real[second]
            if a == b:
                relation = "is the same folder as"
            elif b in a.parents:
                relation = "lies inside"
            elif a in b.parents:
                relation = "contains"
            else:
                continue
            raise FolderConflict(
                f"{_named(first, getattr(settings, first))} {relation} {_named(second, getattr(settings, second))}; "
                "the four folders must be separate (none may equal, contain or lie inside another), "
                "so that no run can overwrite or remove files it did not write"
            )
    for field in _OUTPUT_FOLDERS:
        path = getattr(settings, field)
        if path.exists() and not path.is_dir():
            raise FolderConflict(
                f"{_named(field, path)} is a file, not a folder; set {SETTING_VARIABLES[field]} to a folder"
            )


def settings_from_environment(environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from the PORTFOLIO_ASSETS_* variables, defaults for those unset."""
    environ = _environment(environ)
    return settings_from_values({field: environ.get(variable) for field, variable in SETTING_VARIABLES.items()})


def settings_from_values(values: Mapping[str, str | bool | None]) -> Settings:
    """Settings from raw values by field name; a missing or None value takes its default."""

    def raw(field: str) -> str | bool:
        value = values.get(field)
        return SETTING_DEFAULTS[field] if value is None or value == "" else value

    settings = Settings(
        stooq_dir=parse_folder("stooq_dir", str(raw("stooq_dir"))),
        tradeable_dir=parse_folder("tradeable_dir", str(raw("tradeable_dir"))),
        metadata_dir=parse_folder("metadata_dir", str(raw("metadata_dir"))),
        prices_dir=parse_folder("prices_dir", str(raw("prices_dir"))),
        lse_currency_policy=parse_policy(str(raw("lse_currency_policy"))),
        include_empty=parse_include_empty(raw("include_empty")),
    )
    check_folders(settings)
    return settings
