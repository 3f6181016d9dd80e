"""Price exports (SPEC 2): which tickers get a file, its name, and its text."""

from __future__ import annotations

from pathlib import Path

import pytest

from portfolio_assets.domain.exports import plan_exports, render_export
from portfolio_assets.domain.price_files import PriceLines, read_price_lines
from portfolio_assets.domain.reports import MATCH_COLUMNS, MatchRow

HEADER = "ticker,per,date,time,open,high,low,close,volume,openint"
STOOQ_HEADER = "<TICKER>,<PER>,<DATE>,<TIME>,<OPEN>,<HIGH>,<LOW>,<CLOSE>,<VOL>,<OPENINT>"


def _match_row(ticker: str, stooq_path: str, data_status: str = "ok", symbol: str = "X") -> MatchRow:
    cells = dict.fromkeys(MATCH_COLUMNS, "")
    cells.update(symbol=symbol, matched_ticker=ticker, stooq_path=stooq_path, data_status=data_status)
    return MatchRow(tuple(cells[column] for column in MATCH_COLUMNS))


def _export_text(tmp_path: Path, data: bytes) -> str:
    path = tmp_path / "source.us.txt"
    path.write_bytes(data)
    source = read_price_lines(path)
    assert isinstance(source, PriceLines), source
    return render_export(source)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        pytest.param(
            f"{STOOQ_HEADER}\nAGED.UK,D,20160913,000000,4.918,4.926,4.861,4.861,60000,0\n",
            [HEADER, "AGED.UK,D,20160913,000000,4.918,4.926,4.861,4.861,60000,0"],
            id="stooq-header-replaced",
        ),
        pytest.param(f"{STOOQ_HEADER}\n", [HEADER], id="header-only"),
        pytest.param("", [HEADER], id="zero-bytes"),
        pytest.param(
            f"{STOOQ_HEADER}\r\nA,D,20160104,000000,1,1,1,1,10,0\r\nA,D,20160105,000000,1,1,1,1,10,0\r\n",
            [HEADER, "A,D,20160104,000000,1,1,1,1,10,0", "A,D,20160105,000000,1,1,1,1,10,0"],
            id="crlf-stripped",
        ),
        pytest.param(
            f"{STOOQ_HEADER}\n  A,D,20160104,000000,1,1,1,1,10,0   \n\tA,D,20160105,000000,1,1,1,1,10,0\t\n",
            [HEADER, "A,D,20160104,000000,1,1,1,1,10,0", "A,D,20160105,000000,1,1,1,1,10,0"],
            id="rows-stripped",
        ),
        pytest.param(
            f"{STOOQ_HEADER}\n\nA,D,20160104,000000,1,1,1,1,10,0\n   \n\nA,D,20160105,000000,1,1,1,1,10,0\n\n",
            [HEADER, "A,D,20160104,000000,1,1,1,1,10,0", "A,D,20160105,000000,1,1,1,1,10,0"],
            id="blank-lines-dropped",
        ),
        pytest.param(
            "ticker,per,date,time,open,high,low,close,volume,openint\nA,D,20160104,000000,1,1,1,1,10,0\n"
            "TICKER,PER,DATE,TIME,OPEN,HIGH,LOW,CLOSE,VOL,OPENINT\nTicker,x\n",
            [HEADER, "A,D,20160104,000000,1,1,1,1,10,0"],
            id="ticker-lines-any-case-dropped",
        ),
        pytest.param(
            f"{STOOQ_HEADER}\nA,D,20160104,000000,1,1,1,1,10,0\n<OTHER>\n<TICKER>,again\n",
            [HEADER, "A,D,20160104,000000,1,1,1,1,10,0"],
            id="angle-bracket-lines-dropped",
        ),
        pytest.param(
            f"{STOOQ_HEADER}\nA,D,2016-01-01,000000,1,1,1,abc,,0\nA,D,20160104 , 000000,1,1,1,0,0,0\n",
            [HEADER, "A,D,2016-01-01,000000,1,1,1,abc,,0", "A,D,20160104 , 000000,1,1,1,0,0,0"],
            id="data-rows-kept-as-they-are-even-when-invalid",
        ),
        pytest.param(
            "\ufeff" + f"{STOOQ_HEADER}\nA,D,20160104,000000,1,1,1,1,10,0\n",
            [HEADER, "A,D,20160104,000000,1,1,1,1,10,0"],
            id="bom-dropped",
        ),
        pytest.param(
            "A,D,20160104,000000,1,1,1,1,10,0",
            [HEADER, "A,D,20160104,000000,1,1,1,1,10,0"],
            id="no-final-newline-in-source",
        ),
    ],
)
def test_export_text(tmp_path: Path, source: str, expected: list[str]) -> None:
    text = _export_text(tmp_path, source.encode("utf-8"))
    assert text.endswith("\n")
    assert not text.endswith("\n\n")
    assert text.split("\n")[:-1] == expected


def test_export_header_is_the_first_line(tmp_path: Path) -> None:
    text = _export_text(tmp_path, f"{STOOQ_HEADER}\nA,D,20160104,000000,1,1,1,1,10,0\n".encode())
    assert text == HEADER + "\nA,D,20160104,000000,1,1,1,1,10,0\n"


@pytest.mark.parametrize(
    ("data_status", "include_empty", "exported"),
    [
        ("ok", False, True),
        ("warning", False, True),
        ("sparse", False, True),
        ("empty", False, False),
        ("missing_file", False, False),
        ("error:UnicodeDecodeError", False, False),
        ("error:PermissionError", False, False),
        ("ok", True, True),
        ("warning", True, True),
        ("sparse", True, True),
        ("empty", True, True),
        ("missing_file", True, True),
        ("error:UnicodeDecodeError", True, True),
    ],
)
def test_include_empty(data_status: str, include_empty: bool, exported: bool) -> None:
    planned = plan_exports([_match_row("ABC.US", "d/daily/us/abc.us.txt", data_status)], include_empty)
    assert [item.file_name for item in planned] == (["abc.us.csv"] if exported else [])


def test_one_export_per_distinct_ticker_first_match_wins() -> None:
    rows = [
        _match_row("VNDA.US", "d_us_txt/data/daily/us/nasdaq stocks/2/vnda.us.txt", symbol="VNDA"),
        _match_row("IUHC.UK", "d_uk_txt/data/daily/uk/lse etfs/2/iuhc.uk.txt", symbol="IUHC:LN"),
        _match_row("VNDA.US", "other/vnda.us.txt", symbol="VNDA:US"),
        _match_row("EXM", "d_pl_txt/data/daily/pl/nc stocks/exm.txt", symbol="EXM"),
        _match_row("IUHC.UK", "d_uk_txt/data/daily/uk/lse etfs/2/iuhc.uk.txt", symbol="IUHC.L"),
    ]
    planned = plan_exports(rows, include_empty=False)
    assert sorted((item.file_name, item.ticker, item.stooq_path) for item in planned) == [
        ("exm.csv", "EXM", "d_pl_txt/data/daily/pl/nc stocks/exm.txt"),
        ("iuhc.uk.csv", "IUHC.UK", "d_uk_txt/data/daily/uk/lse etfs/2/iuhc.uk.txt"),
        ("vnda.us.csv", "VNDA.US", "d_us_txt/data/daily/us/nasdaq stocks/2/vnda.us.txt"),
    ]


def test_no_matches_no_exports() -> None:
    assert plan_exports([], include_empty=True) == []
