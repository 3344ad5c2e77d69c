"""The payment flow end to end over HTTP: the app, the Stripe SDK and our Stripe fake."""
from __future__ import annotations

import re
import time
from datetime import date
from decimal import Decimal

import pytest
import requests
import stripe
from conftest import free_port

from fakestripe import FakeStripe
from portal.build.lookup import customer_accounts
from portal.core.signing import Signer, load_keys
from portal.ledger.online import FILE

WHSEC = "whsec_payflow_test_secret"
BANK = {"method": "bank", "routingNumber": "110000000", "accountNumber": "000123456789"}  # test account


class Debit:
    """A bank debit as a customer pays it: their account, and the fake's hosted page form with its test account."""

    def __init__(self, method, cid, currency, form, owed, paid_by, days):
        self.method, self.cid, self.currency, self.form = method, cid, currency, form
        self.owed, self.paid_by, self.days = owed, paid_by, days  # $140.00; the receipt's "Paid by"; 3 to 5
        self.pay_as = "bank" if method == "us_bank_account" else method  # fake.pay_session's method


DEBITS = [
    Debit("us_bank_account", "C1", "USD", BANK, "$140.00", "STRIPE TEST BANK account ending 6789", "3 to 5"),
    Debit("sepa_debit", "C4", "EUR", {"method": "sepa_debit", "iban": "DE89370400440532013000"}, "€140.00",
          "SEPA Direct Debit, account ending 3000", "5 to 14"),
    Debit("bacs_debit", "C5", "GBP", {"method": "bacs_debit", "sortCode": "108800", "bacsAccountNumber": "00012345"},
          "£140.00", "Bacs Direct Debit, account ending 2345", "4 to 7"),
]
each_debit = pytest.mark.parametrize("debit", DEBITS, ids=[d.method for d in DEBITS])
HEADER = "date,customer_id,type,ref,amount,currency,due_date,applies_to,memo\n"


class Flow:
    def __init__(self, project, base, fake):
        self.project, self.base, self.fake = project, base, fake
        self.browser = requests.Session()  # the customer's browser: it keeps the service's cookie
        s = project.settings()
        self.signer = Signer(load_keys(s.state_dir))
        self.settings = s

    def form(self, cid="C1", **kw):
        page = self.page(cid)
        token = re.search(r'name="token" value="([^"]+)"', page)[1]
        return {"token": token, "currency": CURRENCY[cid], "choice": "balance", **kw}

    def page(self, cid="C1") -> str:
        token = self.signer.link_token(cid, 1)
        return (self.settings.out / "s" / token / "index.html").read_text()

    def pay(self, **form) -> requests.Response:
        return self.browser.post(self.base + "/pay", data=form, allow_redirects=False, timeout=10)

    def checkout(self, **form) -> str:
        r = self.pay(**form)
        assert r.status_code == 303, r.text
        return r.headers["Location"]

    def complete(self, url, **data) -> requests.Response:
        r = self.browser.post(url, data=data, allow_redirects=False, timeout=10)
        assert r.status_code == 303, r.text
        return self.browser.get(r.headers["Location"], timeout=30)  # our return page

    def balance(self, cid="C1", currency="USD") -> Decimal:
        _, accts = customer_accounts(self.settings, cid, date.today())
        return next(a.balance for a in accts if a.currency == currency)

    def rows(self) -> list[str]:
        path = self.project.ledger / FILE
        return path.read_text().splitlines()[1:] if path.exists() else []

    def until(self, check, timeout=15):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if check():
                return True
            time.sleep(0.05)
        raise AssertionError("timed out")


CURRENCY = {"C1": "USD", "C3": "JPY", "C4": "EUR", "C5": "GBP"}


def start_flow(project, live_server, make_app, payments: str = "sepa_debit = true\nbacs_debit = true"):
    """The app over a small ledger (a USD, a JPY, a EUR and a GBP customer), the fake, and [payments]."""
    project.write("customers.csv", "customer_id,name,email,currency,terms_days\n"
                                   "C1,First Customer,ap@first.example,USD,30\nC3,Tokyo KK,ap@tokyo.example,JPY,30\n"
                                   "C4,Berlin GmbH,ap@berlin.example,EUR,30\nC5,Leeds Ltd,ap@leeds.example,GBP,30\n")
    project.write("a.csv", HEADER + "2026-10-01,C1,invoice,INV-1,100.00,,2026-10-31,,\n"
                                    "2026-10-02,C1,invoice,INV-2,40.00,,2030-01-31,,\n"
                                    "2026-10-02,C3,invoice,INV-9,184000,,2030-01-31,,\n"
                                    "2026-10-01,C4,invoice,INV-41,100.00,,2026-10-31,,\n"
                                    "2026-10-02,C4,invoice,INV-42,40.00,,2030-01-31,,\n"
                                    "2026-10-01,C5,invoice,INV-51,100.00,,2026-10-31,,\n"
                                    "2026-10-02,C5,invoice,INV-52,40.00,,2030-01-31,,\n")
    if payments:
        path = project.root / "content" / "settings.toml"
        path.write_text(path.read_text() + f"\n[payments]\n{payments}\n")
    port = free_port()
    project.serve_at(f"http://127.0.0.1:{port}")
    fake = FakeStripe(webhook_secret=WHSEC, deliver="async")  # webhooks race the return page, as on Stripe
    fake.start()
    app = make_app(stripe=fake.base_url, secret_key="sk_test_fake", webhook_secret=WHSEC, TESTING=False)
    base = live_server(app, port)
    fake.webhook_url = base + "/stripe/webhook"
    return Flow(project, base, fake)


@pytest.fixture
def flow(project, live_server, make_app):
    """The flow with SEPA and Bacs debits switched on in the settings."""
    f = start_flow(project, live_server, make_app)
    yield f
    f.fake.stop()


@pytest.fixture
def flow_off(project, live_server, make_app):
    """The flow with no [payments] section: SEPA and Bacs off."""
    f = start_flow(project, live_server, make_app, payments="")
    yield f
    f.fake.stop()


def test_card_payment_of_a_chosen_invoice_is_recorded_once_and_shown_on_return(flow):
    url = flow.checkout(**flow.form(choice="invoices", invoice="INV-2"))
    assert url.startswith(flow.fake.base_url + "/c/pay/cs_test_")
    ret = flow.complete(url, cardNumber="4242424242424242")
    assert ret.status_code == 200 and "We received $40.00" in ret.text
    # the return page is a receipt: its number, the day, how it was paid, whose account, what it paid
    pi = flow.fake.get(url.rsplit("/", 1)[1])["payment_intent"]
    from portal.core.receipts import receipt_number
    assert f"<h2>Receipt {receipt_number(pi)}</h2>" in ret.text and f"<code>{pi}</code>" in ret.text
    assert "<dt>Paid by</dt><dd>Visa ending 4242</dd>" in ret.text and "<dt>Amount</dt><dd>$40.00</dd>" in ret.text
    assert "<dt>Account</dt><dd>First Customer (C1)</dd>" in ret.text
    assert '<tr><th scope="row">INV-2</th><td class="num">$40.00</td></tr>' in ret.text
    recent = flow.page().split("Payments and credits received")[1].split("</table>")[0]
    assert receipt_number(pi) in recent and pi not in recent  # the statement names it as the receipt does
    assert "Open invoices" in flow.page() and "INV-2" not in flow.page().split("Open invoices")[1].split("</table>")[0]
    flow.fake.wait_for_webhooks()
    rows = flow.rows()
    assert len(rows) == 1 and ",C1,payment,pi_" in rows[0] and "/INV-2,40.00,USD,,INV-2," in rows[0]
    assert flow.balance() == Decimal("100.00")
    assert all(a["status"] == 200 for a in flow.fake.deliveries)


def test_session_params_are_what_stripe_expects(flow):
    flow.checkout(**flow.form())
    (_, _, p), = [r for r in flow.fake.requests if r[1] == "/v1/checkout/sessions"]
    assert p["mode"] == "payment" and p["allowed_payment_method_types"] == ["card", "us_bank_account"]
    assert p["line_items"][0]["price_data"]["unit_amount"] == "14000" and p["customer_email"] == "ap@first.example"
    assert p["metadata"]["customer_id"] == "C1" == p["payment_intent_data"]["metadata"]["customer_id"]
    assert p["success_url"].endswith("/pay/return?session_id={CHECKOUT_SESSION_ID}")


def test_double_submitted_form_gets_the_same_checkout(flow):
    form = flow.form(choice="amount", amount="10")
    assert flow.checkout(**form) == flow.checkout(**form)


def test_jpy_is_charged_in_whole_yen_by_card_only(flow):
    flow.checkout(**flow.form("C3", currency="JPY"))
    (_, _, p), = [r for r in flow.fake.requests if r[1] == "/v1/checkout/sessions"]
    assert p["line_items"][0]["price_data"] == {"currency": "jpy", "unit_amount": "184000",
                                                "product_data": {"name": "Account C3: balance"}}
    assert p["allowed_payment_method_types"] == ["card"]


def test_declined_card_records_nothing(flow):
    url = flow.checkout(**flow.form())
    r = requests.post(url, data={"cardNumber": "4000000000000002"}, timeout=10)
    assert r.status_code == 200 and 'id="error"' in r.text and "Your card was declined." in r.text
    assert flow.fake.get(url.rsplit("/", 1)[1])["status"] == "open"  # the customer may try another card
    flow.fake.wait_for_webhooks()
    assert flow.rows() == [] and flow.balance() == Decimal("140.00")


def test_three_d_secure_then_paid(flow):
    url = flow.checkout(**flow.form())
    r = requests.post(url, data={"cardNumber": "4000002500003155"}, timeout=10)
    assert "Authenticate" in r.text
    ret = flow.complete(url + "/authenticate", action="complete")
    assert "We received $140.00" in ret.text and flow.balance() == Decimal("0.00")


@pytest.mark.parametrize(("cid", "offered", "words"), [
    ("C1", ["card", "us_bank_account"], "Card or US bank account. Bank payments take 3 to 5 business days to clear."),
    ("C4", ["card", "sepa_debit"], "Card or SEPA bank debit. Bank payments take 5 to 14 business days to clear."),
    ("C5", ["card", "bacs_debit"], "Card or UK bank debit (Bacs). Bank payments take 4 to 7 business days to clear."),
    ("C3", ["card"], "Card. Minimum"),
])
def test_checkout_offers_the_bank_debit_of_its_currency_that_the_settings_switch_on_as_the_page_says(
        flow, cid, offered, words):
    url = flow.checkout(**flow.form(cid))
    (_, _, p), = [r for r in flow.fake.requests if r[1] == "/v1/checkout/sessions"]
    assert p["allowed_payment_method_types"] == offered
    assert flow.fake.get(url.rsplit("/", 1)[1])["payment_method_types"] == offered  # what Checkout shows
    assert f'<p class="hint">{words}' in flow.page(cid)


def test_with_the_settings_off_eur_and_gbp_are_paid_by_card_only_and_the_page_says_so(flow_off):
    for cid in ("C4", "C5"):
        url = flow_off.checkout(**flow_off.form(cid))
        assert flow_off.fake.get(url.rsplit("/", 1)[1])["payment_method_types"] == ["card"]
        assert '<p class="hint">Card. Minimum' in flow_off.page(cid)
    assert [r[2]["allowed_payment_method_types"] for r in flow_off.fake.requests
            if r[1] == "/v1/checkout/sessions"] == [["card"], ["card"]]


@each_debit
def test_bank_payment_processing_then_settled(flow, debit):
    ret = flow.complete(flow.checkout(**flow.form(debit.cid)), **debit.form)
    assert "Bank payment processing" in ret.text and "please don&#39;t pay again" in ret.text
    assert f"Bank payments take {debit.days} business days to clear." in ret.text
    assert f"<dt>Paid by</dt><dd>{debit.paid_by}</dd>" in ret.text
    assert f"<dt>Status</dt><dd>Processing: bank payments take {debit.days} business days to clear</dd>" in ret.text
    assert "Applied to your account: the oldest invoices first." in ret.text  # the whole balance: no invoice named
    assert "processing" in flow.page(debit.cid) and flow.balance(debit.cid, debit.currency) == Decimal("0.00")
    flow.fake.wait_for_webhooks()
    (row,) = flow.rows()  # once, however the return page and the webhooks raced
    pi = row.split(",")[3]
    flow.fake.settle(pi)
    flow.until(lambda: "processing" not in flow.page(debit.cid))
    flow.fake.wait_for_webhooks()
    assert flow.balance(debit.cid, debit.currency) == Decimal("0.00")
    assert [r.split(",")[9] for r in flow.rows()] == ["processing", "succeeded"]


@each_debit
def test_bank_payment_that_fails_is_owed_again(flow, debit):
    flow.complete(flow.checkout(**flow.form(debit.cid)), **debit.form)
    pi = flow.rows()[0].split(",")[3]
    flow.fake.fail(pi)
    flow.until(lambda: len(flow.rows()) == 2)
    flow.until(lambda: debit.owed in flow.page(debit.cid) and "processing" not in flow.page(debit.cid))
    assert flow.balance(debit.cid, debit.currency) == Decimal("140.00")
    from portal.core.receipts import receipt_number
    returned = re.search(r'<p class="returned-note">(.*?)</p>', flow.page(debit.cid))[1]  # the statement says so
    assert returned.startswith(f"Your bank payment of {debit.owed} on ")
    assert returned.endswith(f"({receipt_number(pi)}) was returned by your bank: it is due again.")
    flow.fake.wait_for_webhooks()
    assert [r.split(",")[9] for r in flow.rows()] == ["processing", "failed"]


@each_debit
def test_a_settled_debits_events_redelivered_in_any_order_record_it_once(flow, debit):
    flow.fake.deliver = "manual"
    url = flow.checkout(**flow.form(debit.cid))
    pi = flow.fake.pay_session(url.rsplit("/", 1)[1], method=debit.pay_as)["payment_intent"]
    flow.fake.settle(pi)
    events = [e for e in flow.fake.events_for() if e["type"].startswith(("checkout.session.", "payment_intent."))]
    for event in [*reversed(events), *events, *reversed(events)]:  # the final state first, and twice more
        assert deliver(flow, event) == 200
    assert [r.split(",")[9] for r in flow.rows()] == ["succeeded"]  # a late processing after it changes nothing
    assert flow.balance(debit.cid, debit.currency) == Decimal("0.00")


def test_refunds_and_a_lost_dispute_make_the_money_owed_again(flow):
    flow.complete(flow.checkout(**flow.form()), cardNumber="4242424242424242")
    pi = flow.rows()[0].split(",")[3]
    client = stripe.StripeClient("sk_test_fake", base_addresses={"api": flow.fake.base_url})
    client.v1.refunds.create({"payment_intent": pi, "amount": 2500})
    flow.until(lambda: flow.balance() == Decimal("25.00"))
    charge = flow.fake.get(pi)["latest_charge"]
    dispute = flow.fake.dispute(charge, amount=11_500)  # the cardholder disputes what was not refunded
    flow.fake.wait_for_webhooks()
    assert flow.balance() == Decimal("25.00")  # a card dispute counts only when lost
    flow.fake.close_dispute(dispute["id"], "lost")
    flow.until(lambda: flow.balance() == Decimal("140.00"))
    flow.fake.wait_for_webhooks()
    assert len(flow.rows()) == 3  # payment, refund, dispute: each once whatever was redelivered


@each_debit
def test_a_bank_debits_return_after_it_settled_is_owed_again_at_once(flow, debit):
    flow.complete(flow.checkout(**flow.form(debit.cid)), **debit.form)
    pi = flow.rows()[0].split(",")[3]
    flow.fake.settle(pi)
    flow.until(lambda: len(flow.rows()) == 2)
    flow.fake.dispute(flow.fake.get(pi)["latest_charge"])  # a debit's dispute is final when opened
    flow.until(lambda: flow.balance(debit.cid, debit.currency) == Decimal("140.00"))
    assert flow.rows()[-1].split(",")[8] == "Bank payment returned"


def test_shuffled_and_duplicated_deliveries_record_each_effect_once(flow):
    flow.fake.deliver = "manual"
    for amount in ("10", "11", "12"):  # three payments (one amount each: the same form would be one session)
        flow.complete(flow.checkout(**flow.form(choice="amount", amount=amount)), cardNumber="4242424242424242")
    assert len(flow.rows()) == 3  # recorded by the return pages
    sent = flow.fake.deliver_pending(shuffle=True, duplicate_ratio=0.8, seed=3)
    assert len(sent) > len({d["event"] for d in sent}) >= 9 and all(d["ok"] for d in sent)
    assert len(flow.rows()) == 3 and flow.balance() == Decimal("107.00")


def test_bad_signature_or_stale_timestamp_is_refused_and_nothing_recorded(flow):
    ev = {"id": "evt_x", "object": "event", "type": "payment_intent.succeeded", "created": 1,
          "data": {"object": {"id": "pi_x", "object": "payment_intent"}}}
    body, header = flow.fake.signed_delivery(ev)
    tampered = body.replace("pi_x", "pi_y")
    r = requests.post(flow.base + "/stripe/webhook", data=tampered, headers={"Stripe-Signature": header}, timeout=5)
    assert r.status_code == 400
    old = stripe.WebhookSignature.generate_signature_header(body, WHSEC, timestamp=int(time.time()) - 3600)
    r = requests.post(flow.base + "/stripe/webhook", data=body, headers={"Stripe-Signature": old}, timeout=5)
    assert r.status_code == 400 and flow.rows() == []


def test_sync_applies_what_webhooks_missed_once(flow, monkeypatch, capsys):
    flow.fake.webhook_url = None  # the webhooks never arrive
    url = flow.checkout(**flow.form())
    r = requests.post(url, data={"cardNumber": "4242424242424242"}, allow_redirects=False, timeout=10)
    assert r.status_code == 303 and flow.rows() == []  # the customer closed the tab before returning
    from portal.cli import main
    assert main(["--root", str(flow.project.root), "sync"]) == 0
    assert "1 ledger rows recorded" in capsys.readouterr().out and flow.balance() == Decimal("0.00")
    assert main(["--root", str(flow.project.root), "sync"]) == 0
    assert "0 ledger rows recorded" in capsys.readouterr().out and len(flow.rows()) == 1


def test_no_secrets_tokens_or_card_numbers_in_the_logs(flow, caplog):
    import logging
    caplog.set_level(logging.DEBUG)
    form = flow.form()
    flow.complete(flow.checkout(**form), cardNumber="4242424242424242")
    flow.fake.wait_for_webhooks()
    text = caplog.text
    assert "recorded" in text  # the service does log what it records
    for secret in (form["token"], flow.signer.link_token("C1", 1), "sk_test_fake", WHSEC, "4242424242424242"):
        assert secret not in text


def test_a_won_dispute_and_an_expired_session_change_nothing(flow):
    flow.complete(flow.checkout(**flow.form(choice="amount", amount="20")), cardNumber="4242424242424242")
    pi = flow.rows()[0].split(",")[3]
    dispute = flow.fake.dispute(flow.fake.get(pi)["latest_charge"])
    flow.fake.close_dispute(dispute["id"], "won")
    abandoned = flow.checkout(**flow.form(choice="amount", amount="30")).rsplit("/", 1)[1]
    flow.fake.expire_session(abandoned)
    flow.fake.wait_for_webhooks()
    types = [e["type"] for e in flow.fake.events_for()]
    assert "charge.dispute.closed" in types and "checkout.session.expired" in types
    assert all(a["status"] == 200 for a in flow.fake.deliveries)
    assert len(flow.rows()) == 1 and flow.balance() == Decimal("120.00")


# Only payments the portal started are recorded; anything else is set aside where staff see it.

def other_session(flow, metadata: dict, amount: int = 5_000) -> dict:
    """A Checkout Session someone else made on the same Stripe account, paid by card."""
    client = stripe.StripeClient("sk_test_fake", base_addresses={"api": flow.fake.base_url})
    s = client.v1.checkout.sessions.create({
        "mode": "payment", "success_url": "https://shop.example/thanks", "metadata": metadata,
        "line_items": [{"quantity": 1, "price_data": {"currency": "usd", "unit_amount": amount,
                                                      "product_data": {"name": "Something"}}}],
        "payment_intent_data": {"metadata": metadata}})
    return flow.fake.pay_session(s.id)


def set_aside_rows(flow) -> list[dict]:
    import csv
    path = flow.project.ledger / "payments-set-aside.csv"
    if not path.exists():
        return []
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def test_a_payment_another_app_made_with_a_customer_id_is_set_aside_not_recorded(flow):
    paid = other_session(flow, {"customer_id": "C1"})
    flow.fake.wait_for_webhooks()
    assert flow.rows() == [] and flow.balance() == Decimal("140.00")
    (row,) = set_aside_rows(flow)
    assert (row["payment_intent"], row["customer_id"], row["amount"], row["status"]) == (
        paid["payment_intent"], "C1", "50.00", "succeeded")
    assert "not started by the portal" in row["reason"]
    assert flow.project.build(as_of=date.today().isoformat()).customers == 4  # the build is untouched
    report = (flow.settings.staff_dir / "aging.html").read_text()
    assert "Payments set aside" in report and paid["payment_intent"] in report and "$50.00" in report
    flow.project.write("by-hand.csv", HEADER + f"{date.today()},C1,payment,{paid['payment_intent']},50.00,,,,\n")
    flow.project.build(as_of=date.today().isoformat())  # staff recorded it by hand: off the list
    assert paid["payment_intent"] not in (flow.settings.staff_dir / "aging.html").read_text()


def test_a_payment_of_another_app_without_a_customer_is_left_alone(flow):
    other_session(flow, {"order": "W-1"})
    flow.fake.wait_for_webhooks()
    assert flow.rows() == [] and set_aside_rows(flow) == []
    assert all(a["status"] == 200 for a in flow.fake.deliveries)


def test_a_marked_payment_of_a_customer_the_ledger_does_not_know_is_set_aside(flow):
    from conftest import portal_metadata
    other_session(flow, portal_metadata("C9999", "USD", 5_000))
    flow.fake.wait_for_webhooks()
    assert flow.rows() == []
    (row,) = set_aside_rows(flow)
    assert row["customer_id"] == "C9999" and "C9999" in row["reason"] and "customers.csv" in row["reason"]
    flow.project.build(as_of=date.today().isoformat())  # and every later build still works


def test_a_payment_whose_amount_differs_from_the_portals_mark_is_set_aside(flow):
    from conftest import portal_metadata
    other_session(flow, portal_metadata("C1", "USD", 100), amount=5_000)  # marked for $1.00, charged $50.00
    flow.fake.wait_for_webhooks()
    assert flow.rows() == [] and "does not match" in set_aside_rows(flow)[0]["reason"]


def test_the_portals_checkout_carries_its_mark(flow):
    flow.checkout(**flow.form())
    (_, _, p), = [r for r in flow.fake.requests if r[1] == "/v1/checkout/sessions"]
    meta = p["payment_intent_data"]["metadata"]
    from portal.core.signing import payment_mark_text
    assert flow.signer.check_mark(payment_mark_text("C1", "USD", 14000, meta["allocations"]), meta["portal_mark"])


# A final state wins whatever order its events arrive in.

def deliver(flow, event: dict) -> int:
    body, header = flow.fake.signed_delivery(event)
    return requests.post(flow.base + "/stripe/webhook", data=body, timeout=10,
                         headers={"Stripe-Signature": header, "Content-Type": "application/json"}).status_code


@each_debit
def test_a_failed_bank_debit_whose_failure_events_arrive_first_is_owed_again(flow, debit):
    flow.fake.deliver = "manual"
    url = flow.checkout(**flow.form(debit.cid))
    session = flow.fake.pay_session(url.rsplit("/", 1)[1], method=debit.pay_as)  # the customer closed the tab
    flow.fake.fail(session["payment_intent"])
    events = {e["type"]: e for e in flow.fake.events_for()}
    order = ["checkout.session.async_payment_failed", "payment_intent.payment_failed",
             "checkout.session.completed", "payment_intent.processing"]
    assert [deliver(flow, events[t]) for t in order] == [200] * 4
    assert [r.split(",")[9] for r in flow.rows()] in ([], ["processing", "failed"])
    assert flow.balance(debit.cid, debit.currency) == Decimal("140.00")
    flow.project.build(as_of=date.today().isoformat())
    assert "processing" not in flow.page(debit.cid) and debit.owed in flow.page(debit.cid)


def test_a_failure_that_happens_while_a_processing_state_is_read_is_not_lost(flow):
    from portal.pay.fulfil import fulfiller_for
    from portal.pay.gateway import Gateway
    flow.fake.deliver = "manual"
    url = flow.checkout(**flow.form())
    pi = flow.fake.pay_session(url.rsplit("/", 1)[1], method="bank")["payment_intent"]
    gateway = Gateway("sk_test_fake", WHSEC, flow.fake.base_url)
    fulfil = fulfiller_for(flow.settings, gateway, lambda: None)
    read = gateway.payment(pi)  # one worker reads "processing"...
    flow.fake.fail(pi)  # ...the debit fails...
    assert fulfil.event("payment_intent", pi) == []  # ...another worker records nothing (no row to undo)...
    fulfil.payment(read)  # ...then the first records what it read
    assert [r.split(",")[9] for r in flow.rows()] == ["processing", "failed"]
    assert flow.balance() == Decimal("140.00")


# Changing one's mind, the return page, the logs.

def test_changing_ones_mind_to_the_same_amount_starts_a_new_checkout(flow):
    first = flow.checkout(**flow.form(choice="invoices", invoice="INV-1"))
    second = flow.checkout(**flow.form(choice="overdue"))  # $100.00 too, described otherwise
    assert first != second


def test_checkout_returns_to_the_configured_addresses_whatever_the_host_header(flow):
    r = flow.browser.post(flow.base + "/pay", data=flow.form(), headers={"Host": "evil.example"},
                          allow_redirects=False, timeout=10)
    assert r.status_code == 303
    (_, _, p), = [x for x in flow.fake.requests if x[1] == "/v1/checkout/sessions"]
    assert p["success_url"] == flow.base + "/pay/return?session_id={CHECKOUT_SESSION_ID}"
    assert p["cancel_url"] == flow.base + f"/s/{flow.signer.link_token('C1', 1)}/"
    assert "evil" not in str(p)


def test_the_return_page_shows_the_statement_only_to_the_browser_that_started_the_payment(flow):
    url = flow.checkout(**flow.form())
    r = flow.browser.post(url, data={"cardNumber": "4242424242424242"}, allow_redirects=False, timeout=10)
    back = r.headers["Location"]
    stranger = requests.get(back, timeout=10)
    assert stranger.status_code == 200 and "/s/" not in stranger.text and "$140.00" not in stranger.text
    mine = flow.browser.get(back, timeout=30)
    assert "We received $140.00" in mine.text and f"/s/{flow.signer.link_token('C1', 1)}/" in mine.text


def test_session_ids_are_not_in_the_logs(flow, caplog):
    import logging
    caplog.set_level(logging.INFO)
    url = flow.checkout(**flow.form())
    session_id = url.rsplit("/", 1)[1]
    flow.complete(url, cardNumber="4242424242424242")
    logging.getLogger("werkzeug").info('"GET /pay/return?session_id=%s HTTP/1.1" 200', session_id)
    assert session_id not in caplog.text and f"cs_[…{session_id[-4:]}]" in caplog.text


@pytest.fixture
def mailbox(project, request):
    """A local SMTP server (aiosmtpd) and [smtp] pointing at it, set before the flow's app starts."""
    from aiosmtpd.controller import Controller
    from test_reminders import Inbox
    from test_reminders import free_port as smtp_port
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=smtp_port())
    controller.start()
    path = project.root / "content" / "settings.toml"
    path.write_text(path.read_text() + f'\n[smtp]\nhost = "127.0.0.1"\nport = {controller.port}\nstarttls = false\n')
    yield inbox, request.getfixturevalue("flow")
    controller.stop()


def test_a_card_payment_gets_one_receipt_email_however_often_its_events_come(mailbox):
    inbox, flow = mailbox
    url = flow.checkout(**flow.form(choice="invoices", invoice="INV-2"))
    flow.complete(url, cardNumber="4242424242424242")
    pi = flow.fake.get(url.rsplit("/", 1)[1])["payment_intent"]
    from portal.core.receipts import receipt_number
    flow.until(lambda: len(inbox.messages) == 1)
    (rcpts, msg), = inbox.messages
    assert rcpts == ["ap@first.example"]
    assert msg["Subject"] == f"Acme Test Supply: receipt {receipt_number(pi)} for $40.00"
    text = msg.get_body(("plain",)).get_content()
    assert "we received your payment of $40.00" in text and "Applied to: INV-2" in text and pi in text
    flow.fake.wait_for_webhooks()
    events = flow.fake.events_for(pi)
    assert events
    for event in events:  # Stripe repeats itself
        body, header = flow.fake.signed_delivery(event)
        r = requests.post(flow.base + "/stripe/webhook", data=body, headers={"Stripe-Signature": header}, timeout=5)
        assert r.status_code == 200
    time.sleep(1)
    assert len(inbox.messages) == 1
    logged = (flow.project.ledger / "contacts.csv").read_text()
    assert logged.count(",receipt,") == 1 and pi in logged  # in the contact log, once


@each_debit
def test_a_bank_payment_gets_a_receipt_then_word_when_it_is_returned(mailbox, debit):
    inbox, flow = mailbox
    flow.complete(flow.checkout(**flow.form(debit.cid)), **debit.form)
    flow.until(lambda: len(inbox.messages) == 1)
    text = inbox.messages[0][1].get_body(("plain",)).get_content()
    assert "submitted" in text and f"Bank payments take {debit.days} business days to clear" in text
    pi = flow.rows()[0].split(",")[3]
    flow.fake.fail(pi)
    flow.until(lambda: len(inbox.messages) == 2)
    msg = inbox.messages[1][1]
    assert msg["Subject"] == f"Acme Test Supply: your bank payment of {debit.owed} was returned"
    text = msg.get_body(("plain",)).get_content()
    assert f"You were not charged; {debit.owed} is still due." in text
    flow.fake.wait_for_webhooks()
    for event in flow.fake.events_for(pi):  # Stripe repeats itself: no second email
        assert deliver(flow, event) == 200
    time.sleep(1)
    assert len(inbox.messages) == 2
    logged = (flow.project.ledger / "contacts.csv").read_text()
    assert logged.count(",payment-returned,") == 1 and logged.count(",receipt-processing,") == 1
