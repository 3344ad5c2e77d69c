"""Currencies and the fee schedule of the fake account.

Amounts are integers in the currency's minor unit: cents for USD, whole yen for JPY (a
zero-decimal currency: 5000 means ¥5,000, never ×100), thousandths for the three-decimal ones.

Default schedule (rates in percent, flat amounts in the currency's *major* unit and converted with
its exponent, so 0.30 is 30 cents but 0 yen):

    card              2.9 % + 0.30                    rounded half up
    us_bank_account   0.8 %, capped at 5.00
    sepa_debit        0.35 flat
    bacs_debit        1 % + 0.20, capped at 4.00
    dispute           15.00 flat, when the disputed funds are withdrawn

``FakeStripe(currency_fees={"jpy": {"card": {"percent": "3.6", "fixed": 0}}})`` overrides it
per currency (``"*"`` for every currency); ``fixed`` and ``cap`` there are in **minor** units.
"""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

ZERO_DECIMAL = frozenset(["bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv",
                          "xaf", "xof", "xpf"])
THREE_DECIMAL = frozenset(["bhd", "jod", "kwd", "omr", "tnd"])
MINIMUM_CHARGE = {"usd": "0.50", "eur": "0.50", "gbp": "0.30", "cad": "0.50", "aud": "0.50",
                  "chf": "0.50", "jpy": "50", "nzd": "0.50", "sek": "3.00", "dkk": "2.50"}
MAXIMUM_AMOUNT = 99_999_999

DEFAULT_SCHEDULE = {
    "card": {"percent": "2.9", "fixed": "0.30", "cap": None},
    "us_bank_account": {"percent": "0.8", "fixed": "0", "cap": "5.00"},
    "sepa_debit": {"percent": "0", "fixed": "0.35", "cap": None},
    "bacs_debit": {"percent": "1.0", "fixed": "0.20", "cap": "4.00"},
    "dispute": {"percent": "0", "fixed": "15.00", "cap": None},
}
KINDS = frozenset(DEFAULT_SCHEDULE)


def exponent(currency: str) -> int:
    currency = currency.lower()
    return 0 if currency in ZERO_DECIMAL else 3 if currency in THREE_DECIMAL else 2


def to_minor(major: str | Decimal, currency: str) -> int:
    return int((Decimal(major).scaleb(exponent(currency))).to_integral_value(ROUND_HALF_UP))


def format_amount(amount: int, currency: str) -> str:
    """For people: (123456, "usd") → "1,234.56 USD"; (5000, "jpy") → "5,000 JPY"."""
    places = exponent(currency)
    value = Decimal(amount).scaleb(-places)
    return f"{value:,.{places}f} {currency.upper()}"


def minimum_charge(currency: str) -> int | None:
    major = MINIMUM_CHARGE.get(currency.lower())
    return None if major is None else to_minor(major, currency)


class Fees:
    """What Stripe keeps: ``processing(amount, currency, method)``, ``dispute(currency)``."""

    def __init__(self, currency_fees: dict[str, dict[str, dict[str, Any]]] | None = None):
        self.overrides: dict[str, dict[str, dict[str, Any]]] = {}
        for currency, kinds in (currency_fees or {}).items():
            unknown = set(kinds) - KINDS
            if unknown:
                raise ValueError(f"currency_fees[{currency!r}]: unknown fee kinds {sorted(unknown)}"
                                 f" (known: {sorted(KINDS)})")
            self.overrides[currency.lower()] = {k: dict(v) for k, v in kinds.items()}

    def schedule(self, currency: str, kind: str) -> tuple[Decimal, int, int | None]:
        currency = currency.lower()
        base = DEFAULT_SCHEDULE[kind]
        percent = Decimal(base["percent"])
        fixed = to_minor(base["fixed"], currency)
        cap = None if base["cap"] is None else to_minor(base["cap"], currency)
        for scope in ("*", currency):
            override = self.overrides.get(scope, {}).get(kind)
            if override:
                percent = Decimal(str(override.get("percent", percent)))
                fixed = int(override.get("fixed", fixed))
                cap = override.get("cap", cap)
                cap = None if cap is None else int(cap)
        return percent, fixed, cap

    def processing(self, amount: int, currency: str, method: str) -> int:
        kind = method if method in DEFAULT_SCHEDULE and method != "dispute" else "card"
        percent, fixed, cap = self.schedule(currency, kind)
        fee = int((Decimal(amount) * percent / 100).to_integral_value(ROUND_HALF_UP)) + fixed
        return min(fee, cap) if cap is not None else fee

    def dispute(self, currency: str) -> int:
        return self.schedule(currency, "dispute")[1]


def fee_details(fee: int, currency: str, description: str) -> list[dict]:
    if not fee:
        return []
    return [{"amount": fee, "application": None, "currency": currency,
             "description": description, "type": "stripe_fee"}]
