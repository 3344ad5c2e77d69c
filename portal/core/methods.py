"""How a customer can pay online in each currency: what Checkout is asked to offer, and what the
statement, the receipt and the emails say of it (one table, so the page never promises a method
Checkout will not show, and every page names a method and its timing the same way)."""
from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass


@dataclass(frozen=True)
class Method:
    """A Stripe payment method type as the portal offers and names it."""

    type: str  # Stripe's payment method type
    currency: str  # the only currency Stripe debits with it; "" for any
    words: str  # as the pay form lists it: "Card or SEPA bank debit"
    name: str  # as a receipt names it
    memo: str  # as a ledger row says it: "Online payment by bank (ACH)"
    # A bank debit: business days it takes to clear, fewest to most; () for a method paid at once.
    # Stripe learns of a bank debit's success or failure only later (checkout.session.completed
    # unpaid, then async_payment_succeeded or _failed): it is recorded as processing meanwhile.
    clears: tuple[int, int] | tuple[()] = ()
    optional: bool = False  # offered only when the settings' [payments] section switches it on

    @property
    def is_bank_debit(self) -> bool:
        return bool(self.clears)


# Timing from Stripe's documentation (docs.stripe.com/payments/...): ACH debits confirm in up to 4
# business days; SEPA Direct Debit can take up to 14 to confirm success or failure (7 to 8 on
# average, funds typically in 5); Bacs Direct Debit takes 4 with a mandate in place and up to 7
# when a new one is collected, as Checkout does for a one-off payment.
METHODS = {m.type: m for m in (
    Method("card", "", "Card", "Card", "card"),
    Method("us_bank_account", "USD", "US bank account", "US bank account (ACH)", "bank (ACH)", (3, 5)),
    Method("sepa_debit", "EUR", "SEPA bank debit", "SEPA Direct Debit", "SEPA Direct Debit", (5, 14), True),
    Method("bacs_debit", "GBP", "UK bank debit (Bacs)", "Bacs Direct Debit", "Bacs Direct Debit", (4, 7), True),
)}
OPTIONAL = tuple(t for t, m in METHODS.items() if m.optional)  # the keys of the settings' [payments]
ACH_CURRENCY = METHODS["us_bank_account"].currency  # Stripe's us_bank_account debits US dollars only


def payment_methods(currency: str, enabled: Collection[str] = ()) -> list[str]:
    """Stripe's payment method types for a Checkout Session in this currency; `enabled`: the
    optional ones the settings switch on (SEPA and Bacs debits)."""
    cur = currency.upper()
    return [m.type for m in METHODS.values()
            if m.currency in ("", cur) and (not m.optional or m.type in enabled)]


def methods_in_words(currency: str, enabled: Collection[str] = ()) -> str:
    """The same, as the pay form says it: "Card or US bank account", "Card or SEPA bank debit", "Card"."""
    return " or ".join(METHODS[t].words for t in payment_methods(currency, enabled))


def is_bank_debit(method: str) -> bool:
    """Whether a payment method type is a bank debit: processing first, then settled or failed
    (returned), and a dispute of it final when opened. Unknown types are not."""
    m = METHODS.get(method)
    return m is not None and m.is_bank_debit


def clearing(method: str) -> str:
    """How long a bank debit takes, as a sentence's end: "take 3 to 5 business days to clear" (a
    method without a table row that is processing: "take a few business days to clear")."""
    m = METHODS.get(method)
    if m is None or not m.clears:
        return "take a few business days to clear"
    low, high = m.clears
    return f"take {low} to {high} business days to clear"


def clearing_in_words(currency: str, enabled: Collection[str] = ()) -> str:
    """What the pay form says of the bank debits it offers: "Bank payments take 3 to 5 business
    days to clear"; "" when it offers none."""
    debits = [t for t in payment_methods(currency, enabled) if is_bank_debit(t)]
    return f"Bank payments {clearing(debits[0])}" if debits else ""


def method_name(method: str) -> str:
    """A payment method type as a receipt names it: "SEPA Direct Debit"; an unknown one in plain words."""
    m = METHODS.get(method)
    return m.name if m is not None else method.replace("_", " ")


def memo_words(method: str) -> str:
    """A payment method type as a ledger row's memo says it: "card", "bank (ACH)", "SEPA Direct Debit"."""
    m = METHODS.get(method)
    return m.memo if m is not None else method.replace("_", " ")
