"""The Stripe fake is faithful where the portal leans on it: driven by the real SDK only."""
from __future__ import annotations

import pytest
import requests
import stripe

from portal.stripefake import FakeStripe

SESSION = {
    "mode": "payment", "customer_email": "a@b.example", "client_reference_id": "C1",
    "line_items": [{"quantity": 1, "price_data": {"currency": "usd", "unit_amount": 1234,
                                                  "product_data": {"name": "Account C1"}}}],
    "allowed_payment_method_types": ["card", "us_bank_account"], "metadata": {"customer_id": "C1"},
    "payment_intent_data": {"metadata": {"customer_id": "C1"}},
    "success_url": "https://portal.example/pay/return?session_id={CHECKOUT_SESSION_ID}",
    "cancel_url": "https://portal.example/s/t/",
}


@pytest.fixture
def fake():
    with FakeStripe(webhook_secret="whsec_fake_test") as f:
        yield f


@pytest.fixture
def client(fake):
    return stripe.StripeClient("sk_test_fake", base_addresses={"api": fake.base})


def test_session_create_substitutes_the_session_id_and_stores_what_was_sent(client):
    s = client.v1.checkout.sessions.create(SESSION)
    assert s.id.startswith("cs_test_") and s.status == "open" and s.amount_total == 1234
    assert s.success_url == f"https://portal.example/pay/return?session_id={s.id}"
    assert s.metadata.to_dict() == {"customer_id": "C1"} and s.payment_intent is None


def test_unknown_params_are_refused_like_stripe(client):
    with pytest.raises(stripe.InvalidRequestError) as e:
        client.v1.checkout.sessions.create({**SESSION, "payment_method_types": ["card"]})
    assert e.value.code == "parameter_unknown" and e.value.param == "payment_method_types"


def test_us_bank_account_is_refused_for_other_currencies(client):
    eur = {**SESSION, "line_items": [{"quantity": 1, "price_data": {"currency": "eur", "unit_amount": 5,
                                                                    "product_data": {"name": "x"}}}]}
    with pytest.raises(stripe.InvalidRequestError, match="us_bank_account"):
        client.v1.checkout.sessions.create(eur)


def test_idempotency_keys_replay_and_refuse_other_params(client):
    a = client.v1.checkout.sessions.create(SESSION, {"idempotency_key": "k1"})
    assert client.v1.checkout.sessions.create(SESSION, {"idempotency_key": "k1"}).id == a.id
    with pytest.raises(stripe.IdempotencyError):
        client.v1.checkout.sessions.create({**SESSION, "client_reference_id": "C2"}, {"idempotency_key": "k1"})


def test_missing_objects_and_bad_keys_answer_with_error_envelopes(fake, client):
    with pytest.raises(stripe.InvalidRequestError) as e:
        client.v1.payment_intents.retrieve("pi_missing")
    assert e.value.http_status == 404 and e.value.code == "resource_missing"
    r = requests.get(fake.base + "/v1/events", headers={"Authorization": "Bearer nope"}, timeout=5)
    assert r.status_code == 401 and r.json()["error"]["type"] == "invalid_request_error"


def test_lists_page_newest_first_through_auto_paging(fake, client):
    ids = []
    for _ in range(23):
        s = client.v1.checkout.sessions.create(SESSION)
        fake.pay_session(s.id)
        ids.append(s.payment_intent if isinstance(s.payment_intent, str) else fake.object(s.id)["payment_intent"])
    first = client.v1.events.list({"types": ["payment_intent.succeeded"], "limit": 10})
    assert len(first.data) == 10 and first.has_more
    every = list(client.v1.events.list({"types": ["payment_intent.succeeded"], "limit": 10}).auto_paging_iter())
    assert len(every) == 23 and len({e.id for e in every}) == 23
    assert [e.created for e in every] == sorted((e.created for e in every), reverse=True)


def test_refunds_cannot_exceed_the_charge(fake, client):
    s = client.v1.checkout.sessions.create(SESSION)
    fake.pay_session(s.id)
    pi = fake.object(s.id)["payment_intent"]
    client.v1.refunds.create({"payment_intent": pi, "amount": 1000})
    with pytest.raises(stripe.InvalidRequestError) as e:
        client.v1.refunds.create({"payment_intent": pi, "amount": 235})
    assert e.value.code == "amount_too_large"
    assert [r.amount for r in client.v1.refunds.list({"payment_intent": pi}).auto_paging_iter()] == [1000]


def test_webhooks_are_signed_so_the_sdk_verifies_them(fake):
    s = stripe.StripeClient("sk_test_fake", base_addresses={"api": fake.base}).v1.checkout.sessions.create(SESSION)
    fake.pay_session(s.id)
    ev = fake.store.events[0]
    body, header = fake.signed(ev)
    assert stripe.Webhook.construct_event(body, header, "whsec_fake_test").type == "checkout.session.completed"
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(body.replace("complete", "expired"), header, "whsec_fake_test")


def test_bank_payments_emit_the_events_stripe_sends(fake):
    s = stripe.StripeClient("sk_test_fake", base_addresses={"api": fake.base}).v1.checkout.sessions.create(SESSION)
    fake.pay_session(s.id, method="bank")
    pi = fake.object(s.id)["payment_intent"]
    fake.settle(pi)
    assert [e["type"] for e in fake.store.events] == [
        "checkout.session.completed", "payment_intent.processing", "checkout.session.async_payment_succeeded",
        "charge.succeeded", "payment_intent.succeeded"]
    assert fake.store.events[0]["data"]["object"]["payment_status"] == "unpaid"
