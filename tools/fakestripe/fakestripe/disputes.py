"""Disputes (chargebacks, and ACH returns, which Stripe also reports as disputes).

Opening one withdraws the disputed amount plus the dispute fee at once (a balance transaction of
type ``adjustment``, reporting_category ``dispute``; events ``charge.dispute.created`` and
``charge.dispute.funds_withdrawn``). A card dispute starts ``needs_response`` and is closed won
(``charge.dispute.closed`` + ``charge.dispute.funds_reinstated``, and a ``dispute_reversal``
transaction giving back amount and fee) or lost (``charge.dispute.closed``). An ACH return is
final: it opens already ``lost``.
"""
from __future__ import annotations

import copy

from . import balance, payments
from .store import Store
from .wire import StripeError

CARD_REASONS = {"fraudulent", "duplicate", "product_not_received", "product_unacceptable",
                "subscription_canceled", "unrecognized", "credit_not_processed", "general"}
ACH_REASONS = {"debit_not_authorized", "insufficient_funds", "incorrect_account_details",
               "bank_cannot_process", "customer_initiated", "general"}


def open_dispute(store: Store, charge_id: str, reason: str | None = None,
                 amount: int | None = None) -> dict:
    charge = store.get("charge", charge_id)
    ach = charge["payment_method_details"]["type"] in payments.BANK_DEBITS  # a bank debit's return
    if charge["status"] != "succeeded":
        raise StripeError(f"Charge {charge_id} has not succeeded; it cannot be disputed.",
                          param="charge")
    if charge["disputed"]:
        raise StripeError(f"Charge {charge_id} already has a dispute.", param="charge",
                          code="charge_disputed")
    reason = reason or ("debit_not_authorized" if ach else "fraudulent")
    if reason not in (ACH_REASONS if ach else CARD_REASONS):
        raise StripeError(f"Invalid reason {reason!r} for a {'bank' if ach else 'card'} dispute",
                          param="reason")
    amount = charge["amount"] if amount is None else amount
    if not 0 < amount <= charge["amount"]:
        raise StripeError("The dispute amount must be between 1 and the charge amount.",
                          param="amount")
    dispute_id = store.new_id("dp")
    fee = store.config.fees.dispute(charge["currency"])
    txn = balance.add_transaction(store, amount=-amount, currency=charge["currency"], fee=fee,
                                  fee_description="Dispute fee", type_="adjustment",
                                  category="dispute", source=dispute_id,
                                  description=f"Chargeback withdrawal for {charge_id}")
    now = store.now()
    method = charge["payment_method_details"]["type"]
    dispute = store.add({
        "id": dispute_id, "object": "dispute", "amount": amount,
        "balance_transactions": [copy.deepcopy(txn)], "charge": charge_id, "created": now,
        "currency": charge["currency"], "evidence": {}, "evidence_details": {
            "due_by": None if ach else now + 7 * 86_400, "has_evidence": False,
            "past_due": False, "submission_count": 0},
        "is_charge_refundable": False, "livemode": False, "metadata": {},
        "network_reason_code": None, "payment_intent": charge["payment_intent"],
        "payment_method_details": {"type": method}, "reason": reason,
        "status": "lost" if ach else "needs_response",
    })
    charge["disputed"] = True
    store.emit("charge.dispute.created", dispute)
    store.emit("charge.dispute.funds_withdrawn", dispute)
    return dispute


def close_dispute(store: Store, dispute_id: str, status: str) -> dict:
    if status not in ("won", "lost"):
        raise StripeError("status must be won or lost", param="status")
    dispute = store.get("dispute", dispute_id)
    if dispute["status"] not in ("needs_response", "under_review", "warning_needs_response"):
        raise StripeError(f"Dispute {dispute_id} is already closed ({dispute['status']}).",
                          param="status")
    dispute["status"] = status
    store.emit("charge.dispute.closed", dispute)
    if status == "won":
        withdrawn = dispute["balance_transactions"][0]
        txn = balance.add_transaction(
            store, amount=dispute["amount"], currency=dispute["currency"],
            fee=-withdrawn["fee"], fee_description="Dispute fee refund", type_="adjustment",
            category="dispute_reversal", source=dispute_id,
            description=f"Chargeback reversal for {dispute['charge']}")
        dispute["balance_transactions"].append(copy.deepcopy(txn))
        store.emit("charge.dispute.funds_reinstated", dispute)
    return dispute
