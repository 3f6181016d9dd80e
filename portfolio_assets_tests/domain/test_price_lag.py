"""Business days, and matched instruments whose prices lag their region."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from portfolio_assets.domain.price_lag import business_days_after, lagging_prices
from portfolio_assets.domain.reports import MATCH_COLUMNS, MatchRow


@pytest.mark.parametrize(
    ("start", "end", "days"),
    [
        ("2024-01-08", "2024-01-08", 0),  # Monday to itself
        ("2024-01-05", "2024-01-08", 1),  # Friday to Monday: Monday is missing
        ("2024-01-06", "2024-01-08", 1),  # Saturday to Monday
        ("2024-01-07", "2024-01-08", 1),  # Sunday to Monday
        ("2024-01-05", "2024-01-07", 0),  # Friday to Sunday: no business day missing
        ("2024-01-08", "2024-01-15", 5),  # a week
        ("2024-01-04", "2024-01-12", 6),  # Thursday to the next Friday
        ("2024-01-01", "2024-12-31", 261),  # 2024 has 262 weekdays; the first is the start
        ("2024-01-12", "2024-01-04", 0),  # the end before the start
        ("2024-12-25", "2024-12-27", 2),  # no holiday calendar: Christmas counts
    ],
)
def test_business_days_after(start: str, end: str, days: int) -> None:
    assert business_days_after(date.fromisoformat(start), date.fromisoformat(end)) == days


def test_business_days_equal_counting_weekdays_one_by_one() -> None:
    first = date(2023, 12, 25)
    for offset in range(21):
        start = first + timedelta(days=offset)
        for length in range(21):
            end = start + timedelta(days=length)
            counted = sum(1 for n in range(1, length + 1) if (start + timedelta(days=n)).weekday() < 5)
            assert business_days_after(start, end) == counted, (start, end)


def row(ticker: str, region: str, price_end: str) -> MatchRow:
    cells = {"symbol": ticker.split(".")[0], "matched_ticker": ticker, "region": region, "price_end": price_end}
    return MatchRow(tuple(cells.get(column, "") for column in MATCH_COLUMNS))


def test_a_lag_of_exactly_the_threshold_passes_and_one_more_is_listed() -> None:
    matches = [
        row("NEW.US", "us", "2024-01-12"),  # Friday: the region's newest
        row("FIVE.US", "us", "2024-01-05"),  # five business days behind
        row("SIX.US", "us", "2024-01-04"),  # six
        row("OLD.US", "us", "2023-12-01"),
        row("EMPTY.US", "us", ""),  # no prices at all: data_status says so, not this check
        row("UK.UK", "uk", "2024-01-04"),  # the newest of its own region
    ]
    lags = lagging_prices(matches, max_business_days=5)
    assert [(lag.row["matched_ticker"], lag.business_days, lag.region_newest) for lag in lags] == [
        ("OLD.US", 30, "2024-01-12"),
        ("SIX.US", 6, "2024-01-12"),
    ]
    assert [lag.row["matched_ticker"] for lag in lagging_prices(matches, max_business_days=6)] == ["OLD.US"]
    assert [lag.row["matched_ticker"] for lag in lagging_prices(matches, max_business_days=0)][-1] == "FIVE.US"
