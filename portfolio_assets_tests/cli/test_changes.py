"""Issue 12, what changed: every kind through real refreshes of a small world, the history they
leave, the line `refresh` ends with and `portfolio-assets changes` (text and JSON)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from portfolio_assets.cli import main as cli
from portfolio_assets.domain.changes import CHANGE_KINDS, compare_reports
from portfolio_assets.domain.reports import Reports, read_match_report, read_unmatched_report
from portfolio_assets.incremental.change_history import INLINE_PER_KIND, read_history
from portfolio_assets.settings import settings_from_environment
from portfolio_assets.steps.match_report import build_match_reports
from portfolio_assets.steps.tradeable_universe import build_universe

from ..helpers import AAPL, build_all, run_refresh, stooq_rows, write_file

HISTORY = Path("data/metadata/match_changes")
DAYS = ["20240102", "20240103", "20240104"]


def records(world: Path) -> list[dict[str, Any]]:
    history = read_history(world / HISTORY)
    assert history.warnings == []
    return [record.as_json() for record in history.records]


def changed(record: dict[str, Any]) -> dict[str, list[tuple[str, ...]]]:
    """The non-empty kinds of a record, each as (symbol, column, from, to, ticker) per item."""
    fields = ("symbol", "column", "from", "to", "ticker")
    return {
        kind: [tuple(item[name] for name in fields if name in item) for item in record[kind]]
        for kind in CHANGE_KINDS
        if record[kind]
    }


def changes_json(
    capsys: pytest.CaptureFixture[str], *args: str, warnings: list[str] | None = None, bounded: bool = False
) -> list[dict[str, Any]]:
    """What `changes --json` prints, parsed; what it says on stderr goes to `warnings`."""
    capsys.readouterr()
    assert cli.main(["changes", "--json", *args]) == 0
    out, err = capsys.readouterr()
    printed: list[dict[str, Any]] = json.loads(out)  # JSON records, as records() returns them
    for record in printed:  # the counts equal the lists, unless the record is bounded
        if not bounded:
            assert record["counts"] == {kind: len(record[kind]) for kind in CHANGE_KINDS}
    if warnings is not None:
        warnings += err.splitlines()
    else:
        assert err == ""
    return printed


def test_first_then_unchanged_then_forced(
    world: Path, instance: dg.DagsterInstance, capsys: pytest.CaptureFixture[str]
) -> None:
    run_refresh(instance)
    [first] = records(world)
    assert first["compared_with_previous"] is False and not changed(first)
    assert cli.main(["changes"]) == 0
    assert "nothing to compare with" in capsys.readouterr().out
    assert run_refresh(instance) == []  # nothing materialized: no record
    assert len(records(world)) == 1
    run_refresh(instance, force=True)
    forced = records(world)[-1]
    assert forced["compared_with_previous"] is True and not changed(forced)
    assert [r["run_id"] for r in changes_json(capsys, "--last", "5")] == [forced["run_id"], first["run_id"]]


def test_every_kind_of_change_through_refreshes(
    world: Path, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    stooq = world / "data/stooq/d_us_txt/data/daily/us"
    run_refresh(instance)
    # NOPE gets a file, KIM loses its own, AAPL gets a file that sorts before its old one.
    write_file(stooq / "nasdaq stocks/1/nope.us.txt", stooq_rows("NOPE.US", DAYS))
    (stooq / "nyse stocks/2/kim.us.txt").unlink()
    write_file(stooq / "nasdaq stocks/0/aapl.us.txt", (world / AAPL).read_text())
    run_refresh(instance)
    assert changed(records(world)[-1]) == {
        "matched": [("NOPE", "manual_review", "NOPE.US", "NOPE.US")],
        "unmatched": [("KIM:US", "KIM.US", "manual_review", "KIM.US")],
        "rematched": [
            (
                "AAPL",
                "stooq_path",
                "d_us_txt/data/daily/us/nasdaq stocks/1/aapl.us.txt",
                "d_us_txt/data/daily/us/nasdaq stocks/0/aapl.us.txt",
                "AAPL.US",
            )
        ],
    }
    # AAPL's prices move on a day; NOPE's, in the same region, do not.
    write_file(stooq / "nasdaq stocks/0/aapl.us.txt", stooq_rows("AAPL.US", [*DAYS, "20240105"]))
    run_refresh(instance)
    assert changed(records(world)[-1]) == {
        "prices_extended": [("AAPL", "price_end", "2024-01-04", "2024-01-05", "AAPL.US")],
        "prices_stalled": [("NOPE", "price_end", "2024-01-04", "2024-01-05", "NOPE.US")],
    }
    monkeypatch.setenv("PORTFOLIO_ASSETS_LSE_CURRENCY_POLICY", "stooq")
    run_refresh(instance)
    assert changed(records(world)[-1]) == {
        "status_changed": [("IUHC:LN", "currency_status", "override", "mismatch", "IUHC.UK")],
    }


def test_an_appended_a_deleted_and_an_emptied_instrument_are_exactly_what_changed(
    world: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path_factory.mktemp("home")))
    assert cli.main(["refresh"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        "changes: nothing to compare with (no earlier reports, as on the first materialization)"
    )
    broker_a = world / "tradeable_instruments/broker_a.csv"
    broker_a.write_text(broker_a.read_text().replace("GPW,PLEXM,EXM,Exm\n", "") + "XETRA,DE0007164600,SAP,SAP\n")
    write_file(world / AAPL, "")
    assert cli.main(["refresh"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "changes: 1 added, 1 removed, 1 status change"
    [newest] = changes_json(capsys)
    assert changed(newest) == {
        "added": [("SAP", "")],
        "removed": [("EXM", "EXM")],
        "status_changed": [("AAPL", "data_status", "ok", "empty", "AAPL.US")],
    }
    assert newest["added"][0] == {
        "source_file": "broker_a.csv",
        "symbol": "SAP",
        "market": "XETRA",
        "isin": "DE0007164600",
        "occurrence": 1,
        "ticker": "",
    }
    assert cli.main(["changes"]) == 0
    text = capsys.readouterr().out.splitlines()
    assert text[0].endswith("1 added, 1 removed, 1 status change") and newest["run_id"] in text[0]
    assert text[1:] == [
        "  added           SAP (XETRA, DE0007164600) in broker_a.csv (unmatched)",
        "  removed         EXM (GPW, PLEXM) in broker_a.csv -> EXM",
        "  status_changed  AAPL (NSQ, US0378331005) in broker_a.csv: AAPL.US data_status ok -> empty",
    ]


def test_a_damaged_history_is_reported_and_readable_records_are_shown(
    world: Path, instance: dg.DagsterInstance, capsys: pytest.CaptureFixture[str]
) -> None:
    run_refresh(instance)
    run_refresh(instance, force=True)
    [month] = (world / HISTORY).glob("*.jsonl")
    month.write_bytes(month.read_bytes() + b'{"at": "torn\n')
    warnings: list[str] = []
    printed = changes_json(capsys, "--last", "3", warnings=warnings)
    assert [record["compared_with_previous"] for record in printed] == [True, False]
    [warning] = warnings
    assert warning.startswith("portfolio-assets: warning: ") and f"{month.name} line 3" in warning


def test_changes_before_any_history_and_a_bad_last(world: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["changes"]) == 0
    assert "no change recorded yet" in capsys.readouterr().out
    assert changes_json(capsys) == []
    with pytest.raises(SystemExit) as exited:
        cli.main(["changes", "--last", "0"])
    assert exited.value.code == 2
    assert "argument --last: 0 is not valid; expected a whole number, at least 1" in capsys.readouterr().err


def test_removing_a_list_of_twenty_thousand_rows_is_a_small_record_and_changes_shows_a_bounded_summary(
    world: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    long_list = world / "tradeable_instruments/broker_long.csv"
    rows = "".join(f"NASDAQ (USD) USA-NASDAQ,US{n:010d},Q{n:06d}:US,FUND {n},USD\n" for n in range(20_000))
    write_file(long_list, "market,isin,symbol,name,currency\n" + rows)
    settings = settings_from_environment()
    build_all(settings)
    before = Reports(
        read_match_report(settings.match_report_path), read_unmatched_report(settings.unmatched_report_path)
    )
    long_list.unlink()
    build_universe(settings)
    build_match_reports(settings, run_id="run-removed")
    after = Reports(
        read_match_report(settings.match_report_path), read_unmatched_report(settings.unmatched_report_path)
    )
    [month] = (world / HISTORY).glob("*.jsonl")
    assert month.stat().st_size < 12_000
    [line] = [json.loads(text) for text in month.read_text().splitlines()]
    assert line["counts"]["removed"] == 20_000 and len(line["removed"]) == 20
    assert line["removed"][0]["symbol"] == "Q000000:US" and line["all_changes"].endswith(".json.gz")

    assert cli.main(["changes"]) == 0
    text = capsys.readouterr().out.splitlines()
    assert text[0].endswith("run run-removed  20000 removed")
    assert text[1] == "  removed  Q000000:US (NASDAQ (USD) USA-NASDAQ, US0000000000) in broker_long.csv (unmatched)"
    assert len(text) == 22 and text[-1] == "  removed  ... and 19980 more (`portfolio-assets changes --all` lists them)"
    assert cli.main(["changes", "--all"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 20_001
    # Nothing lost: --json --all holds what the line held before records were bounded.
    [bounded] = changes_json(capsys, bounded=True)
    assert bounded == line
    [everything] = changes_json(capsys, "--all")
    expected = compare_reports(before, after)
    assert everything["counts"]["removed"] == 20_000 and "all_changes" not in everything
    assert [(item["symbol"], item["occurrence"], item["ticker"]) for item in everything["removed"]] == [
        (change.instrument.symbol, change.instrument.occurrence, change.ticker) for change in expected.changes
    ]
    # Its file lost: --all says why 19,980 changes are not shown, and does not send the user back to --all.
    (month.parent / line["all_changes"]).unlink()
    assert cli.main(["changes", "--all"]) == 0
    shown = capsys.readouterr()
    assert shown.out.splitlines()[-1] == "  removed  ... and 19980 more (their file of all changes could not be read)"
    assert line["all_changes"] in shown.err


def test_a_history_line_from_before_records_were_bounded_is_shown_bounded(
    world: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    history = world / HISTORY
    history.mkdir(parents=True)
    removed = [
        {"source_file": "b.csv", "symbol": f"S{n:02d}", "market": "NSQ", "isin": "", "occurrence": 1, "ticker": ""}
        for n in range(30)
    ]
    line = {"at": "2024-01-02T08:00:00+00:00", "run_id": "run-old", "compared_with_previous": True}
    line |= {"counts": {kind: 30 if kind == "removed" else 0 for kind in CHANGE_KINDS}}
    line |= {kind: removed if kind == "removed" else [] for kind in CHANGE_KINDS}
    (history / "2024-01.jsonl").write_text(json.dumps(line) + "\n")
    assert cli.main(["changes"]) == 0
    text = capsys.readouterr().out.splitlines()
    assert len(text) == 22 and text[-1] == "  removed  ... and 10 more (`portfolio-assets changes --all` lists them)"
    assert cli.main(["changes", "--all"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 31
    assert changes_json(capsys, "--all") == [line]


def test_the_help_of_changes_names_the_bound_of_a_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["changes", "--help"])
    assert f"the first {INLINE_PER_KIND} of each kind" in " ".join(capsys.readouterr().out.split())
