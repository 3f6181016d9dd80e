"""What an asset check is, without Dagster: a rule over the files an asset wrote, its
outcome, and what the rules of one evaluation share.

Each asset's rules live in its step module and are listed in its registry entry; the
Dagster layer declares them on the asset and runs them in the asset's own step
(dagster_defs/checks.py). Every asset also gets `outputs_intact` from that layer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from ..settings import Settings
from .asset_metadata import MetadataItem

__all__ = ["CheckOutcome", "CheckReading", "CheckRule"]

T = TypeVar("T")


class CheckReading:
    """The settings a check evaluation judges, and what its rules read, each read once
    (two rules of match_report judge the same report coverage)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._read: dict[str, Any] = {}

    def once(self, name: str, read: Callable[[], T]) -> T:
        """`read()`, called on the first request for `name` in this evaluation only."""
        if name not in self._read:
            self._read[name] = read()
        value: T = self._read[name]
        return value


@dataclass(frozen=True)
class CheckOutcome:
    passed: bool
    metadata: Mapping[str, MetadataItem] = field(default_factory=dict)
    severity: Literal["error", "warn"] = "error"
    """How a failure shows: "warn" informs, "error" marks the asset's check failed."""


@dataclass(frozen=True)
class CheckRule:
    """One check of an asset: the function `name(reading) -> CheckOutcome` of its step
    module (looked up when evaluated, like the step function)."""

    name: str
    description: Callable[[], str]
    """Said in the UI; a function, as it may name a threshold setting's current value."""
    blocking: bool = False
    """A failed blocking check stops what depends on the asset in that run, and the
    automation rebuilds the asset once."""
