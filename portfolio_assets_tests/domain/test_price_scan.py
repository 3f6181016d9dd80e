"""The fast reading of price files agrees with the exact row-by-row rules, always."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from portfolio_assets.domain.diagnostics import diagnose
from portfolio_assets.domain.exports import render_export
from portfolio_assets.domain.price_files import price_lines_from_bytes
from portfolio_assets.domain.price_scan import clean_body, diagnose_bytes, export_from_bytes

HEADER = "<TICKER>,<PER>,<DATE>,<TIME>,<OPEN>,<HIGH>,<LOW>,<CLOSE>,<VOL>,<OPENINT>"

dates = st.one_of(
    st.dates().map(lambda d: d.strftime("%Y%m%d").zfill(8)),
    st.sampled_from(
        [
            "20160230",
            "20161301",
            "2016011",
            "00000101",
            "99991231",
            "2016-01-01",
            "",
            "abcdefgh",
            "20190229",
            "19000229",
            "20000229",
            "00040229",
            "+2016011",
            "020160101",
        ]
    ),
)
numbers = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False, width=32).map(lambda x: f"{x:.4f}"),
    st.integers(-5, 10**9).map(str),
    st.sampled_from(
        ["0", "-0", "0.0", "nan", "inf", "-inf", "Infinity", "1e5", "+5", ".5", "1.", "1_000", "0x10", "", "N/A", "1,5"]
    ),
)
rows = st.builds(
    lambda t, d, c, v: f"{t},D,{d},000000,1,2,0.5,{c},{v},0", st.sampled_from(["AAPL.US", "X"]), dates, numbers, numbers
)
odd_lines = st.sampled_from(
    [
        "",
        "   ",
        "<junk>",
        "ticker,per,date,time,open,high,low,close,volume,openint",
        "A,D,20200101",
        " A,D,20200102,000000,1,2,3,4,5,6 ",
        '"A",D,20200103,0,1,2,3,4,5,6',
        "A,D,20200104,000000,1,2,3,4,5,6,7",
    ]
)
line_ends = st.sampled_from(["\n", "\r\n", "\r"])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(rows, rows, rows, odd_lines), max_size=30), line_ends, st.booleans(), st.booleans())
def test_fast_and_exact_paths_agree(lines: list[str], end: str, header: bool, final_newline: bool) -> None:
    text = end.join(([HEADER] if header else []) + lines) + (end if final_newline else "")
    data = text.encode("utf-8")
    exact_lines = price_lines_from_bytes(data)
    assert diagnose_bytes(data) == diagnose(exact_lines)
    assert export_from_bytes(data) == render_export(exact_lines)


@settings(max_examples=100, deadline=None)
@given(st.lists(rows, min_size=1, max_size=40), st.sampled_from(["\n", "\r\n"]))
def test_regular_files_take_the_fast_path(lines: list[str], end: str) -> None:
    text = end.join([HEADER, *lines]) + end
    assert clean_body(text) is not None
    assert diagnose_bytes(text.encode()) == diagnose(price_lines_from_bytes(text.encode()))


def test_export_of_a_regular_file_is_its_body_under_the_header() -> None:
    data = (
        f"{HEADER}\r\nAAPL.US,D,20240102,000000,1,2,0.5,1.5,100,0\r\nAAPL.US,D,20240103,000000,1,2,0.5,1.6,0,0".encode()
    )
    assert export_from_bytes(data) == (
        "ticker,per,date,time,open,high,low,close,volume,openint\n"
        "AAPL.US,D,20240102,000000,1,2,0.5,1.5,100,0\n"
        "AAPL.US,D,20240103,000000,1,2,0.5,1.6,0,0\n"
    )
    summary = diagnose_bytes(data)
    assert (summary.price_start, summary.price_end, summary.price_rows, summary.data_status) == (
        "2024-01-02",
        "2024-01-03",
        2,
        "warning",
    )
    assert summary.data_flags == "zero_volume=1;zero_volume_ratio=0.5000;zero_volume_severity=critical"


def test_a_header_ending_in_a_bare_carriage_return_keeps_the_first_row() -> None:
    data = f"{HEADER}\rA.US,D,20200101,000000,1,2,0.5,1.5,100,0\nA.US,D,20200102,000000,1,2,0.5,1.6,100,0\n".encode()
    assert diagnose_bytes(data).price_rows == 2
    assert "20200101" in export_from_bytes(data)


def test_undecodable_bytes() -> None:
    assert diagnose_bytes(b"\xff\xfe<TICKER>").data_status == "error:UnicodeDecodeError"
    assert export_from_bytes(b"\xff\xfe<TICKER>") == "ticker,per,date,time,open,high,low,close,volume,openint\n"


def test_reading_price_files_does_not_import_pandas() -> None:
    """pyarrow imports pandas (0.2 s a process) on `to_numpy()`, `pa.array()` or a scalar."""
    import subprocess
    import sys

    code = (
        "import sys\nfrom portfolio_assets.domain.price_scan import scan_bytes\n"
        "scan_bytes(b'A,D,20200101,0,1,2,3,4,5,6\\nA,D,20200102,0,1,2,3,5,0,6\\n')\n"
        "scan_bytes(b'A,D,20200101,0,1,2,3,4,5,6\\nA,D,2020010x,0,1,2,3,nan,x,6\\n')\n"
        "print('pandas' in sys.modules)\n"
    )
    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert ran.stdout.strip() == "False"
