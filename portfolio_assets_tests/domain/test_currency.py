"""inferred_currency, resolved_currency and currency_status of a matched instrument (SPEC 5)."""

from __future__ import annotations

import pytest

from portfolio_assets.domain.currency import is_lse_listing, resolve_currency

POLICIES = ("broker", "stooq", "strict")


@pytest.mark.parametrize(
    ("region", "inferred"),
    [
        ("us", "USD"),
        ("world", "USD"),
        ("uk", "GBP"),
        ("pl", "PLN"),
        ("hk", "HKD"),
        ("jp", "JPY"),
        ("hu", "HUF"),
        ("de", ""),
        ("macro", ""),
        ("custom", ""),
        ("", ""),
    ],
)
def test_inferred_currency_by_region(region: str, inferred: str) -> None:
    result = resolve_currency(region, "", "ABC", "", "broker")
    assert result.inferred == inferred
    assert (result.resolved, result.status) == ((inferred, "inferred_only") if inferred else ("", "unknown"))


@pytest.mark.parametrize(
    ("region", "market", "symbol", "expected"),
    [
        ("uk", "LSE", "VOD", True),
        ("uk", "GBR-LSE", "IUHC", True),
        ("uk", "LONDON STOCK EXCHANGE", "VOD", True),
        ("uk", "XLSE", "VOD", True),
        ("uk", "", "IUHC:LN", True),
        ("uk", "", "VOD:L", True),
        ("uk", "", "VOD.LN", True),
        ("uk", "", "VOD.L", True),
        ("uk", "XETRA", "VWRL:LN", True),
        ("uk", "", "VOD", False),
        ("uk", "XETRA", "VOD:GB", False),
        ("uk", "", "VOD:US", False),
        ("uk", "", "ABC.PL", False),
        ("uk", "", "ABC:GBL", False),
        ("uk", "", "LN", False),
        ("uk", "NYSE", "VOD", False),
        # the file must be in region uk
        ("us", "LSE", "VOD:LN", False),
        ("world", "LONDON", "VOD.L", False),
        ("de", "LSE", "VOD.L", False),
        ("", "LSE", "VOD:LN", False),
    ],
)
def test_lse_listing(region: str, market: str, symbol: str, expected: bool) -> None:
    assert is_lse_listing(region, market, symbol) is expected


@pytest.mark.parametrize(
    ("region", "market", "symbol", "broker_currency", "policy", "expected"),
    [
        # both present and equal
        *[("uk", "LSE", "VOD:LN", "GBP", policy, ("GBP", "GBP", "match")) for policy in POLICIES],
        *[("us", "NYSE", "KIM:US", "USD", policy, ("USD", "USD", "match")) for policy in POLICIES],
        *[("us", "NYSE", "KIM:US", "usd", policy, ("USD", "USD", "match")) for policy in POLICIES],
        *[("world", "", "SPX", "USD", policy, ("USD", "USD", "match")) for policy in POLICIES],
        # both present and different, LSE listing: the policy decides
        ("uk", "GBR-LSE", "IUHC:LN", "USD", "broker", ("GBP", "USD", "override")),
        ("uk", "GBR-LSE", "IUHC:LN", "USD", "stooq", ("GBP", "GBP", "mismatch")),
        ("uk", "GBR-LSE", "IUHC:LN", "USD", "strict", ("GBP", "", "error:lse_currency_override")),
        ("uk", "LONDON", "VWRL", "usd", "broker", ("GBP", "USD", "override")),
        ("uk", "LONDON", "VWRL", "usd", "stooq", ("GBP", "GBP", "mismatch")),
        ("uk", "LONDON", "VWRL", "usd", "strict", ("GBP", "", "error:lse_currency_override")),
        ("uk", "", "VOD.L", "EUR", "broker", ("GBP", "EUR", "override")),
        ("uk", "", "VOD.L", "EUR", "stooq", ("GBP", "GBP", "mismatch")),
        ("uk", "", "VOD.L", "EUR", "strict", ("GBP", "", "error:lse_currency_override")),
        ("uk", "", "VOD.LN", "USD", "broker", ("GBP", "USD", "override")),
        ("uk", "", "VOD:L", "USD", "strict", ("GBP", "", "error:lse_currency_override")),
        # both present and different, not an LSE listing: inferred wins, whatever the policy
        *[("uk", "XETRA", "VOD", "EUR", policy, ("GBP", "GBP", "mismatch")) for policy in POLICIES],
        *[("uk", "", "VOD:GB", "USD", policy, ("GBP", "GBP", "mismatch")) for policy in POLICIES],
        *[("us", "LSE", "VOD:LN", "GBP", policy, ("USD", "USD", "mismatch")) for policy in POLICIES],
        *[("us", "NYSE", "KIM:US", "EUR", policy, ("USD", "USD", "mismatch")) for policy in POLICIES],
        *[("pl", "GPW", "EXM", "EUR", policy, ("PLN", "PLN", "mismatch")) for policy in POLICIES],
        *[("world", "LSE", "SPX", "GBP", policy, ("USD", "USD", "mismatch")) for policy in POLICIES],
        # only expected
        *[("de", "XETRA", "SAP:GR", "EUR", policy, ("", "EUR", "expected_only")) for policy in POLICIES],
        *[("macro", "", "X", "eur", policy, ("", "EUR", "expected_only")) for policy in POLICIES],
        # only inferred
        *[("uk", "LSE", "VOD:LN", "", policy, ("GBP", "GBP", "inferred_only")) for policy in POLICIES],
        *[("hk", "HKEX", "0700:HK", "", policy, ("HKD", "HKD", "inferred_only")) for policy in POLICIES],
        *[("jp", "TOKYO", "7203:JP", "", policy, ("JPY", "JPY", "inferred_only")) for policy in POLICIES],
        *[("hu", "BUDAPEST", "OTP:HU", "", policy, ("HUF", "HUF", "inferred_only")) for policy in POLICIES],
        # neither
        *[("de", "XETRA", "SAP:GR", "", policy, ("", "", "unknown")) for policy in POLICIES],
    ],
)
def test_resolved_currency_and_status(
    region: str, market: str, symbol: str, broker_currency: str, policy: str, expected: tuple[str, str, str]
) -> None:
    result = resolve_currency(region, market, symbol, broker_currency, policy)
    assert (result.inferred, result.resolved, result.status) == expected
