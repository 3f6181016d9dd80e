"""Property-based tests on the domain core: arbitrary input never crashes it, and its
results do not depend on what should not matter."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portfolio_assets.domain.broker_lists import Instrument, read_list_bytes
from portfolio_assets.domain.errors import BrokerListError
from portfolio_assets.domain.matching import Match, StooqLookup, bases_to_look_up, match_instrument
from portfolio_assets.domain.price_scan import export_from_bytes, scan_bytes
from portfolio_assets.domain.stooq_tree import index_entry

cells = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"], exclude_characters="\x00"), max_size=12
)
tickers = st.from_regex(r"[A-Z]{1,5}(\.(US|UK|DE|PL|HK|JP|FR|PA|NL|AS|TO|V|CH|BE|HU|CN))?", fullmatch=True)
regions = st.sampled_from(["us", "uk", "pl", "de", "hk", "jp", "world"])


def parse_broker_list(path: Path, data: bytes) -> list[Instrument]:
    return read_list_bytes(path, data).instruments


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_any_bytes_as_a_broker_list_give_instruments_or_a_named_error(data: bytes) -> None:
    try:
        instruments = parse_broker_list(Path("lists/any.csv"), data)
    except BrokerListError as error:
        assert "any.csv" in str(error)
    else:
        assert all(item.symbol and item.symbol == item.symbol.strip() for item in instruments)
        assert all(item.source_file == "any.csv" for item in instruments)


# Cells of letters, digits, spaces, quotes and commas (the CSV writer quotes what needs it):
# what matters here is which column a value lands in.
list_cells = st.text(alphabet=st.sampled_from(list("abcXYZ019 ,.:'\"éß")), max_size=10)
LOGICAL_COLUMNS = ("symbol", "isin", "market", "name", "currency")


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.lists(list_cells, min_size=6, max_size=6), max_size=8),
    st.permutations([*LOGICAL_COLUMNS, "extra"]),
    st.sampled_from([str.lower, str.upper, str.title]),
)
def test_arbitrary_broker_rows_are_read_in_any_column_order(
    rows: list[list[str]], header: list[str], case: Callable[[str], str]
) -> None:
    import csv
    import io

    buffer = io.StringIO()
    csv.writer(buffer).writerows([[case(name) for name in header], *rows])
    instruments = parse_broker_list(Path("b.csv"), buffer.getvalue().encode("utf-8"))
    expected = [
        (*(row[header.index(column)].strip() for column in LOGICAL_COLUMNS), "b.csv")
        for row in rows
        if row[header.index("symbol")].strip()
    ]
    assert [instrument.as_row() for instrument in instruments] == expected


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_any_bytes_as_a_stooq_file_give_a_status(data: bytes) -> None:
    summary = scan_bytes(data).diagnostics
    assert summary.data_status in ("ok", "warning", "sparse", "empty") or summary.data_status.startswith("error:")
    assert summary.price_rows >= 0
    assert export_from_bytes(data).startswith("ticker,per,date,time,open,high,low,close,volume,openint\n")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet="ABC,.-<0123456789 \t\r", max_size=40), max_size=20))
def test_an_export_round_trips_its_source_rows(lines: list[str]) -> None:
    data = "\n".join(lines).encode()
    exported = export_from_bytes(data).split("\n")
    assert exported[0] == "ticker,per,date,time,open,high,low,close,volume,openint" and exported[-1] == ""
    expected = [
        part.strip()
        for line in lines
        for part in line.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        if not part.startswith("<") and part.strip() and not part.strip().lower().startswith("ticker")
    ]
    assert exported[1:-1] == expected


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(regions, st.integers(1, 3), tickers), min_size=1, max_size=30, unique_by=lambda t: t[2]),
    st.sampled_from(["AAPL", "KIM:US", "ABC", "SAP", "VWRL:LN", "FB", "XYZ.PA"]),
    st.sampled_from(["NSQ", "GBR-LSE", "XETRA", "", "TOKYO"]),
    st.randoms(),
)
def test_matching_does_not_depend_on_index_order(
    files: list[tuple[str, int, str]], symbol: str, market: str, shuffle: random.Random
) -> None:
    entries = [index_entry(f"d_{r}_txt/data/daily/{r}/stocks/{b}/{t.lower()}.txt") for r, b, t in files]
    expected = match_instrument(symbol, market, StooqLookup(entries))
    shuffled = entries[:]
    shuffle.shuffle(shuffled)
    again = match_instrument(symbol, market, StooqLookup(shuffled))
    assert again == expected
    if isinstance(expected, Match):
        assert expected.entry in entries


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(regions, st.integers(1, 3), tickers), min_size=1, max_size=40, unique_by=lambda t: t[2]),
    st.sampled_from(["AAPL", "KIM:US", "ABC", "SAP", "VWRL:LN", "FB", "XYZ.PA", "LABC", "A.B"]),
    st.sampled_from(["NSQ", "GBR-LSE", "XETRA", "", "TOKYO", "WARSAW"]),
)
def test_a_lookup_of_just_the_needed_bases_matches_like_the_full_index(
    files: list[tuple[str, int, str]], symbol: str, market: str
) -> None:
    entries = [index_entry(f"d_{r}_txt/data/daily/{r}/stocks/{b}/{t.lower()}.txt") for r, b, t in files]
    full = StooqLookup(entries)
    bases = bases_to_look_up(symbol, market)
    partial = StooqLookup([e for e in entries if e.base in bases], full.extensions)
    assert match_instrument(symbol, market, partial) == match_instrument(symbol, market, full)
