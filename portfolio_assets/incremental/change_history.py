"""The history of what changed, beside the reports: the folder `match_changes/`.

One JSON object per line, one line per materialization of match_report, oldest
first, in one file per month (`2024-05.jsonl`, the UTC month of the record's `at`).
A line is what `portfolio-assets changes --json` prints for it: `at` (ISO 8601,
UTC), `run_id`, `compared_with_previous` (false when there was nothing to compare
with), `counts` (the number of each kind) and one list per kind whose items carry
the instrument (`source_file`, `symbol`, `market`, `isin`, `occurrence`) and, where
the kind has them, `column`, `from`, `to` and `ticker`.

Append-only and atomic: a record is added by writing the month's file with the new
line at its end to a temporary file and renaming it into place
(`io/atomic_files.py`), so a reader never sees a torn record and a process killed
mid-write leaves the file as it was. Monthly files keep that rewrite small however
long the history grows. Nothing is ever removed or rewritten: a damaged line (cut,
not JSON, not a record) stays as it is; the reader skips it with a warning naming
it and reads every other record.

Between the reports and the history, the step keeps a pending record
(`match_changes/pending.json`): written before the new reports replace the old,
appended to the history after. If the process dies in between, the next
materialization settles it: appended when the reports on disk are the ones it
describes (their hash), dropped when they never replaced the old ones. So the
history holds a record exactly for the reports that reached the disk.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..domain.changes import CHANGE_KINDS, KIND_FIELDS, Change, ChangeSet, InstrumentKey
from ..io.atomic_files import write_bytes_atomic, write_text_atomic

__all__ = [
    "ChangeRecord",
    "HistoryRead",
    "append_record",
    "commit_pending",
    "read_history",
    "settle_pending",
    "stage_pending",
]

HISTORY_SUFFIX = ".jsonl"

_IDENTITY = ("source_file", "symbol", "market", "isin")
# JSON field name -> Change attribute
_VALUE_ATTRIBUTES = {"column": "column", "from": "before", "to": "after", "ticker": "ticker"}


def _change_json(change: Change) -> dict[str, Any]:
    key = change.instrument
    item: dict[str, Any] = {name: getattr(key, name) for name in _IDENTITY}
    item["occurrence"] = key.occurrence
    for name in KIND_FIELDS[change.kind]:
        item[name] = getattr(change, _VALUE_ATTRIBUTES[name])
    return item


def _text(item: Mapping[str, Any], name: str, required: bool = True) -> str:
    value = item.get(name, None if required else "")
    if not isinstance(value, str):
        raise ValueError(f"{name} is not text")
    return value


def _change_from_json(kind: str, item: object) -> Change:
    if not isinstance(item, dict):
        raise ValueError(f"an item of {kind} is not an object")
    occurrence = item.get("occurrence", 1)
    if not isinstance(occurrence, int) or isinstance(occurrence, bool) or occurrence < 1:
        raise ValueError(f"an item of {kind} has no valid occurrence")
    source_file, symbol, market, isin = (_text(item, name) for name in _IDENTITY)
    key = InstrumentKey(source_file, symbol, market, isin, occurrence)
    values = {attribute: _text(item, name, required=False) for name, attribute in _VALUE_ATTRIBUTES.items()}
    return Change(kind, key, **values)


@dataclass(frozen=True)
class ChangeRecord:
    """The changes of one materialization of match_report, when and in which run."""

    at: str
    run_id: str
    changes: ChangeSet

    @classmethod
    def now(cls, run_id: str, changes: ChangeSet) -> ChangeRecord:
        return cls(datetime.now(timezone.utc).isoformat(timespec="seconds"), run_id, changes)

    def as_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "at": self.at,
            "run_id": self.run_id,
            "compared_with_previous": self.changes.compared,
            "counts": dict(self.changes.counts.by_kind),
        }
        for kind in CHANGE_KINDS:
            document[kind] = [_change_json(change) for change in self.changes.of_kind(kind)]
        return document

    @classmethod
    def from_json(cls, document: object) -> ChangeRecord:
        """A record from its JSON object; ValueError when it is not one."""
        if not isinstance(document, dict):
            raise ValueError("not a JSON object")
        compared = document.get("compared_with_previous")
        if not isinstance(compared, bool):
            raise ValueError("compared_with_previous is not true or false")
        changes: list[Change] = []
        for kind in CHANGE_KINDS:
            items = document.get(kind, [])
            if not isinstance(items, list):
                raise ValueError(f"{kind} is not a list")
            changes += [_change_from_json(kind, item) for item in items]
        return cls(_text(document, "at"), _text(document, "run_id"), ChangeSet(compared, tuple(changes)))

    def line(self) -> bytes:
        return json.dumps(self.as_json(), separators=(",", ":")).encode("utf-8") + b"\n"


@dataclass(frozen=True)
class HistoryRead:
    records: list[ChangeRecord]  # oldest first
    warnings: list[str]


def _parse_line(data: bytes) -> ChangeRecord:
    try:
        return ChangeRecord.from_json(json.loads(data.decode("utf-8")))
    except UnicodeDecodeError:
        raise ValueError("not UTF-8") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"not JSON: {error.msg}") from None


def _lines_newest_first(folder: Path) -> Iterator[tuple[str, int, bytes]]:
    """(file name, line number, line) of every line of the history, the newest first."""
    for path in sorted(folder.glob(f"*{HISTORY_SUFFIX}"), reverse=True):
        lines = path.read_bytes().split(b"\n")
        for number in range(len(lines), 0, -1):
            yield path.name, number, lines[number - 1]


def read_history(folder: Path, last: int | None = None) -> HistoryRead:
    """The readable records, oldest first: all of them, or the newest `last` (reading no
    further back than those). A damaged line on the way is skipped, and named in a warning."""
    records: list[ChangeRecord] = []
    damaged: list[str] = []
    for name, number, line in _lines_newest_first(folder):
        if last is not None and len(records) >= last:
            break
        if not line.strip():
            continue
        try:
            records.append(_parse_line(line))
        except ValueError as error:
            damaged.append(f"{name} line {number} ({error})")
    records.reverse()
    damaged.reverse()
    warnings = []
    if damaged:
        shown = "; ".join(damaged[:10]) + (f"; and {len(damaged) - 10} more" if len(damaged) > 10 else "")
        warnings.append(
            f"{folder}: {len(damaged)} damaged line(s) skipped: {shown}; every other record is read "
            f"({len(records)} here)"
        )
    return HistoryRead(records, warnings)


def append_record(folder: Path, record: ChangeRecord) -> None:
    """Add `record` at the end of its month's file, atomically; every line already there
    stays as it is."""
    path = folder / f"{record.at[:7]}{HISTORY_SUFFIX}"
    try:
        existing = path.read_bytes()
    except FileNotFoundError:
        existing = b""
    if existing and not existing.endswith(b"\n"):
        existing += b"\n"  # a cut last line stays a line of its own (and is reported as damaged)
    write_bytes_atomic(path, existing + record.line())


def stage_pending(pending_path: Path, record: ChangeRecord, report_hash: str) -> None:
    """Keep `record` until the reports whose text hashes to `report_hash` are on disk."""
    write_text_atomic(pending_path, json.dumps({"report_hash": report_hash, "record": record.as_json()}))


def commit_pending(history: Path, pending_path: Path, record: ChangeRecord) -> None:
    """The reports are on disk: append their record and forget the pending one."""
    append_record(history, record)
    pending_path.unlink(missing_ok=True)


def settle_pending(history: Path, pending_path: Path, reports_hash: Callable[[], str | None]) -> str | None:
    """Settle a record left pending by a process that died; returns what was done, or None.

    `reports_hash` gives the hash of the reports on disk now (None when they are missing)."""
    try:
        text = pending_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        document = json.loads(text)
        record = ChangeRecord.from_json(document["record"])
        landed = document["report_hash"] == reports_hash()
    except (ValueError, KeyError, TypeError) as error:
        pending_path.unlink(missing_ok=True)
        return f"{pending_path} was damaged ({error}); discarded"
    if not landed:
        pending_path.unlink(missing_ok=True)
        return f"run {record.run_id} stopped before its reports replaced the old ones: its change record is dropped"
    last = read_history(history, last=1).records
    if not last or (last[0].run_id, last[0].at) != (record.run_id, record.at):
        append_record(history, record)
    pending_path.unlink(missing_ok=True)
    return f"run {record.run_id} stopped after writing its reports: its change record is added to the history"
