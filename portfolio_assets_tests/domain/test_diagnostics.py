"""The data-quality cells of a matched file (SPEC 4): price_start/end/rows, data_status, data_flags."""

from __future__ import annotations

from pathlib import Path

import pytest

from portfolio_assets.domain.diagnostics import unread_diagnostics
from portfolio_assets.domain.price_scan import scan_bytes
from portfolio_assets.incremental.file_summaries import read_stamped

from .reference import reference_diagnostics

STOOQ_HEADER = "<TICKER>,<PER>,<DATE>,<TIME>,<OPEN>,<HIGH>,<LOW>,<CLOSE>,<VOL>,<OPENINT>"


def row(date: str, close: str = "4.861", volume: str = "60000") -> str:
    return f"AGED.UK,D,{date},000000,4.918,4.926,4.861,{close},{volume},0"


def days(count: int, zero_volume: int = 0) -> list[str]:
    """`count` rows on consecutive valid dates, the first `zero_volume` of them with volume 0."""
    from datetime import date, timedelta

    start = date(2016, 1, 1)
    return [
        row((start + timedelta(days=n)).strftime("%Y%m%d"), volume="0" if n < zero_volume else "100")
        for n in range(count)
    ]


def _cells(path: Path) -> tuple[str, str, int, str, str]:
    """The cells the package gives the file at `path`; the reference reading agrees."""
    source = read_stamped(path)
    if isinstance(source, tuple):
        result = scan_bytes(source[0]).diagnostics
        assert reference_diagnostics(source[0]) == result
    else:
        result = unread_diagnostics(source)
    return (result.price_start, result.price_end, result.price_rows, result.data_status, result.data_flags)


def _diagnose_text(tmp_path: Path, lines: list[str], ending: str = "\n") -> tuple[str, str, int, str, str]:
    path = tmp_path / "aged.uk.txt"
    path.write_bytes((ending.join(lines) + (ending if lines else "")).encode("utf-8"))
    return _cells(path)


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        pytest.param(
            [STOOQ_HEADER, row("20160104"), row("20160105"), row("20160106")],
            ("2016-01-04", "2016-01-06", 3, "ok", ""),
            id="ok",
        ),
        pytest.param([STOOQ_HEADER], ("", "", 0, "empty", ""), id="header-only"),
        pytest.param([], ("", "", 0, "empty", ""), id="zero-bytes"),
        pytest.param([STOOQ_HEADER, "", "   ", ""], ("", "", 0, "empty", ""), id="header-and-blank-lines"),
        pytest.param([STOOQ_HEADER, row("20160913")], ("2016-09-13", "2016-09-13", 1, "sparse", ""), id="sparse"),
        pytest.param(
            [STOOQ_HEADER, row("20160913", volume="0")],
            (
                "2016-09-13",
                "2016-09-13",
                1,
                "sparse",
                "zero_volume=1;zero_volume_ratio=1.0000;zero_volume_severity=critical",
            ),
            id="sparse-wins-over-warning",
        ),
        pytest.param(
            [STOOQ_HEADER, row("2016011"), row("20160913"), row("bad")],
            ("2016-09-13", "2016-09-13", 1, "sparse", "invalid_rows=2"),
            id="sparse-with-invalid-rows",
        ),
        pytest.param(
            [
                STOOQ_HEADER,
                row("20161301"),
                row("2016011"),
                row("2016-01-01"),
                row("20160230"),
                row(""),
                row("201601011"),
                row(" 2016 0101"),
                row("20160104"),
                row("20160105"),
            ],
            ("2016-01-04", "2016-01-05", 2, "warning", "invalid_rows=7"),
            id="bad-dates",
        ),
        pytest.param(
            [STOOQ_HEADER, row("20161301"), row("2016-01-01")],
            ("", "", 0, "empty", ""),
            id="only-invalid-rows-is-empty-without-flags",
        ),
        pytest.param(
            [
                STOOQ_HEADER,
                row("20160104", close="abc"),
                row("20160105", close=""),
                row("20160106", close="n/a"),
                row("20160107"),
            ],
            ("2016-01-04", "2016-01-07", 4, "warning", "non_numeric_prices=3"),
            id="non-numeric-closes",
        ),
        pytest.param(
            [
                STOOQ_HEADER,
                row("20160104", close="0"),
                row("20160105", close="-1.5"),
                row("20160106", close="0.0"),
                row("20160107", close="0.0001"),
            ],
            ("2016-01-04", "2016-01-07", 4, "warning", "non_positive_close=3"),
            id="non-positive-closes",
        ),
        pytest.param(
            [
                STOOQ_HEADER,
                row("20160104", volume=""),
                row("20160105", volume="abc"),
                "AGED.UK,D,20160106,000000,4.918,4.926,4.861,4.861",
                row("20160107"),
            ],
            ("2016-01-04", "2016-01-07", 4, "warning", "missing_volume=3"),
            id="missing-volumes",
        ),
        pytest.param(
            [STOOQ_HEADER, "AGED.UK,D,20160104", row("20160105")],
            ("2016-01-04", "2016-01-05", 2, "warning", "non_numeric_prices=1;missing_volume=1"),
            id="short-row",
        ),
        pytest.param(
            [STOOQ_HEADER, row("20160104"), row("20160104"), row("20160105")],
            ("2016-01-04", "2016-01-05", 3, "warning", "duplicate_dates"),
            id="duplicate-dates",
        ),
        pytest.param(
            [STOOQ_HEADER, row("20160105"), row("20160104"), row("20160106")],
            ("2016-01-05", "2016-01-06", 3, "warning", "non_monotonic_dates"),
            id="non-monotonic-dates",
        ),
        pytest.param(
            [STOOQ_HEADER, row("20160106"), row("20160105"), row("20160104")],
            ("2016-01-06", "2016-01-04", 3, "warning", "non_monotonic_dates"),
            id="start-and-end-in-file-order",
        ),
        pytest.param(
            [STOOQ_HEADER, row("20160104"), row("20160105"), row("20160104")],
            ("2016-01-04", "2016-01-04", 3, "warning", "duplicate_dates;non_monotonic_dates"),
            id="duplicate-and-non-monotonic",
        ),
        pytest.param(
            [
                STOOQ_HEADER,
                row("2016011"),
                row("20160105", close="abc"),
                row("20160104", close="0"),
                row("20160104", volume=""),
                row("20160106", volume="0"),
            ],
            (
                "2016-01-05",
                "2016-01-06",
                4,
                "warning",
                "invalid_rows=1;non_numeric_prices=1;non_positive_close=1;missing_volume=1;zero_volume=1;"
                "zero_volume_ratio=0.2500;zero_volume_severity=high;duplicate_dates;non_monotonic_dates",
            ),
            id="every-flag-in-order",
        ),
        pytest.param(
            [STOOQ_HEADER, row("2016011", close="abc", volume="0"), row("20160104"), row("20160105")],
            ("2016-01-04", "2016-01-05", 2, "warning", "invalid_rows=1"),
            id="invalid-rows-left-out-of-other-counts",
        ),
        pytest.param(
            ["ticker,per,date,time,open,high,low,close,volume,openint", row("20160104"), row("20160105")],
            ("2016-01-04", "2016-01-05", 2, "ok", ""),
            id="lower-case-header-row-skipped",
        ),
        pytest.param(
            ["TICKER,PER,DATE,TIME,OPEN,HIGH,LOW,CLOSE,VOLUME,OPENINT", row("20160104"), row("20160105")],
            ("2016-01-04", "2016-01-05", 2, "ok", ""),
            id="upper-case-header-row-skipped",
        ),
        pytest.param(
            [STOOQ_HEADER, row("20160104"), "ticker,per,date,time,open,high,low,close,volume,openint", row("20160105")],
            ("2016-01-04", "2016-01-05", 2, "warning", "invalid_rows=1"),
            id="header-row-not-first-is-an-invalid-row",
        ),
        pytest.param(
            [STOOQ_HEADER, "", row("20160104"), "   ", "", row("20160105"), ""],
            ("2016-01-04", "2016-01-05", 2, "ok", ""),
            id="blank-lines-are-not-rows",
        ),
        pytest.param(
            [
                STOOQ_HEADER,
                "  AGED.UK , D , 20160104 , 000000 , 1 , 1 , 1 ,  4.8 ,  0  , 0  ",
                "\tAGED.UK,D,20160105,000000,1,1,1,4.8,100,0\t",
            ],
            (
                "2016-01-04",
                "2016-01-05",
                2,
                "warning",
                "zero_volume=1;zero_volume_ratio=0.5000;zero_volume_severity=critical",
            ),
            id="fields-are-stripped",
        ),
        pytest.param(
            [STOOQ_HEADER, row("20160104", close="1e3", volume="1.5E2"), row("20160105", close="+4.5")],
            ("2016-01-04", "2016-01-05", 2, "ok", ""),
            id="numbers-in-other-notations",
        ),
    ],
)
def test_diagnostics_cells(tmp_path: Path, lines: list[str], expected: tuple[str, str, int, str, str]) -> None:
    assert _diagnose_text(tmp_path, lines) == expected


@pytest.mark.parametrize("ending", ["\n", "\r\n", "\r"])
def test_line_endings_do_not_matter(tmp_path: Path, ending: str) -> None:
    lines = [STOOQ_HEADER, row("20160104"), row("20160105", volume="0")]
    assert _diagnose_text(tmp_path, lines, ending) == (
        "2016-01-04",
        "2016-01-05",
        2,
        "warning",
        "zero_volume=1;zero_volume_ratio=0.5000;zero_volume_severity=critical",
    )


@pytest.mark.parametrize(
    ("rows", "zero_volume", "flags"),
    [
        (2, 1, "zero_volume=1;zero_volume_ratio=0.5000;zero_volume_severity=critical"),
        (3, 2, "zero_volume=2;zero_volume_ratio=0.6667;zero_volume_severity=critical"),
        (3, 3, "zero_volume=3;zero_volume_ratio=1.0000;zero_volume_severity=critical"),
        (3, 1, "zero_volume=1;zero_volume_ratio=0.3333;zero_volume_severity=high"),
        (10, 1, "zero_volume=1;zero_volume_ratio=0.1000;zero_volume_severity=high"),
        (11, 1, "zero_volume=1;zero_volume_ratio=0.0909;zero_volume_severity=moderate"),
        (100, 1, "zero_volume=1;zero_volume_ratio=0.0100;zero_volume_severity=moderate"),
        (101, 1, "zero_volume=1;zero_volume_ratio=0.0099;zero_volume_severity=low"),
        (200, 1, "zero_volume=1;zero_volume_ratio=0.0050;zero_volume_severity=low"),
        (30, 0, ""),
    ],
)
def test_zero_volume_ratio_and_severity(tmp_path: Path, rows: int, zero_volume: int, flags: str) -> None:
    cells = _diagnose_text(tmp_path, [STOOQ_HEADER, *days(rows, zero_volume)])
    assert cells[2:] == (rows, "warning" if flags else "ok", flags)


def test_zero_volume_ratio_is_over_valid_rows_only(tmp_path: Path) -> None:
    lines = [
        STOOQ_HEADER,
        row("2016-01-01", volume="0"),
        row("bad"),
        row("20160104", volume="0"),
        row("20160105"),
        row("20161301", volume="0"),
    ]
    assert _diagnose_text(tmp_path, lines)[2:] == (
        2,
        "warning",
        "invalid_rows=3;zero_volume=1;zero_volume_ratio=0.5000;zero_volume_severity=critical",
    )


def test_zero_volume_written_as_decimal(tmp_path: Path) -> None:
    lines = [STOOQ_HEADER, row("20160104", volume="0.0"), row("20160105"), row("20160106"), row("20160107")]
    assert _diagnose_text(tmp_path, lines)[4] == ("zero_volume=1;zero_volume_ratio=0.2500;zero_volume_severity=high")


def test_missing_file(tmp_path: Path) -> None:
    assert _cells(tmp_path / "gone.us.txt") == ("", "", 0, "missing_file", "")


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(f"{STOOQ_HEADER}\nCAF\xc9.FR,D,20160104,000000,1,1,1,1,1,0\n".encode("latin-1"), id="latin-1"),
        pytest.param(f"{STOOQ_HEADER}\n{row('20160104')}\n".encode("utf-16"), id="utf-16"),
        pytest.param(b"\x89PNG\r\n\x1a\n\x00\x00", id="binary"),
    ],
)
def test_undecodable_file_is_error_unicode_decode_error(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "bad.fr.txt"
    path.write_bytes(data)
    assert _cells(path) == ("", "", 0, "error:UnicodeDecodeError", "")


def test_unreadable_file_is_error_with_exception_class_name(tmp_path: Path) -> None:
    folder = tmp_path / "looks_like_a_file.us.txt"
    folder.mkdir()
    assert _cells(folder) == ("", "", 0, "error:IsADirectoryError", "")


def test_utf8_bom_is_not_an_error(tmp_path: Path) -> None:
    path = tmp_path / "bom.us.txt"
    path.write_bytes(("\ufeff" + "\n".join([STOOQ_HEADER, row("20160104"), row("20160105")]) + "\n").encode())
    assert _cells(path) == ("2016-01-04", "2016-01-05", 2, "ok", "")
