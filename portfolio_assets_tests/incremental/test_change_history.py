"""The change history: append-only and atomic, one file per month, damaged lines reported and
kept, and the pending record that bridges the reports and the history."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from portfolio_assets.domain.changes import CHANGE_KINDS, KIND_FIELDS, Change, ChangeSet, InstrumentKey
from portfolio_assets.incremental.change_history import (
    INLINE_PER_KIND,
    ChangeRecord,
    append_record,
    commit_pending,
    read_all_changes,
    read_history,
    settle_pending,
    stage_pending,
)
from portfolio_assets.io import atomic_files

APPLE = InstrumentKey("broker_a.csv", "AAPL", "NSQ", "US0378331005")
KIMCO = InstrumentKey("broker_b.csv", "KIM:US", "NYSE", "US49446R1095", 2)


def record(run_id: str, *changes: Change, compared: bool = True, at: str = "2024-01-02T08:00:00+00:00") -> ChangeRecord:
    return ChangeRecord(at, run_id, ChangeSet(compared, changes))


FIRST = record("run-1", compared=False)
SECOND = record(
    "run-2",
    Change("added", APPLE, ticker="AAPL.US"),
    Change("status_changed", KIMCO, "data_status", "ok", "empty", "KIM.US"),
)


def test_records_read_back_as_written_oldest_first(tmp_path: Path) -> None:
    history = tmp_path / "match_changes"
    assert read_history(history).records == []  # no history yet: nothing, and no warning
    append_record(history, FIRST)
    append_record(history, SECOND)
    read = read_history(history)
    assert read.records == [FIRST, SECOND] and read.warnings == []
    line = json.loads((history / "2024-01.jsonl").read_text().splitlines()[1])
    assert line["counts"]["added"] == 1 and line["counts"]["status_changed"] == 1
    assert line["status_changed"] == [
        {
            "source_file": "broker_b.csv",
            "symbol": "KIM:US",
            "market": "NYSE",
            "isin": "US49446R1095",
            "occurrence": 2,
            "column": "data_status",
            "from": "ok",
            "to": "empty",
            "ticker": "KIM.US",
        }
    ]


def test_a_new_month_starts_a_new_file_and_the_newest_are_read_first(tmp_path: Path) -> None:
    history = tmp_path / "match_changes"
    february = record("run-3", at="2024-02-01T00:00:01+00:00")
    for item in (FIRST, SECOND, february):
        append_record(history, item)
    assert sorted(os.listdir(history)) == ["2024-01.jsonl", "2024-02.jsonl"]
    assert read_history(history).records == [FIRST, SECOND, february]
    assert read_history(history, last=2).records == [SECOND, february]
    (history / "2024-01.jsonl").write_bytes(b"garbage\n" + FIRST.line() + SECOND.line())
    assert read_history(history, last=2).warnings == []  # only what is read is judged
    assert "2024-01.jsonl line 1" in read_history(history).warnings[0]


def test_damaged_lines_are_reported_and_every_readable_record_is_kept(tmp_path: Path) -> None:
    history = tmp_path / "match_changes"
    append_record(history, FIRST)
    month = history / "2024-01.jsonl"
    good = month.read_bytes()
    damaged = [
        b"this is not json",
        SECOND.line()[:40],  # a cut record
        b"\xff\xfe not utf-8",
        b'{"at": "2024-01-02", "run_id": 7}',  # JSON, not a record
    ]
    month.write_bytes(good + b"\n".join(damaged) + b"\n" + SECOND.line())
    read = read_history(history)
    assert read.records == [FIRST, SECOND]
    assert len(read.warnings) == 1
    warning = read.warnings[0]
    assert str(history) in warning and "4 damaged line(s)" in warning
    assert all(f"2024-01.jsonl line {number}" in warning for number in (2, 3, 4, 5))
    # Appending never rewrites or drops what is there, damaged lines included.
    before = month.read_bytes()
    third = record("run-3")
    append_record(history, third)
    assert month.read_bytes() == before + third.line()
    assert read_history(history).records == [FIRST, SECOND, third]


def test_a_cut_last_line_stays_apart_from_the_next_record(tmp_path: Path) -> None:
    history = tmp_path / "match_changes"
    history.mkdir()
    (history / "2024-01.jsonl").write_bytes(FIRST.line() + SECOND.line()[:30])
    append_record(history, record("run-3"))
    read = read_history(history)
    assert [r.run_id for r in read.records] == ["run-1", "run-3"]
    assert "line 2" in read.warnings[0]


def test_a_write_that_fails_midway_leaves_the_history_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    history = tmp_path / "match_changes"
    append_record(history, FIRST)
    month = history / "2024-01.jsonl"
    before = month.read_bytes()

    def half_then_full_disk(fd: int, data: bytes) -> None:
        os.write(fd, data[: len(data) // 2])
        os.close(fd)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic_files, "_write_all", half_then_full_disk)
    with pytest.raises(OSError, match=str(month)):
        append_record(history, SECOND)
    assert month.read_bytes() == before
    assert os.listdir(history) == ["2024-01.jsonl"]


_WRITER = """
import sys
from pathlib import Path
from portfolio_assets.domain.changes import Change, ChangeSet, InstrumentKey
from portfolio_assets.incremental.change_history import ChangeRecord, append_record, read_history

history = Path(sys.argv[1])
start = len(read_history(history).records)
added = tuple(Change("added", InstrumentKey("broker.csv", f"S{n}", "NSQ", f"I{n}"), ticker=f"S{n}.US") for n in range(1000))
for number in range(start, start + 10_000):
    append_record(history, ChangeRecord("2024-01-02T08:00:00+00:00", str(number), ChangeSet(True, added)))
"""


@pytest.mark.slow
def test_a_kill_mid_write_never_leaves_a_torn_record(tmp_path: Path) -> None:
    history = tmp_path / "match_changes"
    for delay in (0.5, 0.7, 0.9, 1.1):
        writer = subprocess.Popen([sys.executable, "-c", _WRITER, str(history)])
        time.sleep(delay)
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        read = read_history(history)
        assert read.warnings == []
        assert [r.run_id for r in read.records] == [str(n) for n in range(len(read.records))]
        assert all(r.counts.by_kind["added"] == 1000 for r in read.records)
        assert all(len(read_all_changes(history, r).changes.changes) == 1000 for r in read.records[-3:])
    assert len(read.records) >= 4, "the writer never got to write: the test proved nothing"
    assert (history / "2024-01.jsonl").read_bytes().endswith(b"\n")


def test_a_pending_record_whose_reports_landed_is_appended_once(tmp_path: Path) -> None:
    history, pending = tmp_path / "match_changes", tmp_path / "match_changes" / "pending.json"
    append_record(history, FIRST)
    stage_pending(pending, SECOND, "hash-of-new-reports")
    # The process died after replacing the reports: the next materialization settles it.
    message = settle_pending(history, pending, lambda: "hash-of-new-reports")
    assert message and "run-2" in message
    assert read_history(history).records == [FIRST, SECOND] and not pending.exists()
    assert settle_pending(history, pending, lambda: "hash-of-new-reports") is None


def test_a_pending_record_already_appended_is_not_appended_again(tmp_path: Path) -> None:
    history, pending = tmp_path / "match_changes", tmp_path / "match_changes" / "pending.json"
    stage_pending(pending, SECOND, "hash-of-new-reports")
    append_record(history, SECOND)  # died after appending, before forgetting the pending record
    settle_pending(history, pending, lambda: "hash-of-new-reports")
    assert read_history(history).records == [SECOND] and not pending.exists()


def test_a_pending_record_whose_reports_never_landed_is_dropped(tmp_path: Path) -> None:
    history, pending = tmp_path / "match_changes", tmp_path / "match_changes" / "pending.json"
    append_record(history, FIRST)
    stage_pending(pending, SECOND, "hash-of-new-reports")
    message = settle_pending(history, pending, lambda: "hash-of-old-reports")
    assert message and "dropped" in message
    assert read_history(history).records == [FIRST] and not pending.exists()


def test_a_committed_record_leaves_nothing_pending(tmp_path: Path) -> None:
    history, pending = tmp_path / "match_changes", tmp_path / "match_changes" / "pending.json"
    stage_pending(pending, SECOND, "hash")
    commit_pending(history, pending, SECOND)
    assert read_history(history).records == [SECOND] and not pending.exists()


def test_a_damaged_pending_record_is_discarded_with_a_message(tmp_path: Path) -> None:
    history, pending = tmp_path / "match_changes", tmp_path / "match_changes" / "pending.json"
    history.mkdir()
    pending.write_text("{not json")
    message = settle_pending(history, pending, lambda: "hash")
    assert message and "damaged" in message and str(pending) in message
    assert read_history(history).records == [] and not pending.exists()


def _instrument(number: int) -> InstrumentKey:
    return InstrumentKey("broker_long.csv", f"Q{number:06d}:US", "NASDAQ (USD) USA-NASDAQ", f"US{number:010d}")


def _large(run_id: str = "run-large") -> ChangeRecord:
    """The record of removing a 20,000-row list, with a few other changes."""
    removed = [Change("removed", _instrument(number), ticker="") for number in range(20_000)]
    added = [Change("added", _instrument(100_000 + number), ticker="AAPL.US") for number in range(25)]
    status = [Change("status_changed", KIMCO, "data_status", "ok", "empty", "KIM.US")]
    return record(run_id, *added, *removed, *status)


def _every_change(item: ChangeRecord) -> dict[str, Any]:
    """The record with every change of each kind, as its file of all changes holds it."""
    document: dict[str, Any] = {
        "at": item.at,
        "run_id": item.run_id,
        "compared_with_previous": item.changes.compared,
        "counts": {kind: len(item.changes.of_kind(kind)) for kind in CHANGE_KINDS},
    }
    for kind in CHANGE_KINDS:
        document[kind] = []
        for change in item.changes.of_kind(kind):
            key = change.instrument
            entry: dict[str, str | int] = {
                "source_file": key.source_file,
                "symbol": key.symbol,
                "market": key.market,
                "isin": key.isin,
            }
            entry["occurrence"] = key.occurrence
            values = {"column": change.column, "from": change.before, "to": change.after, "ticker": change.ticker}
            entry.update({name: values[name] for name in KIND_FIELDS[kind]})
            document[kind].append(entry)
    return document


def test_a_record_of_twenty_thousand_changes_stays_small_and_loses_nothing(tmp_path: Path) -> None:
    history = tmp_path / "match_changes"
    large = _large()
    append_record(history, large)
    line = (history / "2024-01.jsonl").read_bytes()
    assert len(line) < 12_000  # the whole record is about 3 MB
    document = json.loads(line)
    assert document["counts"] == {kind: len(large.changes.of_kind(kind)) for kind in CHANGE_KINDS}
    before = _every_change(large)
    assert all(document[kind] == before[kind][:INLINE_PER_KIND] for kind in CHANGE_KINDS)
    assert len(document["removed"]) == INLINE_PER_KIND and len(document["status_changed"]) == 1
    [read] = read_history(history).records
    assert not read.complete and read.counts == large.counts and len(read.changes.changes) == 41
    # Every change, in the file the line names: exactly what the line held before.
    every = read_all_changes(history, read)
    assert every == large and every.as_json() == before
    assert (history / document["all_changes"]).stat().st_size < 400_000


def test_a_record_that_fits_in_its_line_has_no_other_file(tmp_path: Path) -> None:
    history = tmp_path / "match_changes"
    append_record(history, SECOND)
    assert os.listdir(history) == ["2024-01.jsonl"]
    assert "all_changes" not in json.loads((history / "2024-01.jsonl").read_bytes())
    assert read_all_changes(history, read_history(history).records[0]) == SECOND


def test_a_line_naming_no_file_of_all_changes_holds_every_change(tmp_path: Path) -> None:
    history = tmp_path / "match_changes"
    history.mkdir()
    old = record("run-old", *_large().changes.changes[:60])
    (history / "2024-01.jsonl").write_text(json.dumps(_every_change(old)) + "\n")
    [read] = read_history(history).records
    assert read == old and read.complete and read.counts.by_kind["added"] == 25


def test_a_missing_or_damaged_file_of_all_changes_is_named(tmp_path: Path) -> None:
    history = tmp_path / "match_changes"
    append_record(history, _large())
    [read] = read_history(history).records
    path = history / str(read.all_changes)
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(ValueError, match=f"{path} is damaged"):
        read_all_changes(history, read)
    path.unlink()
    with pytest.raises(ValueError, match=f"{path} is missing"):
        read_all_changes(history, read)


def test_a_large_pending_record_is_small_and_its_file_goes_with_it(tmp_path: Path) -> None:
    history, pending = tmp_path / "match_changes", tmp_path / "match_changes" / "pending.json"
    dropped, landed = _large("run-dropped"), _large("run-landed")
    stage_pending(pending, dropped, "hash-of-new-reports")
    assert pending.stat().st_size < 12_000 and len(list(history.glob("*.json.gz"))) == 1
    settle_pending(history, pending, lambda: "hash-of-old-reports")  # its reports never landed
    assert os.listdir(history) == []
    stage_pending(pending, landed, "hash-of-new-reports")
    settle_pending(history, pending, lambda: "hash-of-new-reports")
    [read] = read_history(history).records
    assert read_all_changes(history, read) == landed
