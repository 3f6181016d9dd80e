"""`portfolio-assets changes`: the change history, newest first, in words or as JSON.

Text: a line per record (when, which run, the summary), then one line per change.
JSON: an array of the records as the history holds them
(`incremental/change_history.py`), newest first. Dagster-free: it only reads
the history file.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from ..domain.changes import Change
from ..incremental.change_history import ChangeRecord

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


def render_text(records: Sequence[ChangeRecord], history: Path) -> str:
    if not records:
        return f"no change recorded yet in {history} (match_report adds a record each time it materializes)"
    lines = []
    for record in records:
        lines.append(f"{record.at}  run {record.run_id}  {record.changes.counts.summary()}")
        width = max((len(change.kind) for change in record.changes.changes), default=0)
        lines += [f"  {change.kind:<{width}}  {describe_change(change)}" for change in record.changes.changes]
    return "\n".join(lines)


def render_json(records: Sequence[ChangeRecord]) -> str:
    return json.dumps([record.as_json() for record in records], indent=2)
