"""The match and unmatched reports (SPEC 2): columns, row order, cells and CSV quoting."""

from __future__ import annotations

import csv
import io

import pytest

from portfolio_assets.domain.broker_lists import Instrument
from portfolio_assets.domain.diagnostics import Diagnostics
from portfolio_assets.domain.matching import Match, Unmatched
from portfolio_assets.domain.reports import build_reports, render_match_report, render_unmatched_report
from portfolio_assets.domain.stooq_tree import IndexEntry, index_entry

MATCH_HEADER = (
    "symbol,isin,market,name,currency,matched_ticker,stooq_path,region,category,strategy,source_file,"
    "price_start,price_end,price_rows,inferred_currency,resolved_currency,currency_status,data_status,"
    "data_flags"
)
UNMATCHED_HEADER = "symbol,isin,market,name,currency,source_file,reason"

IUHC = Instrument(
    "IUHC:LN", "IE00B43HR379", "GBR-LSE", "ISHARES S&P 500 HEALTH CARE (IUHC LN ETF)", "USD", "broker_b.csv"
)
IUHC_ENTRY = index_entry("d_uk_txt/data/daily/uk/lse etfs/2/iuhc.uk.txt")
VNDA = Instrument("VNDA", "US9216591084", "NSQ", "Vanda Pharmaceuticals USD", "", "broker_a.csv")
VNDA_ENTRY = index_entry("d_us_txt/data/daily/us/nasdaq stocks/2/vnda.us.txt")
EXM = Instrument("EXM", "", "", "", "", "broker_a.csv")
EXM_ENTRY = index_entry("d_pl_txt/data/daily/pl/nc stocks/exm.txt")
OK = Diagnostics("2016-09-13", "2024-01-31", 1800, "ok", "")
EMPTY = Diagnostics("", "", 0, "empty", "")
WARNING = Diagnostics(
    "2016-01-05",
    "2016-01-06",
    4,
    "warning",
    "invalid_rows=1;zero_volume=1;zero_volume_ratio=0.2500;zero_volume_severity=high",
)


def _match_lines(
    instruments: list[Instrument],
    outcomes: list[Match | Unmatched],
    diagnostics: dict[str, Diagnostics],
    policy: str = "broker",
) -> list[str]:
    reports = build_reports(instruments, outcomes, diagnostics, policy)
    return render_match_report(reports.matches).split("\n")


def _unmatched_lines(instruments: list[Instrument], outcomes: list[Match | Unmatched]) -> list[str]:
    reports = build_reports(instruments, outcomes, {}, "broker")
    return render_unmatched_report(reports.unmatched).split("\n")


@pytest.mark.parametrize(
    ("policy", "currency_cells"),
    [
        ("broker", "GBP,USD,override"),
        ("stooq", "GBP,GBP,mismatch"),
        ("strict", "GBP,,error:lse_currency_override"),
    ],
)
def test_match_row_cells(policy: str, currency_cells: str) -> None:
    lines = _match_lines([IUHC], [Match(IUHC_ENTRY, "ticker")], {IUHC_ENTRY.relative_path: OK}, policy)
    assert lines == [
        MATCH_HEADER,
        "IUHC:LN,IE00B43HR379,GBR-LSE,ISHARES S&P 500 HEALTH CARE (IUHC LN ETF),USD,IUHC.UK,"
        "d_uk_txt/data/daily/uk/lse etfs/2/iuhc.uk.txt,uk,lse etfs/2,ticker,broker_b.csv,"
        f"2016-09-13,2024-01-31,1800,{currency_cells},ok,",
        "",
    ]


@pytest.mark.parametrize(
    ("instrument", "entry", "strategy", "diagnostics", "line"),
    [
        pytest.param(
            VNDA,
            VNDA_ENTRY,
            "base_market",
            EMPTY,
            "VNDA,US9216591084,NSQ,Vanda Pharmaceuticals USD,,VNDA.US,"
            "d_us_txt/data/daily/us/nasdaq stocks/2/vnda.us.txt,us,nasdaq stocks/2,base_market,broker_a.csv,"
            ",,0,USD,USD,inferred_only,empty,",
            id="empty-cells-and-zero-rows",
        ),
        pytest.param(
            EXM,
            EXM_ENTRY,
            "ticker",
            WARNING,
            "EXM,,,,,EXM,d_pl_txt/data/daily/pl/nc stocks/exm.txt,pl,nc stocks,ticker,broker_a.csv,"
            "2016-01-05,2016-01-06,4,PLN,PLN,inferred_only,warning,"
            "invalid_rows=1;zero_volume=1;zero_volume_ratio=0.2500;zero_volume_severity=high",
            id="flags-unquoted",
        ),
        pytest.param(
            Instrument("SAP:GR", "DE0007164600", "XETRA", "SAP SE, Walldorf", "eur", "list.csv"),
            index_entry("custom/xetra/sap.de.txt"),
            "ticker",
            Diagnostics("", "", 0, "missing_file", ""),
            'SAP:GR,DE0007164600,XETRA,"SAP SE, Walldorf",eur,SAP.DE,custom/xetra/sap.de.txt,custom,xetra,ticker,'
            "list.csv,,,0,,EUR,expected_only,missing_file,",
            id="comma-in-name-quoted-broker-currency-kept-as-given",
        ),
        pytest.param(
            Instrument("X", "", "", 'The "X" Fund', "", "list.csv"),
            index_entry("d/daily/world/funds/x.txt"),
            "ticker",
            Diagnostics("", "", 0, "error:UnicodeDecodeError", ""),
            'X,,,"The ""X"" Fund",,X,d/daily/world/funds/x.txt,world,funds,ticker,list.csv,,,0,USD,USD,'
            "inferred_only,error:UnicodeDecodeError,",
            id="quote-in-name-doubled",
        ),
        pytest.param(
            Instrument("ABC:US", "", "NYSE", "", "USD", "list.csv"),
            IndexEntry("abc.us", "abc.us", "d/daily/us/odd, folder/abc.us.txt", "us", "odd, folder"),
            "ticker",
            Diagnostics("2020-01-02", "2020-01-02", 1, "sparse", ""),
            'ABC:US,,NYSE,,USD,ABC.US,"d/daily/us/odd, folder/abc.us.txt",us,"odd, folder",ticker,list.csv,'
            "2020-01-02,2020-01-02,1,USD,USD,match,sparse,",
            id="matched-ticker-upper-cased-and-path-with-comma-quoted",
        ),
    ],
)
def test_match_row_examples(
    instrument: Instrument, entry: IndexEntry, strategy: str, diagnostics: Diagnostics, line: str
) -> None:
    lines = _match_lines([instrument], [Match(entry, strategy)], {entry.relative_path: diagnostics})
    assert lines == [MATCH_HEADER, line, ""]


@pytest.mark.parametrize(
    ("instrument", "reason", "line"),
    [
        (
            Instrument("ABC", "", "NYSE", "", "", "broker_a.csv"),
            "manual_review",
            "ABC,,NYSE,,,broker_a.csv,manual_review",
        ),
        (
            Instrument("VOD:LN", "GB00BH4HKS39", "LSE", "Vodafone", "GBP", "b.csv"),
            "no_source_data(.UK)",
            "VOD:LN,GB00BH4HKS39,LSE,Vodafone,GBP,b.csv,no_source_data(.UK)",
        ),
        (Instrument("ABC", "", "", "", "", "b.csv"), "no_source_data()", "ABC,,,,,b.csv,no_source_data()"),
        (
            Instrument("ABC", "", "", "Alpha, Beta", "", "b.csv"),
            "ambiguous_variants",
            'ABC,,,"Alpha, Beta",,b.csv,ambiguous_variants',
        ),
        (
            Instrument("ABC", "", "", "", "", "b.csv"),
            "needs review, see notes",
            'ABC,,,,,b.csv,"needs review, see notes"',
        ),
    ],
)
def test_unmatched_row(instrument: Instrument, reason: str, line: str) -> None:
    assert _unmatched_lines([instrument], [Unmatched(reason)]) == [UNMATCHED_HEADER, line, ""]


def test_rows_follow_input_order_in_both_reports() -> None:
    a1 = Instrument("ZZZ:US", "", "NYSE", "", "", "a.csv")
    a2 = Instrument("VNDA", "", "NSQ", "", "", "a.csv")
    a3 = Instrument("MISSING", "", "NYSE", "", "", "a.csv")
    b1 = Instrument("EXM", "", "", "", "", "b.csv")
    b2 = Instrument("AAA", "", "", "", "", "b.csv")
    b3 = Instrument("VNDA", "", "NSQ", "", "", "b.csv")
    zzz = index_entry("d/daily/us/nyse/zzz.us.txt")
    diagnostics = {entry.relative_path: OK for entry in (zzz, VNDA_ENTRY, EXM_ENTRY)}
    reports = build_reports(
        [a1, a2, a3, b1, b2, b3],
        [
            Match(zzz, "ticker"),
            Match(VNDA_ENTRY, "base_market"),
            Unmatched("manual_review"),
            Match(EXM_ENTRY, "ticker"),
            Unmatched("ambiguous_variants"),
            Match(VNDA_ENTRY, "base_market"),
        ],
        diagnostics,
        "broker",
    )
    matched = list(csv.DictReader(io.StringIO(render_match_report(reports.matches))))
    unmatched = list(csv.DictReader(io.StringIO(render_unmatched_report(reports.unmatched))))
    assert [(row["symbol"], row["source_file"], row["matched_ticker"]) for row in matched] == [
        ("ZZZ:US", "a.csv", "ZZZ.US"),
        ("VNDA", "a.csv", "VNDA.US"),
        ("EXM", "b.csv", "EXM"),
        ("VNDA", "b.csv", "VNDA.US"),
    ]
    assert [(row["symbol"], row["source_file"], row["reason"]) for row in unmatched] == [
        ("MISSING", "a.csv", "manual_review"),
        ("AAA", "b.csv", "ambiguous_variants"),
    ]


def test_price_rows_is_integer_text() -> None:
    reports = build_reports(
        [VNDA],
        [Match(VNDA_ENTRY, "ticker")],
        {VNDA_ENTRY.relative_path: Diagnostics("2000-01-03", "2024-06-28", 6162, "ok", "")},
        "broker",
    )
    row = next(csv.DictReader(io.StringIO(render_match_report(reports.matches))))
    assert row["price_rows"] == "6162"
    assert row["price_start"] == "2000-01-03"


def test_empty_reports_are_header_only() -> None:
    reports = build_reports([], [], {}, "broker")
    assert render_match_report(reports.matches) == MATCH_HEADER + "\n"
    assert render_unmatched_report(reports.unmatched) == UNMATCHED_HEADER + "\n"
