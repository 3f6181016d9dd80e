"""Matching a broker instrument to a Stooq file, or the reason it is unmatched (SPEC 3)."""

from __future__ import annotations

import pytest

from portfolio_assets.domain import matching
from portfolio_assets.domain.matching import (
    Match,
    StooqLookup,
    Unmatched,
    candidate_tickers,
    match_instrument,
    normalise_symbol,
    wanted_extensions,
)
from portfolio_assets.domain.stooq_tree import IndexEntry, index_entry

# One file per extension any rule can want, plus an extension-less one.
EVERY_EXTENSION = (
    "abc.pl",
    "abc.uk",
    "abc.us",
    "abc.hk",
    "abc.jp",
    "abc.hu",
    "abc.to",
    "abc.v",
    "abc.cn",
    "abc.de",
    "abc.pa",
    "abc.fr",
    "abc.nl",
    "abc.as",
    "abc.ch",
    "abc.be",
    "abc",
)


def _path(name: str, folder: str = "d_xx_txt/data/daily/xx/some stocks") -> str:
    return f"{folder}/{name}.txt"


def _lookup(*names: str) -> StooqLookup:
    return StooqLookup(index_entry(_path(name)) for name in names)


def _outcome(symbol: str, market: str, *names: str) -> tuple[str, str] | str:
    """(matched ticker, strategy) or the unmatched reason."""
    result = match_instrument(symbol, market, _lookup(*names))
    if isinstance(result, Match):
        return (result.entry.ticker, result.strategy)
    assert isinstance(result, Unmatched)
    return result.reason


@pytest.mark.parametrize(
    ("symbol", "normalised", "base", "suffix"),
    [
        ("AAPL", "AAPL", "AAPL", ""),
        ("  aapl  ", "AAPL", "AAPL", ""),
        ("iuhc:ln", "IUHC:LN", "IUHC", "LN"),
        ("KIM : US", "KIM:US", "KIM", "US"),
        ("vod.l", "VOD.L", "VOD", "L"),
        ("BRK.B:US", "BRK.B:US", "BRK.B", "US"),
        ("BT.A.L", "BT.A.L", "BT", "A.L"),
        ("A:B:C", "A:B:C", "A", "B:C"),
        ("BRK B", "BRKB", "BRKB", ""),
        ("", "", "", ""),
    ],
)
def test_normalise_symbol(symbol: str, normalised: str, base: str, suffix: str) -> None:
    result = normalise_symbol(symbol)
    assert (result.symbol, result.base, result.suffix) == (normalised, base, suffix)


# Every suffix of the table; the market would point elsewhere, but a known suffix wins.
@pytest.mark.parametrize(
    ("symbol", "market", "expected"),
    [
        ("ABC:PW", "XETRA", ("ABC.PL", "ticker")),
        ("ABC:PL", "XETRA", ("ABC.PL", "ticker")),
        ("ABC:GPW", "XETRA", ("ABC.PL", "ticker")),
        ("ABC:LN", "XETRA", ("ABC.UK", "ticker")),
        ("ABC:L", "XETRA", ("ABC.UK", "ticker")),
        ("ABC.L", "XETRA", ("ABC.UK", "ticker")),
        ("ABC:GB", "XETRA", ("ABC.UK", "ticker")),
        ("ABC:US", "XETRA", ("ABC.US", "ticker")),
        ("ABC:UN", "XETRA", ("ABC.US", "ticker")),
        ("ABC:U", "XETRA", ("ABC.US", "ticker")),
        ("ABC:NYSE", "XETRA", ("ABC.US", "ticker")),
        ("ABC:NASDAQ", "XETRA", ("ABC.US", "ticker")),
        ("ABC:NSQ", "XETRA", ("ABC.US", "ticker")),
        ("ABC:NAS", "XETRA", ("ABC.US", "ticker")),
        ("ABC:NYSE-MKT", "XETRA", ("ABC.US", "ticker")),
        ("ABC:AMEX", "XETRA", ("ABC.US", "ticker")),
        ("abc.us", "XETRA", ("ABC.US", "ticker")),
        ("ABC:HK", "XETRA", ("ABC.HK", "ticker")),
        ("ABC:H", "XETRA", ("ABC.HK", "ticker")),
        ("ABC:JP", "XETRA", ("ABC.JP", "ticker")),
        ("ABC:T", "XETRA", ("ABC.JP", "ticker")),
        ("ABC:HU", "XETRA", ("ABC.HU", "ticker")),
        ("ABC:BSE", "XETRA", ("ABC.HU", "ticker")),
        ("ABC:TSX", "XETRA", ("ABC.TO", "ticker")),
        ("ABC:TO", "XETRA", ("ABC.TO", "ticker")),
        ("ABC:C", "XETRA", ("ABC.TO", "ticker")),
        ("ABC:TSXV", "XETRA", ("ABC.V", "ticker")),
        ("ABC:V", "XETRA", ("ABC.V", "ticker")),
        ("ABC:CN", "XETRA", ("ABC.CN", "ticker")),
        ("ABC:GR", "NYSE", ("ABC.DE", "ticker")),
        ("ABC:DE", "NYSE", ("ABC.DE", "ticker")),
        ("ABC:PA", "XETRA", ("ABC.PA", "ticker")),
        ("ABC:PAR", "XETRA", ("ABC.PA", "ticker")),
        ("ABC:AMS", "XETRA", ("ABC.NL", "ticker")),
        ("ABC:AS", "XETRA", ("ABC.AS", "ticker")),
        ("ABC:SWX", "XETRA", ("ABC.CH", "ticker")),
        ("ABC:SW", "XETRA", ("ABC.CH", "ticker")),
        ("ABC:CH", "XETRA", ("ABC.CH", "ticker")),
        ("ABC:BRU", "XETRA", ("ABC.BE", "ticker")),
        ("ABC:BR", "XETRA", ("ABC.BE", "ticker")),
        ("ABC:BRX", "XETRA", ("ABC.BE", "ticker")),
    ],
)
def test_suffix_table(symbol: str, market: str, expected: tuple[str, str]) -> None:
    assert _outcome(symbol, market, *EVERY_EXTENSION) == expected


@pytest.mark.parametrize(
    ("suffix", "extensions"),
    [
        ("PW", (".PL",)),
        ("PL", (".PL",)),
        ("GPW", (".PL",)),
        ("LN", (".UK",)),
        ("L", (".UK",)),
        ("GB", (".UK",)),
        ("US", (".US",)),
        ("UN", (".US",)),
        ("U", (".US",)),
        ("NYSE", (".US",)),
        ("NASDAQ", (".US",)),
        ("NSQ", (".US",)),
        ("NAS", (".US",)),
        ("NYSE-MKT", (".US",)),
        ("AMEX", (".US",)),
        ("HK", (".HK",)),
        ("H", (".HK",)),
        ("JP", (".JP",)),
        ("T", (".JP",)),
        ("HU", (".HU",)),
        ("BSE", (".HU",)),
        ("TSX", (".TO",)),
        ("TO", (".TO",)),
        ("C", (".TO",)),
        ("TSXV", (".V",)),
        ("V", (".V",)),
        ("CN", (".CN",)),
        ("GR", (".DE",)),
        ("DE", (".DE",)),
        ("PA", (".PA", ".FR")),
        ("PAR", (".PA", ".FR")),
        ("AMS", (".NL", ".AS")),
        ("AS", (".AS", ".NL")),
        ("SWX", (".CH",)),
        ("SW", (".CH",)),
        ("CH", (".CH",)),
        ("BRU", (".BE",)),
        ("BR", (".BE",)),
        ("BRX", (".BE",)),
    ],
)
def test_suffix_table_extensions_in_order(suffix: str, extensions: tuple[str, ...]) -> None:
    assert tuple(wanted_extensions(suffix, "NYSE")) == extensions


@pytest.mark.parametrize(
    ("symbol", "market", "names", "expected"),
    [
        # the second extension of a two-extension row is used when the first is not there
        ("ABC:PA", "", ("abc.fr", "abc.nl"), ("ABC.FR", "ticker")),
        ("ABC:PAR", "", ("abc.fr", "abc.pa"), ("ABC.PA", "ticker")),
        ("ABC:AMS", "", ("abc.as",), ("ABC.AS", "ticker")),
        ("ABC:AMS", "", ("abc.as", "abc.nl"), ("ABC.NL", "ticker")),
        ("ABC:AS", "", ("abc.as", "abc.nl"), ("ABC.AS", "ticker")),
        ("ABC:AS", "", ("abc.nl", "abc.de"), ("ABC.NL", "ticker")),
        ("ABC", "EURONEXT PARIS", ("abc.fr", "abc.us"), ("ABC.FR", "base_market")),
        ("ABC", "AMSTERDAM", ("abc.as", "abc.us"), ("ABC.AS", "base_market")),
    ],
)
def test_extension_order(symbol: str, market: str, names: tuple[str, ...], expected: tuple[str, str]) -> None:
    assert _outcome(symbol, market, *names) == expected


# Market patterns, tried in order on the upper-cased market when the suffix is unknown or absent.
@pytest.mark.parametrize(
    ("symbol", "market", "expected"),
    [
        # 1
        ("ABC", "XETRA", "ABC.DE"),
        ("ABC", "Frankfurt", "ABC.DE"),
        ("ABC", "GER", "ABC.DE"),
        ("ABC", "DEU", "ABC.DE"),
        ("ABC", "DEUTSCHE BOERSE", "ABC.DE"),
        # 2
        ("ABC", "EURONEXT PARIS", "ABC.PA"),
        ("ABC", "EURONEXTPARIS", "ABC.PA"),
        ("ABC", "PAR", "ABC.PA"),
        ("ABC", "FR-PAR", "ABC.PA"),
        ("ABC", "paris", "ABC.PA"),
        ("ABC", "FRANCE", "ABC.PA"),
        # 3
        ("ABC", "EURONEXT AMSTERDAM", "ABC.NL"),
        ("ABC", "AMSTERDAM", "ABC.NL"),
        ("ABC", "NED", "ABC.NL"),
        ("ABC", "NETHERLANDS", "ABC.NL"),
        # 4
        ("ABC", "NSQ", "ABC.US"),
        ("ABC", "NASDAQ", "ABC.US"),
        ("ABC", "NYSE", "ABC.US"),
        ("ABC", "USA", "ABC.US"),
        ("ABC", "UNITED STATES", "ABC.US"),
        ("ABC", "AMERICAN", "ABC.US"),
        ("ABC", "NEW YORK STOCK EXCHANGE (USD) USA-NYSE KIMCO REALTY", "ABC.US"),
        # 5
        ("ABC", "TSX", "ABC.TO"),
        ("ABC", "TSXV", "ABC.TO"),
        ("ABC", "TORONTO", "ABC.TO"),
        ("ABC", "CANADA", "ABC.TO"),
        # 6
        ("ABC", "GPW", "ABC.PL"),
        ("ABC", "WARSAW", "ABC.PL"),
        ("ABC", "POL", "ABC.PL"),
        ("ABC", "POLAND", "ABC.PL"),
        # 7
        ("ABC", "LSE", "ABC.UK"),
        ("ABC", "GBR-LSE", "ABC.UK"),
        ("ABC", "LONDON", "ABC.UK"),
        ("ABC", "LONDON STOCK EXCHANGE", "ABC.UK"),
        ("ABC", "UNITED KINGDOM", "ABC.UK"),
        ("ABC", "UK", "ABC.UK"),
        # 8
        ("ABC", "HK", "ABC.HK"),
        ("ABC", "HKEX", "ABC.HK"),
        # 9
        ("ABC", "JPX", "ABC.JP"),
        ("ABC", "TOKYO", "ABC.JP"),
        ("ABC", "JAPAN", "ABC.JP"),
        # 10
        ("ABC", "HUNGARY", "ABC.HU"),
        ("ABC", "BUDAPEST", "ABC.HU"),
        # 11
        ("ABC", "SWISS", "ABC.CH"),
        ("ABC", "ZURICH", "ABC.CH"),
        ("ABC", "SWX", "ABC.CH"),
        ("ABC", "SIX", "ABC.CH"),
        ("ABC", "SWITZERLAND", "ABC.CH"),
        # 12
        ("ABC", "BRUSSELS", "ABC.BE"),
        ("ABC", "BELGIUM", "ABC.BE"),
        # an unknown suffix falls back on the market
        ("ABC:XX", "XETRA", "ABC.DE"),
        ("ABC:ETF", "LSE", "ABC.UK"),
        # precedence: the first pattern in table order wins
        ("ABC", "GERMANY USA", "ABC.DE"),
        ("ABC", "NYSE ARCA GERMAN LISTING", "ABC.DE"),
        ("ABC", "NASDAQ PARIS", "ABC.PA"),
        ("ABC", "NYSE EURONEXT AMSTERDAM", "ABC.NL"),
        ("ABC", "USA CANADA", "ABC.US"),
        ("ABC", "TORONTO WARSAW", "ABC.TO"),
        ("ABC", "WARSAW LONDON", "ABC.PL"),
        ("ABC", "LSE HK", "ABC.UK"),
        ("ABC", "HK TOKYO", "ABC.HK"),
        ("ABC", "JAPAN HUNGARY", "ABC.JP"),
        ("ABC", "BUDAPEST SWISS", "ABC.HU"),
        ("ABC", "ZURICH BELGIUM", "ABC.CH"),
        ("ABC", "METROPOLITAN", "ABC.PL"),
        # no pattern matches: only the extension-less ticker qualifies
        ("ABC", "", "ABC"),
        ("ABC", "MADRID", "ABC"),
        ("ABC", "SPARK", "ABC"),  # \bPAR\b needs a whole word
        ("ABC", "HONG KONG", "ABC"),  # the pattern is `HK`, not the words
        ("ABC:XX", "", "ABC"),
    ],
)
def test_market_patterns(symbol: str, market: str, expected: str) -> None:
    outcome = _outcome(symbol, market, *EVERY_EXTENSION)
    assert isinstance(outcome, tuple)
    assert outcome[0] == expected


@pytest.mark.parametrize(
    ("symbol", "market", "expected"),
    [
        ("AAPL:US", "", ["AAPL.US", "AAPL:US", "LAAPL.US", "QAAPL.US"]),
        ("AAPL", "NASDAQ", ["AAPL", "AAPL.US", "LAAPL.US", "QAAPL.US"]),
        ("AAPL.US", "", ["AAPL.US", "LAAPL.US", "QAAPL.US"]),
        ("FB", "NASDAQ", ["FB", "FB.US", "META.US", "LFB.US", "QFB.US"]),
        ("FB:US", "", ["FB.US", "FB:US", "META.US", "LFB.US", "QFB.US"]),
        ("ABC:PA", "", ["ABC.PA", "ABC.FR", "ABC:PA", "LABC.PA", "QABC.PA", "LABC.FR", "QABC.FR"]),
        ("ABC", "EURONEXT PARIS", ["ABC", "ABC.PA", "ABC.FR", "LABC.PA", "QABC.PA", "LABC.FR", "QABC.FR"]),
        ("ABC:AS", "", ["ABC.AS", "ABC.NL", "ABC:AS", "LABC.AS", "QABC.AS", "LABC.NL", "QABC.NL"]),
        ("ABC:XX", "LSE", ["ABC.UK", "ABC:XX", "LABC.UK", "QABC.UK"]),
        ("ABC", "", ["ABC"]),
        ("ABC:XX", "", ["ABC:XX"]),
    ],
)
def test_candidates_in_order(symbol: str, market: str, expected: list[str]) -> None:
    normalised = normalise_symbol(symbol)
    wanted = wanted_extensions(normalised.suffix, market)
    assert list(candidate_tickers(normalised, wanted, market)) == expected


@pytest.mark.parametrize(
    ("symbol", "market", "names", "expected"),
    [
        # with a suffix, base+ext comes before the symbol itself
        ("ABC.US", "", ("abc.us",), ("ABC.US", "ticker")),
        # without a suffix, the base comes first when acceptable (no market pattern)
        ("EXM", "", ("exm", "exm.pl"), ("EXM", "ticker")),
        # ... and is skipped when not acceptable
        ("EXM", "GPW", ("exm", "exm.pl"), ("EXM.PL", "base_market")),
        ("AAPL", "NASDAQ", ("aapl.us", "aapl"), ("AAPL.US", "base_market")),
        # the real file beats the alias, the alias beats the legacy prefixes
        ("FB", "NASDAQ", ("fb.us", "meta.us", "lfb.us"), ("FB.US", "base_market")),
        ("FB", "NASDAQ", ("meta.us", "lfb.us", "qfb.us"), ("META.US", "base_market")),
        ("ABC:US", "", ("labc.us", "qabc.us"), ("LABC.US", "ticker")),
        ("ABC:US", "", ("qabc.us",), ("QABC.US", "ticker")),
        ("ABC", "NYSE", ("labc.us",), ("LABC.US", "base_market")),
        ("ABC", "NYSE", ("qabc.us",), ("QABC.US", "base_market")),
        # legacy prefixes follow the extension order: all of .PA before .FR
        ("ABC:PA", "", ("qabc.pa", "labc.fr"), ("QABC.PA", "ticker")),
        ("ABC", "EURONEXT PARIS", ("labc.fr", "qabc.pa"), ("QABC.PA", "base_market")),
    ],
)
def test_candidate_order_decides_the_match(
    symbol: str, market: str, names: tuple[str, ...], expected: tuple[str, str]
) -> None:
    assert _outcome(symbol, market, *names) == expected


@pytest.mark.parametrize(
    ("symbol", "market", "expected"),
    [
        ("FB", "NASDAQ", ("META.US", "base_market")),
        ("FB:US", "", ("META.US", "ticker")),
        ("BRKS", "NASDAQ", ("AZTA.US", "base_market")),
        ("PKI:US", "", ("RVTY.US", "ticker")),
        ("PKI", "NYSE", ("RVTY.US", "base_market")),
        ("FISV:US", "", ("FI.US", "ticker")),
        ("FBHS", "NYSE", ("FBIN.US", "base_market")),
        ("NRZ:UN", "", ("RITM.US", "ticker")),
        ("DWAV", "NASDAQ", ("QBTS.US", "base_market")),
        ("fb", "nasdaq", ("META.US", "base_market")),
    ],
)
def test_aliases(symbol: str, market: str, expected: tuple[str, str]) -> None:
    names = ("meta.us", "azta.us", "rvty.us", "fi.us", "fbin.us", "ritm.us", "qbts.us", "abc.uk", "abc.de")
    assert _outcome(symbol, market, *names) == expected


@pytest.mark.parametrize(
    ("symbol", "market", "expected"),
    [
        ("FB:LN", "", "manual_review"),  # aliases are for .US only
        ("FB", "XETRA", "manual_review"),
        ("FB", "", "manual_review"),
    ],
)
def test_aliases_only_for_us(symbol: str, market: str, expected: str) -> None:
    assert _outcome(symbol, market, "meta.us", "abc.uk", "abc.de", "abc") == expected


@pytest.mark.parametrize(
    ("symbol", "market", "names", "expected"),
    [
        # step 2: stem equals base and is acceptable (the symbol's own suffix is unknown)
        ("EXM:XX", "", ("exm", "exm.pl"), ("EXM", "base_market")),
        ("exm.xx", "", ("exm.pl", "exm"), ("EXM", "base_market")),
        # step 3: the only file of this base matches even though its extension is not wanted
        ("ABC", "NYSE", ("abc.de", "xyz.us"), ("ABC.DE", "base_market")),
        ("ABC:US", "", ("abc.de", "xyz.us"), ("ABC.DE", "base_market")),
        ("EXM", "GPW", ("exm", "xyz.pl"), ("EXM", "base_market")),
        ("BRK", "NYSE", ("brk.b.us", "xyz.us"), ("BRK.B.US", "base_market")),
        ("VOD:LN", "", ("vod.us", "xyz.uk"), ("VOD.US", "base_market")),
    ],
)
def test_base_fallbacks(symbol: str, market: str, names: tuple[str, ...], expected: tuple[str, str]) -> None:
    assert _outcome(symbol, market, *names) == expected


@pytest.mark.parametrize(
    ("symbol", "market", "expected"),
    [
        ("AAPL:US", "", ("AAPL.US", "ticker")),
        ("AAPL.US", "", ("AAPL.US", "ticker")),
        ("aapl:us", "", ("AAPL.US", "ticker")),
        ("AAPL", "NASDAQ", ("AAPL.US", "base_market")),
        ("AAPL:XX", "NASDAQ", ("AAPL.US", "ticker")),  # had a suffix
        ("EXM", "", ("EXM", "ticker")),  # the candidate equals the normalised symbol
        ("exm", "", ("EXM", "ticker")),
        ("VOD.L", "", ("VOD.UK", "ticker")),
        ("IUHC:LN", "GBR-LSE", ("IUHC.UK", "ticker")),
        ("KIM:US", "NEW YORK STOCK EXCHANGE (USD) USA-NYSE KIMCO REALTY", ("KIM.US", "ticker")),
        ("VNDA", "NSQ", ("VNDA.US", "base_market")),
    ],
)
def test_strategy(symbol: str, market: str, expected: tuple[str, str]) -> None:
    names = ("aapl.us", "exm", "vod.uk", "iuhc.uk", "kim.us", "vnda.us")
    assert _outcome(symbol, market, *names) == expected


def test_same_ticker_in_two_folders_first_relative_path_wins() -> None:
    entries = [
        index_entry("d_us_txt/data/daily/us/nyse stocks/2/abc.us.txt"),
        index_entry("d_us_txt/data/daily/us/nasdaq stocks/1/abc.us.txt"),
        index_entry("d_us_txt/data/daily/us/nyse stocks/10/abc.us.txt"),
    ]
    for order in (entries, entries[::-1]):
        result = match_instrument("ABC:US", "", StooqLookup(order))
        assert isinstance(result, Match)
        assert result.entry.relative_path == "d_us_txt/data/daily/us/nasdaq stocks/1/abc.us.txt"


def test_same_extensionless_stem_in_two_folders_first_relative_path_wins_in_step_2() -> None:
    entries = [
        index_entry("d_pl_txt/data/daily/pl/nc stocks/exm.txt"),
        index_entry("d_pl_txt/data/daily/pl/main stocks/exm.txt"),
        index_entry("d_pl_txt/data/daily/pl/main stocks/exm.pl.txt"),
    ]
    result = match_instrument("EXM:XX", "", StooqLookup(entries[::-1]))
    assert isinstance(result, Match)
    assert (result.entry.relative_path, result.strategy) == (
        "d_pl_txt/data/daily/pl/main stocks/exm.txt",
        "base_market",
    )


def test_index_tickers_are_compared_upper_cased() -> None:
    # An index entry whose ticker is not upper-case (an index written by hand, or by an older tool).
    entry = IndexEntry("abc.us", "abc.us", "d_us_txt/data/daily/us/nyse stocks/abc.us.txt", "us", "nyse stocks")
    result = match_instrument("ABC:US", "", StooqLookup([entry, index_entry(_path("xyz.us"))]))
    assert isinstance(result, Match)
    assert (result.entry.relative_path, result.strategy) == (entry.relative_path, "ticker")


@pytest.mark.parametrize(
    ("symbol", "market", "names", "reason"),
    [
        ("", "NYSE", ("abc.us",), "missing_symbol"),
        ("   ", "", ("abc",), "missing_symbol"),
        # a wanted extension carried by no file: the first such one is named
        ("VOD:LN", "", ("abc.us", "xyz.us"), "no_source_data(.UK)"),
        ("VOD", "LSE", ("abc.us",), "no_source_data(.UK)"),
        ("ABC:PA", "", ("xyz.us",), "no_source_data(.PA)"),
        ("ABC:PA", "", ("xyz.pa",), "no_source_data(.FR)"),
        ("ABC:AMS", "", ("xyz.as",), "no_source_data(.NL)"),
        ("ABC:AS", "", ("xyz.as",), "no_source_data(.NL)"),
        ("ABC:AS", "", ("xyz.nl",), "no_source_data(.AS)"),
        ("ABC", "", ("xyz.us", "abc.de", "abc.pl"), "no_source_data()"),
        ("ABC:XX", "MADRID", ("xyz.us",), "no_source_data()"),
        # no_source_data comes before the base rules
        ("ABC:TSXV", "", ("abc.to", "abc.cn", "xyz.us"), "no_source_data(.V)"),
        # no file has this base
        ("ABC:US", "", ("xyz.us",), "manual_review"),
        ("ABC", "", ("xyz",), "manual_review"),
        ("ABC", "NYSE", ("xyz.us", "labc.de"), "manual_review"),
        # several files have this base, none acceptable
        ("ABC:US", "", ("xyz.us", "abc.de", "abc.pl"), "ambiguous_variants"),
        ("BRK", "NYSE", ("brk.a.us", "brk.b.us", "xyz.us"), "ambiguous_variants"),
        ("ABC", "", ("xyz", "abc.de", "abc.pl"), "ambiguous_variants"),
    ],
)
def test_unmatched_reasons(symbol: str, market: str, names: tuple[str, ...], reason: str) -> None:
    assert _outcome(symbol, market, *names) == reason


def test_several_files_of_one_unacceptable_ticker_are_ambiguous() -> None:
    lookup = StooqLookup(
        [
            index_entry("d_de_txt/data/daily/de/xetra/abc.de.txt"),
            index_entry("d_de_txt/data/daily/de/frankfurt/abc.de.txt"),
            index_entry(_path("xyz.us")),
        ]
    )
    assert match_instrument("ABC:US", "", lookup) == Unmatched("ambiguous_variants")


@pytest.mark.parametrize(
    ("wanted", "names", "reason"),
    [
        # exactly one file has the base, but its extension is not wanted
        ((".US",), ("abc.de", "xyz.us"), "alias_required"),
        (("",), ("abc.pl", "xyz"), "alias_required"),
        # exactly one file has the base and it is acceptable: nothing else applies
        ((".US",), ("abc.us",), "manual_review"),
        ((".US",), ("xyz.us",), "manual_review"),
        ((".US",), ("abc.de", "abc.pl", "xyz.us"), "ambiguous_variants"),
        ((".PA", ".FR"), ("abc.de", "xyz.pa"), "no_source_data(.FR)"),
    ],
)
def test_unmatched_reason_rules(wanted: tuple[str, ...], names: tuple[str, ...], reason: str) -> None:
    lookup = _lookup(*names)
    same_base = [index_entry(_path(name)) for name in names if name.split(".")[0] == "abc"]
    assert matching._unmatched_reason(wanted, same_base, lookup) == reason
