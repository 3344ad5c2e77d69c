"""How a customer can pay online in each currency: what Checkout is asked to offer, and what the
statement says it offers (one rule, so the page never promises a method Checkout will not show)."""
from __future__ import annotations

ACH_CURRENCY = "USD"  # Stripe's us_bank_account debits US dollars only


def payment_methods(currency: str) -> list[str]:
    """Stripe's payment method types for a Checkout Session in this currency."""
    return ["card", "us_bank_account"] if currency.upper() == ACH_CURRENCY else ["card"]


def methods_in_words(currency: str) -> str:
    """The same, as the pay form says it: "Card or US bank account", "Card"."""
    return "Card or US bank account" if "us_bank_account" in payment_methods(currency) else "Card"
