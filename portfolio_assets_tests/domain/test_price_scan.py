"""Reading a price file's bytes (`price_scan`, vectorised where it can, row by row where
it must) gives what a plain reading of SPEC 2 and SPEC 4 gives (`reference`), always."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from portfolio_assets.domain.diagnostics import parse_number
from portfolio_assets.domain.exports import EXPORT_HEADER_LINE
from portfolio_assets.domain.price_files import data_lines, decode_price_file, export_lines, regular_rows
from portfolio_assets.domain.price_scan import export_from_bytes, scan_bytes

from .reference import reference_diagnostics, reference_export

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
        [
            *("0", "-0", "0.0", "nan", "inf", "-inf", "Infinity", "1e5", "+5", ".5", "1.", "1_000", "0x10", "", "N/A"),
            *("1,5", "1e400", "-1e400", "1e-400", "1.e5", "+.5e-3", "-NaN", "INFINITY", "infinit", "1e", "e5", "."),
        ]
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


def _check_against_reference(data: bytes) -> None:
    scan = scan_bytes(data)
    export = export_from_bytes(data)
    assert scan.diagnostics == reference_diagnostics(data)
    assert export == reference_export(data)
    if scan.export_offset is not None:  # what price_exports then copies without reading
        assert EXPORT_HEADER_LINE + data[scan.export_offset :] == export.encode()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(rows, rows, rows, odd_lines), max_size=30), line_ends, st.booleans(), st.booleans())
def test_files_of_rows_and_odd_lines_read_as_the_rules_say(
    lines: list[str], end: str, header: bool, final_newline: bool
) -> None:
    text = end.join(([HEADER] if header else []) + lines) + (end if final_newline else "")
    _check_against_reference(text.encode("utf-8"))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_any_bytes_read_as_the_rules_say(data: bytes) -> None:
    _check_against_reference(data)


# Text made of what the rules look at: digits, signs, separators, line breaks, spaces,
# quotes, a BOM, header marks, the letters of `ticker`, `inf`, `nan` and exponents.
rule_characters = st.text(alphabet=st.sampled_from(list('0123456789,,,,..+-eE\n\n\r \t"<>tickerINFnaTy\ufeffé')))


@settings(max_examples=500, deadline=None)
@given(st.lists(st.one_of(rows, rule_characters), max_size=12), st.sampled_from(["\n", "\r\n", ""]))
def test_any_text_of_the_rules_characters_reads_as_the_rules_say(parts: list[str], separator: str) -> None:
    _check_against_reference(separator.join(parts).encode("utf-8"))


@settings(max_examples=100, deadline=None)
@given(st.lists(rows, min_size=1, max_size=40), st.sampled_from(["\n", "\r\n"]))
def test_regular_files_take_the_fast_path(lines: list[str], end: str) -> None:
    text = end.join([HEADER, *lines]) + end
    assert regular_rows(text) is not None
    _check_against_reference(text.encode())


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=200), rule_characters))
def test_regular_rows_are_the_data_lines_and_the_export_lines_unchanged(text: str) -> None:
    """`regular_rows` is the line rule's shortcut: when it reads a text, the row-by-row
    functions read the same lines from it and drop none."""
    rows_text = regular_rows(text)
    if rows_text is not None:
        lines = rows_text.removesuffix("\n").split("\n")
        assert lines == list(data_lines(text)) == export_lines(lines)


@settings(max_examples=500, deadline=None)
@given(st.one_of(numbers, st.text(alphabet=st.sampled_from(list("0123456789.+-eEinfINFtyaTY_x")), max_size=10)))
def test_numbers_are_what_the_vectorised_reading_reads(value: str) -> None:
    """One number pattern for both readings: a regular file's close reads as a number
    exactly when `parse_number` reads it."""
    if "," in value:  # another column's value
        return
    data = f"{HEADER}\nA,D,20200101,000000,1,2,3,{value},5,0\nA,D,20200102,000000,1,2,3,4,5,0\n".encode()
    assert regular_rows(decode_price_file(data)) is not None
    flags = scan_bytes(data).diagnostics.data_flags
    number = parse_number(value)
    assert ("non_numeric_prices=1" in flags) == (number is None)
    assert ("non_positive_close=1" in flags) == (number is not None and number <= 0)


def test_export_of_a_regular_file_is_its_body_under_the_header() -> None:
    data = (
        f"{HEADER}\r\nAAPL.US,D,20240102,000000,1,2,0.5,1.5,100,0\r\nAAPL.US,D,20240103,000000,1,2,0.5,1.6,0,0".encode()
    )
    assert export_from_bytes(data) == (
        "ticker,per,date,time,open,high,low,close,volume,openint\n"
        "AAPL.US,D,20240102,000000,1,2,0.5,1.5,100,0\n"
        "AAPL.US,D,20240103,000000,1,2,0.5,1.6,0,0\n"
    )
    summary = scan_bytes(data).diagnostics
    assert (summary.price_start, summary.price_end, summary.price_rows, summary.data_status) == (
        "2024-01-02",
        "2024-01-03",
        2,
        "warning",
    )
    assert summary.data_flags == "zero_volume=1;zero_volume_ratio=0.5000;zero_volume_severity=critical"


def test_a_header_ending_in_a_bare_carriage_return_keeps_the_first_row() -> None:
    data = f"{HEADER}\rA.US,D,20200101,000000,1,2,0.5,1.5,100,0\nA.US,D,20200102,000000,1,2,0.5,1.6,100,0\n".encode()
    assert scan_bytes(data).diagnostics.price_rows == 2
    assert "20200101" in export_from_bytes(data)


def test_undecodable_bytes() -> None:
    assert scan_bytes(b"\xff\xfe<TICKER>").diagnostics.data_status == "error:UnicodeDecodeError"
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
