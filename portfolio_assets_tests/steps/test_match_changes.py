"""The match_report step records what changed: nothing is lost or invented when a run dies
between replacing the reports and appending to the history."""

from __future__ import annotations

from pathlib import Path

import pytest

from portfolio_assets.incremental.change_history import read_history
from portfolio_assets.incremental.metadata_files import MetadataFiles
from portfolio_assets.settings import Settings, settings_from_environment
from portfolio_assets.steps import match_changes, match_report
from portfolio_assets.steps.match_report import build_match_reports
from portfolio_assets.steps.tradeable_universe import build_universe

from ..helpers import build_all


class Died(BaseException):
    """The process stopping at this point (nothing after it runs, no handler catches it)."""


def die(*_: object, **__: object) -> None:
    raise Died


@pytest.fixture
def appended(world: Path) -> Settings:
    """The world built once (no run: no history), then an instrument appended to a list."""
    settings = settings_from_environment()
    build_all(settings)
    assert not MetadataFiles(settings.metadata_dir).change_history_dir.exists()
    with open(world / "tradeable_instruments/broker_a.csv", "a") as handle:
        handle.write("XETRA,DE0007164600,SAP,SAP\n")
    build_universe(settings)
    return settings


def recorded(settings: Settings) -> list[tuple[str, int]]:
    return [
        (r.run_id, len(r.changes.of_kind("added")))
        for r in read_history(MetadataFiles(settings.metadata_dir).change_history_dir).records
    ]


def test_a_run_that_dies_after_replacing_the_reports_loses_no_change(
    appended: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as patched:
        patched.setattr(match_changes, "commit_pending", die)
        with pytest.raises(Died):
            build_match_reports(appended, run_id="run-died")
    assert (
        "SAP" in appended.unmatched_report_path.read_text()
        and MetadataFiles(appended.metadata_dir).pending_change_path.exists()
    )
    assert recorded(appended) == []
    result = build_match_reports(appended, run_id="run-next")
    assert recorded(appended) == [("run-died", 1), ("run-next", 0)]
    assert any("stopped after writing its reports" in warning for warning in result.warnings)
    assert not MetadataFiles(appended.metadata_dir).pending_change_path.exists()


def test_a_run_that_dies_before_replacing_the_reports_records_nothing(
    appended: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as patched:
        patched.setattr(match_report, "replace_all", die)
        with pytest.raises(Died):
            build_match_reports(appended, run_id="run-died")
    assert "SAP" not in appended.unmatched_report_path.read_text()
    build_match_reports(appended, run_id="run-next")
    assert recorded(appended) == [("run-next", 1)]


def test_unreadable_previous_reports_leave_nothing_to_compare_with(appended: Settings) -> None:
    appended.match_report_path.write_text("not,a,match,report\n")
    result = build_match_reports(appended, run_id="run-1")
    assert not result.changes.compared
    assert any("the previous reports cannot be read" in warning for warning in result.warnings)
    [record] = read_history(MetadataFiles(appended.metadata_dir).change_history_dir).records
    assert not record.changes.compared
