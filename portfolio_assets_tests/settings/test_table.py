"""The settings table is the one place each setting is written: the values it accepts,
its defaults (SPEC's), the pipeline's `Settings`, the CLI's flags, the registry's result
settings and the docs' table all follow from it. Dagster-free."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import pytest

from portfolio_assets.cli import main as cli
from portfolio_assets.domain.errors import FolderConflict, InvalidSetting
from portfolio_assets.settings import (
    PIPELINE_SETTINGS,
    SETTINGS,
    Settings,
    check_process_settings,
    results_of,
    sensor_intervals,
    setting,
    settings_from_environment,
    settings_from_values,
)
from portfolio_assets.settings.markdown import (
    BEGIN_MARKER,
    END_MARKER,
    SUMMARY_BEGIN_MARKER,
    SUMMARY_END_MARKER,
    render_settings_summary,
    render_settings_table,
    replace_settings_table,
)
from portfolio_assets.steps.registry import ASSET_KEYS, get_asset

DOCS = Path(__file__).resolve().parents[2] / "docs" / "settings.md"
README = Path(__file__).resolve().parents[2] / "README.md"

# SPEC 2's output folders, 1.1's and 1.2's input folders, and SPEC 4/5's default choices.
SPEC_DEFAULTS = {
    "stooq_dir": "data/stooq",
    "tradeable_dir": "tradeable_instruments",
    "metadata_dir": "data/metadata",
    "prices_dir": "data/processed/tradeable_prices",
    "price_store_dir": "data/processed/price_store",  # not SPEC's: the store is issue 23's
    "lse_currency_policy": "broker",
    "include_empty": "false",
}


def test_the_pipeline_rows_are_the_settings_fields_with_specs_defaults() -> None:
    assert [field.name for field in dataclasses.fields(Settings)] == [row.name for row in PIPELINE_SETTINGS]
    assert {row.name: row.default for row in PIPELINE_SETTINGS} == SPEC_DEFAULTS


def test_names_variables_and_flags_are_unique_and_spelled_alike() -> None:
    assert len({row.name for row in SETTINGS}) == len({row.variable for row in SETTINGS}) == len(SETTINGS)
    for row in SETTINGS:
        assert row.variable == "PORTFOLIO_ASSETS_" + row.name.upper()
        assert row.flag in (None, "--" + row.name.replace("_", "-"))
        assert row.description.endswith("."), row.name
    # Every pipeline setting is a flag of status and refresh; no other setting is.
    assert {row.name for row in SETTINGS if row.flag} == {row.name for row in PIPELINE_SETTINGS}


@pytest.mark.parametrize("row", SETTINGS, ids=lambda row: row.name)
def test_every_default_is_a_valid_value(row: Any) -> None:
    assert row.read({}) == row.parse(row.default)


def test_typed_values_by_default() -> None:
    assert settings_from_environment({}) == Settings(
        Path("data/stooq").absolute(),
        Path("tradeable_instruments").absolute(),
        Path("data/metadata").absolute(),
        Path("data/processed/tradeable_prices").absolute(),
        Path("data/processed/price_store").absolute(),
        "broker",
        False,
    )
    assert sensor_intervals({}) == {
        "tradeable_instruments_sensor": 5,
        "stooq_files_sensor": 5,
        "output_files_sensor": 10,
        "portfolio_assets_automation": 5,
    }
    assert setting("workers").read({}) is None  # all cores
    assert setting("postgres_url").read({}) is None


@pytest.mark.parametrize(
    ("name", "text", "value"),
    [
        ("lse_currency_policy", " Stooq ", "stooq"),
        ("include_empty", "YES", True),
        ("include_empty", "off", False),
        ("progress", "0", False),
        ("log_level", "info", "INFO"),
        ("workers", "3", 3),
        ("workers", "", None),
        ("max_price_lag_days", "0", 0),
        ("max_removed_share", "1", 1.0),
        ("max_unmatched_share", "0", 0.0),
        ("freshness_hours", "", 36),
    ],
)
def test_what_a_variable_accepts(name: str, text: str, value: object) -> None:
    row = setting(name)
    assert row.read({row.variable: text}) == value


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("include_empty", "maybe", "PORTFOLIO_ASSETS_INCLUDE_EMPTY=maybe is not valid; expected one of: true, false"),
        (
            "lse_currency_policy",
            "gbp",
            "PORTFOLIO_ASSETS_LSE_CURRENCY_POLICY=gbp is not valid; expected one of: broker, stooq, strict",
        ),
        (
            "stooq_sensor_seconds",
            "0",
            "PORTFOLIO_ASSETS_STOOQ_SENSOR_SECONDS=0 is not valid; expected one of: a whole number of seconds, at least 1",
        ),
        (
            "workers",
            "two",
            "PORTFOLIO_ASSETS_WORKERS=two is not valid; expected one of: a whole number of processes, at least 1",
        ),
        (
            "max_removed_share",
            "nan",
            "PORTFOLIO_ASSETS_MAX_REMOVED_SHARE=nan is not valid; expected one of: a number from 0 to 1",
        ),
        (
            "log_level",
            "loud",
            "PORTFOLIO_ASSETS_LOG_LEVEL=loud is not valid; expected one of: DEBUG, INFO, WARNING, ERROR, CRITICAL",
        ),
        (
            "prices_dir",
            "s3://bucket/prices",
            "PORTFOLIO_ASSETS_PRICES_DIR=s3://bucket/prices is a URL, not a folder; set it to a local folder "
            "(mount the storage and give its path)",
        ),
    ],
)
def test_a_bad_value_names_its_variable(name: str, text: str, message: str) -> None:
    row = setting(name)
    with pytest.raises(InvalidSetting) as raised:
        row.read({row.variable: text})
    assert str(raised.value) == message


def test_process_settings_are_checked_without_the_pipelines() -> None:
    # A pipeline variable may be overridden by its flag: Settings checks those.
    check_process_settings({"PORTFOLIO_ASSETS_INCLUDE_EMPTY": "maybe"})
    with pytest.raises(InvalidSetting, match="PORTFOLIO_ASSETS_PROGRESS"):
        check_process_settings({"PORTFOLIO_ASSETS_PROGRESS": "maybe"})


def test_a_flag_wins_over_its_variable_and_an_empty_one_means_the_default() -> None:
    environ = {"PORTFOLIO_ASSETS_INCLUDE_EMPTY": "maybe", "PORTFOLIO_ASSETS_PRICES_DIR": "elsewhere"}
    settings = settings_from_environment(environ, flags={"include_empty": "true", "prices_dir": ""})
    assert settings.include_empty is True
    assert settings.prices_dir == Path("data/processed/tradeable_prices").absolute()
    unflagged = settings_from_environment({"PORTFOLIO_ASSETS_PRICES_DIR": "elsewhere"}, flags={"prices_dir": None})
    assert unflagged.prices_dir == Path("elsewhere").absolute()


def test_overlapping_folders_name_the_variable_and_flag() -> None:
    with pytest.raises(FolderConflict) as raised:
        settings_from_values({"prices_dir": "tradeable_instruments/prices"})
    assert str(raised.value).startswith(
        f"PORTFOLIO_ASSETS_PRICES_DIR (--prices-dir) = {Path('tradeable_instruments/prices').absolute()} lies inside "
        f"PORTFOLIO_ASSETS_TRADEABLE_DIR (--tradeable-dir) = {Path('tradeable_instruments').absolute()}"
    )


def test_the_cli_flags_are_the_tables_and_read_into_settings_without_touching_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for row in SETTINGS:
        monkeypatch.delenv(row.variable, raising=False)
    monkeypatch.setenv("PORTFOLIO_ASSETS_LSE_CURRENCY_POLICY", "stooq")
    for row in PIPELINE_SETTINGS:
        assert row.flag is not None
        for command in ("status", "refresh"):
            assert getattr(cli._parser().parse_args([command, row.flag, row.default]), row.name) == row.default
    before = dict(os.environ)
    args = cli._parser().parse_args(["refresh", "--lse-currency-policy", "STRICT", "--include-empty"])
    settings = cli._settings(args)
    assert (settings.lse_currency_policy, settings.include_empty) == ("strict", True)
    assert cli.main(["changes", "--metadata-dir", str(tmp_path)]) == 0
    assert f"no change recorded yet in {tmp_path / 'match_changes'}" in capsys.readouterr().out
    assert dict(os.environ) == before


def test_the_registry_takes_its_result_settings_from_the_table() -> None:
    named = {step for row in SETTINGS for step in row.results_of}
    assert named <= set(ASSET_KEYS)
    for key in ASSET_KEYS:
        assert get_asset(key).result_settings == results_of(key)
    assert results_of("match_report") == ("lse_currency_policy",)
    assert results_of("price_exports") == ("include_empty",)


def test_the_docs_table_is_the_rendering_of_the_table() -> None:
    text = DOCS.read_text(encoding="utf-8")
    between = text[text.index(BEGIN_MARKER) + len(BEGIN_MARKER) : text.index(END_MARKER)]
    assert between == "\n" + render_settings_table(), (
        "docs/settings.md is not the settings table: run `python -m portfolio_assets.settings.markdown "
        "--write docs/settings.md`"
    )
    assert replace_settings_table(text) == text
    assert render_settings_table().count("\n") == len(SETTINGS) + 2


def test_the_readmes_table_is_the_brief_rendering_of_the_table() -> None:
    text = README.read_text(encoding="utf-8")
    between = text[text.index(SUMMARY_BEGIN_MARKER) + len(SUMMARY_BEGIN_MARKER) : text.index(SUMMARY_END_MARKER)]
    assert between == "\n" + render_settings_summary(), (
        "the README's settings table is not the settings table: run `python -m portfolio_assets.settings.markdown "
        "--write docs/settings.md README.md`"
    )
    assert replace_settings_table(text) == text
    assert [line.split(" | ")[0] for line in render_settings_summary().splitlines()[2:]] == [
        f"| `{row.variable}`" for row in SETTINGS
    ]
