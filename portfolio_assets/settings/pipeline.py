"""The pipeline's settings: the table's `pipeline` rows (the four folders and the settings
that change results) as one validated value, from the environment and the CLI's flags.

Every step, sensor, check and status takes a `Settings`; the code location fixes it when
it loads (the Dagster resource shows it), and the steps' code versions carry the values
of the settings that change their results (`table.results_of`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..domain.errors import FolderConflict
from .table import SETTINGS, Folder, Setting

__all__ = [
    "FOLDERS",
    "PIPELINE_SETTINGS",
    "SETTING_DEFAULTS",
    "SETTING_VARIABLES",
    "Settings",
    "check_folders",
    "settings_from_environment",
    "settings_from_values",
    "value_text",
]

PIPELINE_SETTINGS: tuple[Setting[Any], ...] = tuple(row for row in SETTINGS if row.read_by == "pipeline")
SETTING_VARIABLES = {row.name: row.variable for row in PIPELINE_SETTINGS}
"""Each field of `Settings` by name, with its environment variable."""
SETTING_DEFAULTS = {row.name: row.default for row in PIPELINE_SETTINGS}
"""Each field of `Settings` by name, with its default as text."""
FOLDERS: tuple[Setting[Any], ...] = tuple(row for row in PIPELINE_SETTINGS if isinstance(row.kind, Folder))
# The steps write into these folders and remove files they wrote there.
_OUTPUT_FOLDERS = ("metadata_dir", "prices_dir", "price_store_dir")


@dataclass(frozen=True, slots=True)
class Settings:
    """Validated settings; relative paths resolve against the working directory.

    Its fields are the table's `pipeline` rows, in order (a test checks it)."""

    stooq_dir: Path
    tradeable_dir: Path
    metadata_dir: Path
    prices_dir: Path
    price_store_dir: Path
    lse_currency_policy: str
    include_empty: bool

    # The reports' file names are SPEC 2's; the incremental layer's own files in the
    # metadata folder are named in incremental/metadata_files.py.
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


def value_text(value: object) -> str:
    """A setting's value as a user types it: `true`/`false` for a switch, paths as they are."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def _named(row: Setting[Any], path: Path) -> str:
    return f"{row.variable} ({row.flag}) = {path}"


def check_folders(settings: Settings) -> None:
    """Refuse folders that overlap or output folders that are files.

    The steps write into the output folders and remove files they wrote there; if one
    folder equalled, contained or lay inside another, a run could overwrite or remove
    the broker lists, the Stooq files, the reports or a user's own files. Symlinks are
    followed, so a link into another folder is caught too."""
    real = {row.name: Path(os.path.realpath(getattr(settings, row.name))) for row in FOLDERS}
    # Output folders come last, and each pair names the later one first: the folder
    # the user most likely mistyped.
    for position, second in enumerate(FOLDERS):
        for first in reversed(FOLDERS[position + 1 :]):
            a, b = real[first.name], real[second.name]
            if a == b:
                relation = "is the same folder as"
            elif b in a.parents:
                relation = "lies inside"
            elif a in b.parents:
                relation = "contains"
            else:
                continue
            raise FolderConflict(
                f"{_named(first, getattr(settings, first.name))} {relation} "
                f"{_named(second, getattr(settings, second.name))}; "
                "the folders must be separate (none may equal, contain or lie inside another), "
                "so that no run can overwrite or remove files it did not write"
            )
    for row in FOLDERS:
        path = getattr(settings, row.name)
        if row.name in _OUTPUT_FOLDERS and path.exists() and not path.is_dir():
            raise FolderConflict(f"{_named(row, path)} is a file, not a folder; set {row.variable} to a folder")


def settings_from_environment(
    environ: Mapping[str, str] | None = None, flags: Mapping[str, str | None] | None = None
) -> Settings:
    """Settings from the PORTFOLIO_ASSETS_* variables, defaults for those unset.

    `flags` are the CLI's values by field name; one given (not None) wins over its variable."""
    environ = os.environ if environ is None else environ
    values: dict[str, str | bool | None] = {row.name: environ.get(row.variable) for row in PIPELINE_SETTINGS}
    values.update({name: value for name, value in (flags or {}).items() if value is not None})
    return settings_from_values(values)


def settings_from_values(values: Mapping[str, str | bool | None]) -> Settings:
    """Settings from raw values by field name; a missing, None or empty value takes its default."""
    fields = {}
    for row in PIPELINE_SETTINGS:
        value = values.get(row.name)
        fields[row.name] = row.parse(None if value is None else value_text(value))
    settings = Settings(**fields)  # each row's parse gives its field's type (a test checks the fields)
    check_folders(settings)
    return settings
