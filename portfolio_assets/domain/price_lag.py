"""Prices that stopped: how far a matched instrument's price_end lags its region.

A region's newest price_end is the latest price_end of the matched rows of the
match report in that region. An instrument's lag is the number of business days
after its price_end up to and including that newest date: the days its file
misses. Business days are Monday to Friday; there is no holiday calendar (a
market holiday counts as a business day).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from .reports import MatchRow

__all__ = ["PriceLag", "business_days_after", "lagging_prices", "newest_by_region"]


@dataclass(frozen=True, slots=True)
class PriceLag:
    row: MatchRow
    region_newest: str
    business_days: int


def _weekdays_through(day: date) -> int:
    """Monday-to-Friday days from an arbitrary Monday up to and including `day`."""
    days = day.toordinal() - 1  # ordinal 1 (0001-01-01) is a Monday: 0 is Monday here
    weeks, weekday = divmod(days, 7)
    return weeks * 5 + min(weekday + 1, 5)


def business_days_after(start: date, end: date) -> int:
    """Monday-to-Friday days d with start < d <= end (0 when end is not after start)."""
    return max(0, _weekdays_through(end) - _weekdays_through(start))


def newest_by_region(price_ends: Iterable[tuple[str, str]]) -> dict[str, str]:
    """The latest of the (region, price_end) pairs in each region; empty dates count for nothing."""
    newest: dict[str, str] = {}
    for region, price_end in price_ends:
        if price_end and price_end > newest.get(region, ""):
            newest[region] = price_end
    return newest


def lagging_prices(matches: list[MatchRow], max_business_days: int) -> list[PriceLag]:
    """Matched rows with a price_end more than `max_business_days` behind their region's
    newest, most lagging first (rows without a price_end have no prices to lag)."""
    newest = newest_by_region((row["region"], row["price_end"]) for row in matches)
    lags = []
    for row in matches:
        if not row["price_end"]:
            continue
        region_newest = newest[row["region"]]
        days = business_days_after(date.fromisoformat(row["price_end"]), date.fromisoformat(region_newest))
        if days > max_business_days:
            lags.append(PriceLag(row, region_newest, days))
    lags.sort(key=lambda lag: -lag.business_days)
    return lags
