"""`portfolio-assets changes`: the change history, newest first, in words or as JSON.

Text: a line per record (when, which run, the summary), then one line per change:
the first INLINE_PER_KIND of each kind and how many more there are, or, with
`--all`, every change. JSON: an array of the records as the history holds them
(`incremental/change_history.py`), newest first; with `--all`, each with every
change. Dagster-free: it only reads the history (and, with `--all`, the records'
files of all changes).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from ..domain.changes import CHANGE_KINDS, Change
from ..incremental.change_history import INLINE_PER_KIND, ChangeRecord

__all__ = ["describe_change", "render_json", "render_text"]


def describe_change(change: Change) -> str:
    """One change in words, after its kind: `AAPL (NSQ, US0378331005) in broker_a.csv: ...`."""
    who = change.instrument.describe()
    before, after, ticker = change.before, change.after, change.ticker
    if change.kind in ("added", "removed"):
        return f"{who} -> {ticker}" if ticker else f"{who} (unmatched)"
    if change.kind == "matched":
        return f"{who}: now {after} (was unmatched: {before})"
    if change.kind == "unmatched":
        return f"{who}: no longer {before} (unmatched: {after})"
    if change.kind == "prices_stalled":
        return f"{who}: {ticker} price_end stuck at {before} while its region reached {after}"
    return f"{who}: {ticker} {change.column} {before or '(empty)'} -> {after or '(empty)'}"


def _change_lines(record: ChangeRecord, every_change: bool) -> list[str]:
    """One line per change shown: every change the record holds with `every_change`, else
    the first INLINE_PER_KIND of each kind; a line for each kind with more not shown."""
    width = max((len(kind) for kind, count in record.counts.by_kind.items() if count), default=0)
    by_kind: dict[str, list[Change]] = {kind: [] for kind in CHANGE_KINDS}
    for change in record.changes.changes:
        by_kind[change.kind].append(change)
    lines = []
    for kind in CHANGE_KINDS:
        shown = by_kind[kind] if every_change else by_kind[kind][:INLINE_PER_KIND]
        lines += [f"  {kind:<{width}}  {describe_change(change)}" for change in shown]
        more = record.counts.by_kind[kind] - len(shown)
        if more > 0:
            # With --all, changes are missing only when their file could not be read (warned above).
            where = (
                "their file of all changes could not be read"
                if every_change
                else "`portfolio-assets changes --all` lists them"
            )
            lines.append(f"  {kind:<{width}}  ... and {more} more ({where})")
    return lines


def render_text(records: Sequence[ChangeRecord], history: Path, every_change: bool = False) -> str:
    """The records in words: a line each, then their changes (bounded unless `every_change`)."""
    if not records:
        return f"no change recorded yet in {history} (match_report adds a record each time it materializes)"
    lines = []
    for record in records:
        lines.append(f"{record.at}  run {record.run_id}  {record.counts.summary()}")
        lines += _change_lines(record, every_change)
    return "\n".join(lines)


def render_json(records: Sequence[ChangeRecord]) -> str:
    return json.dumps([record.as_json() for record in records], indent=2)
