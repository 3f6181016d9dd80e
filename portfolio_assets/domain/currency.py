"""Currencies of a matched instrument: inferred from Stooq, expected from the broker (SPEC 5)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LSE_CURRENCY_POLICIES", "REGION_CURRENCIES", "CurrencyResolution", "is_lse_listing", "resolve_currency"]

LSE_CURRENCY_POLICIES = ("broker", "stooq", "strict")

REGION_CURRENCIES = {
    "us": "USD",
    "world": "USD",
    "uk": "GBP",
    "pl": "PLN",
    "hk": "HKD",
    "jp": "JPY",
    "hu": "HUF",
}

_LSE_SYMBOL_ENDINGS = (":LN", ":L", ".LN", ".L")


@dataclass(frozen=True, slots=True)
class CurrencyResolution:
    inferred: str
    resolved: str
    status: str


def is_lse_listing(region: str, market: str, symbol: str) -> bool:
    if region.lower() != "uk":
        return False
    upper_market = market.upper()
    if "LSE" in upper_market or "LONDON" in upper_market:
        return True
    return symbol.strip().upper().endswith(_LSE_SYMBOL_ENDINGS)


def resolve_currency(
    region: str, market: str, symbol: str, broker_currency: str, lse_currency_policy: str
) -> CurrencyResolution:
    inferred = REGION_CURRENCIES.get(region.lower(), "")
    expected = broker_currency.strip().upper()
    if expected and inferred:
        if expected == inferred:
            return CurrencyResolution(inferred, expected, "match")
        if is_lse_listing(region, market, symbol):
            if lse_currency_policy == "broker":
                return CurrencyResolution(inferred, expected, "override")
            if lse_currency_policy == "stooq":
                return CurrencyResolution(inferred, inferred, "mismatch")
            return CurrencyResolution(inferred, "", "error:lse_currency_override")
        return CurrencyResolution(inferred, inferred, "mismatch")
    if expected:
        return CurrencyResolution(inferred, expected, "expected_only")
    if inferred:
        return CurrencyResolution(inferred, inferred, "inferred_only")
    return CurrencyResolution(inferred, "", "unknown")
