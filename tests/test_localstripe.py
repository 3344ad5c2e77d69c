"""localstripe (an independent Stripe imitation) as a peer: PaymentIntents, refunds, its own signed webhooks."""
from __future__ import annotations

import time
from datetime import date
from decimal import Decimal

import pytest
import requests
import stripe
from conftest import portal_metadata

from portal.build.lookup import customer_accounts
from portal.ledger.online import FILE
from portal.pay.fulfil import fulfiller_for
from portal.pay.gateway import Gateway
from portal.web.app import create_app

HEADER = "date,customer_id,type,ref,amount,currency,due_date,applies_to,memo\n"
WHSEC = "whsec_localstripe_test_secret"


@pytest.fixture
def ledger(project):
    project.write("a.csv", HEADER + "2026-10-01,C1,invoice,INV-1,100.00,,2026-10-31,,\n"
                                    "2026-10-02,C1,invoice,INV-2,50.00,,2026-10-31,,\n")
    project.build(as_of=date.today().isoformat())
    return project


def pay_intent(base, amount, allocations="", metadata=None):
    c = stripe.StripeClient("sk_test_x", base_addresses={"api": base})
    return c.v1.payment_intents.create({
        "amount": amount, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True,
        "metadata": metadata or {**portal_metadata("C1", "USD", amount, allocations), "invoices": "INV-2"}}), c


def test_card_payment_and_partial_refund_are_recorded_once(localstripe, ledger):
    gateway = Gateway("sk_test_x", WHSEC, localstripe)
    fulfil = fulfiller_for(ledger.settings(), gateway, lambda: ledger.build(as_of=date.today().isoformat()))
    pi, client = pay_intent(localstripe, 5000, "INV-2=50.00")
    rows = fulfil.event("payment_intent", pi.id)
    assert [(r.ref, r.amount, r.applies_to, r.status) for r in rows] == [(f"{pi.id}/INV-2", Decimal("50.00"), "INV-2",
                                                                        "succeeded")]
    assert fulfil.event("payment_intent", pi.id) == []  # a redelivery records nothing
    assert "INV-2" not in ledger.page_for("C1").split("Open invoices")[1].split("</table>")[0]
    refund = client.v1.refunds.create({"payment_intent": pi.id, "amount": 1250})
    rows = fulfil.event("refund", refund.id)
    assert [(r.type, r.ref, r.amount) for r in rows] == [("refund", refund.id, Decimal("12.50"))]
    assert fulfil.event("refund", refund.id) == [] and fulfil.event("payment_intent", pi.id) == []
    _, (acct,) = customer_accounts(ledger.settings(), "C1", date.today())
    assert acct.balance == Decimal("112.50")  # 150.00 - 50.00 + 12.50
    assert len((ledger.ledger / FILE).read_text().splitlines()) == 3  # header, payment, refund


def test_webhooks_localstripe_signs_are_verified_and_recorded(localstripe, ledger, live_server, monkeypatch):
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_x")
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", WHSEC)
    monkeypatch.setenv("STRIPE_API_BASE", localstripe)
    app = create_app({"PORTAL_ROOT": str(ledger.root)})
    url = live_server(app) + "/stripe/webhook"
    requests.post(localstripe + "/_config/webhooks/portal", data={"url": url, "secret": WHSEC,
                  "events[]": ["payment_intent.succeeded"]}, timeout=5).raise_for_status()
    pi, _ = pay_intent(localstripe, 10000)
    journal = ledger.ledger / FILE
    deadline = time.time() + 20
    while time.time() < deadline and not (journal.exists() and pi.id in journal.read_text()):
        time.sleep(0.1)
    assert pi.id in journal.read_text()
    rows = journal.read_text().splitlines()
    assert len(rows) == 2 and rows[1].startswith(f"{date.today()},C1,payment,{pi.id},100.00,USD")
    deadline = time.time() + 20  # the pages (and the build state) are rebuilt in the background
    while time.time() < deadline and customer_accounts(ledger.settings(), "C1", date.today())[1][0].balance != 50:
        time.sleep(0.05)
    _, (acct,) = customer_accounts(ledger.settings(), "C1", date.today())
    assert acct.balance == Decimal("50.00")
