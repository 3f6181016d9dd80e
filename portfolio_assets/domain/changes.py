"""What changed in the universe between two versions of the reports (issue 12).

An instrument is identified by (source_file, symbol, market, isin) and, for exact
repeats of those four, an occurrence number in report order (1, 2, ...). Kinds of
change, in this order:

- `added`, `removed`: in the universe now and not before, or the other way round;
- `matched`, `unmatched`: present before and after, it now matches a Stooq file
  (from its old unmatched reason to its ticker) or no longer does (from its old
  ticker to its reason);
- `rematched`: matched before and after, but `matched_ticker` (or, with the same
  ticker, `stooq_path`) changed; `column` says which, with from and to;
- `status_changed`: matched before and after, `data_status` or `currency_status`
  moved; one change per column;
- `prices_extended`: matched to the same file before and after, and `price_end`
  moved later (from and to);
- `prices_stalled`: matched to the same file before and after, `price_end` did not
  move while the newest price_end of its region (over the matched rows of the
  report) moved later; `from` is its price_end, `to` the region's newest now.

Pure: reports in, changes out. Reading and writing the history is
`incremental/change_history.py`'s job.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from .price_lag import newest_by_region
from .reports import UNMATCHED_COLUMNS, MatchRow, Reports

__all__ = [
    "CHANGE_KINDS",
    "KIND_FIELDS",
    "STATUS_COLUMNS",
    "Change",
    "ChangeCounts",
    "ChangeSet",
    "InstrumentKey",
    "InstrumentState",
    "change_order",
    "compare_reports",
    "compare_states",
    "instrument_states",
    "total_counts",
]

CHANGE_KINDS = (
    "added",
    "removed",
    "matched",
    "unmatched",
    "rematched",
    "status_changed",
    "prices_extended",
    "prices_stalled",
)
STATUS_COLUMNS = ("data_status", "currency_status")
# Which of column, from, to and ticker a change of each kind carries.
KIND_FIELDS: dict[str, tuple[str, ...]] = {
    "added": ("ticker",),
    "removed": ("ticker",),
    "matched": ("from", "to", "ticker"),
    "unmatched": ("from", "to", "ticker"),
    "rematched": ("column", "from", "to", "ticker"),
    "status_changed": ("column", "from", "to", "ticker"),
    "prices_extended": ("column", "from", "to", "ticker"),
    "prices_stalled": ("column", "from", "to", "ticker"),
}
# (singular, plural) words of each kind in a summary line.
_SUMMARY_WORDS = {
    "added": ("added", "added"),
    "removed": ("removed", "removed"),
    "matched": ("newly matched", "newly matched"),
    "unmatched": ("no longer matched", "no longer matched"),
    "rematched": ("rematched", "rematched"),
    "status_changed": ("status change", "status changes"),
    "prices_extended": ("price extended", "prices extended"),
    "prices_stalled": ("price stalled", "prices stalled"),
}


@dataclass(frozen=True, slots=True, order=True)
class InstrumentKey:
    """Who an instrument is: its broker list, symbol, market and ISIN, and which of
    several exact repeats of those four (1 for the first, in report order)."""

    source_file: str
    symbol: str
    market: str
    isin: str
    occurrence: int = 1

    def describe(self) -> str:
        """E.g. `AAPL (NSQ, US0378331005) in broker_a.csv`, `#2` after a repeat's symbol."""
        repeat = f" #{self.occurrence}" if self.occurrence > 1 else ""
        details = ", ".join(value for value in (self.market, self.isin) if value) or "no market"
        return f"{self.symbol}{repeat} ({details}) in {self.source_file}"


@dataclass(frozen=True, slots=True)
class InstrumentState:
    """What the reports say about one instrument: its match, or why it has none."""

    key: InstrumentKey
    matched: bool
    ticker: str = ""
    stooq_path: str = ""
    region: str = ""
    data_status: str = ""
    currency_status: str = ""
    price_end: str = ""
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Change:
    """One change of one instrument; `before` and `after` are the from and to values."""

    kind: str
    instrument: InstrumentKey
    column: str = ""
    before: str = ""
    after: str = ""
    ticker: str = ""


@dataclass(frozen=True)
class ChangeCounts:
    """How many changes of each kind; `compared` is False when there was nothing to compare with."""

    compared: bool
    by_kind: Mapping[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        """One line: `3 added, 1 removed, 5 status changes, 412 prices extended`."""
        if not self.compared:
            return "nothing to compare with (no earlier reports, as on the first materialization)"
        parts = []
        for kind in CHANGE_KINDS:
            count = self.by_kind.get(kind, 0)
            if count:
                singular, plural = _SUMMARY_WORDS[kind]
                parts.append(f"{count} {singular if count == 1 else plural}")
        return ", ".join(parts) or "no changes"


def total_counts(items: Sequence[ChangeCounts]) -> ChangeCounts:
    """The sum over several materializations (those with nothing to compare with add nothing)."""
    compared = [item for item in items if item.compared]
    totals: Counter[str] = Counter()
    for item in compared:
        totals.update(item.by_kind)
    return ChangeCounts(bool(compared), {kind: totals[kind] for kind in CHANGE_KINDS})


@dataclass(frozen=True)
class ChangeSet:
    """The changes of one materialization; `compared` is False when there was nothing to compare with."""

    compared: bool
    changes: tuple[Change, ...] = ()

    def of_kind(self, kind: str) -> list[Change]:
        return [change for change in self.changes if change.kind == kind]

    @property
    def counts(self) -> ChangeCounts:
        found = Counter(change.kind for change in self.changes)
        return ChangeCounts(self.compared, {kind: found[kind] for kind in CHANGE_KINDS})


def instrument_states(matches: Iterable[MatchRow], unmatched: Iterable[Sequence[str]]) -> list[InstrumentState]:
    """One state per report row, matched rows first, each with its identity.

    Exact repeats of an identity always land in the same report (matching reads only
    symbol and market), so numbering them in report order is numbering them in the
    universe's order."""
    seen: Counter[tuple[str, str, str, str]] = Counter()

    def key(source_file: str, symbol: str, market: str, isin: str) -> InstrumentKey:
        seen[source_file, symbol, market, isin] += 1
        return InstrumentKey(source_file, symbol, market, isin, seen[source_file, symbol, market, isin])

    states = [
        InstrumentState(
            key(row["source_file"], row["symbol"], row["market"], row["isin"]),
            True,
            ticker=row["matched_ticker"],
            stooq_path=row["stooq_path"],
            region=row["region"],
            data_status=row["data_status"],
            currency_status=row["currency_status"],
            price_end=row["price_end"],
        )
        for row in matches
    ]
    column = {name: number for number, name in enumerate(UNMATCHED_COLUMNS)}
    for cells in unmatched:
        identity = (cells[column[name]] for name in ("source_file", "symbol", "market", "isin"))
        states.append(InstrumentState(key(*identity), False, reason=cells[column["reason"]]))
    return states


@dataclass(frozen=True)
class _RegionNewest:
    """The newest price_end of each region, before and after."""

    before: dict[str, str]
    after: dict[str, str]

    def moved_later(self, region: str) -> bool:
        return self.after.get(region, "") > self.before.get(region, "")


def _both_matched(old: InstrumentState, new: InstrumentState, newest: _RegionNewest) -> list[Change]:
    key, ticker = new.key, new.ticker
    changes = []
    if old.ticker != new.ticker:
        changes.append(Change("rematched", key, "matched_ticker", old.ticker, new.ticker, ticker))
    elif old.stooq_path != new.stooq_path:
        changes.append(Change("rematched", key, "stooq_path", old.stooq_path, new.stooq_path, ticker))
    for column in STATUS_COLUMNS:
        was, now = getattr(old, column), getattr(new, column)
        if was != now:
            changes.append(Change("status_changed", key, column, was, now, ticker))
    if old.stooq_path == new.stooq_path and old.price_end and new.price_end:
        if new.price_end > old.price_end:
            changes.append(Change("prices_extended", key, "price_end", old.price_end, new.price_end, ticker))
        elif new.price_end == old.price_end and newest.moved_later(new.region):
            region_now = newest.after[new.region]
            changes.append(Change("prices_stalled", key, "price_end", old.price_end, region_now, ticker))
    return changes


def _present_both(old: InstrumentState, new: InstrumentState, newest: _RegionNewest) -> list[Change]:
    if not old.matched and new.matched:
        return [Change("matched", new.key, "", old.reason, new.ticker, new.ticker)]
    if old.matched and not new.matched:
        return [Change("unmatched", new.key, "", old.ticker, new.reason, old.ticker)]
    if old.matched and new.matched:
        return _both_matched(old, new, newest)
    return []  # unmatched before and after: another reason is no change of the universe


def compare_states(
    before: Sequence[InstrumentState] | None,
    after: Sequence[InstrumentState],
    region_newest: tuple[Mapping[str, str], Mapping[str, str]] | None = None,
) -> ChangeSet:
    """The changes from `before` to `after`; None before means nothing to compare with.

    `region_newest`: the newest price_end of each region before and after, when `before`
    and `after` are part of the reports (one broker list's rows); by default, theirs."""
    if before is None:
        return ChangeSet(compared=False)
    old = {state.key: state for state in before}
    new = {state.key: state for state in after}
    if region_newest is None:
        region_newest = (
            newest_by_region((s.region, s.price_end) for s in before if s.matched),
            newest_by_region((s.region, s.price_end) for s in after if s.matched),
        )
    newest = _RegionNewest(dict(region_newest[0]), dict(region_newest[1]))
    changes = [Change("added", key, ticker=state.ticker) for key, state in new.items() if key not in old]
    changes += [Change("removed", key, ticker=state.ticker) for key, state in old.items() if key not in new]
    for key, state in new.items():
        if key in old:
            changes += _present_both(old[key], state, newest)
    changes.sort(key=change_order)
    return ChangeSet(True, tuple(changes))


_KIND_ORDER = {kind: number for number, kind in enumerate(CHANGE_KINDS)}


def change_order(change: Change) -> tuple[int, str, str, str, str, int, str]:
    """The order of changes in a record: by kind, then instrument, then column. A plain
    tuple: comparing InstrumentKeys (dataclasses) costs a Python call each, which a
    million changes feel."""
    key = change.instrument
    return (
        _KIND_ORDER[change.kind],
        key.source_file,
        key.symbol,
        key.market,
        key.isin,
        key.occurrence,
        change.column,
    )


def compare_reports(before: Reports | None, after: Reports) -> ChangeSet:
    """The changes from the reports `before` (None: there were none) to `after`."""
    old = None if before is None else instrument_states(before.matches, before.unmatched)
    return compare_states(old, instrument_states(after.matches, after.unmatched))
