"""match_report's two reports made broker list by broker list, and what changed, at the
cost of what changed (`incremental/report_parts.py` keeps each list's part).

For each list of the universe, in order:
- kept: its universe rows are the ones its part was made from, and so are the
  diagnostics of its matched files: its part is copied from the reports on disk;
- grown: its universe rows are those followed by new ones (rows appended to a broker
  list): its part is copied, and the new rows are matched, made and added after it;
- refreshed (with kept or grown): the diagnostics of some of its matched files moved (a
  daily update): its matched rows are read back and their diagnostics cells replaced;
  its unmatched rows cannot change and are copied;
- made: anything else (a new list, an edited one, no usable record of the reports):
  its rows are read from the universe, matched and made.

What changed since the reports on disk is found from the same work: a made list's rows
compared with its rows on disk, a refreshed list's matched rows with what they were,
the new rows of a grown list `added` (numbered after their repeats on disk), the rows
of a list no longer in the universe `removed`, and, when the newest price_end of a
region moved later, the kept rows of that region read back for `prices_stalled`. The
result equals `domain/changes.compare_reports` of the whole reports, change for change.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..domain.broker_lists import Instrument, read_universe_rows
from ..domain.changes import Change, ChangeSet, change_order, compare_states, instrument_states
from ..domain.csv_files import render_csv_rows
from ..domain.diagnostics import Diagnostics
from ..domain.exports import export_file_name
from ..domain.matching import Match, Unmatched
from ..domain.price_lag import newest_by_region
from ..domain.reports import (
    MATCH_COLUMNS,
    UNMATCHED_COLUMNS,
    MatchRow,
    build_reports,
    read_match_report,
    read_match_rows,
    read_unmatched_report,
    read_unmatched_rows,
    render_match_rows,
    render_unmatched_rows,
    with_diagnostics,
)
from ..incremental.match_cache import MatchOutcomes, match_with_cache, match_without_cache
from ..incremental.report_parts import (
    COUNTED_COLUMNS,
    MATCH_HEADER,
    UNMATCHED_HEADER,
    ReportPart,
    ReportParts,
    diagnostics_cells,
    load_report_parts,
)
from ..incremental.universe_parts import UNIVERSE_HEADER, UniverseParts, content_hash

__all__ = ["BuiltReports", "PartsPlan", "ReportSummary", "plan_parts", "summary_of_reports"]

# Up to this many new rows of grown lists are matched without the match cache.
_WITHOUT_CACHE_LIMIT = 200
_REASON = UNMATCHED_COLUMNS.index("reason")


@dataclass(frozen=True)
class ReportSummary:
    """What the UI shows of the reports: sizes, counts and the first rows."""

    matched_count: int
    unmatched_count: int
    counts: Mapping[str, Mapping[str, int]]
    """For each of COUNTED_COLUMNS (strategy, data_status, currency_status, reason), how
    many rows have each value."""
    match_preview: list[tuple[str, ...]]
    unmatched_preview: list[tuple[str, ...]]


def _head(data: bytes, limit: int = 10) -> list[tuple[str, ...]]:
    """The first `limit` rows after the header of a report's bytes (reading no further)."""
    reader = csv.reader(io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", newline=""))
    return [tuple(row) for row in itertools.islice(reader, 1, limit + 1)]


def _summary(parts: Iterable[ReportPart], match_report: bytes, unmatched_report: bytes) -> ReportSummary:
    totals: dict[str, Counter[str]] = {column: Counter() for column in COUNTED_COLUMNS}
    matched = unmatched = 0
    for part in parts:
        matched += part.match_range[2]
        unmatched += part.unmatched_range[2]
        for column in COUNTED_COLUMNS:
            totals[column].update(part.counts[column])
    return ReportSummary(matched, unmatched, totals, _head(match_report), _head(unmatched_report))


def summary_of_reports(match_report: bytes, unmatched_report: bytes) -> ReportSummary:
    """The summary of reports read from disk, with no record of their parts."""
    matches = read_match_rows(match_report[len(MATCH_HEADER) :].decode("utf-8"))
    unmatched = read_unmatched_rows(unmatched_report[len(UNMATCHED_HEADER) :].decode("utf-8"))
    return _summary([_part_facts("", matches, unmatched)], match_report, unmatched_report)


_TICKER, _PATH, _REGION, _PRICE_END = (
    MATCH_COLUMNS.index(name) for name in ("matched_ticker", "stooq_path", "region", "price_end")
)


def _part_facts(name: str, matches: list[MatchRow], unmatched: list[tuple[str, ...]]) -> ReportPart:
    """A part's files, tickers, newest dates and counts, from its rows (ranges left empty)."""
    rows = [row.cells for row in matches]
    tickers: dict[str, str] = {}
    for cells in rows:
        tickers.setdefault(cells[_TICKER], cells[_PATH])
    counts = {
        column: dict(Counter(cells[MATCH_COLUMNS.index(column)] for cells in rows))
        for column in ("strategy", "data_status", "currency_status")
    }
    counts["reason"] = dict(Counter(cells[_REASON] for cells in unmatched))
    return ReportPart(
        name,
        "",
        0,
        (0, 0, len(matches)),
        (0, 0, len(unmatched)),
        "",
        "",
        tuple(dict.fromkeys(cells[_PATH] for cells in rows)),
        tuple(tickers.items()),
        newest_by_region((cells[_REGION], cells[_PRICE_END]) for cells in rows),
        counts,
    )


def _joined(first: ReportPart, second: ReportPart) -> ReportPart:
    """The facts of one part's rows followed by another's."""
    tickers = dict(first.tickers)
    for ticker, path in second.tickers:
        tickers.setdefault(ticker, path)
    newest = dict(first.newest)
    for region, end in second.newest.items():
        if end > newest.get(region, ""):
            newest[region] = end
    counts = {
        column: dict(Counter(first.counts[column]) + Counter(second.counts[column])) for column in COUNTED_COLUMNS
    }
    return replace(
        first,
        match_range=(0, 0, first.match_range[2] + second.match_range[2]),
        unmatched_range=(0, 0, first.unmatched_range[2] + second.unmatched_range[2]),
        files=tuple(dict.fromkeys((*first.files, *second.files))),
        tickers=tuple(tickers.items()),
        newest=newest,
        counts=counts,
    )


@dataclass
class _ListWork:
    """One broker list of the universe, and what its part needs."""

    name: str
    universe_rows: bytes
    universe_hash: str
    kept: ReportPart | None
    """Its part on disk, to copy (its universe rows are those it was made from, or those
    followed by new ones); None when its rows are made again."""
    pending: list[Instrument]
    """The rows to match and make: the new rows of a grown list, every row of a made one."""
    outcomes: list[Match | Unmatched] = field(default_factory=list)
    refreshed: bool = False
    """Set when its matched rows were made again with new diagnostics."""


@dataclass
class _PreviousReports:
    """The reports on disk when the step starts, read before anything replaces them."""

    match_path: Path
    unmatched_path: Path
    match_report: bytes | None = None
    unmatched_report: bytes | None = None
    warning: str | None = None
    _by_list: dict[str, tuple[list[MatchRow], list[tuple[str, ...]]]] | None = None

    @classmethod
    def read(cls, match_path: Path, unmatched_path: Path) -> _PreviousReports:
        previous = cls(match_path, unmatched_path)
        try:
            previous.match_report, previous.unmatched_report = match_path.read_bytes(), unmatched_path.read_bytes()
        except FileNotFoundError:
            previous.match_report = previous.unmatched_report = None
        except OSError as error:
            previous.match_report = previous.unmatched_report = None
            previous.warning = (
                f"the previous reports cannot be read ({error}): the change record has nothing to compare with"
            )
        return previous

    def rows_by_list(self) -> dict[str, tuple[list[MatchRow], list[tuple[str, ...]]]] | None:
        """Every row of the reports by broker list (None when they cannot be read: a warning says so)."""
        if self._by_list is not None or self.match_report is None or self.warning is not None:
            return self._by_list
        try:
            matches, unmatched = read_match_report(self.match_path), read_unmatched_report(self.unmatched_path)
        except (OSError, ValueError) as error:
            self.warning = (
                f"the previous reports cannot be read ({error}): the change record has nothing to compare with"
            )
            return None
        by_list: dict[str, tuple[list[MatchRow], list[tuple[str, ...]]]] = {}
        for row in matches:
            by_list.setdefault(row["source_file"], ([], []))[0].append(row)
        for cells in unmatched:
            by_list.setdefault(cells[UNMATCHED_COLUMNS.index("source_file")], ([], []))[1].append(cells)
        self._by_list = by_list
        return by_list


@dataclass(frozen=True)
class BuiltReports:
    match_report: bytes
    unmatched_report: bytes
    parts: ReportParts
    changes: ChangeSet
    summary: ReportSummary
    export_view: list[tuple[str, str, str]]
    """(export file name, stooq_path, data_status) of the first row of each matched ticker."""
    rows_made: int
    rows_refreshed: int


def _split_universe(universe: bytes) -> list[tuple[str, bytes]]:
    """Each list's universe rows (as the universe writes them), found by reading every row:
    when no record of the universe's parts holds for these bytes."""
    instruments = read_universe_rows(universe[len(UNIVERSE_HEADER) :].decode("utf-8"))
    return [
        (name, render_csv_rows(item.as_row() for item in group).encode("utf-8"))
        for name, group in itertools.groupby(instruments, key=lambda item: item.source_file)
    ]


class PartsPlan:
    """What each list of the universe needs, decided before anything is matched."""

    def __init__(
        self,
        lists: list[_ListWork],
        prior: ReportParts | None,
        previous: _PreviousReports,
        instruments_read: int,
        record_warning: str | None = None,
    ) -> None:
        self.lists = lists
        self.prior = prior
        self.record_warning = record_warning
        """Set when the record of the reports' parts was damaged."""
        self.previous = previous
        self.instruments_read = instruments_read
        """Universe rows read: every row of a made list, the new rows of a grown one."""

    @property
    def warning(self) -> str | None:
        return self.previous.warning

    def match(
        self, index_path: Path, index_version: str, cache_path: Path, force: bool, instrument_count: int
    ) -> MatchOutcomes:
        """Match every pending row; returns the outcomes' counts (reused: every other row)."""
        pending = [item for work in self.lists for item in work.pending]
        if self.prior is not None and len(pending) <= _WITHOUT_CACHE_LIMIT:
            matched = match_without_cache(pending, index_path)
        else:
            every_list_made = all(work.kept is None for work in self.lists)
            matched = match_with_cache(
                pending, index_path, index_version, cache_path, force=force, whole_universe=every_list_made
            )
        at = 0
        for work in self.lists:
            work.outcomes = matched.outcomes[at : at + len(work.pending)]
            at += len(work.pending)
        return MatchOutcomes([], instrument_count - matched.rematched, matched.rematched, matched.warning)

    def matched_paths(self) -> list[str]:
        """Every matched file, in the order it first appears in the match report."""
        paths: dict[str, None] = {}
        for work in self.lists:
            if work.kept is not None:
                paths.update(dict.fromkeys(work.kept.files))
            paths.update(dict.fromkeys(o.entry.relative_path for o in work.outcomes if isinstance(o, Match)))
        return list(paths)

    def summary_unchanged(self) -> ReportSummary:
        """The summary of the reports on disk, when they are reused as they are."""
        match_report, unmatched_report = self.previous.match_report or b"", self.previous.unmatched_report or b""
        if self.prior is not None:
            return _summary(self.prior.parts, match_report, unmatched_report)
        return summary_of_reports(match_report, unmatched_report)

    def build(self, diagnostics: Mapping[str, Diagnostics], policy: str, index_hash: str) -> BuiltReports:
        return _Builder(self, diagnostics, policy).build(index_hash)


def plan_parts(
    universe: bytes,
    universe_parts: UniverseParts | None,
    previous_paths: tuple[Path, Path],
    parts_path: Path,
    parts_version: str,
    index_hash: str,
    policy: str,
    force: bool,
) -> PartsPlan:
    """Decide, list by list, what can be kept of the reports on disk."""
    previous = _PreviousReports.read(*previous_paths)
    prior, record_warning = None, None
    if not force and previous.match_report is not None and previous.unmatched_report is not None:
        prior, record_warning = load_report_parts(
            parts_path, parts_version, previous.match_report, previous.unmatched_report
        )
        if prior is not None and (prior.index_hash, prior.policy) != (index_hash, policy):
            prior = None  # made with another index or policy: every match or currency may move
    if universe_parts is not None:
        lists = [(p.name, universe[p.start : p.start + p.length], p.rows_hash) for p in universe_parts.parts]
    else:
        lists = [(name, rows, content_hash(rows)) for name, rows in _split_universe(universe)]
    if len({name for name, _, _ in lists}) != len(lists):
        prior = None  # a list's rows in two places (an edited universe): nothing is kept
    recorded = prior.by_name() if prior is not None else {}
    works, read = [], 0
    for name, rows, rows_hash in lists:
        kept = recorded.get(name)
        if kept is not None and kept.universe_hash == rows_hash:
            works.append(_ListWork(name, rows, rows_hash, kept, []))
        elif (
            kept is not None
            and len(rows) > kept.universe_length
            and content_hash(memoryview(rows)[: kept.universe_length]) == kept.universe_hash
        ):
            new_rows = read_universe_rows(rows[kept.universe_length :].decode("utf-8"))
            works.append(_ListWork(name, rows, rows_hash, kept, new_rows))
            read += len(new_rows)
        else:
            everything = read_universe_rows(rows.decode("utf-8"))
            works.append(_ListWork(name, rows, rows_hash, None, everything))
            read += len(everything)
    return PartsPlan(works, prior, previous, read, record_warning)


def _identity(cells: tuple[str, ...] | MatchRow) -> tuple[str, str, str]:
    """(symbol, isin, market): with the list, who an instrument is."""
    row = cells.cells if isinstance(cells, MatchRow) else cells
    return row[0], row[1], row[2]


def _rendered_identity(symbol: str, isin: str, market: str) -> bytes:
    """How a row with this identity starts in a report or the universe."""
    return render_csv_rows([[symbol, isin, market, ""]]).encode("utf-8")[:-1]  # up to the comma after market


# Beyond this many identities, reading the rows costs less than searching their bytes for each.
_SEARCHED_IDENTITIES = 16


def _may_hold(rows: bytes, identities: Collection[tuple[str, str, str]]) -> bool:
    """Whether some row of `rows` (report rows) may have one of these identities: a row
    starts at the beginning or after a line break with the identity's cells."""
    if len(identities) > _SEARCHED_IDENTITIES:
        return True
    for identity in identities:
        start = _rendered_identity(*identity)
        if rows.startswith(start) or b"\n" + start in rows:
            return True
    return False


class _Builder:
    """The parts made from a plan, with what changed."""

    def __init__(self, plan: PartsPlan, diagnostics: Mapping[str, Diagnostics], policy: str) -> None:
        self.plan = plan
        self.diagnostics = diagnostics
        self.policy = policy
        self.prior = plan.prior
        self.old_match = plan.previous.match_report or b""
        self.old_unmatched = plan.previous.unmatched_report or b""
        self.rows_made = self.rows_refreshed = 0
        # Comparisons, run once the newest price_end of each region after is known.
        self.compare_made: list[tuple[str, list[MatchRow], list[tuple[str, ...]]]] = []
        self.compare_refreshed: list[tuple[list[MatchRow], list[MatchRow]]] = []
        self.kept_for_stalled: list[ReportPart] = []
        self.added: list[tuple[ReportPart, list[MatchRow], list[tuple[str, ...]]]] = []

    def _slice(self, data: bytes, span: tuple[int, int, int]) -> bytes:
        return data[span[0] : span[0] + span[1]]

    def _old_rows(self, part: ReportPart) -> tuple[list[MatchRow], list[tuple[str, ...]]]:
        return (
            read_match_rows(self._slice(self.old_match, part.match_range).decode("utf-8")),
            read_unmatched_rows(self._slice(self.old_unmatched, part.unmatched_range).decode("utf-8")),
        )

    def _files_moved(self, part: ReportPart) -> bool:
        assert self.prior is not None
        recorded = self.prior.diagnostics
        return any(diagnostics_cells(self.diagnostics[path]) != recorded.get(path) for path in part.files)

    def _kept(self, work: _ListWork) -> tuple[bytes, bytes, ReportPart]:
        """A kept or grown list's part: copied (refreshed when its files moved), then its new rows."""
        kept = work.kept
        assert kept is not None
        match_bytes = self._slice(self.old_match, kept.match_range)
        unmatched_bytes = self._slice(self.old_unmatched, kept.unmatched_range)
        facts = kept
        if self._files_moved(kept):
            work.refreshed = True
            old_rows = read_match_rows(match_bytes.decode("utf-8"))
            new_rows = [with_diagnostics(row, self.diagnostics[row["stooq_path"]]) for row in old_rows]
            match_bytes = render_match_rows(new_rows).encode("utf-8")
            self.rows_refreshed += len(new_rows)
            self.compare_refreshed.append((old_rows, new_rows))
            refreshed = _part_facts(kept.name, new_rows, [])
            counts = {**refreshed.counts, "reason": kept.counts["reason"]}
            facts = replace(refreshed, unmatched_range=kept.unmatched_range, counts=counts)
        else:
            self.kept_for_stalled.append(kept)
        if work.pending:
            reports = build_reports(work.pending, work.outcomes, self.diagnostics.__getitem__, self.policy)
            self.rows_made += len(work.pending)
            match_bytes += render_match_rows(reports.matches).encode("utf-8")
            unmatched_bytes += render_unmatched_rows(reports.unmatched).encode("utf-8")
            facts = _joined(facts, _part_facts(kept.name, reports.matches, reports.unmatched))
            self.added.append((kept, reports.matches, reports.unmatched))
        return match_bytes, unmatched_bytes, facts

    def _made(self, work: _ListWork) -> tuple[bytes, bytes, ReportPart]:
        reports = build_reports(work.pending, work.outcomes, self.diagnostics.__getitem__, self.policy)
        self.rows_made += len(work.pending)
        self.compare_made.append((work.name, reports.matches, reports.unmatched))
        facts = _part_facts(work.name, reports.matches, reports.unmatched)
        return (
            render_match_rows(reports.matches).encode("utf-8"),
            render_unmatched_rows(reports.unmatched).encode("utf-8"),
            facts,
        )

    def build(self, index_hash: str) -> BuiltReports:
        match_pieces, unmatched_pieces = [MATCH_HEADER], [UNMATCHED_HEADER]
        match_at, unmatched_at = len(MATCH_HEADER), len(UNMATCHED_HEADER)
        parts = []
        for work in self.plan.lists:
            match_bytes, unmatched_bytes, facts = self._kept(work) if work.kept is not None else self._made(work)
            kept = work.kept
            parts.append(
                replace(
                    facts,
                    name=work.name,
                    universe_hash=work.universe_hash,
                    universe_length=len(work.universe_rows),
                    match_range=(match_at, len(match_bytes), facts.match_range[2]),
                    unmatched_range=(unmatched_at, len(unmatched_bytes), facts.unmatched_range[2]),
                    # The hash of each part: the one on record when its bytes were copied as they were.
                    match_hash=kept.match_hash
                    if kept is not None and len(match_bytes) == kept.match_range[1] and not work.refreshed
                    else content_hash(match_bytes),
                    unmatched_hash=kept.unmatched_hash
                    if kept is not None and len(unmatched_bytes) == kept.unmatched_range[1]
                    else content_hash(unmatched_bytes),
                )
            )
            match_pieces.append(match_bytes)
            unmatched_pieces.append(unmatched_bytes)
            match_at += len(match_bytes)
            unmatched_at += len(unmatched_bytes)
        match_report, unmatched_report = b"".join(match_pieces), b"".join(unmatched_pieces)
        files = dict.fromkeys(path for part in parts for path in part.files)
        record = ReportParts(
            index_hash,
            self.policy,
            content_hash(match_report),
            content_hash(unmatched_report),
            {path: diagnostics_cells(self.diagnostics[path]) for path in files},
            parts,
        )
        tickers: dict[str, str] = {}
        for part in parts:
            for ticker, path in part.tickers:
                tickers.setdefault(ticker, path)
        view = [(export_file_name(t), path, self.diagnostics[path].data_status) for t, path in tickers.items()]
        return BuiltReports(
            match_report,
            unmatched_report,
            record,
            self._changes(parts),
            _summary(parts, match_report, unmatched_report),
            view,
            self.rows_made,
            self.rows_refreshed,
        )

    def _newest_before(self) -> dict[str, str] | None:
        """The newest price_end of each region in the reports on disk (None: nothing to compare with)."""
        if self.prior is not None:
            newest: dict[str, str] = {}
            for part in self.prior.parts:
                for region, end in part.newest.items():
                    if end > newest.get(region, ""):
                        newest[region] = end
            return newest
        by_list = self.plan.previous.rows_by_list()
        if by_list is None:
            return None
        return newest_by_region((row["region"], row["price_end"]) for rows, _ in by_list.values() for row in rows)

    def _old_rows_of(self, name: str) -> tuple[list[MatchRow], list[tuple[str, ...]]]:
        if self.prior is not None:
            part = self.prior.by_name().get(name)
            return self._old_rows(part) if part is not None else ([], [])
        by_list = self.plan.previous.rows_by_list() or {}
        return by_list.get(name, ([], []))

    def _changes(self, parts: list[ReportPart]) -> ChangeSet:
        before = self._newest_before()
        if before is None:
            return ChangeSet(compared=False)
        after: dict[str, str] = {}
        for part in parts:
            for region, end in part.newest.items():
                if end > after.get(region, ""):
                    after[region] = end
        newest = (before, after)
        moved = {region for region, end in after.items() if end > before.get(region, "")}
        changes: list[Change] = []
        for name, matches, unmatched in self.compare_made:
            old_matches, old_unmatched = self._old_rows_of(name)
            old = instrument_states(old_matches, old_unmatched)
            changes += compare_states(old, instrument_states(matches, unmatched), newest).changes
        for old_rows, new_rows in self.compare_refreshed:
            changes += compare_states(instrument_states(old_rows, []), instrument_states(new_rows, []), newest).changes
        for kept in self.kept_for_stalled:
            if moved & set(kept.newest):
                old_rows = read_match_rows(self._slice(self.old_match, kept.match_range).decode("utf-8"))
                states = instrument_states(old_rows, [])
                changes += compare_states(states, states, newest).changes
        for kept, matches, unmatched in self.added:
            changes += self._added(kept, matches, unmatched)
        universe_names = {work.name for work in self.plan.lists}
        gone = (
            [part.name for part in self.prior.parts]
            if self.prior is not None
            else list(self.plan.previous.rows_by_list() or {})
        )
        for name in gone:
            if name not in universe_names:
                old_matches, old_unmatched = self._old_rows_of(name)
                changes += compare_states(instrument_states(old_matches, old_unmatched), [], newest).changes
        changes.sort(key=change_order)
        return ChangeSet(True, tuple(changes))

    def _added(self, kept: ReportPart, matches: list[MatchRow], unmatched: list[tuple[str, ...]]) -> list[Change]:
        """The new rows of a grown list, `added`, each numbered after its repeats on disk."""
        earlier: Counter[tuple[str, str, str]] = Counter()
        for rows, span, report in (
            (matches, kept.match_range, self.old_match),
            (unmatched, kept.unmatched_range, self.old_unmatched),
        ):
            on_disk = self._slice(report, span)
            identities = {_identity(row) for row in rows}
            if rows and _may_hold(on_disk, identities):
                text = on_disk.decode("utf-8")
                old = read_match_rows(text) if report is self.old_match else read_unmatched_rows(text)
                earlier.update(identity for row in old if (identity := _identity(row)) in identities)
        added = []
        for state in instrument_states(matches, unmatched):
            key = state.key
            repeats = earlier[key.symbol, key.isin, key.market]
            added.append(Change("added", replace(key, occurrence=key.occurrence + repeats), ticker=state.ticker))
        return added
