"""PaymentIntents and Charges: test cards, declines, 3-D Secure and bank debits (ACH, SEPA, Bacs).

A PaymentIntent (``pi_``) is made when the customer first confirms a Checkout Session. Card
charges are ``ch_``, ACH debits ``py_``. Test cards (any future expiry, any CVC):

    4242424242424242, 5555555555554444, 378282246310005   succeed
    4000000000000002   declined (card_declined / generic_decline)
    4000000000009995   declined (insufficient_funds)
    4000000000000069   declined (expired_card)
    4000000000000127   declined (incorrect_cvc)
    4000002500003155   needs 3-D Secure authentication first
    any other number    refused before any charge (invalid, or not a test card)

Test bank accounts, each debit ``processing`` until settled or failed through the control
endpoints: US (ACH, usd) routing 110000000, account 000123456789; SEPA (eur) IBAN
DE89370400440532013000; Bacs (gbp) sort code 108800, account 00012345.
"""
from __future__ import annotations

from dataclasses import dataclass

from . import balance
from .store import Store
from .wire import DOCS

SUCCEED, DECLINE, AUTHENTICATE = "succeed", "decline", "authenticate"
TEST_ROUTING, TEST_ACCOUNT = "110000000", "000123456789"
TEST_IBAN = "DE89370400440532013000"
TEST_SORT_CODE, TEST_BACS_ACCOUNT = "108800", "00012345"
# Bank debits: the one currency Stripe debits with each. Stripe learns of their outcome later: a
# confirmed one is ``processing`` until it settles or fails.
BANK_DEBITS = {"us_bank_account": "usd", "sepa_debit": "eur", "bacs_debit": "gbp"}


@dataclass(frozen=True)
class TestCard:
    brand: str
    behaviour: str
    code: str | None = None
    decline_code: str | None = None
    message: str | None = None


DECLINED = "Your card was declined."
CARDS = {
    "4242424242424242": TestCard("visa", SUCCEED),
    "5555555555554444": TestCard("mastercard", SUCCEED),
    "378282246310005": TestCard("amex", SUCCEED),
    "4000000000000002": TestCard("visa", DECLINE, "card_declined", "generic_decline", DECLINED),
    "4000000000009995": TestCard("visa", DECLINE, "card_declined", "insufficient_funds",
                                 "Your card has insufficient funds."),
    "4000000000000069": TestCard("visa", DECLINE, "expired_card", None, "Your card has expired."),
    "4000000000000127": TestCard("visa", DECLINE, "incorrect_cvc", None,
                                 "Your card's security code is incorrect."),
    "4000002500003155": TestCard("visa", AUTHENTICATE),
}
AUTH_FAILED = ("We are unable to authenticate your payment method. Please choose a different "
               "payment method and try again.")


def luhn_ok(number: str) -> bool:
    digits = [int(d) for d in number]
    for i in range(len(digits) - 2, -1, -2):
        digits[i] = digits[i] * 2 - 9 if digits[i] > 4 else digits[i] * 2
    return len(digits) >= 12 and sum(digits) % 10 == 0


def create_intent(store: Store, session: dict, pi_data: dict) -> dict:
    now = store.now()
    pi_id = store.new_id("pi")
    pi = store.add({
        "id": pi_id, "object": "payment_intent", "amount": session["amount_total"],
        "amount_capturable": 0, "amount_received": 0, "application": None,
        "application_fee_amount": None, "automatic_payment_methods": None, "canceled_at": None,
        "cancellation_reason": None, "capture_method": "automatic_async",
        "client_secret": f"{pi_id}_secret_{store.new_id('s')[2:]}", "confirmation_method":
        "automatic", "created": now, "currency": session["currency"], "customer": None,
        "description": pi_data.get("description"), "last_payment_error": None,
        "latest_charge": None, "livemode": False, "metadata": dict(pi_data.get("metadata") or {}),
        "next_action": None, "on_behalf_of": None, "payment_method": None,
        "payment_method_options": {}, "payment_method_types": list(
            session["payment_method_types"]), "processing": None,
        "receipt_email": pi_data.get("receipt_email"), "review": None,
        "setup_future_usage": None, "shipping": None, "statement_descriptor": None,
        "statement_descriptor_suffix": pi_data.get("statement_descriptor_suffix"),
        "status": "requires_payment_method", "transfer_data": None, "transfer_group": None,
    })
    store.emit("payment_intent.created", pi)
    return pi


def card_details(number: str, card: TestCard, exp_month: int, exp_year: int) -> dict:
    return {"type": "card", "card": {
        "brand": card.brand, "country": "US", "exp_month": exp_month, "exp_year": exp_year,
        "funding": "credit", "last4": number[-4:], "network": card.brand,
        "checks": {"cvc_check": "pass", "address_line1_check": None,
                   "address_postal_code_check": None}}}


def bank_details(routing: str, account: str) -> dict:
    return {"type": "us_bank_account", "us_bank_account": {
        "account_holder_type": "individual", "account_type": "checking",
        "bank_name": "STRIPE TEST BANK", "last4": account[-4:], "routing_number": routing}}


def sepa_details(iban: str) -> dict:
    return {"type": "sepa_debit", "sepa_debit": {
        "bank_code": iban[4:12], "branch_code": "", "country": iban[:2],
        "fingerprint": "fpsepa" + iban[-6:], "last4": iban[-4:], "mandate": None}}


def bacs_details(sort_code: str, account: str) -> dict:
    return {"type": "bacs_debit", "bacs_debit": {
        "fingerprint": "fpbacs" + account[-6:], "last4": account[-4:], "mandate": None,
        "sort_code": sort_code}}


def new_charge(store: Store, pi: dict, details: dict, billing: dict) -> dict:
    debit = details["type"] in BANK_DEBITS
    charge = store.add({
        "id": store.new_id("py" if debit else "ch"), "object": "charge", "amount": pi["amount"],
        "amount_captured": 0, "amount_refunded": 0, "application_fee_amount": None,
        "balance_transaction": None, "billing_details": {
            "address": None, "email": billing.get("email"), "name": billing.get("name"),
            "phone": None},
        "calculated_statement_descriptor": "FAKESTRIPE", "captured": False,
        "created": store.now(), "currency": pi["currency"], "customer": None,
        "description": pi["description"], "disputed": False, "failure_balance_transaction": None,
        "failure_code": None, "failure_message": None, "livemode": False,
        "metadata": dict(pi["metadata"]), "outcome": None, "paid": False,
        "payment_intent": pi["id"], "payment_method": store.new_id("pm"),
        "payment_method_details": details, "receipt_email": pi["receipt_email"],
        "receipt_url": None, "refunded": False, "review": None, "status": "pending",
        "statement_descriptor_suffix": pi["statement_descriptor_suffix"], "transfer_data": None,
    })
    pi["latest_charge"], pi["payment_method"] = charge["id"], charge["payment_method"]
    pi["payment_method_types"] = [details["type"]] if debit else pi["payment_method_types"]
    return charge


def _outcome(ok: bool, reason: str | None = None) -> dict:
    return {"network_status": "approved_by_network" if ok else "declined_by_network",
            "reason": reason, "risk_level": "normal", "risk_score": 20,
            "seller_message": "Payment complete." if ok else "The bank did not return any further "
            "details with this decline.", "type": "authorized" if ok else "issuer_declined"}


def succeed(store: Store, pi: dict, charge: dict) -> None:
    """The money moved: charge succeeded (with its balance transaction), PI succeeded."""
    method = charge["payment_method_details"]["type"]
    fee = store.config.fees.processing(charge["amount"], charge["currency"], method)
    txn = balance.add_transaction(
        store, amount=charge["amount"], currency=charge["currency"], fee=fee,
        type_="payment" if method in BANK_DEBITS else "charge", category="charge",
        source=charge["id"], delay_days=store.config.settlement_days,
        description=pi["description"])
    charge.update(status="succeeded", paid=True, captured=True, amount_captured=charge["amount"],
                  balance_transaction=txn["id"], outcome=_outcome(True))
    pi.update(status="succeeded", amount_received=pi["amount"], last_payment_error=None,
              next_action=None, processing=None)
    store.emit("charge.succeeded", charge)
    store.emit("payment_intent.succeeded", pi)


def processing(store: Store, pi: dict, charge: dict) -> None:
    pi.update(status="processing", last_payment_error=None, next_action=None,
              processing={"type": charge["payment_method_details"]["type"]})
    charge["outcome"] = _outcome(True)
    store.emit("charge.pending", charge)
    store.emit("payment_intent.processing", pi)


def fail(store: Store, pi: dict, charge: dict, code: str, message: str,
         decline_code: str | None = None, error_type: str = "card_error") -> None:
    charge.update(status="failed", failure_code=code, failure_message=message,
                  outcome=_outcome(False, decline_code or code))
    error = {"charge": charge["id"], "code": code, "doc_url": DOCS + code.replace("_", "-"),
             "message": message, "payment_method": {"id": charge["payment_method"],
                                                    "object": "payment_method",
                                                    "type": charge["payment_method_details"]["type"]},
             "type": error_type}
    if decline_code:
        error["decline_code"] = decline_code
    pi.update(status="requires_payment_method", last_payment_error=error, next_action=None,
              processing=None, payment_method=None)
    store.emit("charge.failed", charge)
    store.emit("payment_intent.payment_failed", pi)


def require_action(store: Store, pi: dict, return_url: str) -> None:
    pi.update(status="requires_action", next_action={
        "type": "redirect_to_url", "redirect_to_url": {"return_url": return_url,
                                                       "url": return_url}})
    store.emit("payment_intent.requires_action", pi)


def authentication_failed(store: Store, pi: dict) -> None:
    error = {"code": "payment_intent_authentication_failure",
             "doc_url": DOCS + "payment-intent-authentication-failure", "message": AUTH_FAILED,
             "type": "invalid_request_error"}
    pi.update(status="requires_payment_method", last_payment_error=error, next_action=None,
              payment_method=None)
    store.emit("payment_intent.payment_failed", pi)


def cancel(store: Store, pi: dict, reason: str = "abandoned") -> None:
    pi.update(status="canceled", canceled_at=store.now(), cancellation_reason=reason,
              next_action=None)
    store.emit("payment_intent.canceled", pi)
