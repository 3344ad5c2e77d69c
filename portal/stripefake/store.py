"""The fake's objects and the state changes Stripe makes, each emitting the events Stripe would."""
from __future__ import annotations

import copy
import itertools
import secrets
import threading
import time

from .wire import StripeError

API_VERSION = "2026-10-28.endive"
ZERO_DECIMAL = {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf",
                "xof", "xpf"}


class Store:
    """Every object, by id, under one lock; `emit` is called with each new event."""

    def __init__(self, emit, clock=time.time):
        self.lock = threading.RLock()
        self.objects: dict[str, dict] = {}
        self.events: list[dict] = []
        self.emit = emit
        self.clock = clock
        self._n = itertools.count(1)

    def now(self) -> int:
        return int(self.clock())

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_fake{next(self._n):06d}{secrets.token_hex(4)}"

    def get(self, oid: str, kind: str) -> dict:
        obj = self.objects.get(oid)
        if obj is None or obj["object"] != kind:
            raise StripeError(404, f"No such {kind.replace('.', ' ')}: '{oid}'", code="resource_missing", param="id")
        return obj

    def of(self, kind: str) -> list[dict]:
        return [o for o in self.objects.values() if o["object"] == kind]

    def event(self, type_: str, obj: dict) -> dict:
        ev = {"id": self.new_id("evt"), "object": "event", "api_version": API_VERSION, "created": self.now(),
              "type": type_, "livemode": False, "pending_webhooks": 1, "request": {"id": None, "idempotency_key": None},
              "data": {"object": copy.deepcopy(public(obj))}}
        self.events.append(ev)
        self.emit(ev)
        return ev

    # --- Checkout --------------------------------------------------------------------------------

    def create_session(self, p: dict, base: str) -> dict:
        items = p.get("line_items") or []
        if p.get("mode") != "payment":
            raise StripeError(400, "This fake supports mode=payment only.", param="mode")
        if not items:
            raise StripeError(400, "Missing required param: line_items.", code="parameter_missing", param="line_items")
        if len(items) > 100:
            raise StripeError(400, "At most 100 line items in payment mode.", param="line_items")
        currency = items[0]["price_data"]["currency"].lower()
        total = 0
        for i, item in enumerate(items):
            pd = item.get("price_data") or {}
            if pd.get("currency", "").lower() != currency:
                raise StripeError(400, "All line items must have the same currency.", param=f"line_items[{i}]")
            amount, qty = int(pd.get("unit_amount", -1)), int(item.get("quantity", 1))
            if amount < 0:
                raise StripeError(400, "Missing required param: unit_amount.", code="parameter_missing",
                                  param=f"line_items[{i}][price_data][unit_amount]")
            total += amount * qty
        methods = p.get("allowed_payment_method_types") or ["card"]
        if "us_bank_account" in methods and currency != "usd":
            raise StripeError(400, "The payment method type `us_bank_account` is invalid for currency "
                                   f"`{currency}`: it supports only usd.", param="allowed_payment_method_types")
        if p.get("customer") and p.get("customer_email"):
            raise StripeError(400, "You may only specify one of these parameters: customer, customer_email.")
        for url in ("success_url", "cancel_url"):
            if p.get(url) and not p[url].startswith(("http://", "https://")):
                raise StripeError(400, f"Not a valid URL: {url}", code="url_invalid", param=url)
        now = self.now()
        sid = self.new_id("cs_test")
        s = {"id": sid, "object": "checkout.session", "mode": "payment", "status": "open", "payment_status": "unpaid",
             "amount_subtotal": total, "amount_total": total, "currency": currency, "created": now,
             "expires_at": int(p.get("expires_at") or now + 86400), "livemode": False,
             "client_reference_id": p.get("client_reference_id"), "metadata": dict(p.get("metadata") or {}),
             "customer_details": {"email": p.get("customer_email")} if p.get("customer_email") else None,
             "customer_email": p.get("customer_email"), "payment_method_types": methods, "payment_intent": None,
             "success_url": (p.get("success_url") or "").replace("{CHECKOUT_SESSION_ID}", sid),
             "cancel_url": p.get("cancel_url"), "url": f"{base}/checkout/{sid}",
             "line_items_summary": [i["price_data"].get("product_data", {}).get("name", "") for i in items],
             "_pi_data": dict(p.get("payment_intent_data") or {})}
        self.objects[sid] = s
        return s

    def _intent_for(self, s: dict, method: str) -> dict:
        pid = self.new_id("pi")
        pi = {"id": pid, "object": "payment_intent", "amount": s["amount_total"], "amount_received": 0,
              "currency": s["currency"], "status": "requires_payment_method", "created": self.now(),
              "metadata": dict(s["_pi_data"].get("metadata") or {}),
              "description": s["_pi_data"].get("description"), "payment_method_types": s["payment_method_types"],
              "latest_charge": None, "last_payment_error": None, "livemode": False, "_method": method}
        self.objects[pid] = pi
        s["payment_intent"] = pid
        return pi

    def _charge(self, pi: dict) -> dict:
        method = pi["_method"]
        cid = self.new_id("py" if method == "us_bank_account" else "ch")
        ch = {"id": cid, "object": "charge", "amount": pi["amount"], "amount_refunded": 0, "currency": pi["currency"],
              "payment_intent": pi["id"], "status": "pending" if method == "us_bank_account" else "succeeded",
              "paid": method != "us_bank_account", "refunded": False, "disputed": False, "created": self.now(),
              "payment_method_details": {"type": method}, "metadata": dict(pi["metadata"]), "livemode": False}
        self.objects[cid] = ch
        pi["latest_charge"] = cid
        return ch

    def pay_card(self, s: dict, number: str) -> str:
        """Complete (or fail) an open session by card. Returns 'paid', 'declined' or '3ds'."""
        self._require_open(s)
        pi = self.objects.get(s["payment_intent"]) or self._intent_for(s, "card")
        if number == "4000000000000002":
            pi["last_payment_error"] = {"code": "card_declined", "message": "Your card was declined."}
            self.event("payment_intent.payment_failed", pi)
            return "declined"
        if number == "4000002500003155" and not pi.get("_authenticated"):
            pi["status"] = "requires_action"
            return "3ds"
        if number not in ("4242424242424242", "4000002500003155"):
            raise StripeError(402, "Your card number is not a test card this fake knows.", "card_error",
                              code="incorrect_number")
        pi.update(status="succeeded", amount_received=pi["amount"], last_payment_error=None)
        ch = self._charge(pi)
        s.update(status="complete", payment_status="paid", url=None)
        self.event("checkout.session.completed", s)
        self.event("charge.succeeded", ch)
        self.event("payment_intent.succeeded", pi)
        return "paid"

    def authenticate(self, s: dict, ok: bool) -> str:
        pi = self.objects[s["payment_intent"]]
        if not ok:
            pi.update(status="requires_payment_method",
                      last_payment_error={"code": "payment_intent_authentication_failure",
                                          "message": "We are unable to authenticate your payment method."})
            self.event("payment_intent.payment_failed", pi)
            return "declined"
        pi["_authenticated"] = True
        return self.pay_card(s, "4000002500003155")

    def pay_bank(self, s: dict) -> None:
        self._require_open(s)
        if "us_bank_account" not in s["payment_method_types"]:
            raise StripeError(400, "US bank account is not offered for this session.")
        pi = self.objects.get(s["payment_intent"]) or self._intent_for(s, "us_bank_account")
        pi["_method"] = "us_bank_account"
        pi["status"] = "processing"
        self._charge(pi)
        s.update(status="complete", payment_status="unpaid", url=None)
        self.event("checkout.session.completed", s)
        self.event("payment_intent.processing", pi)

    def settle(self, pid: str) -> None:
        pi = self.get(pid, "payment_intent")
        if pi["status"] != "processing":
            raise StripeError(400, f"PaymentIntent {pid} is {pi['status']}, not processing.")
        ch = self.objects[pi["latest_charge"]]
        pi.update(status="succeeded", amount_received=pi["amount"])
        ch.update(status="succeeded", paid=True)
        s = self._session_of(pid)
        if s:
            s["payment_status"] = "paid"
            self.event("checkout.session.async_payment_succeeded", s)
        self.event("charge.succeeded", ch)
        self.event("payment_intent.succeeded", pi)

    def fail(self, pid: str) -> None:
        pi = self.get(pid, "payment_intent")
        if pi["status"] != "processing":
            raise StripeError(400, f"PaymentIntent {pid} is {pi['status']}, not processing.")
        ch = self.objects[pi["latest_charge"]]
        pi.update(status="requires_payment_method",
                  last_payment_error={"code": "insufficient_funds", "message": "The account has insufficient funds."})
        ch.update(status="failed")
        s = self._session_of(pid)
        if s:
            self.event("checkout.session.async_payment_failed", s)
        self.event("charge.failed", ch)
        self.event("payment_intent.payment_failed", pi)

    def expire(self, sid: str) -> None:
        s = self.get(sid, "checkout.session")
        self._require_open(s)
        s.update(status="expired", url=None)
        self.event("checkout.session.expired", s)

    # --- refunds and disputes ---------------------------------------------------------------------

    def refund(self, p: dict) -> dict:
        if p.get("payment_intent"):
            pi = self.get(p["payment_intent"], "payment_intent")
            ch = self.objects.get(pi["latest_charge"] or "")
        elif p.get("charge"):
            ch = self.get(p["charge"], "charge")
            pi = self.objects[ch["payment_intent"]]
        else:
            raise StripeError(400, "Missing required param: payment_intent or charge.", code="parameter_missing")
        if pi["status"] != "succeeded" or ch is None:
            raise StripeError(400, f"PaymentIntent {pi['id']} has no successful charge to refund.",
                              code="charge_not_refundable")
        left = ch["amount"] - ch["amount_refunded"]
        amount = int(p.get("amount", left))
        if amount <= 0 or amount > left:
            raise StripeError(400, f"Refund amount ({amount}) is greater than unrefunded amount on charge ({left}).",
                              code="amount_too_large", param="amount")
        rid = self.new_id("re")
        ach = ch["payment_method_details"]["type"] == "us_bank_account"
        r = {"id": rid, "object": "refund", "amount": amount, "currency": ch["currency"], "charge": ch["id"],
             "payment_intent": pi["id"], "status": "pending" if ach else "succeeded", "created": self.now(),
             "metadata": dict(p.get("metadata") or {}), "reason": p.get("reason")}
        self.objects[rid] = r
        ch["amount_refunded"] += amount
        ch["refunded"] = ch["amount_refunded"] == ch["amount"]
        self.event("refund.created", r)
        self.event("charge.refunded", ch)
        return r

    def finish_refund(self, rid: str, ok: bool) -> None:
        r = self.get(rid, "refund")
        r["status"] = "succeeded" if ok else "failed"
        if not ok:
            self.objects[r["charge"]]["amount_refunded"] -= r["amount"]
        self.event("refund.updated" if ok else "refund.failed", r)

    def dispute(self, cid: str) -> dict:
        ch = self.get(cid, "charge")
        did = self.new_id("dp")
        ach = ch["payment_method_details"]["type"] == "us_bank_account"
        d = {"id": did, "object": "dispute", "amount": ch["amount"] - ch["amount_refunded"], "currency": ch["currency"],
             "charge": cid,
             "payment_intent": ch["payment_intent"], "status": "lost" if ach else "needs_response",
             "reason": "debit_not_authorized" if ach else "fraudulent", "created": self.now(), "livemode": False}
        self.objects[did] = d
        ch["disputed"] = True
        self.event("charge.dispute.created", d)
        if not ach:
            self.event("charge.dispute.funds_withdrawn", d)
        return d

    def close_dispute(self, did: str, status: str) -> None:
        d = self.get(did, "dispute")
        if status not in ("won", "lost"):
            raise StripeError(400, "status must be won or lost")
        d["status"] = status
        self.event("charge.dispute.closed", d)
        if status == "won":
            self.event("charge.dispute.funds_reinstated", d)

    def _session_of(self, pid: str) -> dict | None:
        return next((s for s in self.of("checkout.session") if s["payment_intent"] == pid), None)

    @staticmethod
    def _require_open(s: dict) -> None:
        if s["status"] != "open":
            raise StripeError(400, f"This Checkout Session is {s['status']}.")


def public(obj: dict) -> dict:
    """An object as the API shows it (internal fields start with an underscore)."""
    return {k: v for k, v in obj.items() if not k.startswith("_")}
