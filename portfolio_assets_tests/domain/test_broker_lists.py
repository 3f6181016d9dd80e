"""Broker lists (SPEC 1.2): every `*.csv` of the folder, one instrument per row with a symbol."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from portfolio_assets.domain.broker_lists import Instrument, broker_list_paths, read_list_bytes
from portfolio_assets.domain.errors import BrokerListError

from .reference import read_broker_folder


def _write(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / name
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return path


def _rows(instruments: list[Instrument]) -> list[tuple[str, ...]]:
    return [item.as_row() for item in instruments]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param(
            "market,isin,symbol,name\nNSQ,US9216591084,VNDA,Vanda Pharmaceuticals USD\n",
            [("VNDA", "US9216591084", "NSQ", "Vanda Pharmaceuticals USD", "", "list.csv")],
            id="style-1-no-currency-column",
        ),
        pytest.param(
            "Market,ISIN,Symbol,Name,Currency,AUM,Replication,Fee,Dividend\n"
            "GBR-LSE,IE00B43HR379,IUHC:LN,ISHARES S&P 500 HEALTH CARE (IUHC LN ETF),USD,,,,\n",
            [("IUHC:LN", "IE00B43HR379", "GBR-LSE", "ISHARES S&P 500 HEALTH CARE (IUHC LN ETF)", "USD", "list.csv")],
            id="style-2-capitalised-with-extra-columns",
        ),
        pytest.param(
            "market,isin,symbol,name,currency\n"
            "NEW YORK STOCK EXCHANGE (USD) USA-NYSE KIMCO REALTY,US49446R1095,KIM:US,REALTY,USD\n",
            [
                (
                    "KIM:US",
                    "US49446R1095",
                    "NEW YORK STOCK EXCHANGE (USD) USA-NYSE KIMCO REALTY",
                    "REALTY",
                    "USD",
                    "list.csv",
                )
            ],
            id="style-3-all-five",
        ),
        pytest.param(
            "CURRENCY,NAME,SyMbOl,Isin,MARKET\nUSD,Apple,AAPL,US0378331005,NASDAQ\n",
            [("AAPL", "US0378331005", "NASDAQ", "Apple", "USD", "list.csv")],
            id="any-order-any-case",
        ),
        pytest.param(
            "symbol\nAAPL\nMSFT\n",
            [("AAPL", "", "", "", "", "list.csv"), ("MSFT", "", "", "", "", "list.csv")],
            id="only-symbol-column",
        ),
        pytest.param(
            "fee,symbol,notes,market\n0.1,VOD:LN,keep,LSE\n",
            [("VOD:LN", "", "LSE", "", "", "list.csv")],
            id="extra-columns-ignored",
        ),
        pytest.param(
            "\ufeffsymbol,market\nAAPL,NASDAQ\n",
            [("AAPL", "", "NASDAQ", "", "", "list.csv")],
            id="leading-bom",
        ),
        pytest.param(
            "symbol,market\n\nAAPL,NASDAQ\n\n\nMSFT,NASDAQ\n\n",
            [("AAPL", "", "NASDAQ", "", "", "list.csv"), ("MSFT", "", "NASDAQ", "", "", "list.csv")],
            id="blank-lines",
        ),
        pytest.param(
            "symbol,market\r\nAAPL,NASDAQ\r\nMSFT,NASDAQ\r\n",
            [("AAPL", "", "NASDAQ", "", "", "list.csv"), ("MSFT", "", "NASDAQ", "", "", "list.csv")],
            id="crlf-line-endings",
        ),
        pytest.param(
            "symbol,isin,market,name,currency\n  AAPL  , US0378331005 , NASDAQ ,  Apple Inc ,  usd \n",
            [("AAPL", "US0378331005", "NASDAQ", "Apple Inc", "usd", "list.csv")],
            id="surrounding-spaces-stripped",
        ),
        pytest.param(
            " Symbol , Market \nAAPL,NASDAQ\n",
            [("AAPL", "", "NASDAQ", "", "", "list.csv")],
            id="header-names-with-spaces",
        ),
        pytest.param(
            'symbol,name,market\nVNDA,"Vanda Pharmaceuticals, Inc.",NSQ\nX,"He said ""hi""",NSQ\n',
            [
                ("VNDA", "", "NSQ", "Vanda Pharmaceuticals, Inc.", "", "list.csv"),
                ("X", "", "NSQ", 'He said "hi"', "", "list.csv"),
            ],
            id="quoted-fields-with-commas-and-quotes",
        ),
        pytest.param(
            "symbol,market,name\n,NSQ,no symbol\n   ,NSQ,spaces only\nAAPL,NSQ,Apple\n",
            [("AAPL", "", "NSQ", "Apple", "", "list.csv")],
            id="empty-symbols-dropped",
        ),
        pytest.param(
            "symbol,isin,market,currency\n0700:HK,0012345,HKEX,NA\nNA:TSX,,TSX,CAD\n1.10,,,\n",
            [
                ("0700:HK", "0012345", "HKEX", "", "NA", "list.csv"),
                ("NA:TSX", "", "TSX", "", "CAD", "list.csv"),
                ("1.10", "", "", "", "", "list.csv"),
            ],
            id="values-stay-text",
        ),
        pytest.param(
            "symbol,market,name\nAAPL,NASDAQ\n",
            [("AAPL", "", "NASDAQ", "", "", "list.csv")],
            id="short-row-missing-cells-empty",
        ),
        pytest.param(
            "symbol,market\nABC,NYSE\nABC,LSE\n",
            [("ABC", "", "NYSE", "", "", "list.csv"), ("ABC", "", "LSE", "", "", "list.csv")],
            id="same-symbol-twice-in-one-list",
        ),
        pytest.param(
            "symbol,market\nABC,NYSE\nABC,NYSE\n",
            [("ABC", "", "NYSE", "", "", "list.csv"), ("ABC", "", "NYSE", "", "", "list.csv")],
            id="identical-rows-kept",
        ),
    ],
)
def test_list_rows(tmp_path: Path, content: str, expected: list[tuple[str, ...]]) -> None:
    _write(tmp_path, "list.csv", content)
    assert _rows(read_broker_folder(tmp_path)) == expected


def test_lists_are_read_in_file_name_order_and_remember_their_file(tmp_path: Path) -> None:
    _write(tmp_path, "c_broker.csv", "symbol,market\nVOD:LN,LSE\nABC,NYSE\n")
    _write(tmp_path, "a_broker.csv", "symbol,market\nABC,NYSE\n")
    _write(tmp_path, "b broker.csv", "symbol\nAAPL\n")
    _write(tmp_path, "notes.txt", "symbol\nNOTALIST\n")
    _write(tmp_path, "readme.md", "symbol\nNOTALIST\n")
    assert _rows(read_broker_folder(tmp_path)) == [
        ("ABC", "", "NYSE", "", "", "a_broker.csv"),
        ("AAPL", "", "", "", "", "b broker.csv"),
        ("VOD:LN", "", "LSE", "", "", "c_broker.csv"),
        ("ABC", "", "NYSE", "", "", "c_broker.csv"),
    ]


def test_same_symbol_in_two_lists_is_two_instruments(tmp_path: Path) -> None:
    _write(tmp_path, "broker_a.csv", "symbol,market,currency\nVWRL:LN,LSE,USD\n")
    _write(tmp_path, "broker_b.csv", "Symbol,Market,Currency\nVWRL:LN,LSE,GBP\n")
    assert _rows(read_broker_folder(tmp_path)) == [
        ("VWRL:LN", "", "LSE", "", "USD", "broker_a.csv"),
        ("VWRL:LN", "", "LSE", "", "GBP", "broker_b.csv"),
    ]


def test_empty_folder_gives_no_instruments(tmp_path: Path) -> None:
    assert read_broker_folder(tmp_path) == []


def test_header_only_list_gives_no_instruments(tmp_path: Path) -> None:
    _write(tmp_path, "list.csv", "market,isin,symbol,name\n")
    assert read_broker_folder(tmp_path) == []


@pytest.mark.parametrize(
    ("content", "line"),
    [
        pytest.param(b"symbol,name\nABC,Caf\xe9\n", 2, id="latin-1-on-line-2"),
        pytest.param(b"symbol,name\nAAA,ok\nBBB,ok\nCCC,\xff\xfe\n", 4, id="bad-bytes-on-line-4"),
        pytest.param(b"\xff\xfes\x00y\x00m\x00", 1, id="utf-16"),
    ],
)
def test_non_utf8_list_is_an_error_naming_file_and_line(tmp_path: Path, content: bytes, line: int) -> None:
    _write(tmp_path, "a_ok.csv", "symbol\nAAPL\n")
    _write(tmp_path, "broker latin1.csv", content)
    with pytest.raises(BrokerListError) as caught:
        read_broker_folder(tmp_path)
    assert caught.value.path.name == "broker latin1.csv"
    assert caught.value.line == line
    assert "broker latin1.csv" in str(caught.value)
    assert f"line {line}" in str(caught.value)
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    "content",
    [
        pytest.param("market,isin,ticker,name\nNSQ,US9216591084,VNDA,Vanda\n", id="ticker-not-symbol"),
        pytest.param("market,isin,name\nNSQ,US9216591084,Vanda\n", id="no-symbol"),
        pytest.param("", id="zero-bytes"),
        pytest.param("\n\n", id="blank-lines-only"),
    ],
)
def test_list_without_symbol_column_is_an_error_naming_the_file(tmp_path: Path, content: str) -> None:
    path = _write(tmp_path, "no_symbol.csv", content)
    with pytest.raises(BrokerListError) as caught:
        read_list_bytes(path, path.read_bytes())
    assert caught.value.path.name == "no_symbol.csv"
    assert "no_symbol.csv" in str(caught.value)


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"PK\x03\x04\x14\x00\x00\x00\x08\x00symbol", id="zip-bytes-with-nul"),
        pytest.param(b'symbol,name\nABC,"unterminated\n', id="unterminated-quote"),
    ],
)
def test_not_csv_is_an_error_naming_the_file(tmp_path: Path, content: bytes) -> None:
    _write(tmp_path, "broken.csv", content)
    with pytest.raises(BrokerListError) as caught:
        read_broker_folder(tmp_path)
    assert "broken.csv" in str(caught.value)


def test_a_list_name_that_is_not_utf8_is_an_error_naming_it(tmp_path: Path) -> None:
    with open(os.path.join(os.fsencode(tmp_path), b"broker_\xff.csv"), "w") as handle:
        handle.write("symbol\nAAPL\n")
    with pytest.raises(BrokerListError, match=r"broker_\\xff\.csv.*not valid UTF-8"):
        broker_list_paths(tmp_path)
