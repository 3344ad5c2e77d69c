"""Refunds: full or partial, by PaymentIntent or by charge; card refunds succeed at once, ACH
refunds stay ``pending`` until the bank answers (``succeed_refund``/``fail_refund``)."""
from __future__ import annotations

from . import balance, payments
from .fees import format_amount
from .params import check_metadata, only
from .store import Store
from .wire import StripeError

REFUND_KEYS = {"payment_intent", "charge", "amount", "metadata", "reason", "expand"}


def _charge_to_refund(store: Store, params: dict) -> dict:
    pi_id, charge_id = params.get("payment_intent"), params.get("charge")
    if not pi_id and not charge_id:
        raise StripeError("One of the following params should be provided for this request: "
                          "payment_intent or charge.", param="payment_intent",
                          code="parameter_missing")
    if pi_id:
        pi = store.get("payment_intent", pi_id, "payment_intent")
        if pi["status"] != "succeeded":
            raise StripeError(f"This PaymentIntent ({pi_id}) does not have a successful charge "
                              "to refund.", param="payment_intent", code="charge_not_refundable")
        charge = store.get("charge", pi["latest_charge"], "payment_intent")
        if charge_id and charge_id != charge["id"]:
            raise StripeError(f"Charge {charge_id} does not belong to PaymentIntent {pi_id}.",
                              param="charge")
        return charge
    charge = store.get("charge", charge_id, "charge")
    if charge["status"] != "succeeded":
        raise StripeError(f"Charge {charge_id} has not succeeded and cannot be refunded.",
                          param="charge", code="charge_not_refundable")
    return charge


def create_refund(store: Store, params: dict) -> dict:
    only(params, REFUND_KEYS)
    charge = _charge_to_refund(store, params)
    if charge["disputed"]:
        raise StripeError(f"Charge {charge['id']} has been charged back; cannot issue a refund.",
                          param="charge", code="charge_disputed")
    remaining = charge["amount"] - charge["amount_refunded"]
    if remaining <= 0:
        raise StripeError(f"Charge {charge['id']} has already been refunded.",
                          code="charge_already_refunded")
    amount = params.get("amount")
    amount = remaining if amount is None else amount
    if amount <= 0:
        raise StripeError("Invalid positive integer", param="amount",
                          code="parameter_invalid_integer")
    if amount > remaining:
        cur = charge["currency"]
        raise StripeError(f"Refund amount ({format_amount(amount, cur)}) is greater than "
                          f"unrefunded amount on charge ({format_amount(remaining, cur)})",
                          param="amount", code="amount_too_large")
    refund_id = store.new_id("re")
    txn = balance.add_transaction(store, amount=-amount, currency=charge["currency"],
                                  type_="refund", category="refund", source=refund_id,
                                  description="REFUND FOR CHARGE")
    ach = charge["payment_method_details"]["type"] in payments.BANK_DEBITS  # a bank debit's refund
    method_type = charge["payment_method_details"]["type"]
    refund = store.add({
        "id": refund_id, "object": "refund", "amount": amount,
        "balance_transaction": txn["id"], "charge": charge["id"], "created": store.now(),
        "currency": charge["currency"], "description": None,
        "destination_details": {"type": method_type, method_type: {}},
        "failure_balance_transaction": None, "failure_reason": None,
        "metadata": check_metadata(params.get("metadata")),
        "payment_intent": charge["payment_intent"], "reason": params.get("reason"),
        "receipt_number": None, "source_transfer_reversal": None,
        "status": "pending" if ach else "succeeded", "transfer_reversal": None,
    })
    charge["amount_refunded"] += amount
    charge["refunded"] = charge["amount_refunded"] == charge["amount"]
    store.emit("charge.refunded", charge)
    store.emit("refund.created", refund)
    return refund


def _pending(store: Store, refund_id: str) -> dict:
    refund = store.get("refund", refund_id)
    if refund["status"] != "pending":
        raise StripeError(f"Refund {refund_id} is {refund['status']}, not pending.",
                          param="refund")
    return refund


def succeed_refund(store: Store, refund_id: str) -> dict:
    refund = _pending(store, refund_id)
    refund["status"] = "succeeded"
    store.emit("refund.updated", refund, {"status": "pending"})
    return refund


def fail_refund(store: Store, refund_id: str, reason: str = "declined") -> dict:
    """The bank refused the refund: money comes back to the balance, the charge is unrefunded."""
    refund = _pending(store, refund_id)
    charge = store.get("charge", refund["charge"])
    txn = balance.add_transaction(store, amount=refund["amount"], currency=refund["currency"],
                                  type_="refund_failure", category="refund_failure",
                                  source=refund_id, description="REFUND FAILURE")
    refund.update(status="failed", failure_reason=reason, failure_balance_transaction=txn["id"])
    charge["amount_refunded"] -= refund["amount"]
    charge["refunded"] = False
    store.emit("refund.failed", refund)
    store.emit("refund.updated", refund, {"status": "pending", "failure_reason": None})
    return refund
