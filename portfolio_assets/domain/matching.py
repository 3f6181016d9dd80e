"""Matching a broker instrument to a Stooq file, or the reason it is unmatched (SPEC 3)."""

from __future__ import annotations

import itertools
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from .stooq_tree import IndexEntry, split_ticker

__all__ = [
    "ALIASES",
    "MARKET_PATTERNS",
    "SUFFIX_EXTENSIONS",
    "Match",
    "NormalisedSymbol",
    "StooqLookup",
    "Unmatched",
    "bases_to_look_up",
    "candidate_tickers",
    "market_extensions",
    "match_instrument",
    "normalise_symbol",
    "wanted_extensions",
]

_SUFFIX_GROUPS: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (("PW", "PL", "GPW"), (".PL",)),
    (("LN", "L", "GB"), (".UK",)),
    (("US", "UN", "U", "NYSE", "NASDAQ", "NSQ", "NAS", "NASDAQ (USD)", "NYSE-MKT", "AMEX"), (".US",)),
    (("HK", "H"), (".HK",)),
    (("JP", "T"), (".JP",)),
    (("HU", "BSE"), (".HU",)),
    (("TSX", "TO", "C"), (".TO",)),
    (("TSXV", "V"), (".V",)),
    (("CN",), (".CN",)),
    (("GR", "DE"), (".DE",)),
    (("PA", "PAR"), (".PA", ".FR")),
    (("AMS",), (".NL", ".AS")),
    (("AS",), (".AS", ".NL")),
    (("SWX", "SW", "CH"), (".CH",)),
    (("BRU", "BR", "BRX"), (".BE",)),
)
SUFFIX_EXTENSIONS: dict[str, tuple[str, ...]] = {
    suffix: extensions for suffixes, extensions in _SUFFIX_GROUPS for suffix in suffixes
}

MARKET_PATTERNS: tuple[tuple[re.Pattern[str], tuple[str, ...]], ...] = tuple(
    (re.compile(pattern), extensions)
    for pattern, extensions in (
        (r"XETRA|FRANKFURT|GER|DEU", (".DE",)),
        (r"EURONEXT\s*PARIS|\bPAR\b|PARIS|FRANCE", (".PA", ".FR")),
        (r"EURONEXT\s*AMSTERDAM|AMSTERDAM|NED|NETHERLANDS", (".NL", ".AS")),
        (r"NSQ|NASDAQ|NYSE|USA|UNITED STATES|AMERICAN", (".US",)),
        (r"TSX|TORONTO|CANADA", (".TO",)),
        (r"GPW|WARSAW|POL", (".PL",)),
        (r"LSE|LONDON|UNITED KINGDOM|UK", (".UK",)),
        (r"HK", (".HK",)),
        (r"JPX|TOKYO|JAPAN", (".JP",)),
        (r"HUNGARY|BUDAPEST", (".HU",)),
        (r"SWISS|ZURICH|SWX|SIX|SWITZERLAND", (".CH",)),
        (r"BRUSSELS|BELGIUM", (".BE",)),
    )
)

# Renamed US tickers: (old base, extension) -> current Stooq ticker.
ALIASES: dict[tuple[str, str], str] = {
    (old, ".US"): new
    for old, new in (
        ("FB", "META.US"),
        ("BRKS", "AZTA.US"),
        ("PKI", "RVTY.US"),
        ("FISV", "FI.US"),
        ("FBHS", "FBIN.US"),
        ("NRZ", "RITM.US"),
        ("DWAV", "QBTS.US"),
    )
}


@dataclass(frozen=True, slots=True)
class NormalisedSymbol:
    symbol: str  # stripped, spaces deleted, upper-cased
    base: str
    suffix: str


@dataclass(frozen=True, slots=True)
class Match:
    entry: IndexEntry
    strategy: str  # "ticker" or "base_market"


@dataclass(frozen=True, slots=True)
class Unmatched:
    reason: str


def normalise_symbol(symbol: str) -> NormalisedSymbol:
    normalised = symbol.strip().replace(" ", "").upper()
    for separator in (":", "."):
        if separator in normalised:
            base, suffix = normalised.split(separator, 1)
            return NormalisedSymbol(normalised, base, suffix)
    return NormalisedSymbol(normalised, normalised, "")


def market_extensions(market: str) -> tuple[str, ...]:
    """Extensions the first matching market pattern gives, or none."""
    upper = market.upper()
    for pattern, extensions in MARKET_PATTERNS:
        if pattern.search(upper):
            return extensions
    return ()


def wanted_extensions(suffix: str, market: str) -> tuple[str, ...]:
    if suffix in SUFFIX_EXTENSIONS:
        return SUFFIX_EXTENSIONS[suffix]
    return market_extensions(market) or ("",)


def candidate_tickers(normalised: NormalisedSymbol, wanted: tuple[str, ...], market: str) -> list[str]:
    base = normalised.base
    real_extensions = [ext for ext in wanted if ext]
    if normalised.suffix:
        candidates = [base + ext for ext in real_extensions] + [normalised.symbol]
    else:
        candidates = [base] + [base + ext for ext in real_extensions]
    for ext in real_extensions or market_extensions(market):
        alias = ALIASES.get((base, ext))
        if alias:
            candidates.append(alias)
        candidates += [f"L{base}{ext}", f"Q{base}{ext}"]
    return list(dict.fromkeys(candidates))


def _acceptable(entry: IndexEntry, wanted: tuple[str, ...]) -> bool:
    return not wanted or entry.extension in wanted


class StooqLookup:
    """The index arranged for matching: by ticker (first by relative path wins) and by base."""

    def __init__(self, entries: Iterable[IndexEntry], extensions: set[str] | None = None) -> None:
        """`extensions`: every extension of the whole index, when `entries` is only part of it."""
        ordered = list(entries)
        if any(a.relative_path > b.relative_path for a, b in itertools.pairwise(ordered)):
            ordered.sort(key=lambda item: item.relative_path)
        self.by_ticker: dict[str, IndexEntry] = {}
        self.by_base: dict[str, list[IndexEntry]] = defaultdict(list)
        self.extensions: set[str] = set()
        for entry in ordered:
            ticker = entry.ticker.upper()
            self.by_ticker.setdefault(ticker, entry)
            base, extension = split_ticker(ticker)
            self.by_base[base].append(entry)
            self.extensions.add(extension)
        if extensions is not None:
            self.extensions = set(extensions)


def bases_to_look_up(symbol: str, market: str) -> set[str]:
    """Every ticker base `match_instrument` may look at for this instrument: a lookup
    holding just the index entries with these bases gives the same answer."""
    normalised = normalise_symbol(symbol)
    wanted = wanted_extensions(normalised.suffix, market)
    candidates = candidate_tickers(normalised, wanted, market)
    return {normalised.base} | {split_ticker(candidate)[0] for candidate in candidates}


def match_instrument(symbol: str, market: str, lookup: StooqLookup) -> Match | Unmatched:
    normalised = normalise_symbol(symbol)
    if not normalised.symbol:
        return Unmatched("missing_symbol")
    wanted = wanted_extensions(normalised.suffix, market)
    for candidate in candidate_tickers(normalised, wanted, market):
        entry = lookup.by_ticker.get(candidate)
        if entry is not None and _acceptable(entry, wanted):
            exact = bool(normalised.suffix) or candidate == normalised.symbol
            return Match(entry, "ticker" if exact else "base_market")
    same_base = lookup.by_base.get(normalised.base, [])
    for entry in same_base:
        if entry.stem == normalised.base and _acceptable(entry, wanted):
            return Match(entry, "base_market")
    acceptable = [entry for entry in same_base if _acceptable(entry, wanted)]
    if len(acceptable) == 1:
        return Match(acceptable[0], "base_market")
    if not acceptable and len(same_base) == 1:
        return Match(same_base[0], "base_market")
    return Unmatched(_unmatched_reason(wanted, same_base, lookup))


def _unmatched_reason(wanted: tuple[str, ...], same_base: list[IndexEntry], lookup: StooqLookup) -> str:
    for ext in wanted:
        if ext not in lookup.extensions:
            return f"no_source_data({ext})"
    if not same_base:
        return "manual_review"
    if len(same_base) > 1:
        return "ambiguous_variants"
    if not _acceptable(same_base[0], wanted):
        return "alias_required"
    return "manual_review"
