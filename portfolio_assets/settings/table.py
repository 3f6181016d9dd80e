"""The settings table: every setting of the project as one row.

A row says the setting's name, its environment variable, its command-line flag (if
any), how its text is parsed and checked, its default, what it is for, who reads it and
which steps' results it changes. Everything else is made from these rows: the
`Settings` the pipeline runs with (`pipeline.py`), the CLI's flags, the Dagster resource,
the steps' code versions (through `results_of`) and the settings table of the docs
(`markdown.py`). A new setting is one row here, plus the code that uses its value (and,
for a `pipeline` setting, its typed field in `Settings` and in the resource, which tests
hold to the rows).

The kinds of value (`Folder`, `Choice`, `Switch`, `WholeNumber`, `Share`, `Text`) check a
value and say in one line what they accept; a bad value raises `InvalidSetting` naming
the variable (the CLI names the flag instead).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Literal, Protocol, TypeVar

from ..domain.currency import LSE_CURRENCY_POLICIES
from ..domain.errors import InvalidFolderSetting, InvalidSetting

__all__ = [
    "AUTOMATION_SECONDS",
    "FRESHNESS_HOURS",
    "INCLUDE_EMPTY",
    "LOG_LEVEL",
    "LSE_CURRENCY_POLICY",
    "MAX_PRICE_LAG_DAYS",
    "MAX_REMOVED_SHARE",
    "MAX_UNMATCHED_SHARE",
    "METADATA_DIR",
    "OUTPUT_SENSOR_SECONDS",
    "POSTGRES_URL",
    "PRICES_DIR",
    "PRICE_STORE_DIR",
    "PROGRESS",
    "READERS",
    "SENSOR_INTERVALS",
    "SETTINGS",
    "STOOQ_DIR",
    "STOOQ_SENSOR_SECONDS",
    "STOOQ_WALK_SECONDS",
    "TRADEABLE_DIR",
    "TRADEABLE_SENSOR_SECONDS",
    "WORKERS",
    "Choice",
    "Folder",
    "Kind",
    "Reader",
    "Setting",
    "Share",
    "Switch",
    "Text",
    "WholeNumber",
    "WholeNumberOrUnset",
    "check_process_settings",
    "results_of",
    "sensor_intervals",
    "setting",
]

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)

Reader = Literal["pipeline", "definitions", "run", "refresh", "instance"]
READERS: dict[Reader, str] = {
    "pipeline": "the code location, its runs and sensors (the Dagster resource)",
    "definitions": "the code location, when it loads",
    "run": "a run, while its step works",
    "refresh": "`portfolio-assets refresh`",
    "instance": "`portfolio-assets init`, `status`, `refresh` and `dagster_home/postgres.yaml`",
}
"""Who reads a setting, and so when a new value takes effect. `pipeline` settings are the
fields of `Settings` and of the Dagster resource; the code location fixes them when it
loads, and `refresh` refuses to work with others while that location's sensors run."""


def _environment(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    """The given variables, or the process environment (read when called, not at import)."""
    return os.environ if environ is None else environ


class Kind(Protocol[T_co]):
    """What values a setting takes: how its text is read and checked, and how the CLI and
    the docs name them."""

    @property
    def metavar(self) -> str:
        """The flag's placeholder in `--help`."""

    def parse(self, text: str, variable: str) -> T_co:
        """`text` as a value; InvalidSetting naming `variable` when it is not one."""

    def describe(self) -> str:
        """The values taken, in words (the docs' table)."""


# --- kinds of value --------------------------------------------------------------------------

# `s3://bucket/prices`, `file:///data`, `https://...`: a scheme followed by `://`. Taken
# as a path it would silently become the local folder `./s3:/bucket/prices`.
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off")


@dataclass(frozen=True)
class Folder:
    """A local folder, absolute (a relative path resolves against the working directory
    when it is read); a URL is refused, not taken for a folder."""

    metavar = "PATH"

    def parse(self, text: str, variable: str) -> Path:
        if _URL.match(text.strip()):
            raise InvalidFolderSetting(variable, text)
        return Path(text).absolute()

    def describe(self) -> str:
        return "a local folder"


@dataclass(frozen=True)
class Choice:
    """One of a few words, in any case; the value is the word as `choices` spells it."""

    choices: tuple[str, ...]

    @property
    def metavar(self) -> str:
        return "|".join(self.choices)

    def parse(self, text: str, variable: str) -> str:
        word = text.strip().lower()
        for choice in self.choices:
            if choice.lower() == word:
                return choice
        raise InvalidSetting(variable, text, self.choices)

    def describe(self) -> str:
        return "one of " + ", ".join(f"`{choice}`" for choice in self.choices)


@dataclass(frozen=True)
class Switch:
    """On or off: `true`, `1`, `yes`, `on` or `false`, `0`, `no`, `off`, in any case."""

    metavar = "true|false"

    def parse(self, text: str, variable: str) -> bool:
        word = text.strip().lower()
        if word not in _TRUE + _FALSE:
            raise InvalidSetting(variable, text, ("true", "false"))
        return word in _TRUE

    def describe(self) -> str:
        return "`true` or `false`"


@dataclass(frozen=True)
class WholeNumber:
    """A whole number of `unit`, at least `minimum`."""

    minimum: int
    unit: str
    metavar = "N"

    def parse(self, text: str, variable: str) -> int:
        if not (text.strip().isascii() and text.strip().isdigit()) or int(text) < self.minimum:
            raise InvalidSetting(variable, text, (f"a whole number of {self.unit}, at least {self.minimum}",))
        return int(text)

    def describe(self) -> str:
        return f"a whole number of {self.unit}, at least {self.minimum}"


@dataclass(frozen=True)
class WholeNumberOrUnset:
    """A whole number as `WholeNumber`, or None when unset (its default is said in words)."""

    number: WholeNumber
    metavar = "N"

    def parse(self, text: str, variable: str) -> int | None:
        return self.number.parse(text, variable) if text else None

    def describe(self) -> str:
        return self.number.describe()


@dataclass(frozen=True)
class Share:
    """A number from 0 to 1."""

    metavar = "SHARE"

    def parse(self, text: str, variable: str) -> float:
        try:
            share = float(text)
        except ValueError:
            share = -1.0
        if not 0 <= share <= 1:  # NaN fails this too
            raise InvalidSetting(variable, text, ("a number from 0 to 1",))
        return share

    def describe(self) -> str:
        return "a number from 0 to 1"


@dataclass(frozen=True)
class Text:
    """Any text; its reader checks it (None when unset)."""

    what: str
    metavar = "TEXT"

    def parse(self, text: str, variable: str) -> str | None:
        return text or None

    def describe(self) -> str:
        return self.what


# --- the row ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Setting(Generic[T]):
    """One setting: one row of the table."""

    name: str
    """Its field name (in `Settings`, the resource and code versions), e.g. `stooq_dir`."""
    variable: str
    """The environment variable that sets it."""
    kind: Kind[T]
    """What values it takes, and how its text is read."""
    default: str
    """Its value when the variable is unset or empty, as a user would type it (SPEC's defaults)."""
    description: str
    """What it is for, in a sentence (the docs' table, the launchpad, `--help`)."""
    read_by: Reader
    """Who reads it (`READERS`), and so when a new value takes effect."""
    flag: str | None = None
    """The flag of `portfolio-assets status` and `refresh` that sets it (and wins over the variable)."""
    results_of: tuple[str, ...] = ()
    """The steps whose result it changes (it is part of their code version). Folders
    change no result: they change where the inputs are."""
    default_described: str = ""
    """The default in words, where `default` is empty text (say, all cores)."""

    def parse(self, text: str | None) -> T:
        """`text` as this setting's value; None or empty text takes the default."""
        return self.kind.parse(text or self.default, self.variable)

    def read(self, environ: Mapping[str, str] | None = None) -> T:
        """The setting's value from its variable (in `environ`, by default the process's)."""
        return self.parse(_environment(environ).get(self.variable))


_FOLDER = Folder()

# --- the table -------------------------------------------------------------------------------

STOOQ_DIR: Setting[Path] = Setting(
    "stooq_dir",
    "PORTFOLIO_ASSETS_STOOQ_DIR",
    _FOLDER,
    "data/stooq",
    "The Stooq tree: Stooq's daily archives, as downloaded (`*.zip`) or unpacked.",
    "pipeline",
    flag="--stooq-dir",
)
TRADEABLE_DIR: Setting[Path] = Setting(
    "tradeable_dir",
    "PORTFOLIO_ASSETS_TRADEABLE_DIR",
    _FOLDER,
    "tradeable_instruments",
    "The broker lists (`*.csv`).",
    "pipeline",
    flag="--tradeable-dir",
)
METADATA_DIR: Setting[Path] = Setting(
    "metadata_dir",
    "PORTFOLIO_ASSETS_METADATA_DIR",
    _FOLDER,
    "data/metadata",
    "The reports (`stooq_index.csv`, `tradeable_universe.csv`, `tradeable_matches.csv`, "
    "`tradeable_unmatched.csv`), the history of changes and the caches.",
    "pipeline",
    flag="--metadata-dir",
)
PRICES_DIR: Setting[Path] = Setting(
    "prices_dir",
    "PORTFOLIO_ASSETS_PRICES_DIR",
    _FOLDER,
    "data/processed/tradeable_prices",
    "The price exports, one `<ticker>.csv` per matched instrument.",
    "pipeline",
    flag="--prices-dir",
)
PRICE_STORE_DIR: Setting[Path] = Setting(
    "price_store_dir",
    "PORTFOLIO_ASSETS_PRICE_STORE_DIR",
    _FOLDER,
    "data/processed/price_store",
    "The price store: every export's rows and the matched universe as Delta tables (docs/price_store.md).",
    "pipeline",
    flag="--price-store-dir",
)
LSE_CURRENCY_POLICY: Setting[str] = Setting(
    "lse_currency_policy",
    "PORTFOLIO_ASSETS_LSE_CURRENCY_POLICY",
    Choice(LSE_CURRENCY_POLICIES),
    "broker",
    "Which currency an LSE listing gets when Stooq's and the broker's differ (docs/rules.md, section 5).",
    "pipeline",
    flag="--lse-currency-policy",
    results_of=("match_report",),
)
INCLUDE_EMPTY: Setting[bool] = Setting(
    "include_empty",
    "PORTFOLIO_ASSETS_INCLUDE_EMPTY",
    Switch(),
    "false",
    "Export empty, missing and unreadable files too.",
    "pipeline",
    flag="--include-empty",
    results_of=("price_exports",),
)
TRADEABLE_SENSOR_SECONDS: Setting[int] = Setting(
    "tradeable_sensor_seconds",
    "PORTFOLIO_ASSETS_TRADEABLE_SENSOR_SECONDS",
    WholeNumber(1, "seconds"),
    "5",
    "Seconds between ticks of the broker folder sensor.",
    "definitions",
)
STOOQ_SENSOR_SECONDS: Setting[int] = Setting(
    "stooq_sensor_seconds",
    "PORTFOLIO_ASSETS_STOOQ_SENSOR_SECONDS",
    WholeNumber(1, "seconds"),
    "5",
    "Seconds between ticks of the Stooq tree sensor; each tick stats the archives at the top of the folder.",
    "definitions",
)
STOOQ_WALK_SECONDS: Setting[int] = Setting(
    "stooq_walk_seconds",
    "PORTFOLIO_ASSETS_STOOQ_WALK_SECONDS",
    WholeNumber(1, "seconds"),
    "60",
    "Seconds between walks of the unpacked Stooq folders by the Stooq tree sensor (sooner when an archive changed).",
    "definitions",
)
OUTPUT_SENSOR_SECONDS: Setting[int] = Setting(
    "output_sensor_seconds",
    "PORTFOLIO_ASSETS_OUTPUT_SENSOR_SECONDS",
    WholeNumber(1, "seconds"),
    "10",
    "Seconds between ticks of the output files sensor.",
    "definitions",
)
AUTOMATION_SECONDS: Setting[int] = Setting(
    "automation_seconds",
    "PORTFOLIO_ASSETS_AUTOMATION_SECONDS",
    WholeNumber(1, "seconds"),
    "5",
    "Seconds between evaluations of the automation condition.",
    "definitions",
)
MAX_UNMATCHED_SHARE: Setting[float] = Setting(
    "max_unmatched_share",
    "PORTFOLIO_ASSETS_MAX_UNMATCHED_SHARE",
    Share(),
    "0.25",
    "Above this share of unmatched instruments the unmatched-share check warns.",
    "run",
)
MAX_PRICE_LAG_DAYS: Setting[int] = Setting(
    "max_price_lag_days",
    "PORTFOLIO_ASSETS_MAX_PRICE_LAG_DAYS",
    WholeNumber(0, "business days"),
    "5",
    "Business days a matched instrument's `price_end` may lag the newest of its region "
    "before `price_lag_below_threshold` warns.",
    "run",
)
FRESHNESS_HOURS: Setting[int] = Setting(
    "freshness_hours",
    "PORTFOLIO_ASSETS_FRESHNESS_HOURS",
    WholeNumber(1, "hours"),
    "36",
    "Hours after its last materialization at which the UI shows `price_exports` overdue (its `FreshnessPolicy`).",
    "definitions",
)
MAX_REMOVED_SHARE: Setting[float] = Setting(
    "max_removed_share",
    "PORTFOLIO_ASSETS_MAX_REMOVED_SHARE",
    Share(),
    "0.5",
    "A run that would remove more than this share of the existing exports stops and removes nothing, unless `--force`.",
    "run",
)
WORKERS: Setting[int | None] = Setting(
    "workers",
    "PORTFOLIO_ASSETS_WORKERS",
    WholeNumberOrUnset(WholeNumber(1, "processes")),
    "",
    "Threads for reading, hashing and copying; processes from 48 MiB to parse; `1` turns both off.",
    "run",
    default_described="all cores",
)
LOG_LEVEL: Setting[str] = Setting(
    "log_level",
    "PORTFOLIO_ASSETS_LOG_LEVEL",
    Choice(("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")),
    "WARNING",
    "How much of a run's log `portfolio-assets refresh` prints; all of it is kept in the instance.",
    "refresh",
)
PROGRESS: Setting[bool] = Setting(
    "progress",
    "PORTFOLIO_ASSETS_PROGRESS",
    Switch(),
    "true",
    "Show the progress of file work that takes longer than about 2 s on stderr: a bar on a "
    "terminal, a plain line every 5 s elsewhere.",
    "refresh",
)
POSTGRES_URL: Setting[str | None] = Setting(
    "postgres_url",
    "PORTFOLIO_ASSETS_POSTGRES_URL",
    Text("a `postgresql+psycopg2://` URL"),
    "",
    "The shared instance's database; unset, the instance is where `$DAGSTER_HOME/dagster.yaml` "
    "puts it (local SQLite by default).",
    "instance",
    default_described="unset",
)

SETTINGS: tuple[Setting[Any], ...] = (
    STOOQ_DIR,
    TRADEABLE_DIR,
    METADATA_DIR,
    PRICES_DIR,
    PRICE_STORE_DIR,
    LSE_CURRENCY_POLICY,
    INCLUDE_EMPTY,
    TRADEABLE_SENSOR_SECONDS,
    STOOQ_SENSOR_SECONDS,
    STOOQ_WALK_SECONDS,
    OUTPUT_SENSOR_SECONDS,
    AUTOMATION_SECONDS,
    MAX_UNMATCHED_SHARE,
    MAX_PRICE_LAG_DAYS,
    FRESHNESS_HOURS,
    MAX_REMOVED_SHARE,
    WORKERS,
    LOG_LEVEL,
    PROGRESS,
    POSTGRES_URL,
)

# Each sensor by its name, with the row of its interval.
SENSOR_INTERVALS: dict[str, Setting[int]] = {
    "tradeable_instruments_sensor": TRADEABLE_SENSOR_SECONDS,
    "stooq_files_sensor": STOOQ_SENSOR_SECONDS,
    "output_files_sensor": OUTPUT_SENSOR_SECONDS,
    "portfolio_assets_automation": AUTOMATION_SECONDS,
}


def setting(name: str) -> Setting[Any]:
    """The row of the setting `name`."""
    for row in SETTINGS:
        if row.name == name:
            return row
    raise KeyError(name)


def results_of(step: str) -> tuple[str, ...]:
    """The settings that change the result of `step`, in table order (its code version
    carries their values)."""
    return tuple(row.name for row in SETTINGS if step in row.results_of)


def sensor_intervals(environ: Mapping[str, str] | None = None) -> dict[str, int]:
    """Seconds between ticks of each sensor, by sensor name."""
    return {sensor: row.read(environ) for sensor, row in SENSOR_INTERVALS.items()}


def check_process_settings(environ: Mapping[str, str] | None = None) -> None:
    """Read once every setting a process takes from its environment (all but the `pipeline`
    ones, which come validated as a `Settings`, a flag perhaps overriding a variable), so
    that a bad value fails now, naming its variable, rather than when it is first used."""
    for row in SETTINGS:
        if row.read_by != "pipeline":
            row.read(environ)
