"""Rows appended to a price file, read on their own, give exactly what reading the whole
file gives: the same diagnostics and counts, and the earlier export followed by the new rows."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from portfolio_assets.domain.exports import EXPORT_HEADER_LINE
from portfolio_assets.domain.price_scan import (
    appended_bytes,
    appended_export_rows,
    export_from_bytes,
    scan_appended,
    scan_bytes,
)

from .test_price_scan import HEADER, line_ends, odd_lines, rows

START = date(2020, 1, 1)


def _row(day: int, close: str = "10.5", volume: str = "1000") -> str:
    return f"AAPL.US,D,{(START + timedelta(days=day)).strftime('%Y%m%d')},000000,1,2,0.5,{close},{volume},0"


# Mostly rows dated after the file's last row (the daily update), some anything at all.
later_rows = st.builds(
    _row, st.integers(400, 800), st.sampled_from(["10.5", "0", "-1", "x", ""]), st.sampled_from(["1000", "0", ""])
)
earlier_rows = st.builds(_row, st.integers(0, 399))
# A daily update of several days, some repeated: sorted, so still in order.
later_days = st.lists(st.tuples(st.integers(400, 410), st.sampled_from(["1", "0"])), max_size=12).map(
    lambda days: [_row(day, volume=volume) for day, volume in sorted(days)]
)


def export_from_offset(data: bytes, offset: int) -> bytes:
    """The export price_exports copies for a file whose `FileScan.export_offset` is `offset`
    (`incremental/export_sync.py`): the header line, then the file's bytes from there."""
    return EXPORT_HEADER_LINE + data[offset:]


def _check(earlier: bytes, appended: bytes) -> tuple[bool, bool]:
    """Compare reading the appended bytes alone with reading the whole file; returns
    whether the counts and the export could be extended."""
    whole = earlier + appended
    part = appended_bytes(whole, len(earlier))
    assert (part is not None) == (len(earlier) > 0 and earlier.endswith(b"\n"))
    before = scan_bytes(earlier)
    if before.export_offset is not None:
        assert export_from_offset(earlier, before.export_offset) == export_from_bytes(earlier).encode()
    if part is None or before.counts is None:
        return False, False
    counts = scan_appended(before.counts, part)
    after = scan_bytes(whole)
    if counts is not None:
        assert counts == after.counts
        assert counts.diagnostics() == after.diagnostics
    rows_added = appended_export_rows(part)
    if after.export_offset is not None:
        assert export_from_offset(whole, after.export_offset) == export_from_bytes(whole).encode()
    if rows_added is not None:
        assert export_from_bytes(earlier).encode() + rows_added == export_from_bytes(whole).encode()
    return counts is not None, rows_added is not None


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.one_of(earlier_rows, earlier_rows, rows, odd_lines), max_size=25),
    st.lists(st.one_of(later_rows, later_rows, later_rows, rows, odd_lines), max_size=25),
    line_ends,
    line_ends,
    st.booleans(),
    st.booleans(),
)
def test_appended_rows_read_alone_agree_with_the_whole_file(
    before: list[str], after: list[str], end: str, new_end: str, header: bool, final: bool
) -> None:
    earlier = (end.join(([HEADER] if header else []) + before) + (end if final else "")).encode()
    appended = (new_end.join(after) + (new_end if after else "")).encode()
    _check(earlier, appended)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(earlier_rows, min_size=1, max_size=20).map(sorted),
    later_days,
    st.sampled_from(["\n", "\r\n"]),
    st.booleans(),
)
def test_sorted_daily_updates_are_extended(before: list[str], after: list[str], end: str, header: bool) -> None:
    earlier = (end.join(([HEADER] if header else []) + before) + end).encode()
    appended = "".join(row + end for row in after).encode()
    assert _check(earlier, appended) == (True, True)


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 300), st.integers(0, 150), st.sampled_from(["\n", "\r\n"]))
def test_a_daily_update_is_read_from_its_new_rows(old_rows: int, new_rows: int, end: str) -> None:
    earlier = end.join([HEADER, *(_row(day) for day in range(old_rows))]) + end
    appended = "".join(_row(day) + end for day in range(old_rows, old_rows + new_rows))
    assert _check(earlier.encode(), appended.encode()) == (True, True)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.binary(max_size=200))
def test_any_bytes_appended_to_any_file(earlier: bytes, appended: bytes) -> None:
    _check(earlier, appended)
    _check(earlier + b"\n", appended)


def test_what_forces_reading_the_whole_file() -> None:
    earlier = "\n".join([HEADER, _row(0), _row(5)]).encode() + b"\n"
    counts = scan_bytes(earlier).counts
    assert counts is not None
    assert scan_appended(counts, (_row(5) + "\n").encode()) is None  # could repeat a date
    assert scan_appended(counts, (_row(3) + "\n").encode()) is None  # goes back in time
    assert scan_appended(counts, (_row(9) + "\n" + _row(7) + "\n").encode()) is None  # out of order
    assert scan_appended(counts, b"\xff\n") is None  # not UTF-8
    assert appended_bytes(earlier[:-1] + b"A,D", len(earlier) - 1) is None  # the last line continues
    back = scan_bytes("\n".join([HEADER, _row(5), _row(0)]).encode() + b"\n").counts
    assert back is not None and scan_appended(back, (_row(9) + "\n").encode()) is None  # dates went back before
    empty = scan_bytes(HEADER.encode() + b"\n").counts
    assert empty is not None and scan_appended(empty, (_row(9) + "\n").encode()) is None  # no rows yet
    extended = scan_appended(counts, (_row(9) + "\n").encode())
    assert extended is not None and extended.rows == 3 and extended.last == "20200110"
