"""What Stripe says, recorded in the ledger exactly once: one path for webhooks, the return page and sync.

An event only names the object to look at; the object is read from Stripe as it is now and its
ledger effect is recorded through the journal, which drops effects it already has and payment
states older than the one it has. Deliveries may come twice, late or in any order: a
PaymentIntent event's own copy of the intent is trusted only when it says `succeeded` (a state a
PaymentIntent never leaves); any other state is read again from Stripe, and once more after a
`processing` row is recorded, so a failure that happened meanwhile is not lost to a late
`processing`.

Only payments the portal started are recorded: their metadata carries the portal's signature
over the customer, currency, amount and allocations (`signing.payment_mark_text`), and the
customer must be one the ledger knows. Others that look like receivables (a customer id in their
metadata, or the portal's mark on one the ledger does not know) are set aside in
`payments-set-aside.csv` for staff; the rest (another application's payments on the same Stripe
account) are left alone.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from ..core.methods import is_bank_debit, memo_words
from ..core.signing import payment_mark_text
from .gateway import Gateway, Payment, Reversal
from .payment_log import Journal, Row, SetAsideLog, SetAsideRow

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
    how = memo_words(p.method)
    rows, rest = [], p.amount
    for ref, amount in p.allocations:
        amount = min(amount, rest)
        if amount > 0:
            rows.append(Row(p.day, p.customer_id, "payment", f"{p.id}/{ref}", amount, p.currency, p.status, ref,
                            f"Online payment by {how}", p.method))
            rest -= amount
    if rest > 0:
        rows.append(Row(p.day, p.customer_id, "payment", p.id, rest, p.currency, p.status, "",
                        f"Online payment by {how}", p.method))
    return rows


def reversal_rows(r: Reversal) -> list[Row]:
    """A refund that went through, or a dispute lost (a bank debit's return is final when it is opened)."""
    if not r.customer_id:
        return []
    if r.kind == "refund" and r.status == "succeeded":
        return [Row(r.day, r.customer_id, "refund", r.id, r.amount, r.currency, memo="Online payment refunded")]
    if r.kind == "dispute" and (r.status == "lost" or is_bank_debit(r.method)):
        what = "Bank payment returned" if is_bank_debit(r.method) else "Card payment disputed and lost"
        return [Row(r.day, r.customer_id, "refund", r.id, r.amount, r.currency, memo=what)]
    return []


def verdict(p: Payment, check_mark: Callable[[str, str], bool], knows: Callable[[str], bool]) -> str | None:
    """Whether to record a payment: "" to record it, a reason to set it aside, None to leave it
    alone (no customer id and no mark: another application's payment)."""
    if not p.mark:
        return None if not p.customer_id else "not started by the portal (no portal_mark in its metadata)"
    if not check_mark(payment_mark_text(p.customer_id, p.currency, p.minor, p.allocations_text), p.mark):
        return ("its portal_mark does not match its customer, amount or allocations "
                "(changed after the portal started it, or signed with a key no longer in PORTAL_SECRET_KEY)")
    if not knows(p.customer_id):
        return f"customer {p.customer_id!r} is not in customers.csv"
    return ""


class Fulfiller:
    """Reads Stripe, records the ledger effect, refreshes the pages of the customers it changed."""

    def __init__(self, gateway: Gateway, journal: Journal, set_aside: SetAsideLog,
                 check_mark: Callable[[str, str], bool], knows: Callable[[str], bool], refresh: Callable[[], object],
                 on_recorded: Callable[[list[Row]], object] | None = None):
        self.on_recorded = on_recorded  # told the rows each time some are newly recorded (receipt emails)
        self.gateway = gateway
        self.journal = journal
        self.set_aside = set_aside
        self.check_mark = check_mark
        self.knows = knows
        self.refresh = refresh

    def event(self, object_type: str, object_id: str, snapshot: Payment | None = None) -> list[Row]:
        """Handle a (verified) event about a Stripe object; returns the rows newly recorded.

        A PaymentIntent event carries the whole intent. When it says `succeeded` it is recorded
        from that copy without a round trip (a PaymentIntent that succeeded stays so); any other
        state may be stale (Stripe does not order events), so the intent is read again. Refunds,
        disputes and sessions are always read from the API as they are now.
        """
        if snapshot is not None and object_type == "payment_intent" and snapshot.status == "succeeded":
            return self.payment(snapshot)
        if object_type == "checkout.session":
            return self.session(object_id)[2]
        intent = object_id if object_type == "payment_intent" else self.gateway.intent_of(object_type, object_id)
        if not intent:
            return []
        kind = {"charge": "refund", "refund": "refund", "dispute": "dispute"}.get(object_type)
        return self.intent(intent, kind)

    def session(self, session_id: str) -> tuple[str | None, Payment | None, list[Row]]:
        """(session status, payment, rows newly recorded): the return page's path too."""
        status, payment = self.gateway.session_payment(session_id)
        rows = self.payment(payment) if payment else []
        return status, payment, rows

    def intent(self, intent_id: str, reversals: str | None = None) -> list[Row]:
        """Record a payment's state as Stripe has it now and, when asked, its refunds or disputes."""
        payment = self.gateway.payment(intent_id)
        found = []
        if reversals and payment.status == "succeeded":
            found = self.gateway.reversals(intent_id, reversals)
        return self.payment(payment, found)

    def payment(self, p: Payment, reversals: Sequence[Reversal] = ()) -> list[Row]:
        """Record a payment (and reversals of it) if the portal started it; set it aside if not."""
        why = verdict(p, self.check_mark, self.knows)
        if why is None:
            return []
        if why:
            if p.status in ("processing", "succeeded", "failed"):
                aside = self.set_aside.record([SetAsideRow(p.day, p.id, p.customer_id, p.amount, p.currency,
                                                           p.status, p.method, why)])
                if aside:
                    log.warning("set aside %s (%s %s, customer %r): %s", p.id, p.currency, p.amount, p.customer_id, why)
            return []
        rows = payment_rows(p)
        for r in reversals:
            rows += reversal_rows(r)
        new = self._record(rows)
        if any(r.type == "payment" and r.status == "processing" for r in new):
            # Read again: a failure that happened while this was read may have been dropped (it
            # had no processing row to undo then); now that there is one, it is recorded.
            again = self.gateway.payment(p.id)
            if again.status != "processing":
                new += self._record(payment_rows(again))
        return new

    def _record(self, rows: list[Row]) -> list[Row]:
        new = self.journal.record(rows)
        if new:
            log.info("recorded %s", ", ".join(r.key for r in new))
            self.refresh()
            if self.on_recorded is not None:
                self.on_recorded(new)
        return new


def fulfiller_for(settings, gateway: Gateway, refresh: Callable[[], object]) -> Fulfiller:
    """The Fulfiller of a project: its ledger files, its signing keys, the customers its ledger knows."""
    from ..build.lookup import LedgerView
    from ..core.signing import Signer, load_keys
    signer = Signer(load_keys(settings.state_dir))
    return Fulfiller(gateway, Journal(settings.ledger_dir), SetAsideLog(settings.ledger_dir), signer.check_mark,
                     LedgerView(settings).knows, refresh)
