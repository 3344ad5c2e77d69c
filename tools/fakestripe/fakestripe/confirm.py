"""Confirming a Checkout Session: what the hosted page's forms (and ``FakeStripe.pay_session``)
do, and the bank's later answer for bank debits (ACH, SEPA, Bacs).

``pay_card``/``authenticate``/``pay_bank``/``pay_sepa``/``pay_bacs`` return an ``Outcome``; ``settle``/``fail_payment``
return the PaymentIntent. All emit the events Stripe would.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from . import payments
from .store import Store
from .wire import StripeError

DEBIT_FAILURES = {  # a bank debit (ACH, SEPA, Bacs) that bounces
    "insufficient_funds": "The customer's account has insufficient funds to cover this payment.",
    "account_closed": "The customer's bank account has been closed.",
    "no_account": "The customer's bank account could not be located.",
    "debit_not_authorized": "The customer has notified their bank that this payment was "
                            "unauthorized.",
}


@dataclass
class Outcome:
    kind: str                      # "paid" | "processing" | "authenticate" | "error"
    session: dict
    message: str | None = None


def open_session(store: Store, session_id: str) -> dict:
    session = store.get("checkout.session", session_id)
    if session["status"] != "open":
        raise StripeError(f"This Checkout Session is {session['status']}; it can no longer be "
                          "paid.", param="session", code="checkout_session_not_open")
    return session


def _intent(store: Store, session: dict) -> dict:
    pi = store.find(session["payment_intent"])
    if pi is None:
        pi = payments.create_intent(store, session, store.extras[session["id"]]["pi_data"])
        session["payment_intent"] = pi["id"]
    return pi


def _complete(store: Store, session: dict, email: str | None, name: str | None) -> None:
    pi = store.get("payment_intent", session["payment_intent"])
    session.update(status="complete", url=None,
                   payment_status="paid" if pi["status"] == "succeeded" else "unpaid",
                   customer_details={"address": None, "email": email or session["customer_email"],
                                     "name": name, "phone": None, "tax_exempt": "none",
                                     "tax_ids": []})
    store.emit("checkout.session.completed", session)


def pay_card(store: Store, session_id: str, number: str, *, exp_month: int = 12,
             exp_year: int = 2034, name: str | None = None, email: str | None = None) -> Outcome:
    session = open_session(store, session_id)
    if "card" not in session["payment_method_types"]:
        return Outcome("error", session, "Cards are not accepted for this payment.")
    number = "".join(number.split()).replace("-", "")
    if not number.isdigit() or not payments.luhn_ok(number):
        return Outcome("error", session, "Your card number is invalid.")
    card = payments.CARDS.get(number)
    if card is None:
        return Outcome("error", session, "Your card was declined. Your request was in test mode, "
                       "but used a non test card. Use a test card such as 4242 4242 4242 4242.")
    if exp_year < time.gmtime(store.now()).tm_year:
        return Outcome("error", session, "Your card's expiration year is in the past.")
    pi = _intent(store, session)
    details = payments.card_details(number, card, exp_month, exp_year)
    billing = {"email": email or session["customer_email"], "name": name}
    if card.behaviour == payments.AUTHENTICATE:
        store.extras[session_id]["card"] = (details, billing)
        payments.require_action(store, pi, f"{session['url']}/authenticate")
        return Outcome("authenticate", session)
    charge = payments.new_charge(store, pi, details, billing)
    if card.behaviour == payments.DECLINE:
        payments.fail(store, pi, charge, card.code, card.message, card.decline_code)
        return Outcome("error", session, card.message)
    payments.succeed(store, pi, charge)
    _complete(store, session, billing["email"], name)
    return Outcome("paid", session)


def authenticate(store: Store, session_id: str, ok: bool) -> Outcome:
    session = open_session(store, session_id)
    pi = store.find(session["payment_intent"])
    pending = store.extras[session_id].get("card")
    if pi is None or pi["status"] != "requires_action" or pending is None:
        return Outcome("error", session, "There is no payment waiting for authentication.")
    store.extras[session_id]["card"] = None
    if not ok:
        payments.authentication_failed(store, pi)
        return Outcome("error", session, payments.AUTH_FAILED)
    details, billing = pending
    charge = payments.new_charge(store, pi, details, billing)
    payments.succeed(store, pi, charge)
    _complete(store, session, billing["email"], billing["name"])
    return Outcome("paid", session)


def pay_bank(store: Store, session_id: str, routing: str = payments.TEST_ROUTING,
             account: str = payments.TEST_ACCOUNT, *, name: str | None = None,
             email: str | None = None) -> Outcome:
    session = open_session(store, session_id)
    if "us_bank_account" not in session["payment_method_types"]:
        return Outcome("error", session, "US bank accounts are not accepted for this payment.")
    routing, account = routing.strip(), account.strip()
    if routing != payments.TEST_ROUTING:
        return Outcome("error", session, "Invalid routing number. In test mode use 110000000.")
    if account != payments.TEST_ACCOUNT:
        return Outcome("error", session, "Invalid account number. In test mode use "
                       "000123456789.")
    return _debit(store, session, payments.bank_details(routing, account), name, email)


def pay_sepa(store: Store, session_id: str, iban: str = payments.TEST_IBAN, *, name: str | None = None,
             email: str | None = None) -> Outcome:
    session = open_session(store, session_id)
    if "sepa_debit" not in session["payment_method_types"]:
        return Outcome("error", session, "SEPA Direct Debit is not accepted for this payment.")
    iban = "".join(iban.split()).upper()
    if iban != payments.TEST_IBAN:
        return Outcome("error", session, f"Invalid IBAN. In test mode use {payments.TEST_IBAN}.")
    return _debit(store, session, payments.sepa_details(iban), name, email)


def pay_bacs(store: Store, session_id: str, sort_code: str = payments.TEST_SORT_CODE,
             account: str = payments.TEST_BACS_ACCOUNT, *, name: str | None = None,
             email: str | None = None) -> Outcome:
    session = open_session(store, session_id)
    if "bacs_debit" not in session["payment_method_types"]:
        return Outcome("error", session, "Bacs Direct Debit is not accepted for this payment.")
    sort_code, account = sort_code.replace("-", "").strip(), account.strip()
    if sort_code != payments.TEST_SORT_CODE:
        return Outcome("error", session, f"Invalid sort code. In test mode use {payments.TEST_SORT_CODE}.")
    if account != payments.TEST_BACS_ACCOUNT:
        return Outcome("error", session, "Invalid account number. In test mode use "
                       f"{payments.TEST_BACS_ACCOUNT}.")
    return _debit(store, session, payments.bacs_details(sort_code, account), name, email)


def _debit(store: Store, session: dict, details: dict, name: str | None, email: str | None) -> Outcome:
    """A bank debit submitted: ``processing`` until the bank answers (settle / fail_payment)."""
    pi = _intent(store, session)
    billing = {"email": email or session["customer_email"], "name": name}
    charge = payments.new_charge(store, pi, details, billing)
    payments.processing(store, pi, charge)
    _complete(store, session, billing["email"], name)
    return Outcome("processing", session)


def _processing_debit(store: Store, pi_id: str) -> tuple[dict, dict, dict | None]:
    pi = store.get("payment_intent", pi_id)
    if pi["status"] != "processing":
        raise StripeError(f"PaymentIntent {pi_id} is not processing (status: {pi['status']}).",
                          param="payment_intent", code="payment_intent_unexpected_state")
    charge = store.get("charge", pi["latest_charge"])
    sessions = [s for s in store.all("checkout.session") if s["payment_intent"] == pi_id]
    return pi, charge, sessions[0] if sessions else None


def settle(store: Store, pi_id: str) -> dict:
    pi, charge, session = _processing_debit(store, pi_id)
    payments.succeed(store, pi, charge)
    if session is not None:
        session["payment_status"] = "paid"
        store.emit("checkout.session.async_payment_succeeded", session)
    return pi


def fail_payment(store: Store, pi_id: str, code: str = "insufficient_funds") -> dict:
    if code not in DEBIT_FAILURES:
        raise StripeError(f"Unknown failure code {code}; use one of {', '.join(DEBIT_FAILURES)}",
                          param="code")
    pi, charge, session = _processing_debit(store, pi_id)
    payments.fail(store, pi, charge, code, DEBIT_FAILURES[code])
    if session is not None:
        store.emit("checkout.session.async_payment_failed", session)
    return pi
