"""Remembered match outcomes per (symbol, market), valid for one exact index.

Matching reruns only for instruments not seen with this index; a changed index
(another hash) invalidates every outcome, since any match could move. Matching every
instrument of the universe keeps exactly their outcomes; matching some of them (the
lists match_report makes again) adds theirs and keeps the rest. A few new rows of a
list that grew are matched without the cache (`match_without_cache`): loading and
saving it would cost more than matching them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..domain.broker_lists import Instrument
from ..domain.matching import Match, StooqLookup, Unmatched, bases_to_look_up, match_instrument
from ..domain.stooq_tree import index_entry, read_index, read_index_for_bases
from .json_cache import load_json_cache, save_json_cache

__all__ = ["MatchOutcomes", "match_with_cache", "match_without_cache"]

KIND = "match_cache"


@dataclass
class MatchOutcomes:
    """Outcomes in instrument order, with how many came from the cache."""

    outcomes: list[Match | Unmatched] = field(default_factory=list)
    reused: int = 0
    rematched: int = 0
    warning: str | None = None


def _encode(outcome: Match | Unmatched) -> list[str]:
    if isinstance(outcome, Match):
        return ["m", outcome.entry.relative_path, outcome.strategy]
    return ["u", outcome.reason]


def _decode(value: list[str]) -> Match | Unmatched:
    if not isinstance(value, list) or not value:
        raise ValueError(f"not an outcome: {value!r}")
    if value[0] == "m":
        return Match(index_entry(value[1]), value[2])
    if value[0] == "u":
        return Unmatched(value[1])
    raise ValueError(f"unknown outcome {value!r}")


# Up to this many new instruments, the index is read for just the tickers they can match.
_PARTIAL_LOOKUP_LIMIT = 200


def match_without_cache(instruments: list[Instrument], index_path: Path) -> MatchOutcomes:
    """Outcomes for a few instruments, each matched afresh."""
    lookup = _lookup_for(instruments, index_path) if instruments else StooqLookup([])
    outcomes = [match_instrument(item.symbol, item.market, lookup) for item in instruments]
    return MatchOutcomes(outcomes, reused=0, rematched=len(instruments))


def match_with_cache(
    instruments: list[Instrument],
    index_path: Path,
    index_version: str,
    cache_path: Path,
    force: bool = False,
    whole_universe: bool = True,
) -> MatchOutcomes:
    """Outcomes for every instrument; the index is read only if some instrument is new
    (every instrument is matched afresh with `force`). With `whole_universe` the cache
    keeps the outcomes of these instruments only, else it keeps the others too."""
    loaded = load_json_cache(cache_path, KIND, index_version)
    known: dict[str, list[str]] = {}
    outcomes = MatchOutcomes(warning=loaded.warning)
    for key, value in ({} if force else loaded.entries).items():
        try:
            _decode(value)
            known[key] = value
        except (ValueError, IndexError, TypeError):
            outcomes.warning = f"{cache_path} had a malformed entry; rematching it"
    keys = [f"{item.symbol}\x1f{item.market}" for item in instruments]
    new = {key: item for key, item in zip(keys, instruments, strict=False) if key not in known}
    if new:
        lookup = _lookup_for(list(new.values()), index_path)
        for key, item in new.items():
            known[key] = _encode(match_instrument(item.symbol, item.market, lookup))
    outcomes.rematched = len(new)
    outcomes.reused = len(instruments) - len(new)
    outcomes.outcomes = [_decode(known[key]) for key in keys]
    current = {key: known[key] for key in keys} if whole_universe else known
    if current != loaded.entries or outcomes.warning:
        save_json_cache(cache_path, KIND, index_version, current)
    return outcomes


def _lookup_for(instruments: list[Instrument], index_path: Path) -> StooqLookup:
    if len(instruments) > _PARTIAL_LOOKUP_LIMIT:
        return StooqLookup(read_index(index_path))
    bases = set().union(*(bases_to_look_up(item.symbol, item.market) for item in instruments))
    entries, extensions = read_index_for_bases(index_path, bases)
    return StooqLookup(entries, extensions)
