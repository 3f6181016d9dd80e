"""The history of what changed, beside the reports: the folder `match_changes/`.

One JSON object per line, one line per materialization of match_report, oldest
first, in one file per month (`2024-05.jsonl`, the UTC month of the record's `at`).
A line is what `portfolio-assets changes --json` prints for it: `at` (ISO 8601,
UTC), `run_id`, `compared_with_previous` (false when there was nothing to compare
with), `counts` (the number of each kind) and one list per kind whose items carry
the instrument (`source_file`, `symbol`, `market`, `isin`, `occurrence`) and, where
the kind has them, `column`, `from`, `to` and `ticker`.

A line stays small whatever changed: each list holds at most the first
`INLINE_PER_KIND` changes of its kind (in the record's order), and when some are
left out, `all_changes` names a gzip-compressed JSON file beside the history
(`<at>_<run_id>_<digest>.json.gz`) that holds the whole record, every change of
every kind, in the form of a line that holds them all: what `changes --all` reads.
The file is written before the line that names it, and never changed afterwards.
A line with no `all_changes` holds every change.

Append-only and atomic: a record is added by writing the month's file with the new
line at its end to a temporary file and renaming it into place
(`io/atomic_files.py`), so a reader never sees a torn record and a process killed
mid-write leaves the file as it was. Monthly files keep that rewrite small however
long the history grows. Nothing is ever removed or rewritten: a damaged line (cut,
not JSON, not a record) stays as it is; the reader skips it with a warning naming
it and reads every other record.

Between the reports and the history, the step keeps a pending record
(`match_changes/pending.json`, bounded like a line; its file of all changes is
written beside the history at the same time): written before the new reports
replace the old, appended to the history after. If the process dies in between, the next
materialization settles it: appended when the reports on disk are the ones it
describes (their hash), dropped (with its file of all changes) when they never
replaced the old ones. So the history holds a record exactly for the reports that
reached the disk.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path
from typing import Any

from ..domain.changes import CHANGE_KINDS, KIND_FIELDS, Change, ChangeCounts, ChangeSet, InstrumentKey
from ..io.atomic_files import write_bytes_atomic, write_text_atomic

__all__ = [
    "INLINE_PER_KIND",
    "ChangeRecord",
    "HistoryRead",
    "append_record",
    "commit_pending",
    "read_all_changes",
    "read_history",
    "settle_pending",
    "stage_pending",
]

HISTORY_SUFFIX = ".jsonl"
ALL_CHANGES_SUFFIX = ".json.gz"
# Changes of each kind a line holds; the rest are in the record's file of all changes.
INLINE_PER_KIND = 20

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


def _counts_from_json(document: Mapping[str, Any], shown: Mapping[str, int]) -> dict[str, int]:
    counts = document.get("counts")
    if not isinstance(counts, dict):
        raise ValueError("counts is not an object")
    found = {}
    for kind in CHANGE_KINDS:
        count = counts.get(kind, 0)
        if not isinstance(count, int) or isinstance(count, bool) or count < shown[kind]:
            raise ValueError(f"the count of {kind} is not a whole number at least as large as its list")
        found[kind] = count
    return found


_UNSAFE_IN_NAME = re.compile(r"[^0-9A-Za-z._-]")


@dataclass(frozen=True)
class ChangeRecord:
    """The changes of one materialization of match_report, when and in which run.

    Made by a run, `changes` holds every change. Read back from the history, a record
    with more than INLINE_PER_KIND changes of some kind holds the first INLINE_PER_KIND
    of each kind, its `counts_by_kind` count them all and `all_changes` names the file
    that holds them all (`read_all_changes`)."""

    at: str
    run_id: str
    changes: ChangeSet
    counts_by_kind: Mapping[str, int] | None = field(default=None, compare=False)
    """The number of each kind, when `changes` holds only the first of each (else counted from it)."""
    all_changes: str | None = None
    """The file (in the history folder) holding every change, when `changes` does not."""

    @classmethod
    def now(cls, run_id: str, changes: ChangeSet) -> ChangeRecord:
        return cls(datetime.now(timezone.utc).isoformat(timespec="seconds"), run_id, changes)

    @property
    def complete(self) -> bool:
        """Whether `changes` holds every change of the record."""
        return self.all_changes is None

    @property
    def counts(self) -> ChangeCounts:
        """How many changes of each kind the record has, whether or not it holds them all."""
        if self.counts_by_kind is None:
            return self.changes.counts
        return ChangeCounts(self.changes.compared, {kind: self.counts_by_kind.get(kind, 0) for kind in CHANGE_KINDS})

    def as_json(self) -> dict[str, Any]:
        """The record as `changes --json` prints it: every change it holds, and the file
        with all of them when it does not hold them all."""
        document: dict[str, Any] = {
            "at": self.at,
            "run_id": self.run_id,
            "compared_with_previous": self.changes.compared,
            "counts": dict(self.counts.by_kind),
        }
        by_kind: dict[str, list[dict[str, Any]]] = {kind: [] for kind in CHANGE_KINDS}
        for change in self.changes.changes:
            by_kind[change.kind].append(_change_json(change))
        document.update(by_kind)
        if self.all_changes is not None:
            document["all_changes"] = self.all_changes
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
        at, run_id = _text(document, "at"), _text(document, "run_id")
        if "all_changes" not in document:
            return cls(at, run_id, ChangeSet(compared, tuple(changes)))
        all_changes = _text(document, "all_changes")
        if not all_changes or all_changes != Path(all_changes).name or not all_changes.endswith(ALL_CHANGES_SUFFIX):
            raise ValueError("all_changes is not the name of a file beside the history")
        shown = Counter(change.kind for change in changes)
        counts = _counts_from_json(document, {kind: shown[kind] for kind in CHANGE_KINDS})
        return cls(at, run_id, ChangeSet(compared, tuple(changes)), counts, all_changes)

    @cached_property
    def _stored(self) -> tuple[bytes, str | None, bytes | None]:
        """(history line, file name of all changes, that file's bytes); no file when the
        line holds every change."""
        if not self.complete or all(count <= INLINE_PER_KIND for count in self.counts.by_kind.values()):
            return _json_line(self.as_json()), None, None
        full = json.dumps(self.as_json(), separators=(",", ":")).encode("utf-8")
        digest = hashlib.sha256(full).hexdigest()[:12]
        stamp = self.at[:19].replace(":", "-")
        name = _UNSAFE_IN_NAME.sub("_", f"{stamp}_{self.run_id}_{digest}") + ALL_CHANGES_SUFFIX
        shown: Counter[str] = Counter()
        first = []
        for change in self.changes.changes:
            shown[change.kind] += 1
            if shown[change.kind] <= INLINE_PER_KIND:
                first.append(change)
        bounded = ChangeRecord(
            self.at, self.run_id, ChangeSet(self.changes.compared, tuple(first)), dict(self.counts.by_kind), name
        )
        # Level 1: as small as the higher levels for these repetitive lists, and several times faster.
        return _json_line(bounded.as_json()), name, gzip.compress(full, compresslevel=1, mtime=0)

    def line(self) -> bytes:
        """The record's line in the history (bounded: see the module's docstring)."""
        return self._stored[0]

    def write_all_changes(self, folder: Path) -> None:
        """Write the file of all changes the line names (none when the line holds them all)."""
        _, name, data = self._stored
        if name is not None and data is not None:
            write_bytes_atomic(folder / name, data)


def _json_line(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode("utf-8") + b"\n"


def read_all_changes(folder: Path, record: ChangeRecord) -> ChangeRecord:
    """`record` with every change: itself when it holds them all, else read from its file
    of all changes. ValueError naming the file when it is missing or damaged."""
    if record.all_changes is None:
        return record
    path = folder / record.all_changes
    try:
        full = ChangeRecord.from_json(json.loads(gzip.decompress(path.read_bytes()).decode("utf-8")))
    except FileNotFoundError:
        raise ValueError(f"{path} is missing") from None
    except (OSError, EOFError, UnicodeDecodeError, json.JSONDecodeError, ValueError) as error:
        raise ValueError(f"{path} is damaged ({error})") from None
    if (full.at, full.run_id) != (record.at, record.run_id) or full.counts != record.counts or not full.complete:
        raise ValueError(f"{path} does not hold the changes of run {record.run_id} at {record.at}")
    return full


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
    stays as it is. Its file of all changes, when it needs one, is written first."""
    record.write_all_changes(folder)
    _append_line(folder, record)


def _append_line(folder: Path, record: ChangeRecord) -> None:
    path = folder / f"{record.at[:7]}{HISTORY_SUFFIX}"
    try:
        existing = path.read_bytes()
    except FileNotFoundError:
        existing = b""
    if existing and not existing.endswith(b"\n"):
        existing += b"\n"  # a cut last line stays a line of its own (and is reported as damaged)
    write_bytes_atomic(path, existing + record.line())


def stage_pending(pending_path: Path, record: ChangeRecord, report_hash: str) -> None:
    """Keep `record` until the reports whose text hashes to `report_hash` are on disk; its
    file of all changes, when it needs one, is written beside the pending record, after
    it: a file of all changes is always named by the pending record or by a line."""
    document = {"report_hash": report_hash, "record": json.loads(record.line())}
    write_text_atomic(pending_path, json.dumps(document, separators=(",", ":")))
    record.write_all_changes(pending_path.parent)


def commit_pending(history: Path, pending_path: Path, record: ChangeRecord) -> None:
    """The reports are on disk: append the record `stage_pending` kept (its file of all
    changes is written) and forget the pending one."""
    _append_line(history, record)
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
        if record.all_changes is not None:
            (pending_path.parent / record.all_changes).unlink(missing_ok=True)
        pending_path.unlink(missing_ok=True)
        return f"run {record.run_id} stopped before its reports replaced the old ones: its change record is dropped"
    last = read_history(history, last=1).records
    if not last or (last[0].run_id, last[0].at) != (record.run_id, record.at):
        _append_line(history, record)  # its file of all changes was written with it (`stage_pending`)
    pending_path.unlink(missing_ok=True)
    return f"run {record.run_id} stopped after writing its reports: its change record is added to the history"
