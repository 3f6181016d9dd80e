"""What changed between two versions of the reports: every kind, as tables of small worlds."""

from __future__ import annotations

import pytest

from portfolio_assets.domain.changes import (
    ChangeCounts,
    InstrumentKey,
    InstrumentState,
    compare_reports,
    compare_states,
    total_counts,
)
from portfolio_assets.domain.reports import MATCH_COLUMNS, MatchRow, Reports


def matched(
    symbol: str,
    ticker: str | None = None,
    *,
    path: str | None = None,
    region: str = "us",
    data: str = "ok",
    currency: str = "match",
    end: str = "2024-01-04",
    occurrence: int = 1,
) -> InstrumentState:
    ticker = ticker or f"{symbol}.US"
    return InstrumentState(
        InstrumentKey("broker_a.csv", symbol, "NSQ", f"US-{symbol}", occurrence),
        True,
        ticker=ticker,
        stooq_path=path or f"{region}/{ticker.lower()}.txt",
        region=region,
        data_status=data,
        currency_status=currency,
        price_end=end,
    )


def unmatched(symbol: str, reason: str = "manual_review", occurrence: int = 1) -> InstrumentState:
    return InstrumentState(
        InstrumentKey("broker_a.csv", symbol, "NSQ", f"US-{symbol}", occurrence), False, reason=reason
    )


def found(before: list[InstrumentState] | None, after: list[InstrumentState]) -> list[tuple[str, ...]]:
    """The changes as (kind, symbol, column, from, to, ticker)."""
    changes = compare_states(before, after).changes
    return [(c.kind, c.instrument.symbol, c.column, c.before, c.after, c.ticker) for c in changes]


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        pytest.param([matched("A")], [matched("A")], [], id="nothing"),
        pytest.param([], [matched("A")], [("added", "A", "", "", "", "A.US")], id="added-matched"),
        pytest.param([], [unmatched("A")], [("added", "A", "", "", "", "")], id="added-unmatched"),
        pytest.param(
            [matched("A"), unmatched("B")],
            [],
            [("removed", "A", "", "", "", "A.US"), ("removed", "B", "", "", "", "")],
            id="removed",
        ),
        pytest.param(
            [unmatched("A")], [matched("A")], [("matched", "A", "", "manual_review", "A.US", "A.US")], id="matched"
        ),
        pytest.param(
            [matched("A")],
            [unmatched("A", "no_source_data(.US)")],
            [("unmatched", "A", "", "A.US", "no_source_data(.US)", "A.US")],
            id="unmatched",
        ),
        pytest.param([unmatched("A")], [unmatched("A", "ambiguous_variants")], [], id="another-reason-is-no-change"),
        pytest.param(
            [matched("A")],
            [matched("A", "A.UK", region="uk")],
            [("rematched", "A", "matched_ticker", "A.US", "A.UK", "A.UK")],
            id="rematched-ticker",
        ),
        pytest.param(
            [matched("A", path="us/1/a.us.txt")],
            [matched("A", path="us/0/a.us.txt")],
            [("rematched", "A", "stooq_path", "us/1/a.us.txt", "us/0/a.us.txt", "A.US")],
            id="rematched-path",
        ),
        pytest.param(
            [matched("A")],
            [matched("A", data="empty", end="")],
            [("status_changed", "A", "data_status", "ok", "empty", "A.US")],
            id="emptied-file",
        ),
        pytest.param(
            [matched("A")],
            [matched("A", currency="mismatch")],
            [("status_changed", "A", "currency_status", "match", "mismatch", "A.US")],
            id="currency-status",
        ),
        pytest.param(
            [matched("A")],
            [matched("A", data="warning", currency="override")],
            [
                ("status_changed", "A", "currency_status", "match", "override", "A.US"),
                ("status_changed", "A", "data_status", "ok", "warning", "A.US"),
            ],
            id="both-statuses",
        ),
        pytest.param(
            [matched("A")],
            [matched("A", end="2024-01-05")],
            [("prices_extended", "A", "price_end", "2024-01-04", "2024-01-05", "A.US")],
            id="extended",
        ),
        pytest.param(
            [matched("A", end="2024-01-05")], [matched("A", end="2024-01-04")], [], id="earlier-is-not-extended"
        ),
        pytest.param(
            [matched("A"), matched("B")],
            [matched("A", end="2024-01-05"), matched("B")],
            [
                ("prices_extended", "A", "price_end", "2024-01-04", "2024-01-05", "A.US"),
                ("prices_stalled", "B", "price_end", "2024-01-04", "2024-01-05", "B.US"),
            ],
            id="stalled-while-its-region-moved",
        ),
        pytest.param(
            [matched("A"), matched("B", region="uk")],
            [matched("A", end="2024-01-05"), matched("B", region="uk")],
            [("prices_extended", "A", "price_end", "2024-01-04", "2024-01-05", "A.US")],
            id="another-region-moving-stalls-nothing",
        ),
        pytest.param(
            [matched("A"), matched("B", end="2024-01-03")],
            [matched("A", data="empty", end=""), matched("B", end="2024-01-03")],
            [("status_changed", "A", "data_status", "ok", "empty", "A.US")],
            id="region-newest-moving-back-stalls-nothing",
        ),
        pytest.param(
            [matched("A"), matched("B")],
            [matched("A", end="2024-01-05"), matched("B", "B.UK", region="us")],
            [
                ("rematched", "B", "matched_ticker", "B.US", "B.UK", "B.UK"),
                ("prices_extended", "A", "price_end", "2024-01-04", "2024-01-05", "A.US"),
            ],
            id="a-rematched-file-is-not-compared-for-prices",
        ),
        pytest.param(
            [matched("A", occurrence=1), matched("A", occurrence=2)],
            [matched("A", occurrence=1)],
            [("removed", "A", "", "", "", "A.US")],
            id="one-of-two-repeats-removed",
        ),
    ],
)
def test_every_kind_of_change(
    before: list[InstrumentState] | None, after: list[InstrumentState], expected: list[tuple[str, ...]]
) -> None:
    assert sorted(found(before, after)) == sorted(expected)


def test_nothing_to_compare_with_is_said_not_counted_as_added() -> None:
    changes = compare_states(None, [matched("A")])
    assert not changes.compared and changes.changes == ()
    assert changes.counts.summary().startswith("nothing to compare with")


def test_changes_come_in_kind_order_then_by_instrument() -> None:
    changes = compare_states(
        [matched("B"), matched("Z")], [matched("A"), matched("B", data="empty", end=""), matched("C")]
    )
    assert [(c.kind, c.instrument.symbol) for c in changes.changes] == [
        ("added", "A"),
        ("added", "C"),
        ("removed", "Z"),
        ("status_changed", "B"),
    ]


def row(**cells: str) -> MatchRow:
    return MatchRow(tuple(cells.get(column, "") for column in MATCH_COLUMNS))


def test_exact_repeats_are_numbered_in_report_order() -> None:
    apple = {"symbol": "AAPL", "isin": "US0378331005", "market": "NSQ", "source_file": "broker_a.csv"}
    before = Reports(
        [
            row(**apple, matched_ticker="AAPL.US", stooq_path="us/aapl.us.txt", region="us", data_status="ok"),
            row(**apple, matched_ticker="AAPL.US", stooq_path="us/aapl.us.txt", region="us", data_status="ok"),
        ],
        [("NOPE", "US000", "NSQ", "Nothing", "", "broker_a.csv", "manual_review")],
    )
    after = Reports(before.matches[:1], [])
    changes = compare_reports(before, after)
    assert [(c.kind, c.instrument.symbol, c.instrument.occurrence) for c in changes.changes] == [
        ("removed", "AAPL", 2),
        ("removed", "NOPE", 1),
    ]
    assert changes.changes[0].instrument.describe() == "AAPL #2 (NSQ, US0378331005) in broker_a.csv"


@pytest.mark.parametrize(
    ("counts", "line"),
    [
        (ChangeCounts(True, {}), "no changes"),
        (
            ChangeCounts(True, {"added": 3, "removed": 1, "rematched": 2, "status_changed": 5, "prices_extended": 412}),
            "3 added, 1 removed, 2 rematched, 5 status changes, 412 prices extended",
        ),
        (
            ChangeCounts(True, {"prices_stalled": 1, "status_changed": 1, "prices_extended": 1}),
            "1 status change, 1 price extended, 1 price stalled",
        ),
        (ChangeCounts(True, {"matched": 2, "unmatched": 1}), "2 newly matched, 1 no longer matched"),
        (ChangeCounts(False), "nothing to compare with (no earlier reports, as on the first materialization)"),
    ],
)
def test_summary_line(counts: ChangeCounts, line: str) -> None:
    assert counts.summary() == line


def test_totals_over_several_materializations() -> None:
    first, later = ChangeCounts(False), ChangeCounts(True, {"added": 2})
    assert not total_counts([first]).compared
    assert (
        total_counts([first, later, ChangeCounts(True, {"added": 1, "removed": 1})]).summary() == "3 added, 1 removed"
    )
