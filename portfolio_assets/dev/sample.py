"""The generated sample world: a Stooq tree and three broker lists, never downloaded.

`write_sample(target)` writes `<target>/data/stooq/`, laid out like the unpacked
`d_us_txt`, `d_uk_txt`, `d_pl_txt` and `d_de_txt` archives (folder names with
spaces, numbered buckets, suffix-less Polish files), and
`<target>/tradeable_instruments/` with three broker lists in the three styles of
SPEC 1.2. Everything comes from one seeded `random.Random`, so the same
arguments give byte-identical files.

A fixed cast of special files and instruments makes every report value appear:
each data_status (ok, warning, sparse, empty, error:UnicodeDecodeError), the data
flags, both strategies, the currency statuses match, override, inferred_only,
expected_only and unknown, and the unmatched reasons no_source_data(...),
manual_review and ambiguous_variants. The rest are random files and instruments
that match them. Files some instrument matches get a long history
(`matched_rows`); the others stay short (`unmatched_rows`) to keep the sample
small on disk. Each file's text is built in one string from a precomputed list
of business days, so 100,000 files take seconds.
"""

from __future__ import annotations

import csv
import io
import math
import os
import random
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path

__all__ = ["STOOQ_HEADER", "SampleWorld", "write_sample"]

STOOQ_HEADER = "<TICKER>,<PER>,<DATE>,<TIME>,<OPEN>,<HIGH>,<LOW>,<CLOSE>,<VOL>,<OPENINT>"
_FIRST_DAY, _LAST_DAY = date(1995, 1, 2), date(2025, 11, 21)
_BUCKET_SIZE = 2500  # a numbered bucket holds at most this many files (at least 3 buckets when possible)
_MESSY_MIN_ROWS = 12

_US, _UK = "d_us_txt/data/daily/us/", "d_uk_txt/data/daily/uk/"
_PL, _DE = "d_pl_txt/data/daily/pl/", "d_de_txt/data/daily/de/"


@dataclass(frozen=True, slots=True)
class SampleWorld:
    """Where the sample was written and what it holds."""

    root: Path
    stooq_dir: Path
    tradeable_dir: Path
    stooq_files: int  # counted `*.txt` files (what the index lists)
    ignored_files: int  # hidden or non-txt files the index must skip
    matched_files: int  # files some instrument is meant to match (long histories)
    price_rows: int  # data rows written over all Stooq files
    instruments: int  # broker rows with a symbol, over all lists
    unmatched_instruments: int  # instruments meant to stay unmatched
    broker_lists: tuple[tuple[str, int], ...]  # (file name, instruments), in name order


# --- the special cast ------------------------------------------------------------------------
# (relative path, content kind, matched by an instrument). Kinds other than "prices" are the
# messy files of SPEC 1.1 and 4.
_SPECIAL_FILES: tuple[tuple[str, str, bool], ...] = (
    (_US + "nasdaq stocks/1/aapl.us.txt", "prices", True),
    (_US + "nasdaq stocks/3/vnda.us.txt", "prices", True),
    (_US + "nasdaq stocks/2/meta.us.txt", "prices", True),
    (_US + "nasdaq stocks/2/msft.us.txt", "prices", True),
    (_US + "nasdaq stocks/1/goog.us.txt", "prices", True),
    (_US + "nyse stocks/2/goog.us.txt", "header_only", False),  # same ticker, second folder
    (_US + "nyse stocks/1/kim.us.txt", "prices", True),
    (_US + "nyse stocks/1/ibm.us.txt", "prices", True),
    (_US + "nyse stocks/2/sap.us.txt", "prices", True),
    (_US + "nyse stocks/2/GE.US.TXT", "prices", True),  # upper-case suffix
    (_US + "nasdaq stocks/3/ltrpa.us.txt", "prices", True),  # legacy L prefix
    (_US + "nyse stocks/2/twtr.us.txt", "header_only", True),  # delisted
    (_US + "nyse stocks/1/frc.us.txt", "header_only", False),
    (_US + "nasdaq stocks/1/bdat.us.txt", "bad_date", True),
    (_US + "nyse stocks/1/nncl.us.txt", "non_numeric_close", True),
    (_US + "nasdaq stocks/2/npcl.us.txt", "non_positive_close", True),
    (_US + "nyse stocks/2/mvol.us.txt", "missing_volume", True),
    (_US + "nasdaq stocks/3/dupd.us.txt", "unordered_dates", True),
    (_US + "nasdaq stocks/3/sprs.us.txt", "one_row", True),
    (_US + "nyse stocks/1/crlf.us.txt", "crlf_blank_lines", True),
    (_US + "nasdaq stocks/2/wide.us.txt", "utf16", True),
    (_US + "nyse stocks/3/bomx.us.txt", "bom", True),
    (_US + "nyse etfs/2/spy.us.txt", "prices", True),
    (_US + "nasdaq etfs/qqq.us.txt", "prices", True),
    (_UK + "lse etfs/1/vwrl.uk.txt", "prices", True),
    (_UK + "lse etfs/1/iuhc.uk.txt", "prices", True),
    (_UK + "lse etfs/2/cspx.uk.txt", "prices", True),
    (_UK + "lse etfs/2/vusa.uk.txt", "prices", True),
    (_UK + "lse etfs/2/zvol.uk.txt", "zero_volume_critical", True),
    (_UK + "lse etfs/1/lowv.uk.txt", "zero_volume_low", True),
    (_UK + "lse etfs/2/empt.uk.txt", "zero_bytes", True),
    (_UK + "lse stocks/2/vod.uk.txt", "prices", False),
    (_UK + "lse stocks/2/rio.uk.txt", "prices", False),
    (_PL + "wse stocks/pkn.txt", "prices", True),
    (_PL + "nc stocks/exm.txt", "prices", True),
    (_PL + "wse stocks/cdr.txt", "prices", True),
    (_PL + "wse stocks/lts.txt", "header_only", True),
    (_DE + "xetra stocks/2/sap.de.txt", "prices", True),
    (_DE + "xetra stocks/1/exs1.de.txt", "prices", True),
    (_DE + "xetra stocks/2/rio.de.txt", "prices", False),
)

# Files every scan must skip: (relative path, bytes).
_IGNORED_FILES: tuple[tuple[str, bytes], ...] = (
    (_US + "nasdaq stocks/1/.DS_Store", b"\x00\x00\x00\x01Bud1" + bytes(26)),
    (_US + "nasdaq stocks/1/._aapl.us.txt", b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        "),
    (_UK + ".cache/vwrl.uk.txt", (STOOQ_HEADER + "\nVWRL.UK,D,20991231,000000,1,1,1,1,1,0\n").encode()),
    (_US + "nasdaq etfs/qqq.us.txt.part", (STOOQ_HEADER + "\nQQQ.US,D,2025").encode()),
)

_A_HEADER = ("market", "isin", "symbol", "name")
_B_HEADER = ("Market", "ISIN", "Symbol", "Name", "Currency", "AUM", "Replication", "Fee", "Dividend")
_C_HEADER = ("market", "isin", "symbol", "name", "currency")

# ISIN "" means: generate one with this country code (the second value).
_SPECIAL_A: tuple[tuple[str, ...], ...] = (
    ("NSQ", "US9216591084", "VNDA", "Vanda Pharmaceuticals USD"),
    ("NSQ", "US0378331005", "AAPL", "Apple Inc USD"),
    ("NSQ", "US30303M1027", "FB", "Meta Platforms USD"),  # alias to META.US
    ("NYSE", "US49446R1095", "KIM", "Kimco Realty USD"),
    (" NYSE ", "US4592001014", " IBM ", "International Business Machines USD"),  # spaces
    ("XETRA", "DE0007164600", "SAP", "SAP SE EUR"),
    ("NYSE", "US8030542042", "SAP", "SAP SE ADR USD"),  # same symbol, other market
    ("NYSE", "US3696043013", "GE", "General Electric USD"),
    ("NSQ", "US:", "TRPA", "Trapeza Holdings USD"),  # legacy prefix LTRPA.US
    ("NYSE", "US90184L1026", "TWTR", "Twitter Inc USD"),  # header-only file
    ("NSQ", "US:", "BDAT", "Broad Data Systems USD"),
    ("NYSE", "US:", "NNCL", "Northern Nickel Corp USD"),
    ("NSQ", "US:", "NPCL", "Newport Capital Ltd USD"),
    ("NYSE", "US:", "MVOL", "Meridian Volt Energy USD"),
    ("NSQ", "US:", "DUPD", "Duplex Dynamics USD"),
    ("NSQ", "US:", "SPRS", "Spruce Street Therapeutics USD"),  # one row: sparse
    ("NYSE", "US:", "CRLF", "Carlisle Freight Lines USD"),
    ("GPW", "PLPKN0000018", "PKN", "ORLEN Spółka Akcyjna PLN"),
    ("WSE", "PL:", "EXM", "Exmo Industries S.A. PLN"),  # WSE matches no market pattern
    ("GPW", "PLOPTTC00011", "CDR", "CD Projekt S.A. PLN"),
    ("GPW", "PLLOTOS00025", "LTS", "Grupa Lotos S.A. PLN"),  # delisted: header only
    ("NSQ", "US:", "NWCOX", "Northwind Core Fund Class A USD"),  # manual_review
    ("NYSE", "US7672041008", "RIO", "Rio Tinto ADR USD"),  # ambiguous_variants (.uk, .de)
)
_SPECIAL_B: tuple[tuple[str, ...], ...] = (
    ("GBR-LSE", "IE00B43HR379", "IUHC:LN", "ISHARES S&P 500 HEALTH CARE (IUHC LN ETF)", "USD", "", "", "", ""),
    (
        "GBR-LSE",
        "IE00B3RBWM25",
        "VWRL:LN",
        "VANGUARD FTSE ALL-WORLD UCITS ETF, USD DIS (VWRL LN ETF)",
        "GBP",
        "12006.4",
        "Physical",
        "0.22",
        "Distributing",
    ),
    (
        "GBR-LSE",
        "IE00B5BMR087",
        "CSPX:LN",
        "ISHARES CORE S&P 500 (CSPX LN ETF)",
        "USD",
        "98001.2",
        "Physical",
        "0.07",
        "Accumulating",
    ),
    ("GBR-LSE", "IE00B3XXRP09", "VUSA:LN", "VANGUARD S&P 500 (VUSA LN ETF)", "GBX", "", "Physical", "0.07", ""),
    (
        "GBR-LSE",
        "IE:",
        "ZVOL:LN",
        "XTRACKERS MSCI ZAMBIA VOLATILITY (ZVOL LN ETF)",
        "GBP",
        "3.1",
        "Synthetic",
        "0.65",
        "Accumulating",
    ),
    ("GBR-LSE", "IE:", "LOWV:LN", "INVESCO LOW VOLATILITY EUROPE (LOWV LN ETF)", "GBP", "", "", "0.25", ""),
    ("GBR-LSE", "IE:", "EMPT:LN", "AMUNDI EMERGING PACIFIC TECH (EMPT LN ETF)", "USD", "", "", "", ""),
    (
        "DEU-XETRA",
        "DE0005933931",
        "EXS1:GR",
        "ISHARES CORE DAX (EXS1 GY ETF)",
        "EUR",
        "8102.0",
        "Physical",
        "0.16",
        "Accumulating",
    ),
    ("USA-NYSE ARCA", "US78462F1030", "SPY:US", "SPDR S&P 500 ETF TRUST (SPY US ETF)", "USD", "", "", "", ""),
    ("USA-NASDAQ", "US46090E1038", "QQQ:US", "INVESCO QQQ TRUST (QQQ US ETF)", "USD", "", "", "0.20", ""),
    ("HKG-HKEX", "HK:", "2800:HK", "TRACKER FUND OF HONG KONG (2800 HK ETF)", "HKD", "", "", "", ""),
    ("JPN-TSE", "JP:", "1306:JP", "NEXT FUNDS TOPIX (1306 JP ETF)", "JPY", "", "", "", ""),
)
_NYSE_C, _NASDAQ_C = "NEW YORK STOCK EXCHANGE (USD) USA-NYSE", "NASDAQ (USD) USA-NASDAQ"
_SPECIAL_C: tuple[tuple[str, ...], ...] = (
    (f"{_NYSE_C} KIMCO REALTY", "US49446R1095", "KIM:US", "REALTY", "USD"),
    (f"{_NASDAQ_C} APPLE", "US0378331005", "AAPL:US", "APPLE", "USD"),
    ("NYSE ARCA (USD) USA-NYSE SPDR S&P 500 ETF", "US78462F1030", "SPY:US", "TRUST", "USD"),  # also in B
    (f"{_NASDAQ_C} ALPHABET CLASS", "US02079K1079", "GOOG:US", "C", "USD"),  # ticker in two folders
    (f"{_NASDAQ_C} MICROSOFT", "US5949181045", "MSFT:US", "MICROSOFT", "USD"),
    (f"{_NASDAQ_C} WIDEWATER", "US:", "WIDE:US", "SYSTEMS", "USD"),  # UTF-16 file
    (f"{_NYSE_C} BOMBAY EXPORTS", "US:", "BOMX:US", "CORP", "USD"),  # file starts with a BOM
    (f"{_NYSE_C} BERKSHIRE HATHAWAY CLASS", "US0846707026", "BRK.B:US", "B", "USD"),  # manual_review
    (f"{_NASDAQ_C} UNLISTED WARRANTS", "US:", "", "WARRANTS", "USD"),  # no symbol: dropped
)
_UNMATCHED_SYMBOLS = ("NWCOX", "RIO", "2800:HK", "1306:JP", "BRK.B:US")
# Bases the random generator must not produce, so the special cast keeps its outcome.
_RESERVED = [
    "AAPL",
    "VNDA",
    "META",
    "FB",
    "MSFT",
    "GOOG",
    "KIM",
    "IBM",
    "SAP",
    "GE",
    "TRPA",
    "LTRPA",
    "TWTR",
    "FRC",
    "BDAT",
    "NNCL",
    "NPCL",
    "MVOL",
    "DUPD",
    "SPRS",
    "CRLF",
    "WIDE",
    "BOMX",
    "SPY",
    "QQQ",
    "VWRL",
    "IUHC",
    "CSPX",
    "VUSA",
    "ZVOL",
    "LOWV",
    "EMPT",
    "VOD",
    "RIO",
    "PKN",
    "EXM",
    "CDR",
    "LTS",
    "EXS1",
    "NWCOX",
    "BRK",
]

# --- the random rest -------------------------------------------------------------------------
# (region, category, numbered buckets, share of random files, instrument pool or "")
_CATEGORIES: tuple[tuple[str, str, bool, float, str], ...] = (
    ("us", "nasdaq stocks", True, 0.22, "us_stock"),
    ("us", "nyse stocks", True, 0.17, "us_stock"),
    ("us", "nasdaq etfs", False, 0.04, "us_etf"),
    ("us", "nyse etfs", True, 0.08, "us_etf"),
    ("us", "nysemkt stocks", False, 0.03, "us_stock"),
    ("uk", "lse stocks", True, 0.10, ""),
    ("uk", "lse etfs", True, 0.10, "uk_etf"),
    ("pl", "wse stocks", False, 0.07, "pl"),
    ("pl", "nc stocks", False, 0.03, "pl"),
    ("de", "xetra stocks", True, 0.16, "de"),
)
_POOL_WEIGHTS = (("us_stock", 0.50), ("us_etf", 0.12), ("uk_etf", 0.18), ("pl", 0.08), ("de", 0.12))
_SUFFIX = {"us": ".us", "uk": ".uk", "pl": "", "de": ".de"}
_BASE_LENGTHS = {
    "us": (2, 3, 3, 4, 4, 4, 4, 4, 5, 5),
    "uk": (2, 3, 3, 4, 4, 4),
    "pl": (3, 3, 3, 3, 4),
    "de": (3, 3, 4, 4, 5),
}
_LETTERS, _DIGITS = "abcdefghijklmnopqrstuvwxyz", "0123456789"
_ISIN_CHARS = _DIGITS * 3 + "ABCDEFGHJKLMNPQRSTUVWXYZ"
_NAME_A = [
    "Atlas",
    "Northern",
    "Pacific",
    "Vertex",
    "Summit",
    "Harbor",
    "Bright",
    "Cedar",
    "Global",
    "United",
    "First",
    "Blue",
    "Iron",
    "Silver",
    "Golden",
    "Quantum",
    "Nova",
    "Apex",
    "Delta",
    "Pioneer",
    "Liberty",
    "Granite",
    "Meridian",
    "Sterling",
    "Crescent",
    "Evergreen",
    "Horizon",
    "Keystone",
    "Orion",
    "Falcon",
    "Redwood",
    "Sequoia",
    "Aurora",
    "Beacon",
    "Cobalt",
    "Lakeshore",
    "Prairie",
]
_NAME_B = [
    "Pharmaceuticals",
    "Realty",
    "Energy",
    "Bancorp",
    "Holdings",
    "Technologies",
    "Systems",
    "Therapeutics",
    "Industries",
    "Resources",
    "Foods",
    "Semiconductor",
    "Networks",
    "Capital",
    "Logistics",
    "Minerals",
    "Biosciences",
    "Software",
    "Motors",
    "Insurance",
    "Retail",
    "Utilities",
    "Media",
    "Chemicals",
]
_LEGAL = {"us": ("Inc", "Corp", "Co", "Ltd", ""), "pl": ("S.A.", "SA", "Spółka Akcyjna"), "de": ("AG", "SE", "GmbH")}
_ISSUERS = ("ISHARES", "VANGUARD", "XTRACKERS", "INVESCO", "SPDR", "AMUNDI", "HSBC", "LYXOR", "WISDOMTREE")
_INDEXES = (
    "S&P 500",
    "MSCI WORLD",
    "FTSE 100",
    "MSCI EM",
    "CORE MSCI EUROPE",
    "GLOBAL CLEAN ENERGY",
    "NASDAQ 100",
    "MSCI USA QUALITY",
    "EURO STOXX 50",
    "USD TREASURY 1-3Y",
    "PHYSICAL GOLD",
    "FTSE ALL-WORLD HIGH DIVIDEND",
    "MSCI JAPAN",
    "CORE UK GILTS",
)


@dataclass(slots=True)
class _File:
    path: str  # relative to the Stooq root
    ticker: str  # as written in the rows: AAPL.US, PKN
    kind: str
    matched: bool


def write_sample(
    target: Path,
    *,
    stooq_files: int = 400,
    instruments: int = 60,
    seed: int = 7,
    matched_rows: tuple[int, int] = (300, 1200),
    unmatched_rows: tuple[int, int] = (5, 40),
) -> SampleWorld:
    """Write the sample world under `target`; refuses folders that already hold files.

    `stooq_files` counts the `*.txt` files the index will list (at least the
    special cast of 40); `instruments` is the number of broker rows with a
    symbol (at least the special cast of 43).
    """
    _check_range("matched_rows", matched_rows)
    _check_range("unmatched_rows", unmatched_rows)
    if stooq_files < len(_SPECIAL_FILES):
        raise ValueError(f"stooq_files={stooq_files} is below the {len(_SPECIAL_FILES)} special files")
    target = Path(target)
    stooq_dir, tradeable_dir = target / "data" / "stooq", target / "tradeable_instruments"
    for folder in (stooq_dir, tradeable_dir):
        if folder.is_dir() and any(folder.iterdir()):
            raise FileExistsError(f"{folder} already holds files; write the sample into an empty folder")
    rng = random.Random(seed)
    files, pools = _random_files(rng, stooq_files - len(_SPECIAL_FILES))
    lists = _broker_lists(rng, pools, instruments)
    all_files = [_File(path, _ticker_of(path), kind, matched) for path, kind, matched in _SPECIAL_FILES] + files
    rows = _write_stooq_tree(rng, stooq_dir, all_files, matched_rows, unmatched_rows)
    tradeable_dir.mkdir(parents=True, exist_ok=True)
    counts = []
    for name, (data, count) in lists.items():
        (tradeable_dir / name).write_bytes(data)
        counts.append((name, count))
    return SampleWorld(
        root=target,
        stooq_dir=stooq_dir,
        tradeable_dir=tradeable_dir,
        stooq_files=len(all_files),
        ignored_files=len(_IGNORED_FILES),
        matched_files=sum(item.matched for item in all_files),
        price_rows=rows,
        instruments=sum(count for _, count in counts),
        unmatched_instruments=len(_UNMATCHED_SYMBOLS),
        broker_lists=tuple(counts),
    )


def _check_range(name: str, bounds: tuple[int, int]) -> None:
    low, high = bounds
    if not 1 <= low <= high:
        raise ValueError(f"{name}={bounds!r} must be (low, high) with 1 <= low <= high")


def _ticker_of(relative_path: str) -> str:
    name = relative_path.rsplit("/", 1)[-1]
    return name[: -len(".txt")].upper()


# --- the Stooq tree --------------------------------------------------------------------------


def _new_base(rng: random.Random, used: set[str], region: str) -> str:
    """A fresh lower-case ticker base, unique over all regions (so no accidental ambiguity)."""
    length = rng.choice(_BASE_LENGTHS[region])
    while True:
        for _ in range(20):
            base = "".join(rng.choices(_LETTERS, k=length))
            if region in ("pl", "de") and rng.random() < 0.08:  # 11b.txt, vow3.de.txt
                at = rng.randrange(length)
                base = base[:at] + rng.choice(_DIGITS) + base[at + 1 :]
            if base.upper() not in used:
                used.add(base.upper())
                return base
        length += 1


def _random_files(rng: random.Random, count: int) -> tuple[list[_File], dict[str, list[_File]]]:
    """`count` random files spread over the categories, and the pools instruments draw from."""
    used = set(_RESERVED) | {prefix + base for base in _RESERVED for prefix in "LQ"}
    shares = [int(count * share) for *_, share, _ in _CATEGORIES]
    for at in range(count - sum(shares)):
        shares[at % len(shares)] += 1
    files: list[_File] = []
    pools: dict[str, list[_File]] = {pool: [] for pool, _ in _POOL_WEIGHTS}
    for (region, category, bucketed, _, pool), size in zip(_CATEGORIES, shares, strict=False):
        names = sorted(_new_base(rng, used, region) + _SUFFIX[region] for _ in range(size))
        buckets = max(min(3, size), math.ceil(size / _BUCKET_SIZE)) if bucketed else 1
        per_bucket = math.ceil(size / buckets) if size else 1
        folder = f"d_{region}_txt/data/daily/{region}/{category}"
        for at, name in enumerate(names):
            where = f"{folder}/{at // per_bucket + 1}" if bucketed else folder
            item = _File(f"{where}/{name}.txt", name.upper(), "prices", False)
            files.append(item)
            if pool:
                pools[pool].append(item)
    for pool_files in pools.values():
        rng.shuffle(pool_files)
    return files, pools


@lru_cache(maxsize=1)
def _business_days() -> tuple[str, ...]:
    days, day, step = [], _FIRST_DAY, timedelta(days=1)
    while day <= _LAST_DAY:
        if day.weekday() < 5:
            days.append(day.strftime("%Y%m%d"))
        day += step
    return tuple(days)


def _price_rows(rng: random.Random, ticker: str, count: int) -> list[str]:
    """`count` consecutive business-day rows of a random walk, most ending on the last day."""
    days = _business_days()
    count = min(count, len(days))
    end = len(days) if rng.random() < 0.88 else rng.randint(count, len(days))
    decimals = rng.choice((2, 2, 3, 4))
    floor = 10.0 ** (1 - decimals)
    price = rng.uniform(5, 400) / 10 ** (decimals - 2)
    swing = rng.uniform(0.006, 0.03)
    volume = 10 ** rng.uniform(2, 6.5)
    fmt = f"{ticker},D,%s,000000," + ",".join([f"%.{decimals}f"] * 4) + ",%d,0"
    rand = rng.random
    rows: list[str] = []
    append = rows.append
    for day in days[end - count : end]:
        opened = price * (1.0 + swing * (rand() - 0.5) * 0.5)
        price *= 1.0 + swing * (rand() - 0.5) * 2.0
        if price < floor:
            price = floor * (1.0 + rand())
        high = (opened if opened > price else price) * (1.0 + swing * rand())
        low = (opened if opened < price else price) * (1.0 - swing * rand())
        append(fmt % (day, opened, high, low, price, volume * (0.2 + rand()) + 1.0))
    return rows


def _set_field(row: str, at: int, value: str) -> str:
    fields = row.split(",")
    fields[at] = value
    return ",".join(fields)


def _messy_text(rng: random.Random, item: _File, count: int) -> tuple[bytes, int]:
    """The bytes and the number of data rows of a special file whose kind is not "prices"."""
    kind = item.kind
    if kind == "zero_bytes":
        return b"", 0
    if kind == "header_only":
        return (STOOQ_HEADER + "\n").encode(), 0
    rows = _price_rows(rng, item.ticker, 1 if kind == "one_row" else max(count, _MESSY_MIN_ROWS))
    middle = len(rows) // 2
    if kind == "bad_date":
        rows[middle] = _set_field(rows[middle], 2, "20230230")
    elif kind == "non_numeric_close":
        rows[3] = _set_field(rows[3], 7, "n/a")
        rows[middle] = _set_field(rows[middle], 7, "-")
    elif kind == "non_positive_close":
        rows[middle] = _set_field(rows[middle], 7, "0")
        rows[-2] = _set_field(rows[-2], 7, "-0.01")
    elif kind == "missing_volume":
        for at in (1, middle, -1):
            rows[at] = _set_field(rows[at], 8, "")
    elif kind == "zero_volume_critical":  # an illiquid ETF: no trades on most days
        for at in range(len(rows)):
            if at < len(rows) * 0.6 or rng.random() < 0.3:
                rows[at] = _set_field(rows[at], 8, "0")
    elif kind == "zero_volume_low":
        rows[middle] = _set_field(rows[middle], 8, "0")
    elif kind == "unordered_dates":
        rows.insert(middle, rows[middle])  # a repeated day
        rows[2], rows[3] = rows[3], rows[2]  # two days swapped
    text = STOOQ_HEADER + "\n" + "\n".join(rows) + "\n"
    if kind == "crlf_blank_lines":
        text = STOOQ_HEADER + "\r\n" + "\r\n".join([*rows[:middle], "", *rows[middle:]]) + "\r\n\r\n\r\n"
    elif kind == "bom":
        text = "\ufeff" + text
    return text.encode("utf-16" if kind == "utf16" else "utf-8"), len(rows)  # utf16: re-saved on Windows


def _write_stooq_tree(
    rng: random.Random,
    root: Path,
    files: list[_File],
    matched_rows: tuple[int, int],
    unmatched_rows: tuple[int, int],
) -> int:
    """Write every file (and the ignored ones); return the number of data rows written."""
    base = str(root)
    folders = sorted(
        {item.path.rsplit("/", 1)[0] for item in files} | {path.rsplit("/", 1)[0] for path, _ in _IGNORED_FILES}
    )
    for folder in folders:
        os.makedirs(os.path.join(base, folder), exist_ok=True)
    total = 0
    for item in files:
        low, high = matched_rows if item.matched else unmatched_rows
        count = rng.randint(low, high)
        if item.kind == "prices":
            rows = _price_rows(rng, item.ticker, count)
            data = (STOOQ_HEADER + "\n" + "\n".join(rows) + "\n").encode()
            total += len(rows)
        else:
            data, written = _messy_text(rng, item, count)
            total += written
        with open(os.path.join(base, item.path), "wb") as handle:
            handle.write(data)
    for path, data in _IGNORED_FILES:
        with open(os.path.join(base, path), "wb") as handle:
            handle.write(data)
    return total


# --- the broker lists ------------------------------------------------------------------------


def _isin(rng: random.Random, country: str) -> str:
    """A random ISIN of `country` with a valid check digit."""
    body = country + "".join(rng.choices(_ISIN_CHARS, k=9))
    digits = "".join(str(int(char, 36)) for char in body)
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char) * (2 if position % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return body + str((10 - total % 10) % 10)


def _company(rng: random.Random) -> tuple[str, str]:
    return rng.choice(_NAME_A), rng.choice(_NAME_B)


def _fund(rng: random.Random) -> str:
    return f"{rng.choice(_ISSUERS)} {rng.choice(_INDEXES)}"


def _fund_extras(rng: random.Random) -> list[str]:
    aum = f"{rng.uniform(2, 60000):.1f}" if rng.random() < 0.7 else ""
    replication = rng.choice(("Physical", "Physical", "Synthetic", ""))
    fee = rng.choice(("0.07", "0.10", "0.12", "0.20", "0.25", "0.40", "0.65", ""))
    dividend = rng.choice(("Accumulating", "Distributing", ""))
    return [aum, replication, fee, dividend]


def _regular_row(rng: random.Random, pool: str, item: _File) -> tuple[str, list[str]]:
    """(list name, row) of an instrument meant to match `item`."""
    symbol = item.ticker.split(".", 1)[0]
    nyse = "/nyse" in item.path
    if pool == "us_stock":
        first, second = _company(rng)
        if rng.random() < 0.55:
            legal = rng.choice(_LEGAL["us"])
            name = f"{first} {second} {legal} USD" if legal else f"{first} {second} USD"
            return "a", ["NYSE" if nyse else "NSQ", _isin(rng, "US"), symbol, name]
        exchange = _NYSE_C if nyse else _NASDAQ_C
        return "c", [
            f"{exchange} {first.upper()} {second.upper()}",
            _isin(rng, "US"),
            f"{symbol}:US",
            second.upper(),
            "USD",
        ]
    if pool == "us_etf":
        fund = _fund(rng)
        if rng.random() < 0.6:
            return "b", [
                "USA-NYSE ARCA" if nyse else "USA-NASDAQ",
                _isin(rng, "US"),
                f"{symbol}:US",
                f"{fund} ({symbol} US ETF)",
                "USD",
                *_fund_extras(rng),
            ]
        return "c", [f"NYSE ARCA (USD) USA-NYSE {fund} ETF", _isin(rng, "US"), f"{symbol}:US", "ETF", "USD"]
    if pool == "uk_etf":
        currency = rng.choices(("GBP", "USD", "GBX"), (60, 33, 7))[0]
        return "b", [
            "GBR-LSE",
            _isin(rng, "IE"),
            f"{symbol}:LN",
            f"{_fund(rng)} ({symbol} LN ETF)",
            currency,
            *_fund_extras(rng),
        ]
    if pool == "pl":
        first, second = _company(rng)
        return "a", [
            rng.choice(("GPW", "GPW", "WSE")),
            _isin(rng, "PL"),
            symbol,
            f"{first} {second} {rng.choice(_LEGAL['pl'])} PLN",
        ]
    if rng.random() < 0.6:
        first, second = _company(rng)
        return "a", ["XETRA", _isin(rng, "DE"), symbol, f"{first} {second} {rng.choice(_LEGAL['de'])} EUR"]
    return "b", [
        "DEU-XETRA",
        _isin(rng, "DE"),
        f"{symbol}:GR",
        f"{_fund(rng)} ({symbol} GY ETF)",
        "EUR",
        *_fund_extras(rng),
    ]


def _special_rows(rng: random.Random, rows: tuple[tuple[str, ...], ...]) -> list[list[str]]:
    """The special rows with each `CC:` ISIN placeholder replaced by a generated ISIN."""
    return [
        [_isin(rng, value[:2]) if at == 1 and value.endswith(":") else value for at, value in enumerate(row)]
        for row in rows
    ]


def _render(header: tuple[str, ...], rows: list[list[str]], line_end: str, blank_line_at: int | None) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=line_end, quoting=csv.QUOTE_MINIMAL)
    writer.writerow(header)
    for at, row in enumerate(rows):
        if at == blank_line_at:
            buffer.write(line_end)
        writer.writerow(row)
    return buffer.getvalue()


def _broker_lists(rng: random.Random, pools: dict[str, list[_File]], instruments: int) -> dict[str, tuple[bytes, int]]:
    """The three lists by file name: their bytes and their number of instruments."""
    rows = {
        "a": _special_rows(rng, _SPECIAL_A),
        "b": _special_rows(rng, _SPECIAL_B),
        "c": _special_rows(rng, _SPECIAL_C),
    }
    special = sum(1 for group in rows.values() for row in group if row[2])
    for _ in range(max(0, instruments - special)):
        open_pools = [(pool, weight) for pool, weight in _POOL_WEIGHTS if pools[pool]]
        if not open_pools:
            raise ValueError(f"instruments={instruments} needs more stooq_files to match")
        pool = rng.choices([pool for pool, _ in open_pools], [weight for _, weight in open_pools])[0]
        item = pools[pool].pop()
        item.matched = True
        name, row = _regular_row(rng, pool, item)
        rows[name].append(row)
    for group in rows.values():
        rng.shuffle(group)
    a_text = _render(_A_HEADER, rows["a"], "\n", len(rows["a"]) // 2)
    b_text = _render(_B_HEADER, rows["b"], "\r\n", None)
    c_text = _render(_C_HEADER, rows["c"], "\n", None)
    return {
        "broker_a_stocks.csv": (a_text.encode("utf-8"), sum(1 for row in rows["a"] if row[2].strip())),
        "broker_b_etf.csv": (b_text.encode("utf-8"), sum(1 for row in rows["b"] if row[2].strip())),
        "broker_c_us.csv": (c_text.encode("utf-8-sig"), sum(1 for row in rows["c"] if row[2].strip())),
    }
