"""Remembered match outcomes per (symbol, market), valid for one exact index.

Matching reruns only for instruments not seen with this index; a changed index
(another hash) invalidates every outcome, since any match could move.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .json_cache import load_json_cache, save_json_cache
from .broker_lists import Instrument
from .matching import Match, StooqLookup, Unmatched, match_instrument
from .stooq_tree import IndexEntry, index_entry

__all__ = ["MatchOutcomes", "match_with_cache"]

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
    if value[0] == "m":
        return Match(index_entry(value[1]), value[2])
    if value[0] == "u":
        return Unmatched(value[1])
    raise ValueError(f"unknown outcome {value!r}")


def match_with_cache(instruments: list[Instrument], index_path: Path, index_version: str,
                     cache_path: Path, read_index: Callable[[Path], list[IndexEntry]]) -> MatchOutcomes:
    """Outcomes for every instrument; the index is read only if some instrument is new."""
    loaded = load_json_cache(cache_path, KIND, index_version)
    known = loaded.entries
    outcomes = MatchOutcomes(warning=loaded.warning)
    lookup: StooqLookup | None = None
    fresh: dict[str, list[str]] = {}
    for instrument in instruments:
        key = f"{instrument.symbol}\x1f{instrument.market}"
        if key in fresh:
            outcomes.outcomes.append(_decode(fresh[key]))
            outcomes.reused += 1
            continue
        try:
            outcome = _decode(known[key]) if key in known else None
        except (ValueError, IndexError, TypeError):
            outcome = None
            outcomes.warning = f"{cache_path} had a malformed entry; rematching"
        if outcome is None:
            if lookup is None:
                lookup = StooqLookup(read_index(index_path))
            outcome = match_instrument(instrument.symbol, instrument.market, lookup)
            outcomes.rematched += 1
        else:
            outcomes.reused += 1
        fresh[key] = _encode(outcome)
        outcomes.outcomes.append(outcome)
    if fresh != known:
        save_json_cache(cache_path, KIND, index_version, fresh)
    return outcomes
