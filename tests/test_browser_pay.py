"""Paying from a statement in real headless Chromium: card for a chosen invoice, and a bank debit (ACH,
SEPA, Bacs) from processing to settled or returned. The app, our Stripe fake and its hosted Checkout
page all over HTTP."""
from __future__ import annotations

import time

import pytest
from conftest import ARTIFACTS, SETTINGS, free_port

from fakestripe import FakeStripe
from portal.core.signing import Signer, load_keys

pytestmark = pytest.mark.browser

WHSEC = "whsec_browser_test_secret"
HEADER = "date,customer_id,type,ref,amount,currency,due_date,applies_to,memo\n"
# Each currency's bank debit on the fake's hosted page: the amount owed, the test account's fields, the button.
DEBITS = {
    "USD": ("$140.00", {"#routingNumber": "110000000", "#accountNumber": "000123456789"}, "#pay-bank"),
    "EUR": ("€140.00", {"#iban": "DE89370400440532013000"}, "#pay-sepa"),
    "GBP": ("£140.00", {"#sortCode": "108800", "#bacsAccountNumber": "00012345"}, "#pay-bacs"),
}


@pytest.fixture
def shop(project, live_server, make_app, request):
    """(statement URL, fake, currency): one customer owing 140.00 in the currency (USD unless the test
    parametrises `shop`), with SEPA and Bacs debits switched on."""
    currency = getattr(request, "param", "USD")
    fake = FakeStripe(webhook_secret=WHSEC, deliver="async")  # webhooks race the return page, as on Stripe
    fake.start()
    port = free_port()
    (project.root / "content" / "settings.toml").write_text(
        SETTINGS.replace('min_payment = "1.00"', f'min_payment = "1.00"\ncheckout_origin = "{fake.base_url}"')
        .replace("https://pay.acme.example", f"http://127.0.0.1:{port}")
        + "\n[payments]\nsepa_debit = true\nbacs_debit = true\n")
    project.write("customers.csv", "customer_id,name,email,currency,terms_days\n"
                                   f"C1,First Customer,ap@first.example,{currency},30\n")
    project.write("a.csv", HEADER + "2026-10-01,C1,invoice,INV-1,100.00,,2026-10-31,,Widgets\n"
                                    "2026-10-02,C1,invoice,INV-2,40.00,,2030-01-31,,Gadgets\n")
    app = make_app(stripe=fake.base_url, secret_key="sk_test_fake", webhook_secret=WHSEC, TESTING=False)
    base = live_server(app, port)
    fake.webhook_url = base + "/stripe/webhook"
    token = Signer(load_keys(project.settings().state_dir)).link_token("C1", 1)
    yield f"{base}/s/{token}/", fake, currency
    fake.stop()


def open_items(page) -> str:
    return page.locator("table.items").inner_text() if page.locator("table.items").count() else ""


def test_pay_a_chosen_invoice_by_card_and_see_it_on_the_statement(chrome, shop, axe_source):
    url, fake, _ = shop
    page = chrome.new_page(bypass_csp=True)  # for axe's own inline script
    page.goto(url)
    assert "INV-2" in open_items(page)
    page.get_by_label("Chosen invoices:").check()
    page.get_by_label("INV-2: $40.00").check()
    page.get_by_role("button", name="Pay $40.00").click()  # the button says what will be charged
    page.wait_for_url(f"{fake.base_url}/c/pay/**")
    assert page.locator("h1").inner_text() == "Pay 40.00 USD"
    page.fill("#cardNumber", "4242 4242 4242 4242")
    page.fill("#cardExpiry", "12 / 34")
    page.fill("#cardCvc", "123")
    page.click("#submit")
    page.wait_for_url("**/pay/return?session_id=cs_test_*")
    assert "We received $40.00" in page.locator("main").inner_text()
    assert page.locator("h2").first.inner_text().startswith("Receipt R-")
    assert page.locator("table.applied").inner_text().lower().split() == ["applied", "to", "invoice", "amount",
                                                                          "inv-2", "$40.00"]
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "pay-return-card.png"))
    page.add_script_tag(content=axe_source)
    for width in (1280, 390):  # the receipt, at desktop and phone width, passes axe
        page.set_viewport_size({"width": width, "height": 900})
        assert page.evaluate("async () => (await axe.run(document)).violations.map(v => v.id)") == []
    page.screenshot(path=str(ARTIFACTS / "receipt-phone.png"), full_page=True)
    page.get_by_role("link", name="Back to your statement").click()
    assert "INV-2" not in open_items(page) and "INV-1" in open_items(page)
    assert page.locator(".balance").inner_text() == "$100.00"
    assert "Online payment by card" in page.locator("table.recent").inner_text()
    page.close()


def pay_by_debit(chrome, shop):
    """Pay the whole balance by the currency's bank debit on the hosted page; back on the statement."""
    url, fake, currency = shop
    owed, fields, button = DEBITS[currency]
    page = chrome.new_page(bypass_csp=True)  # for axe's own inline script
    page.goto(url)
    page.get_by_role("button", name=f"Pay {owed}").click()  # the whole balance is chosen by default
    page.wait_for_url(f"{fake.base_url}/c/pay/**")
    for selector, value in fields.items():  # Stripe's test bank account
        page.fill(selector, value)
    page.click(button)
    page.wait_for_url("**/pay/return?session_id=cs_test_*")
    assert "Bank payment processing" in page.locator("main").inner_text()
    page.get_by_role("link", name="Back to your statement").click()
    assert page.locator(".badge").inner_text() == "processing"
    assert f"{owed} in bank payments is processing" in page.locator("main").inner_text()
    (processing,) = fake.events_for(type="payment_intent.processing")
    return page, processing["data"]["object"]["id"]


def reload_until(page, done) -> None:
    deadline = time.time() + 15
    while time.time() < deadline:
        page.reload()
        if done():
            return
        time.sleep(0.2)


@pytest.mark.parametrize("shop", list(DEBITS), indirect=True)
def test_bank_payment_is_processing_then_settled(chrome, shop):
    page, pi = pay_by_debit(chrome, shop)
    assert page.locator("form.pay").count() == 0  # nothing is asked for again
    page.screenshot(path=str(ARTIFACTS / f"statement-processing-{shop[2]}.png"), full_page=True)
    shop[1].settle(pi)
    reload_until(page, lambda: page.locator(".badge").count() == 0)
    assert page.locator(".badge").count() == 0 and "Nothing is open" in page.locator("main").inner_text()
    page.close()


@pytest.mark.parametrize("shop", ["EUR"], indirect=True)
def test_a_returned_sepa_debit_is_said_on_the_statement_and_owed_again(chrome, shop, axe_source):
    page, pi = pay_by_debit(chrome, shop)
    shop[1].fail(pi)
    reload_until(page, lambda: page.locator(".returned-note").count() == 1)
    note = page.locator(".returned-note").inner_text()
    assert note.startswith("Your bank payment of €140.00 on ") and note.endswith("it is due again.")
    assert page.locator(".balance").inner_text() == "€140.00" and page.locator("form.pay").count() == 1
    assert "Card or SEPA bank debit. Bank payments take 5 to 14 business days" in page.locator("form.pay").inner_text()
    page.add_script_tag(content=axe_source)  # the note passes axe (contrast included)
    assert page.evaluate("async () => (await axe.run(document)).violations.map(v => v.id)") == []
    page.close()
