"""Balance transactions, the balance, and payouts.

Every movement of money makes a balance transaction (``txn_``): a succeeded charge (type
``charge`` for cards, ``payment`` for ACH; reporting_category ``charge`` for both), a refund
(``refund``), a failed ACH refund (``refund_failure``), disputed funds withdrawn
(type ``adjustment``, category ``dispute``, with the dispute fee) and reinstated when a dispute is
won (category ``dispute_reversal``), a payout (``payout``) and a failed payout
(``payout_failure``). Funds are ``pending`` until ``available_on``, then ``available``.

A payout sweeps the available, not yet paid out transactions of one currency (amount = sum of
``net``). Real balance transactions have no ``payout`` field, so the link is kept privately and
served through ``balance_transactions.list(payout=...)``, which — as on Stripe — also lists the
payout's own ``payout`` transaction (its net is minus the payout amount).
"""
from __future__ import annotations

from .fees import fee_details
from .store import Store
from .wire import StripeError

DAY = 86_400
PAYOUT_OF = "payout_of"          # store.extras key: txn id → payout id


def add_transaction(store: Store, *, amount: int, currency: str, type_: str, category: str,
                    source: str | None, fee: int = 0, fee_description: str = "Stripe processing fees",
                    delay_days: int = 0, description: str | None = None) -> dict:
    now = store.now()
    available_on = now + delay_days * DAY
    return store.add({
        "id": store.new_id("txn"),
        "object": "balance_transaction",
        "amount": amount,
        "available_on": available_on,
        "balance_type": "payments",
        "created": now,
        "currency": currency,
        "description": description,
        "exchange_rate": None,
        "fee": fee,
        "fee_details": fee_details(fee, currency, fee_description),
        "net": amount - fee,
        "reporting_category": category,
        "source": source,
        "status": "available" if available_on <= now else "pending",
        "type": type_,
    })


def payout_of(store: Store, txn_id: str) -> str | None:
    return store.extras.setdefault(PAYOUT_OF, {}).get(txn_id)


def refresh(store: Store) -> None:
    """Pending funds whose ``available_on`` has come become available."""
    now = store.now()
    for txn in store.all("balance_transaction"):
        if txn["status"] == "pending" and txn["available_on"] <= now:
            txn["status"] = "available"


def balance(store: Store) -> dict:
    sums: dict[str, dict[str, int]] = {"available": {}, "pending": {}}
    for txn in store.all("balance_transaction"):
        bucket = sums[txn["status"]]
        bucket[txn["currency"]] = bucket.get(txn["currency"], 0) + txn["net"]
    currencies = sorted(set(sums["available"]) | set(sums["pending"])) or ["usd"]

    def rows(kind: str) -> list[dict]:
        return [{"amount": sums[kind].get(c, 0), "currency": c,
                 "source_types": {"card": sums[kind].get(c, 0)}} for c in currencies]
    return {"object": "balance", "available": rows("available"), "livemode": False,
            "pending": rows("pending")}


def create_payout(store: Store, currency: str = "usd", include_pending: bool = False) -> dict:
    """An automatic payout of everything available (or, with include_pending, everything)."""
    currency = currency.lower()
    links = store.extras.setdefault(PAYOUT_OF, {})
    swept = [t for t in store.all("balance_transaction")
             if t["currency"] == currency and t["id"] not in links and t["type"] != "payout"
             and (include_pending or t["status"] == "available")]
    amount = sum(t["net"] for t in swept)
    if not swept or amount <= 0:
        raise StripeError(f"No positive available {currency} balance to pay out "
                          f"({len(swept)} transactions, net {amount}).", param="currency",
                          code="balance_insufficient")
    now = store.now()
    payout_id = store.new_id("po")
    txn = add_transaction(store, amount=-amount, currency=currency, type_="payout",
                          category="payout", source=payout_id, description="STRIPE PAYOUT")
    payout = store.add({
        "id": payout_id, "object": "payout", "amount": amount, "application_fee": None,
        "application_fee_amount": None, "arrival_date": now, "automatic": True,
        "balance_transaction": txn["id"], "created": now, "currency": currency,
        "description": "STRIPE PAYOUT", "destination": "ba_fakestripe_bank",
        "failure_balance_transaction": None, "failure_code": None, "failure_message": None,
        "livemode": False, "metadata": {}, "method": "standard", "original_payout": None,
        "payout_method": None, "reconciliation_status": "in_progress", "reversed_by": None,
        "source_type": "card", "statement_descriptor": None, "status": "in_transit",
        "trace_id": None, "type": "bank_account",
    })
    for t in swept:                      # include_pending: swept funds count as available now
        links[t["id"]] = payout_id
        t["available_on"], t["status"] = min(t["available_on"], now), "available"
    links[txn["id"]] = payout_id
    store.emit("payout.created", payout)
    payout["status"] = "paid"
    store.emit("payout.paid", payout)
    payout["reconciliation_status"] = "completed"
    store.emit("payout.reconciliation_completed", payout)
    return payout


def fail_payout(store: Store, payout_id: str, code: str = "account_closed") -> dict:
    """The bank rejected a paid payout: ``payout.failed``; the money returns to the balance."""
    payout = store.get("payout", payout_id)
    if payout["status"] == "failed":
        raise StripeError(f"Payout {payout_id} has already failed.", param="id")
    txn = add_transaction(store, amount=payout["amount"], currency=payout["currency"],
                          type_="payout_failure", category="payout_reversal", source=payout_id,
                          description="Payout failure")
    previous = {"status": payout["status"], "failure_code": None}
    payout.update(status="failed", failure_code=code, failure_balance_transaction=txn["id"],
                  failure_message="The bank account has been closed." if code == "account_closed"
                  else "The payout could not be completed.")
    store.emit("payout.failed", payout)
    store.emit("payout.updated", payout, previous)
    return payout
