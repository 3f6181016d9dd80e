"""The assets materialized in process: outputs, metadata, data versions and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pytest

from portfolio_assets.dagster_defs.metadata import dagster_metadata
from portfolio_assets.definitions import build_definitions
from portfolio_assets.domain.changes import Change, ChangeSet, InstrumentKey
from portfolio_assets.steps.match_report import CHANGE_TABLE_LIMIT, change_metadata
from portfolio_assets.steps.registry import ASSET_KEYS

from ..helpers import latest_materialization, materializable, output_files, write_file


def materialize(
    instance: dg.DagsterInstance, selection: list[str] | None = None, raise_on_error: bool = True
) -> dg.ExecuteInJobResult:
    defs = build_definitions()
    return dg.materialize(
        materializable(defs),
        resources=defs.resources,
        instance=instance,
        selection=selection or ["stooq_files", "tradeable_instruments", *ASSET_KEYS],
        raise_on_error=raise_on_error,
    )


def latest_metadata(instance: dg.DagsterInstance, key: str) -> dict[str, object]:
    """The values of the metadata of `key`'s latest materialization, by name."""
    return {name: value.value for name, value in latest_materialization(instance, key).metadata.items()}


Cell = str | int | float | bool | None  # a table record's value


def counts(table: object) -> dict[Cell, Cell]:
    """A counts table's rows as {value: rows}."""
    assert isinstance(table, dg.TableMetadataValue), table
    value_column = table.schema.columns[0].name
    return {record.data[value_column]: record.data["rows"] for record in table.records}


def data_version(instance: dg.DagsterInstance, key: str) -> str | None:
    return (latest_materialization(instance, key).tags or {}).get("dagster/data_version")


def test_materializes_all_four_outputs(world: Path, instance: dg.DagsterInstance) -> None:
    result = materialize(instance)
    assert result.success
    outputs = output_files(world)
    assert set(outputs) == {
        "data/metadata/stooq_index.csv",
        "data/metadata/tradeable_universe.csv",
        "data/metadata/tradeable_matches.csv",
        "data/metadata/tradeable_unmatched.csv",
        "data/processed/tradeable_prices/aapl.us.csv",
        "data/processed/tradeable_prices/iuhc.uk.csv",
        "data/processed/tradeable_prices/kim.us.csv",
    }
    unmatched = outputs["data/metadata/tradeable_unmatched.csv"].decode()
    assert unmatched.splitlines()[1:] == ["NOPE,US000,NSQ,Nothing,,broker_a.csv,manual_review"]


def test_metadata_shows_counts_a_user_needs(world: Path, instance: dg.DagsterInstance) -> None:
    materialize(instance)
    report = latest_metadata(instance, "match_report")
    assert (report["instrument_count"], report["matched_count"], report["unmatched_count"]) == (5, 4, 1)
    assert counts(report["by_strategy"]) == {"ticker": 2, "base_market": 2}
    assert counts(report["by_data_status"])["empty"] == 1
    assert counts(report["by_currency_status"])["override"] == 1
    assert counts(report["unmatched_by_reason"]) == {"manual_review": 1}
    assert report["dagster/row_count"] == 4
    schema = report["dagster/column_schema"]
    assert isinstance(schema, dg.TableSchema)
    assert [column.name for column in schema.columns][-4:] == [
        "resolved_currency",
        "currency_status",
        "data_status",
        "data_flags",
    ]
    assert {column.name: column.type for column in schema.columns}["price_rows"] == "int"
    assert str(report["match_report_path"]).endswith("data/metadata/tradeable_matches.csv")
    assert latest_metadata(instance, "stooq_index")["dagster/row_count"] == 4
    assert latest_metadata(instance, "tradeable_universe")["dagster/row_count"] == 5
    exports = latest_metadata(instance, "price_exports")
    assert (exports["export_count"], exports["exports_written"]) == (3, 3)


def test_data_versions_are_content_hashes(world: Path, instance: dg.DagsterInstance) -> None:
    materialize(instance)
    first = {key: data_version(instance, key) for key in ASSET_KEYS}
    (world / "tradeable_instruments" / "broker_a.csv").write_text(
        "market,isin,symbol,name\n\n  NSQ , US0378331005 ,AAPL,Apple\nGPW,PLEXM,EXM,Exm\nNSQ,US000,NOPE,Nothing\n"
    )
    materialize(instance)
    second = {key: data_version(instance, key) for key in ASSET_KEYS}
    assert first == second
    assert all(first.values())


def test_include_empty_exports_header_only_file(
    world: Path, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PORTFOLIO_ASSETS_INCLUDE_EMPTY", "true")
    materialize(instance)
    export = world / "data/processed/tradeable_prices/exm.csv"
    assert export.read_text() == "ticker,per,date,time,open,high,low,close,volume,openint\n"
    monkeypatch.setenv("PORTFOLIO_ASSETS_INCLUDE_EMPTY", "false")
    materialize(instance, ["price_exports"])
    assert not export.exists()


def test_non_utf8_broker_list_fails_and_keeps_outputs(world: Path, instance: dg.DagsterInstance) -> None:
    materialize(instance)
    before = output_files(world)
    write_file(world / "tradeable_instruments" / "broker_c.csv", b"market,isin,symbol,name\nNSQ,X,CAF\xe9,Caf\n")
    result = materialize(instance, raise_on_error=False)
    assert not result.success
    message = _failure_message(result)
    assert "broker_c.csv" in message and "line 2" in message and "UTF-8" in message
    assert output_files(world) == before


def test_broker_list_without_symbol_column_fails_naming_it(world: Path, instance: dg.DagsterInstance) -> None:
    materialize(instance)
    before = output_files(world)
    write_file(world / "tradeable_instruments" / "broker_c.csv", "market,isin,ticker,name\nNSQ,X,ABC,Abc\n")
    result = materialize(instance, ["tradeable_instruments", "tradeable_universe"], raise_on_error=False)
    assert "broker_c.csv" in _failure_message(result) and "no symbol column" in _failure_message(result)
    assert output_files(world) == before


@pytest.mark.parametrize(
    ("folder", "variable"),
    [
        ("data/stooq", "PORTFOLIO_ASSETS_STOOQ_DIR"),
        ("tradeable_instruments", "PORTFOLIO_ASSETS_TRADEABLE_DIR"),
    ],
)
def test_missing_input_folder_names_path_and_variable(
    world: Path, instance: dg.DagsterInstance, folder: str, variable: str
) -> None:
    materialize(instance)
    before = output_files(world)
    (world / folder).rename(world / "moved")
    result = materialize(instance, raise_on_error=False)
    message = _failure_message(result)
    assert str(world / folder) in message and variable in message
    assert output_files(world) == before


def test_settings_from_environment_are_used(
    world: Path, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PORTFOLIO_ASSETS_METADATA_DIR", "out/meta")
    monkeypatch.setenv("PORTFOLIO_ASSETS_PRICES_DIR", str(world / "out" / "prices"))
    materialize(instance)
    assert (world / "out/meta/tradeable_matches.csv").is_file()
    assert (world / "out/prices/aapl.us.csv").is_file()


def _failure_message(result: dg.ExecuteInJobResult) -> str:
    failures = [event for event in result.all_events if event.event_type_value == "STEP_FAILURE"]
    assert failures, "the run did not fail"
    # The headline (not only a chained cause) must carry our message.
    return " ".join(event.step_failure_data.error.message for event in failures)


def test_rerun_with_nothing_changed_reuses_outputs_without_rewriting(world: Path, instance: dg.DagsterInstance) -> None:
    materialize(instance)
    before = {path: path.stat().st_mtime_ns for path in (world / "data").rglob("*.csv")}
    materialize(instance)
    assert all(latest_metadata(instance, key)["reused"] for key in ASSET_KEYS)
    assert {path: path.stat().st_mtime_ns for path in (world / "data").rglob("*.csv")} == before


def test_force_recomputes_and_deleted_outputs_are_rebuilt(world: Path, instance: dg.DagsterInstance) -> None:
    materialize(instance)
    defs = build_definitions()
    forced = dg.materialize(
        materializable(defs),
        resources=defs.resources,
        instance=instance,
        selection=["match_report"],
        run_config={"ops": {"match_report": {"config": {"force": True}}}},
    )
    assert forced.success and latest_metadata(instance, "match_report")["reused"] is False
    report = world / "data/metadata/tradeable_unmatched.csv"
    export = world / "data/processed/tradeable_prices/kim.us.csv"
    expected = output_files(world)
    report.unlink()
    export.unlink()
    materialize(instance)
    assert latest_metadata(instance, "match_report")["reused"] is False
    assert latest_metadata(instance, "price_exports")["exports_written"] == 1
    assert output_files(world) == expected


def test_earlier_exports_are_adopted_from_the_launchpad_config(world: Path, instance: dg.DagsterInstance) -> None:
    """Exports whose records are lost (or the old tool's) stop price_exports; `adopt_exports`
    in its run config takes them over, as `refresh --adopt-exports` does."""
    materialize(instance)
    expected = output_files(world)
    for name in ("export_manifest.json", "exports_written.json"):
        (world / "data/metadata" / name).unlink()
    defs = build_definitions()

    def run_price_exports(config: dict[str, bool]) -> dg.ExecuteInJobResult:
        return dg.materialize(
            materializable(defs),
            resources=defs.resources,
            instance=instance,
            selection=["price_exports"],
            run_config={"ops": {"price_exports": {"config": config}}},
            raise_on_error=False,
        )

    assert not run_price_exports({"force": True}).success  # force alone adopts nothing
    assert run_price_exports({"adopt_exports": True}).success
    assert latest_metadata(instance, "price_exports")["exports_adopted"] == 3
    assert output_files(world) == expected


def test_a_launchpad_override_of_a_result_setting_is_refused(world: Path, instance: dg.DagsterInstance) -> None:
    defs = build_definitions()
    result = dg.materialize(
        materializable(defs),
        resources=defs.resources,
        instance=instance,
        selection=["stooq_files", "tradeable_instruments", "stooq_index", "tradeable_universe", "match_report"],
        run_config={"resources": {"settings": {"config": {"lse_currency_policy": "strict"}}}},
        raise_on_error=False,
    )
    assert not result.success
    assert "differ from those the code location was loaded with" in _failure_message(result)
    assert not (world / "data/metadata/tradeable_matches.csv").exists()


def test_match_report_metadata_shows_what_changed(world: Path, instance: dg.DagsterInstance) -> None:
    materialize(instance)
    first = latest_metadata(instance, "match_report")
    assert first["changes_summary"] == "nothing to compare with (no earlier reports, as on the first materialization)"
    assert first["changes_compared_with_previous"] is False and "changes_added" not in first
    assert isinstance(first["changed_instruments"], dg.TableMetadataValue)
    assert first["changed_instruments"].records == []
    with open(world / "tradeable_instruments/broker_a.csv", "a") as handle:
        handle.write("XETRA,DE0007164600,SAP,SAP\n")
    broker_b = world / "tradeable_instruments/broker_b.csv"
    broker_b.write_text("".join(line for line in broker_b.read_text().splitlines(True) if "KIM" not in line))
    materialize(instance)
    event = latest_materialization(instance, "match_report")
    assert isinstance(event.metadata["changes_added"], dg.IntMetadataValue)  # plotted over time
    report = latest_metadata(instance, "match_report")
    assert report["changes_summary"] == "1 added, 1 removed"
    assert {key: value for key, value in report.items() if key.startswith("changes_") and value} == {
        "changes_summary": "1 added, 1 removed",
        "changes_compared_with_previous": True,
        "changes_added": 1,
        "changes_removed": 1,
    }
    changed = report["changed_instruments"]
    assert isinstance(changed, dg.TableMetadataValue)
    rows = [record.data for record in changed.records]
    assert [(row["kind"], row["symbol"], row["source_file"], row["ticker"]) for row in rows] == [
        ("added", "SAP", "broker_a.csv", ""),
        ("removed", "KIM:US", "broker_b.csv", "KIM.US"),
    ]


def test_the_metadata_of_twenty_thousand_changes_stays_bounded() -> None:
    removed = tuple(
        Change("removed", InstrumentKey("broker_long.csv", f"Q{n:06d}:US", "NSQ", f"US{n:010d}")) for n in range(20_000)
    )
    metadata = dagster_metadata(change_metadata(ChangeSet(True, removed)))
    assert metadata["changes_removed"].value == 20_000
    changed = metadata["changed_instruments"]
    assert isinstance(changed, dg.TableMetadataValue) and len(changed.records) == CHANGE_TABLE_LIMIT
    summary = metadata["changes_summary"].value
    assert isinstance(summary, str) and summary.startswith(
        "20000 removed (the table shows the first 500 of 20000 changes"
    )
    assert "`portfolio-assets changes --all` lists them all" in summary
    assert len(json.dumps({key: str(value) for key, value in metadata.items()})) < 200_000
