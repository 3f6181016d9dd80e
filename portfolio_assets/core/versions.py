"""Code versions of the four steps: a logic number to bump by hand, plus the settings
that change the step's result, hashed, so that changing such a setting makes
exactly the affected steps stale (SPEC 6)."""

from __future__ import annotations

from .fingerprints import text_fingerprint
from .settings import Settings

__all__ = ["STEP_LOGIC_VERSIONS", "CACHE_VERSIONS", "RESULT_SETTINGS", "result_settings", "step_code_version"]

# Bump a number when the step's output for the same inputs changes.
STEP_LOGIC_VERSIONS = {
    "stooq_index": "1",
    "tradeable_universe": "1",
    "match_report": "1",
    "price_exports": "1",
}

# Versions of the per-instrument caches: bump one when what it stores would change.
CACHE_VERSIONS = {
    "matching": "1",
    "diagnostics": "1",
    "exports": "1",
}

# Settings whose value changes a step's output (paths do not: they change its inputs).
RESULT_SETTINGS: dict[str, tuple[str, ...]] = {
    "stooq_index": (),
    "tradeable_universe": (),
    "match_report": ("lse_currency_policy",),
    "price_exports": ("include_empty",),
}


def result_settings(step: str, settings: Settings) -> dict[str, str]:
    """The result-changing settings of a step as text, e.g. {"include_empty": "false"}."""
    values = {}
    for name in RESULT_SETTINGS[step]:
        value = getattr(settings, name)
        values[name] = str(value).lower() if isinstance(value, bool) else str(value)
    return values


def step_code_version(step: str, settings: Settings) -> str:
    logic = STEP_LOGIC_VERSIONS[step]
    chosen = result_settings(step, settings)
    if not chosen:
        return f"v{logic}"
    return f"v{logic}-" + text_fingerprint(*(f"{k}={v}" for k, v in sorted(chosen.items())))[:12]
