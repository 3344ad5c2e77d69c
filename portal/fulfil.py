"""What Stripe says, recorded in the ledger exactly once: one path for webhooks, the return page and sync.

An event only names the object to look at; the object is read from Stripe as it is now and its
ledger effect is recorded through the journal, which drops effects it already has and payment
states older than the one it has. Deliveries may come twice, late or in any order.
"""
from __future__ import annotations

import logging

from .journal import Journal, Row
from .stripe_gateway import Gateway, Payment, Reversal

log = logging.getLogger(__name__)
HANDLED = (
    "checkout.session.completed", "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed", "checkout.session.expired",
    "payment_intent.succeeded", "payment_intent.processing", "payment_intent.payment_failed",
    "charge.refunded", "refund.created", "refund.updated", "refund.failed",
    "charge.dispute.created", "charge.dispute.closed",
)


def payment_rows(p: Payment) -> list[Row]:
    """A payment's ledger rows: one per invoice the customer chose, else one paying oldest first."""
    if not p.customer_id or p.status not in ("processing", "succeeded", "failed"):
        return []
    how = "bank (ACH)" if p.method == "us_bank_account" else "card"
    rows, rest = [], p.amount
    for ref, amount in p.allocations:
        amount = min(amount, rest)
        if amount > 0:
            rows.append(Row(p.day, p.customer_id, "payment", f"{p.id}/{ref}", amount, p.currency, p.status, ref,
                            f"Online payment by {how}"))
            rest -= amount
    if rest > 0:
        rows.append(Row(p.day, p.customer_id, "payment", p.id, rest, p.currency, p.status, "",
                        f"Online payment by {how}"))
    return rows


def reversal_rows(r: Reversal) -> list[Row]:
    """A refund that went through, or a dispute lost (an ACH return is final when it is opened)."""
    if not r.customer_id:
        return []
    if r.kind == "refund" and r.status == "succeeded":
        return [Row(r.day, r.customer_id, "refund", r.id, r.amount, r.currency, memo="Online payment refunded")]
    if r.kind == "dispute" and (r.status == "lost" or r.method == "us_bank_account"):
        what = "Bank payment returned" if r.method == "us_bank_account" else "Card payment disputed and lost"
        return [Row(r.day, r.customer_id, "refund", r.id, r.amount, r.currency, memo=what)]
    return []


class Fulfiller:
    """Reads Stripe, records the ledger effect, rebuilds the pages of the customers it changed."""

    def __init__(self, gateway: Gateway, journal: Journal, rebuild):
        self.gateway = gateway
        self.journal = journal
        self.rebuild = rebuild

    def event(self, object_type: str, object_id: str, snapshot: Payment | None = None) -> list[Row]:
        """Handle a (verified) event about a Stripe object; returns the rows newly recorded.

        A PaymentIntent event carries the whole intent: its status is recorded from that copy
        without a round trip to Stripe. That is safe in any order because the journal moves a
        payment's state only forward (an older copy arriving late changes nothing). Refunds and
        disputes are always read from the API as they are now.
        """
        if snapshot is not None and object_type == "payment_intent":
            return self._record(payment_rows(snapshot))
        if object_type == "checkout.session":
            return self.session(object_id)[2]
        intent = object_id if object_type == "payment_intent" else self.gateway.intent_of(object_type, object_id)
        if not intent:
            return []
        kind = {"charge": "refund", "refund": "refund", "dispute": "dispute"}.get(object_type)
        return self.intent(intent, kind)

    def session(self, session_id: str) -> tuple[str, Payment | None, list[Row]]:
        """(session status, payment, rows newly recorded): the return page's path too."""
        status, payment = self.gateway.session_payment(session_id)
        rows = self._record(payment_rows(payment)) if payment else []
        return status, payment, rows

    def intent(self, intent_id: str, reversals: str | None = None) -> list[Row]:
        """Record a payment's state and, when asked, its refunds or disputes."""
        payment = self.gateway.payment(intent_id)
        rows = payment_rows(payment)
        if reversals and payment.status == "succeeded":
            for r in self.gateway.reversals(intent_id, reversals):
                rows += reversal_rows(r)
        return self._record(rows)

    def _record(self, rows: list[Row]) -> list[Row]:
        new = self.journal.record(rows)
        if new:
            log.info("recorded %s", ", ".join(r.key for r in new))
            self.rebuild()
        return new
