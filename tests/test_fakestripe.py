"""fakestripe driven through the official SDK (stripe 16.1.0), as the portal uses Stripe.

Plain HTTP (requests) stands in for the browser on the hosted Checkout page; webhooks go to a
small local receiver that verifies every delivery with ``stripe.Webhook.construct_event``.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time

import pytest
import requests
import stripe
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from fakestripe import API_VERSION, FakeStripe, StripeError
from fakestripe.wire import decode_form, encode_form

SECRET = "whsec_test_fakestripe_suite"
KEY = "sk_test_suite"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# -- fixtures -----------------------------------------------------------------------------------
class _Quiet(WSGIRequestHandler):
    def log_request(self, *args):
        pass


class Receiver:
    """A webhook endpoint that verifies signatures and records what it accepted."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.raw: list[tuple[bytes, str]] = []       # every POST: (body, Stripe-Signature)
        self.events: list[dict] = []                  # verified and accepted
        self.fail_next = 0                            # answer 500 to this many POSTs
        self.always_fail = False
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True,
                                  request_handler=_Quiet)
        self.url = f"http://127.0.0.1:{self.server.server_port}/stripe/webhook"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,),
                                       daemon=True)
        self.thread.start()

    def app(self, environ, start_response):
        request = Request(environ)
        body = request.get_data()
        header = request.headers.get("Stripe-Signature", "")
        with self.lock:
            self.raw.append((body, header))
            if self.always_fail or self.fail_next > 0:
                self.fail_next = max(self.fail_next - 1, 0)
                return Response("boom", status=500)(environ, start_response)
        try:
            event = stripe.Webhook.construct_event(body, header, SECRET)
        except stripe.SignatureVerificationError:
            return Response("bad signature", status=400)(environ, start_response)
        with self.lock:
            self.events.append(event.to_dict())
        return Response("ok")(environ, start_response)

    def types(self) -> list[str]:
        with self.lock:
            return [e["type"] for e in self.events]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def fake(receiver):
    with FakeStripe(webhook_url=receiver.url, webhook_secret=SECRET,
                    webhook_backoff=0.01) as f:
        yield f


@pytest.fixture
def client(fake):
    return stripe.StripeClient(KEY, base_addresses={"api": fake.base_url})


def portal_params(currency: str = "usd", amount: int = 12_345, methods=("card", "us_bank_account"),
                  **extra) -> dict:
    """The parameters the portal sends for one invoice payment."""
    params = {
        "mode": "payment",
        "line_items": [{"price_data": {"currency": currency, "unit_amount": amount,
                                       "product_data": {"name": "Invoice INV-1001"}},
                        "quantity": 1}],
        "allowed_payment_method_types": list(methods),
        "customer_email": "ap@example.com",
        "client_reference_id": "CUST-7",
        "metadata": {"customer": "CUST-7", "invoices": "INV-1001"},
        "payment_intent_data": {"metadata": {"customer": "CUST-7", "invoices": "INV-1001"},
                                "description": "Invoice INV-1001"},
        "success_url": "https://portal.example/paid?session={CHECKOUT_SESSION_ID}",
        "cancel_url": "https://portal.example/statement",
    }
    params.update(extra)
    return params


def new_session(client, currency="usd", amount=12_345, methods=("card", "us_bank_account"),
                key=None, **extra):
    options = {"idempotency_key": key} if key else {}
    return client.v1.checkout.sessions.create(
        portal_params(currency, amount, methods, **extra), options)


def paid_card_session(client, fake, amount=12_345, currency="usd"):
    session = new_session(client, currency=currency, amount=amount,
                          methods=("card",) if currency != "usd" else ("card", "us_bank_account"))
    fake.pay_session(session.id)
    return client.v1.checkout.sessions.retrieve(
        session.id, {"expand": ["payment_intent.latest_charge"]})


def bank_session(client, fake, amount=100_000):
    session = new_session(client, amount=amount)
    fake.pay_session(session.id, method="bank")
    return client.v1.checkout.sessions.retrieve(session.id)


def post_page(url, **form):
    return requests.post(url, data=form, allow_redirects=False, timeout=10)


def event_types_for(client, object_id: str) -> list[str]:
    return [e.type for e in client.v1.events.list({"limit": 100}).auto_paging_iter()
            if e.data.object["id"] == object_id][::-1]


# -- wire format --------------------------------------------------------------------------------
def test_form_decoding_of_bracketed_keys():
    body = ("line_items[0][price_data][currency]=usd&line_items[0][quantity]=2"
            "&line_items[1][price_data][currency]=usd&metadata[k]=v%20w&expand[]=a&expand[]=b"
            "&types[0]=x&types[1]=y&mode=payment&empty=")
    assert decode_form(body) == {
        "line_items": [{"price_data": {"currency": "usd"}, "quantity": "2"},
                       {"price_data": {"currency": "usd"}}],
        "metadata": {"k": "v w"}, "expand": ["a", "b"], "types": ["x", "y"], "mode": "payment",
        "empty": ""}
    params = {"a": {"b": [{"c": 1}, {"c": True}]}, "d": None}
    assert decode_form("&".join(f"{k}={v}" for k, v in encode_form(params))) == \
        {"a": {"b": [{"c": "1"}, {"c": "true"}]}, "d": ""}


def test_raw_wire_expand_forms_and_list_envelope(client, fake):
    s = paid_card_session(client, fake)
    auth = {"Authorization": f"Bearer {KEY}"}
    r = requests.get(f"{fake.base_url}/v1/checkout/sessions/{s.id}?expand[]=payment_intent",
                     headers=auth, timeout=10)
    assert r.json()["payment_intent"]["object"] == "payment_intent"
    r = requests.get(f"{fake.base_url}/v1/charges", headers=auth, timeout=10,
                     params={"expand[0]": "data.payment_intent", "limit": "1"})
    body = r.json()
    assert set(body) == {"object", "data", "has_more", "url"}
    assert (body["object"], body["has_more"], body["url"]) == ("list", False, "/v1/charges")
    assert body["data"][0]["payment_intent"]["id"] == s.payment_intent.id
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.headers["Stripe-Version"] == API_VERSION


def test_api_key_required_with_stripe_error_envelope(fake):
    r = requests.get(f"{fake.base_url}/v1/events", timeout=10)
    assert r.status_code == 401
    assert r.json()["error"]["type"] == "invalid_request_error"
    assert "did not provide an API key" in r.json()["error"]["message"]
    r = requests.get(f"{fake.base_url}/v1/events", timeout=10,
                     headers={"Authorization": "Bearer sk_live_0123456789abcdef"})
    assert r.status_code == 401 and "Invalid API Key provided: sk_live_" in \
        r.json()["error"]["message"] and "0123456789ab" not in r.json()["error"]["message"]
    with pytest.raises(stripe.AuthenticationError):
        stripe.StripeClient("sk_live_x", base_addresses={"api": fake.base_url}).v1.events.list()
    r = requests.get(f"{fake.base_url}/v1/events", timeout=10,
                     headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401 and r.json()["error"]["type"] == "invalid_request_error"
    r = requests.get(f"{fake.base_url}/v1/nothing", timeout=10,
                     headers={"Authorization": f"Bearer {KEY}"})
    assert r.status_code == 404 and "Unrecognized request URL" in r.json()["error"]["message"]
    assert r.headers["Request-Id"].startswith("req_")


# -- checkout sessions --------------------------------------------------------------------------
def test_session_create_with_the_portals_params(client, fake):
    before = fake.now()
    s = new_session(client, key="pay-CUST-7-1")
    assert s.id.startswith("cs_test_") and s.object == "checkout.session"
    assert (s.status, s.payment_status, s.mode, s.livemode) == ("open", "unpaid", "payment", False)
    assert s.amount_total == s.amount_subtotal == 12_345 and s.currency == "usd"
    assert s.client_reference_id == "CUST-7" and s.customer_email == "ap@example.com"
    assert s.metadata.to_dict() == {"customer": "CUST-7", "invoices": "INV-1001"}
    assert s.payment_intent is None and s.customer_details is None
    assert s.payment_method_types == ["card", "us_bank_account"]
    assert s.url == f"{fake.base_url}/c/pay/{s.id}"
    assert s.success_url == "https://portal.example/paid?session={CHECKOUT_SESSION_ID}"
    assert s.cancel_url == "https://portal.example/statement"
    assert before + 24 * 3600 <= s.expires_at <= fake.now() + 24 * 3600
    items = client.v1.checkout.sessions.line_items.list(s.id)
    assert [(i.description, i.quantity, i.amount_total) for i in items.data] == \
        [("Invoice INV-1001", 1, 12_345)]
    again = client.v1.checkout.sessions.retrieve(s.id)
    assert again.to_dict() == s.to_dict()
    listed = client.v1.checkout.sessions.list()
    assert [x.id for x in listed.data] == [s.id] and listed.url == "/v1/checkout/sessions"


def test_idempotent_replay_and_conflict(client, fake):
    first = new_session(client, key="same-key")
    replay = new_session(client, key="same-key")
    assert replay.id == first.id
    assert len(client.v1.checkout.sessions.list().data) == 1
    raw = requests.post(f"{fake.base_url}/v1/checkout/sessions", timeout=10,
                        data=encode_form(portal_params()),
                        headers={"Authorization": f"Bearer {KEY}", "Idempotency-Key": "same-key"})
    assert raw.status_code == 200 and raw.headers["Idempotent-Replayed"] == "true"
    assert raw.json()["id"] == first.id
    with pytest.raises(stripe.IdempotencyError) as err:
        new_session(client, amount=999, key="same-key")
    assert err.value.http_status == 400 and "same parameters" in err.value.user_message
    assert len(client.v1.checkout.sessions.list().data) == 1
    assert new_session(client, key="other-key").id != first.id


def test_unknown_and_missing_params_rejected_like_stripe(client, fake):
    r = requests.post(f"{fake.base_url}/v1/checkout/sessions", timeout=10,
                      data={"mode": "payment", "bogus": "1"},
                      headers={"Authorization": f"Bearer {KEY}"})
    assert r.status_code == 400
    error = r.json()["error"]
    assert {k: error[k] for k in ("type", "code", "param", "message")} == {
        "type": "invalid_request_error", "code": "parameter_unknown", "param": "bogus",
        "message": "Received unknown parameter: bogus"}
    assert r.headers["Stripe-Should-Retry"] == "false"
    bad = portal_params()
    bad["line_items"][0]["price_data"]["colour"] = "red"
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.checkout.sessions.create(bad)
    assert (err.value.code, err.value.param) == ("parameter_unknown",
                                                 "line_items[0][price_data][colour]")
    # payment_method_types is not a create param on 2026-10-28.endive
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.checkout.sessions.create({**portal_params(), "payment_method_types": ["card"]})
    assert (err.value.code, err.value.param) == ("parameter_unknown", "payment_method_types")
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.checkout.sessions.create({k: v for k, v in portal_params().items()
                                            if k != "mode"})
    assert (err.value.code, err.value.param) == ("parameter_missing", "mode")
    no_currency = portal_params()
    del no_currency["line_items"][0]["price_data"]["currency"]
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.checkout.sessions.create(no_currency)
    assert (err.value.code, err.value.param) == ("parameter_missing",
                                                 "line_items[0][price_data][currency]")
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.checkout.sessions.create({**portal_params(), "expires_at": "soon"})
    assert err.value.code == "parameter_invalid_integer"
    with pytest.raises(stripe.InvalidRequestError) as err:     # real, but not modelled
        client.v1.checkout.sessions.create({**portal_params(), "customer": "cus_1"})
    assert err.value.code == "parameter_not_implemented_by_fake"
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.refunds.create({"payment_intent": "pi_x", "refund_everything": True})
    assert err.value.code == "parameter_unknown"
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.events.list({"limit": 101})
    assert err.value.param == "limit"
    assert client.v1.checkout.sessions.list().data == []


def test_session_validation_rules(client):
    with pytest.raises(stripe.InvalidRequestError) as err:
        new_session(client, currency="eur")          # us_bank_account is USD only
    assert err.value.param == "allowed_payment_method_types"
    assert "us_bank_account" in err.value.user_message and "usd" in err.value.user_message
    eur = new_session(client, currency="eur", methods=("card",))
    assert eur.payment_method_types == ["card"] and eur.currency == "eur"
    defaults = client.v1.checkout.sessions.create(
        {k: v for k, v in portal_params("eur").items() if k != "allowed_payment_method_types"})
    assert defaults.payment_method_types == ["card", "sepa_debit"]  # what the account has enabled, in EUR
    with pytest.raises(stripe.InvalidRequestError) as err:
        new_session(client, amount=49)
    assert err.value.code == "amount_too_small"
    with pytest.raises(stripe.InvalidRequestError) as err:
        new_session(client, metadata={f"k{i}": "v" for i in range(51)})
    assert "50 keys" in err.value.user_message
    with pytest.raises(stripe.InvalidRequestError) as err:
        new_session(client, payment_intent_data={"statement_descriptor": "ACME"})
    assert "statement_descriptor_suffix" in err.value.user_message
    with pytest.raises(stripe.InvalidRequestError) as err:
        new_session(client, expires_at=int(time.time()) + 25 * 3600)
    assert err.value.param == "expires_at"
    with pytest.raises(stripe.InvalidRequestError) as err:
        new_session(client, success_url="not a url")
    assert err.value.code == "url_invalid"
    two = portal_params()
    two["line_items"].append({"price_data": {"currency": "usd", "unit_amount": 655,
                                             "product_data": {"name": "INV-1002"}},
                              "quantity": 3})
    assert client.v1.checkout.sessions.create(two).amount_total == 12_345 + 3 * 655


def test_missing_objects_are_404_resource_missing(client):
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.checkout.sessions.retrieve("cs_test_nope")
    assert (err.value.http_status, err.value.code) == (404, "resource_missing")
    assert "No such checkout.session: 'cs_test_nope'" in err.value.user_message
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.payment_intents.retrieve("pi_nope")
    assert err.value.http_status == 404


# -- hosted page: cards -------------------------------------------------------------------------
def test_card_success_through_hosted_page(client, fake, receiver):
    s = new_session(client)
    page = requests.get(s.url, timeout=10)
    assert page.status_code == 200
    for selector in ('id="cardNumber"', 'id="submit"', 'id="pay-bank"', 'id="cancel"',
                     'href="https://portal.example/statement"', "123.45 USD",
                     'value="ap@example.com"', 'data-status="open"'):
        assert selector in page.text
    assert "<script" not in page.text and "https://js." not in page.text
    r = post_page(s.url, method="card", email="ap@example.com", cardNumber="4242 4242 4242 4242",
                  cardExpiry="12 / 34", cardCvc="123", billingName="Ada Payer")
    assert r.status_code == 303
    assert r.headers["Location"] == f"https://portal.example/paid?session={s.id}"
    done = client.v1.checkout.sessions.retrieve(s.id, {"expand": ["payment_intent.latest_charge"]})
    assert (done.status, done.payment_status, done.url) == ("complete", "paid", None)
    assert done.customer_details.email == "ap@example.com"
    pi = done.payment_intent
    assert pi.id.startswith("pi_") and pi.status == "succeeded"
    assert pi.amount == pi.amount_received == 12_345
    assert pi.metadata.to_dict() == {"customer": "CUST-7", "invoices": "INV-1001"}
    assert pi.description == "Invoice INV-1001"
    charge = pi.latest_charge
    assert charge.id.startswith("ch_") and charge.status == "succeeded" and charge.paid
    assert charge.payment_method_details.type == "card"
    assert charge.payment_method_details.card.last4 == "4242"
    assert charge.billing_details.name == "Ada Payer"
    txn = client.v1.balance_transactions.retrieve(charge.balance_transaction)
    assert (txn.amount, txn.fee, txn.net) == (12_345, 388, 12_345 - 388)   # 2.9 % + 30¢
    assert (txn.type, txn.reporting_category, txn.source) == ("charge", "charge", charge.id)
    assert txn.fee_details[0].type == "stripe_fee" and txn.fee_details[0].amount == 388
    assert set(receiver.types()) >= {"checkout.session.completed", "payment_intent.succeeded",
                                     "charge.succeeded"}
    completed = next(e for e in receiver.events if e["type"] == "checkout.session.completed")
    assert completed["data"]["object"]["id"] == s.id
    assert completed["data"]["object"]["payment_status"] == "paid"
    assert completed["api_version"] == API_VERSION and completed["livemode"] is False
    assert requests.get(s.url, timeout=10).text.count("Payment received") == 1
    assert post_page(s.url, method="card", cardNumber="4242424242424242").status_code == 200


def test_card_decline_keeps_session_open_then_retry_succeeds(client, fake):
    s = new_session(client)
    r = post_page(s.url, method="card", cardNumber="4000000000000002", cardExpiry="12/34")
    assert r.status_code == 200 and 'id="error"' in r.text
    assert "Your card was declined." in r.text
    after = client.v1.checkout.sessions.retrieve(s.id, {"expand": ["payment_intent"]})
    assert after.status == "open" and after.payment_status == "unpaid"
    pi = after.payment_intent
    assert pi.status == "requires_payment_method"
    assert (pi.last_payment_error.code, pi.last_payment_error.decline_code) == \
        ("card_declined", "generic_decline")
    assert client.v1.charges.retrieve(pi.latest_charge).status == "failed"
    assert "payment_intent.payment_failed" in event_types_for(client, pi.id)
    r = post_page(s.url, method="card", cardNumber="4000000000000000")
    assert "Your card number is invalid." in r.text
    assert post_page(s.url, method="card", cardNumber="4242424242424242").status_code == 303
    final = client.v1.payment_intents.retrieve(pi.id)
    assert final.status == "succeeded" and final.last_payment_error is None
    charges = client.v1.charges.list({"payment_intent": pi.id}).data
    assert [c.status for c in charges] == ["succeeded", "failed"]


def test_three_d_secure_fail_then_complete(client, fake):
    s = new_session(client)
    r = post_page(s.url, method="card", cardNumber="4000002500003155")
    assert r.status_code == 303 and r.headers["Location"] == f"/c/pay/{s.id}/authenticate"
    page = requests.get(fake.base_url + r.headers["Location"], timeout=10)
    assert "Authenticate" in page.text and 'id="authenticate-complete"' in page.text
    assert 'id="authenticate-fail"' in page.text
    pi = client.v1.payment_intents.retrieve(client.v1.checkout.sessions.retrieve(s.id)
                                            .payment_intent)
    assert pi.status == "requires_action" and pi.latest_charge is None
    r = post_page(f"{s.url}/authenticate", action="fail")
    assert r.status_code == 200 and "unable to authenticate" in r.text
    pi = client.v1.payment_intents.retrieve(pi.id)
    assert pi.status == "requires_payment_method"
    assert pi.last_payment_error.code == "payment_intent_authentication_failure"
    assert client.v1.checkout.sessions.retrieve(s.id).status == "open"
    post_page(s.url, method="card", cardNumber="4000002500003155")
    r = post_page(f"{s.url}/authenticate", action="complete")
    assert r.status_code == 303 and s.id in r.headers["Location"]
    assert client.v1.payment_intents.retrieve(pi.id).status == "succeeded"
    assert client.v1.checkout.sessions.retrieve(s.id).payment_status == "paid"
    assert event_types_for(client, pi.id) == [
        "payment_intent.created", "payment_intent.requires_action",
        "payment_intent.payment_failed", "payment_intent.requires_action",
        "payment_intent.succeeded"]


def test_pay_session_python_api(client, fake):
    declined = fake.pay_session(new_session(client).id, card="4000000000009995")
    assert declined["status"] == "open"
    assert fake.get(declined["payment_intent"])["last_payment_error"]["decline_code"] == \
        "insufficient_funds"
    waiting = fake.pay_session(new_session(client).id, card="4000002500003155", authenticate=None)
    assert fake.get(waiting["payment_intent"])["status"] == "requires_action"
    assert fake.authenticate(waiting["id"])["payment_status"] == "paid"
    failed3ds = fake.pay_session(new_session(client).id, card="4000002500003155",
                                 authenticate="fail")
    assert failed3ds["status"] == "open"
    r = requests.post(f"{fake.base_url}/_fake/checkout/sessions/{failed3ds['id']}/pay",
                      data={"method": "card"}, timeout=10)
    assert r.status_code == 200 and r.json()["payment_status"] == "paid"


def test_jpy_is_zero_decimal_in_amounts_and_fees(client, fake):
    s = paid_card_session(client, fake, amount=5_000, currency="jpy")
    assert s.amount_total == 5_000 and s.currency == "jpy"
    txn = client.v1.balance_transactions.retrieve(s.payment_intent.latest_charge
                                                  .balance_transaction)
    assert (txn.amount, txn.fee, txn.net, txn.currency) == (5_000, 145, 4_855, "jpy")
    with pytest.raises(stripe.InvalidRequestError) as err:
        new_session(client, currency="jpy", amount=49, methods=("card",))
    assert err.value.code == "amount_too_small" and "50 JPY" in err.value.user_message


def test_currency_fee_overrides(receiver):
    with FakeStripe(currency_fees={"jpy": {"card": {"percent": "3.6", "fixed": 0}}}) as f:
        c = f.client()
        s = paid_card_session(c, f, amount=5_000, currency="jpy")
        assert c.v1.balance_transactions.retrieve(
            s.payment_intent.latest_charge.balance_transaction).fee == 180


# -- ACH ----------------------------------------------------------------------------------------
def test_ach_processing_then_settled(client, fake, receiver):
    s = new_session(client, amount=100_000)
    r = post_page(s.url, method="bank", email="ap@example.com", accountHolderName="Acme AP",
                  routingNumber="110000000", accountNumber="000123456789")
    assert r.status_code == 303 and r.headers["Location"].endswith(s.id)
    s = client.v1.checkout.sessions.retrieve(s.id, {"expand": ["payment_intent"]})
    assert (s.status, s.payment_status) == ("complete", "unpaid")
    pi = s.payment_intent
    assert pi.status == "processing" and pi.payment_method_types == ["us_bank_account"]
    charge = client.v1.charges.retrieve(pi.latest_charge)
    assert charge.id.startswith("py_") and charge.status == "pending"
    assert charge.balance_transaction is None
    assert {"checkout.session.completed", "payment_intent.processing"} <= set(receiver.types())
    completed = next(e for e in receiver.events if e["type"] == "checkout.session.completed")
    assert completed["data"]["object"]["payment_status"] == "unpaid"
    r = requests.post(f"{fake.base_url}/_fake/payment_intents/{pi.id}/settle", timeout=10)
    assert r.status_code == 200 and r.json()["status"] == "succeeded"
    assert client.v1.checkout.sessions.retrieve(s.id).payment_status == "paid"
    charge = client.v1.charges.retrieve(charge.id, {"expand": ["balance_transaction"]})
    txn = charge.balance_transaction
    assert (txn.amount, txn.fee, txn.net) == (100_000, 500, 99_500)     # 0.8 % capped at $5
    assert (txn.type, txn.reporting_category) == ("payment", "charge")
    assert receiver.types()[-3:] == ["charge.succeeded", "payment_intent.succeeded",
                                     "checkout.session.async_payment_succeeded"]
    small = bank_session(client, fake, amount=12_345)
    fake.settle(small.payment_intent)
    small_charge = client.v1.charges.list({"payment_intent": small.payment_intent}).data[0]
    assert client.v1.balance_transactions.retrieve(small_charge.balance_transaction).fee == 99
    again = requests.post(f"{fake.base_url}/_fake/payment_intents/{pi.id}/settle", timeout=10)
    assert again.status_code == 400                       # only a processing payment settles
    assert again.json()["error"]["code"] == "payment_intent_unexpected_state"
    with pytest.raises(StripeError):
        fake.settle(pi.id)


DEBIT_PAGES = {  # each bank debit: its currency, the hosted page's form with its test account, its details
    "us_bank_account": ("usd", {"method": "bank", "routingNumber": "110000000", "accountNumber": "000123456789"},
                        {"bank_name": "STRIPE TEST BANK", "last4": "6789"}),
    "sepa_debit": ("eur", {"method": "sepa_debit", "iban": "DE89 3704 0044 0532 0130 00"},
                   {"country": "DE", "last4": "3000"}),
    "bacs_debit": ("gbp", {"method": "bacs_debit", "sortCode": "10-88-00", "bacsAccountNumber": "00012345"},
                   {"sort_code": "108800", "last4": "2345"}),
}


@pytest.mark.parametrize("method", list(DEBIT_PAGES))
def test_each_bank_debit_is_processing_then_settles_or_fails_with_the_async_session_events(
        client, fake, receiver, method):
    currency, form, details = DEBIT_PAGES[method]
    paid = []
    for outcome in ("settle", "fail"):
        s = new_session(client, currency=currency, amount=10_000, methods=("card", method))
        assert s.payment_method_types == ["card", method]
        assert f'value="{form["method"]}"' in requests.get(s.url, timeout=10).text  # the hosted page offers it
        r = post_page(s.url, email="ap@example.com", **form)
        assert r.status_code == 303, r.text
        s = client.v1.checkout.sessions.retrieve(s.id, {"expand": ["payment_intent.latest_charge"]})
        pi = s.payment_intent
        assert (s.status, s.payment_status, pi.status) == ("complete", "unpaid", "processing")
        assert pi.payment_method_types == [method] and pi.latest_charge.id.startswith("py_")
        got = pi.latest_charge.payment_method_details
        assert got.type == method and {k: got[method][k] for k in details} == details
        requests.post(f"{fake.base_url}/_fake/payment_intents/{pi.id}/{outcome}", timeout=10).raise_for_status()
        pi = client.v1.payment_intents.retrieve(pi.id)
        paid.append((pi.status, client.v1.checkout.sessions.retrieve(s.id).payment_status, receiver.types()[-1]))
    assert paid == [("succeeded", "paid", "checkout.session.async_payment_succeeded"),
                    ("requires_payment_method", "unpaid", "checkout.session.async_payment_failed")]


@pytest.mark.parametrize(("method", "currency", "only"), [
    ("sepa_debit", "gbp", "eur"), ("sepa_debit", "usd", "eur"), ("bacs_debit", "eur", "gbp"),
    ("bacs_debit", "usd", "gbp"), ("us_bank_account", "gbp", "usd")])
def test_a_bank_debit_in_another_currency_is_refused_as_stripe_refuses_it(client, method, currency, only):
    with pytest.raises(stripe.InvalidRequestError) as err:
        new_session(client, currency=currency, methods=("card", method))
    assert err.value.param == "allowed_payment_method_types"
    assert f"`{method}` supports only the following currencies: {only}." in err.value.user_message


def test_a_debit_the_account_has_not_enabled_is_left_out_as_stripe_filters_it(receiver):
    with FakeStripe(enabled_payment_method_types=("card", "us_bank_account")) as f:
        s = new_session(f.client(), currency="eur", methods=("card", "sepa_debit"))
        assert s.payment_method_types == ["card"]
        with pytest.raises(StripeError):
            f.pay_session(s.id, method="sepa_debit")


def test_ach_processing_then_failed(client, fake, receiver):
    s = bank_session(client, fake)
    r = requests.post(f"{fake.base_url}/_fake/payment_intents/{s.payment_intent}/fail",
                      data={"code": "account_closed"}, timeout=10)
    assert r.status_code == 200
    pi = client.v1.payment_intents.retrieve(s.payment_intent)
    assert pi.status == "requires_payment_method"
    assert pi.last_payment_error.code == "account_closed"
    assert client.v1.charges.retrieve(pi.latest_charge).failure_code == "account_closed"
    s = client.v1.checkout.sessions.retrieve(s.id)
    assert (s.status, s.payment_status) == ("complete", "unpaid")
    assert receiver.types()[-2:] == ["payment_intent.payment_failed",
                                     "checkout.session.async_payment_failed"]
    assert client.v1.balance_transactions.list().data == []
    assert "us_bank_account" not in new_session(client, "eur", methods=("card",)) \
        .payment_method_types
    bad = post_page(new_session(client).url, method="bank", routingNumber="123456789",
                    accountNumber="000123456789")
    assert "Invalid routing number" in bad.text


# -- refunds and disputes -----------------------------------------------------------------------
def test_refunds_partial_then_full(client, fake, receiver):
    s = paid_card_session(client, fake, amount=5_000)
    pi = s.payment_intent
    part = client.v1.refunds.create({"payment_intent": pi.id, "amount": 1_500,
                                     "metadata": {"reason": "credit note CN-1"}},
                                    {"idempotency_key": "refund-1"})
    assert part.id.startswith("re_") and part.status == "succeeded" and part.amount == 1_500
    assert part.charge == pi.latest_charge.id and part.payment_intent == pi.id
    charge = client.v1.charges.retrieve(part.charge)
    assert (charge.amount_refunded, charge.refunded) == (1_500, False)
    txn = client.v1.balance_transactions.retrieve(part.balance_transaction)
    assert (txn.amount, txn.fee, txn.net, txn.type) == (-1_500, 0, -1_500, "refund")
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.refunds.create({"payment_intent": pi.id, "amount": 4_000})
    assert err.value.code == "amount_too_large" and err.value.param == "amount"
    rest = client.v1.refunds.create({"charge": charge.id})
    assert rest.amount == 3_500
    charge = client.v1.charges.retrieve(charge.id)
    assert (charge.amount_refunded, charge.refunded) == (5_000, True)
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.refunds.create({"payment_intent": pi.id})
    assert err.value.code == "charge_already_refunded"
    assert [r.id for r in client.v1.refunds.list({"payment_intent": pi.id}).data] == \
        [rest.id, part.id]
    assert receiver.types().count("charge.refunded") == 2
    assert receiver.types().count("refund.created") == 2
    snapshots = [e["data"]["object"]["amount_refunded"] for e in receiver.events
                 if e["type"] == "charge.refunded"]
    assert snapshots == [1_500, 5_000]


def test_ach_refund_pending_then_failed(client, fake, receiver):
    s = bank_session(client, fake, amount=20_000)
    with pytest.raises(stripe.InvalidRequestError) as err:     # not settled yet
        client.v1.refunds.create({"payment_intent": s.payment_intent})
    assert err.value.code == "charge_not_refundable"
    fake.settle(s.payment_intent)
    refund = client.v1.refunds.create({"payment_intent": s.payment_intent})
    assert refund.status == "pending"
    r = requests.post(f"{fake.base_url}/_fake/refunds/{refund.id}/fail", timeout=10)
    assert r.json()["status"] == "failed"
    refund = client.v1.refunds.retrieve(refund.id, {"expand": ["failure_balance_transaction"]})
    assert refund.failure_reason == "declined"
    assert refund.failure_balance_transaction.amount == 20_000
    assert refund.failure_balance_transaction.reporting_category == "refund_failure"
    assert client.v1.charges.retrieve(refund.charge).amount_refunded == 0
    assert "refund.failed" in receiver.types()
    again = client.v1.refunds.create({"payment_intent": s.payment_intent, "amount": 5_000})
    assert fake.succeed_refund(again.id)["status"] == "succeeded"


def test_disputes_won_and_lost(client, fake, receiver):
    won = paid_card_session(client, fake, amount=10_000).payment_intent
    r = requests.post(f"{fake.base_url}/_fake/charges/{won.latest_charge.id}/dispute",
                      data={"reason": "product_not_received"}, timeout=10)
    assert r.status_code == 200
    dispute = client.v1.disputes.retrieve(r.json()["id"])
    assert dispute.id.startswith("dp_") and dispute.status == "needs_response"
    assert (dispute.amount, dispute.charge, dispute.payment_intent) == \
        (10_000, won.latest_charge.id, won.id)
    assert dispute.reason == "product_not_received"
    assert client.v1.charges.retrieve(dispute.charge).disputed is True
    withdrawn = dispute.balance_transactions[0]
    assert (withdrawn.amount, withdrawn.fee, withdrawn.net, withdrawn.reporting_category) == \
        (-10_000, 1_500, -11_500, "dispute")
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.refunds.create({"payment_intent": won.id})
    assert err.value.code == "charge_disputed"
    r = requests.post(f"{fake.base_url}/_fake/disputes/{dispute.id}/close?status=won",
                      timeout=10)
    assert r.json()["status"] == "won"
    assert receiver.types()[-4:] == ["charge.dispute.created", "charge.dispute.funds_withdrawn",
                                     "charge.dispute.closed", "charge.dispute.funds_reinstated"]
    reversal = client.v1.disputes.retrieve(dispute.id).balance_transactions[1]
    assert (reversal.amount, reversal.net, reversal.reporting_category) == \
        (10_000, 11_500, "dispute_reversal")

    lost = paid_card_session(client, fake, amount=7_000).payment_intent
    opened = fake.dispute(lost.id)                     # a PaymentIntent id means its charge
    closed = fake.close_dispute(opened["id"], "lost")
    assert closed["status"] == "lost" and len(closed["balance_transactions"]) == 1
    assert receiver.types()[-1] == "charge.dispute.closed"
    assert [d.id for d in client.v1.disputes.list({"payment_intent": lost.id}).data] == \
        [opened["id"]]
    with pytest.raises(StripeError):
        fake.close_dispute(opened["id"], "won")

    ach = bank_session(client, fake, amount=30_000)
    fake.settle(ach.payment_intent)
    returned = fake.dispute(ach.payment_intent)
    assert returned["status"] == "lost" and returned["reason"] == "debit_not_authorized"
    assert returned["payment_method_details"]["type"] == "us_bank_account"


# -- events -------------------------------------------------------------------------------------
def test_events_list_paging_filters_and_snapshots(client, fake):
    for amount in (1_000, 2_000, 3_000):
        paid_card_session(client, fake, amount=amount)
    bank = bank_session(client, fake, amount=4_000)
    fake.settle(bank.payment_intent)
    everything = list(client.v1.events.list({"limit": 100}).auto_paging_iter())
    assert len(everything) == len({e.id for e in everything}) == 3 * 4 + 4 + 3
    ordered = sorted(everything, key=lambda e: e.created, reverse=True)
    assert [e.created for e in everything] == [e.created for e in ordered]
    page = client.v1.events.list({"limit": 3})
    assert page.has_more and len(page.data) == 3 and page.url == "/v1/events"
    assert [e.id for e in page.data] == [e.id for e in everything[:3]]
    walked = [e.id for e in client.v1.events.list({"limit": 3}).auto_paging_iter()]
    assert walked == [e.id for e in everything]
    after = client.v1.events.list({"limit": 4, "starting_after": everything[5].id})
    assert [e.id for e in after.data] == [e.id for e in everything[6:10]]
    before = client.v1.events.list({"limit": 2, "ending_before": everything[5].id})
    assert [e.id for e in before.data] == [e.id for e in everything[3:5]] and before.has_more
    last = client.v1.events.list({"limit": 5, "starting_after": everything[-3].id})
    assert len(last.data) == 2 and not last.has_more

    wanted = ["payment_intent.succeeded", "payment_intent.processing"]
    typed = list(client.v1.events.list({"types": wanted}).auto_paging_iter())
    assert sorted(e.type for e in typed) == ["payment_intent.processing"] + \
        ["payment_intent.succeeded"] * 4
    assert {e.type for e in client.v1.events.list({"type": "checkout.session.*",
                                                   "limit": 100}).data} == \
        {"checkout.session.completed", "checkout.session.async_payment_succeeded"}
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.events.list({"type": "a", "types": ["b"]})

    processing = client.v1.events.list({"type": "payment_intent.processing"}).data[0]
    assert processing.data.object.status == "processing"        # a snapshot, not live state
    assert client.v1.payment_intents.retrieve(processing.data.object.id).status == "succeeded"
    assert processing.api_version == API_VERSION and processing.livemode is False
    assert processing.pending_webhooks == 0 and processing.request.id is None
    fetched = client.v1.events.retrieve(processing.id)
    assert fetched.to_dict() == processing.to_dict()

    t0 = fake.advance_clock(3_600)
    paid_card_session(client, fake, amount=5_000)
    recent = list(client.v1.events.list({"created": {"gte": t0}}).auto_paging_iter())
    assert recent and all(e.created >= t0 for e in recent)
    assert {e.type for e in recent} >= {"checkout.session.completed", "charge.succeeded"}
    older = client.v1.events.list({"created": {"lt": t0}, "limit": 100}).data
    assert len(older) == len(everything)


def test_api_caused_events_carry_the_request(client, fake):
    s = paid_card_session(client, fake, amount=2_000)
    client.v1.refunds.create({"payment_intent": s.payment_intent.id},
                             {"idempotency_key": "refund-key"})
    event = client.v1.events.list({"type": "refund.created"}).data[0]
    assert event.request.id.startswith("req_") and event.request.idempotency_key == "refund-key"


# -- balance and payouts ------------------------------------------------------------------------
def test_payout_reconciles_with_balance_transactions(receiver):
    with FakeStripe(webhook_url=receiver.url, webhook_secret=SECRET, settlement_days=2) as fake:
        client = fake.client()
        amounts = [1_000 + 137 * i for i in range(11)]
        for amount in amounts:
            paid_card_session(client, fake, amount=amount)
        ach = bank_session(client, fake, amount=80_000)
        fake.settle(ach.payment_intent)
        refunded = paid_card_session(client, fake, amount=4_000)
        client.v1.refunds.create({"payment_intent": refunded.payment_intent.id,
                                  "amount": 1_000})
        assert client.v1.balance.retrieve().pending[0].amount > 0
        r = requests.post(f"{fake.base_url}/_fake/payouts", data={"currency": "usd"}, timeout=10)
        assert r.status_code == 400                       # card funds are still pending
        assert r.json()["error"]["code"] == "balance_insufficient"
        fake.advance_clock(2 * 86_400)
        r = requests.post(f"{fake.base_url}/_fake/payouts", data={"currency": "usd"}, timeout=10)
        assert r.status_code == 200
        payout = client.v1.payouts.retrieve(r.json()["id"])
        assert payout.id.startswith("po_") and payout.status == "paid"
        assert payout.reconciliation_status == "completed" and payout.automatic is True
        assert {"payout.paid", "payout.reconciliation_completed"} <= set(receiver.types())
        assert [p.id for p in client.v1.payouts.list({"status": "paid"}).data] == [payout.id]
        assert client.v1.payouts.list({"status": "failed"}).data == []
        assert [p.id for p in client.v1.payouts.list(
            {"arrival_date": {"gte": payout.arrival_date}, "created": {"lte": fake.now()}}
        ).data] == [payout.id]
        assert client.v1.payouts.list({"arrival_date": {"gt": payout.arrival_date}}).data == []

        lines = list(client.v1.balance_transactions.list(
            {"payout": payout.id, "expand": ["data.source"]}).auto_paging_iter())
        money = [t for t in lines if t.type != "payout"]
        assert len(money) == 11 + 1 + 1 + 1            # charges, ACH, refunded charge, refund
        assert len(lines) > 10                          # auto_paging_iter crossed a page
        for t in money:
            assert t.amount - t.fee == t.net
            assert t.source.id.startswith(("ch_", "py_", "re_"))
            assert t.source.payment_intent.startswith("pi_")
            assert t.status == "available"
        gross, fees = sum(t.amount for t in money), sum(t.fee for t in money)
        assert gross - fees == sum(t.net for t in money) == payout.amount
        assert gross == sum(amounts) + 80_000 + 4_000 - 1_000
        (own,) = [t for t in lines if t.type == "payout"]   # the payout's own transaction
        assert own.net == -payout.amount and own.id == payout.balance_transaction
        assert own.source.id == payout.id
        by_category = {t.reporting_category for t in money}
        assert by_category == {"charge", "refund"}
        assert {t.type for t in money} == {"charge", "payment", "refund"}
        with pytest.raises(StripeError):
            fake.create_payout("usd")                   # nothing left to pay out
        assert client.v1.balance.retrieve().available[0].amount == 0
        failed = fake.fail_payout(payout.id)
        assert failed["status"] == "failed" and "payout.failed" in receiver.types()
        assert client.v1.balance.retrieve().available[0].amount == payout.amount
        listed = client.v1.balance_transactions.list({"type": "payout_failure"}).data
        assert [t.amount for t in listed] == [payout.amount]


# -- webhooks -----------------------------------------------------------------------------------
def test_webhook_signatures_verify_and_tampering_is_rejected(client, fake, receiver):
    paid_card_session(client, fake)
    assert receiver.events and len(receiver.raw) == len(receiver.events)
    body, header = receiver.raw[-1]
    t = int(header.split(",")[0][2:])
    assert abs(t - time.time()) < 60 and ",v1=" in header
    assert stripe.Webhook.construct_event(body, header, SECRET).id == receiver.events[-1]["id"]
    tampered = body.replace(b'"livemode": false', b'"livemode": true', 1)
    assert tampered != body
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(tampered, header, SECRET)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(body, header, "whsec_other")
    event = fake.events_for(type="charge.succeeded")[0]
    replay_body, replay_header = fake.signed_delivery(event)
    assert json.loads(replay_body)["id"] == event["id"]
    assert stripe.Webhook.construct_event(replay_body, replay_header, SECRET).type == \
        "charge.succeeded"
    old_body, old_header = fake.signed_delivery(event["id"], timestamp=int(time.time()) - 3_600)
    with pytest.raises(stripe.SignatureVerificationError):       # outside the 300 s tolerance
        stripe.Webhook.construct_event(old_body, old_header, SECRET)
    assert all(a["ok"] for a in fake.deliveries)
    assert client.v1.events.retrieve(event["id"]).pending_webhooks == 0


def test_webhooks_retry_non_2xx_then_keep_failures(client, fake, receiver):
    receiver.fail_next = 2
    s = new_session(client)
    fake.expire_session(s.id)
    attempts = [a for a in fake.deliveries if a["type"] == "checkout.session.expired"]
    assert [(a["attempt"], a["status"]) for a in attempts] == [(1, 500), (2, 500), (3, 200)]
    assert receiver.types() == ["checkout.session.expired"]
    receiver.always_fail = True
    fake.pay_session(new_session(client).id)
    assert len(fake.webhooks.failed) == 4                   # created, charge, pi, session
    pending = client.v1.events.list({"type": "charge.succeeded"}).data[0]
    assert pending.pending_webhooks == 1
    assert client.v1.events.list({"delivery_success": False}).data[0].id == \
        fake.webhooks.failed[-1]["id"]
    receiver.always_fail = False
    assert all(r["ok"] for r in fake.retry_failed())
    assert client.v1.events.retrieve(pending.id).pending_webhooks == 0


def test_manual_delivery_shuffled_and_duplicated(receiver):
    with FakeStripe(webhook_url=receiver.url, webhook_secret=SECRET, deliver="manual") as fake:
        client = fake.client()
        for amount in (1_000, 2_000, 3_000, 4_000):
            paid_card_session(client, fake, amount=amount)
        bank = bank_session(client, fake)
        fake.settle(bank.payment_intent)
        assert receiver.raw == []
        created_order = [e["id"] for e in fake.events_for()]
        results = fake.deliver_pending(shuffle=True, duplicate_ratio=0.3, seed=1)
        delivered = [r["event"] for r in results]
        assert all(r["ok"] for r in results)
        assert set(delivered) == set(created_order)
        assert len(delivered) > len(created_order)            # some came twice
        assert delivered[:len(created_order)] != created_order  # and out of order
        assert [e["id"] for e in receiver.events] == delivered
        assert fake.deliver_pending() == []
        r = requests.post(f"{fake.base_url}/_fake/webhooks/deliver", timeout=10)
        assert r.json() == {"data": []}


def test_async_delivery(receiver):
    with FakeStripe(webhook_url=receiver.url, webhook_secret=SECRET, deliver="async") as fake:
        client = fake.client()
        paid_card_session(client, fake)
        assert fake.wait_for_webhooks(10)
        assert set(receiver.types()) == {"payment_intent.created", "charge.succeeded",
                                         "payment_intent.succeeded", "checkout.session.completed"}


# -- sessions over time -------------------------------------------------------------------------
def test_session_expiry_by_api_control_and_clock(client, fake, receiver):
    s = new_session(client)
    expired = client.v1.checkout.sessions.expire(s.id)
    assert (expired.status, expired.url) == ("expired", None)
    assert receiver.types()[-1] == "checkout.session.expired"
    assert requests.get(s.url, timeout=10).status_code == 410
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.checkout.sessions.expire(s.id)
    s2 = new_session(client)
    r = requests.post(f"{fake.base_url}/_fake/checkout/sessions/{s2.id}/expire", timeout=10)
    assert r.json()["status"] == "expired"
    s3 = new_session(client, expires_at=fake.now() + 1_800)
    assert client.v1.checkout.sessions.retrieve(s3.id).status == "open"
    r = requests.post(f"{fake.base_url}/_fake/clock", data={"advance": "1801"}, timeout=10)
    assert r.json()["now"] >= s3.expires_at
    assert client.v1.checkout.sessions.retrieve(s3.id).status == "expired"
    assert receiver.types().count("checkout.session.expired") == 3
    assert [x.id for x in client.v1.checkout.sessions.list({"status": "expired"}).data] == \
        [s3.id, s2.id, s.id]


def test_sessions_list_by_payment_intent(client, fake):
    a = paid_card_session(client, fake, amount=1_000)
    paid_card_session(client, fake, amount=2_000)
    found = client.v1.checkout.sessions.list({"payment_intent": a.payment_intent.id}).data
    assert [x.id for x in found] == [a.id]


def test_expand_rules(client, fake):
    s = paid_card_session(client, fake)
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.checkout.sessions.retrieve(s.id, {"expand": ["customer_email"]})
    assert "cannot be expanded" in err.value.user_message
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.charges.list({"expand": ["balance_transaction"]})
    charges = client.v1.charges.list({"expand": ["data.balance_transaction"]}).data
    assert charges[0].balance_transaction.object == "balance_transaction"
    plain = client.v1.checkout.sessions.retrieve(s.id)
    assert isinstance(plain.payment_intent, str)
    with_items = client.v1.checkout.sessions.retrieve(s.id, {"expand": ["line_items"]})
    assert with_items.line_items.data[0].amount_total == 12_345


def test_objects_only_carry_fields_the_sdk_knows(client, fake):
    s = paid_card_session(client, fake, amount=9_000)
    refund = client.v1.refunds.create({"payment_intent": s.payment_intent.id, "amount": 100})
    dispute = fake.dispute(s.payment_intent.id, amount=1_000)
    fake.advance_clock(3 * 86_400)
    payout = fake.create_payout("usd")
    samples = {
        stripe.checkout.Session: client.v1.checkout.sessions.retrieve(s.id),
        stripe.PaymentIntent: client.v1.payment_intents.retrieve(s.payment_intent.id),
        stripe.Charge: client.v1.charges.retrieve(s.payment_intent.latest_charge.id),
        stripe.Refund: refund,
        stripe.Dispute: client.v1.disputes.retrieve(dispute["id"]),
        stripe.BalanceTransaction: client.v1.balance_transactions.list().data[0],
        stripe.Payout: client.v1.payouts.retrieve(payout["id"]),
        stripe.Event: client.v1.events.list().data[0],
    }
    for cls, obj in samples.items():
        known = set(cls.__annotations__)
        extra = set(obj.to_dict()) - known
        assert not extra, f"{cls.__name__} has fields Stripe does not: {extra}"
        assert obj.object == cls.OBJECT_NAME


def test_concurrent_requests_are_consistent(client, fake):
    made: dict[str, str] = {}
    replayed: dict[str, str] = {}
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(4):
                key = f"k-{n}-{i}"
                made[key] = new_session(client, amount=1_000 + i, key=key).id
                replayed[key] = new_session(client, amount=1_000 + i, key=key).id
        except BaseException as exc:           # pragma: no cover - reported below
            errors.append(exc)
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert made == replayed and len(set(made.values())) == 24
    listed = list(client.v1.checkout.sessions.list({"limit": 100}).auto_paging_iter())
    assert sorted(x.id for x in listed) == sorted(made.values())


def test_reset_and_clock_controls(client, fake):
    paid_card_session(client, fake)
    now = fake.now()
    r = requests.post(f"{fake.base_url}/_fake/clock", data={"now": str(now + 100)}, timeout=10)
    assert now + 100 <= r.json()["now"] <= now + 102
    r = requests.post(f"{fake.base_url}/_fake/clock", data={"now": str(now - 1_000)}, timeout=10)
    assert r.status_code == 400
    assert requests.post(f"{fake.base_url}/_fake/reset", timeout=10).json() == {"reset": True}
    assert client.v1.events.list().data == [] and client.v1.checkout.sessions.list().data == []
    assert abs(fake.now() - time.time()) < 5
    assert requests.post(f"{fake.base_url}/_fake/nothing", timeout=10).status_code == 404


def test_command_line_server(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "fakestripe", "--port", str(port),
                             "--quiet", "--webhook-secret", SECRET], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = proc.stdout.readline()
        assert f"listening on http://127.0.0.1:{port}" in line
        client = stripe.StripeClient(KEY, base_addresses={"api": f"http://127.0.0.1:{port}"})
        s = new_session(client)
        r = post_page(s.url, method="card", cardNumber="4242424242424242")
        assert r.status_code == 303
        assert client.v1.checkout.sessions.retrieve(s.id).payment_status == "paid"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stdout.close()
    assert proc.returncode == 0
