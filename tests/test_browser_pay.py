"""Paying from a statement in real headless Chromium: card for a chosen invoice, and a bank debit (ACH,
SEPA, Bacs) from processing to settled or returned. The app, our Stripe fake and its hosted Checkout
page all over HTTP."""
from __future__ import annotations

import time

import pytest
from conftest import ARTIFACTS, SETTINGS, free_port
from test_reminders import Inbox

from fakestripe import FakeStripe
from portal.core.signing import Signer, load_keys

pytestmark = pytest.mark.browser

WHSEC = "whsec_browser_test_secret"
DESKTOP, PHONE = {"width": 1280, "height": 900}, {"width": 390, "height": 844}
HEADER = "date,customer_id,type,ref,amount,currency,due_date,applies_to,memo\n"
# Each currency's bank debit on the fake's hosted page: the amount owed, the test account's fields, the button.
DEBITS = {
    "USD": ("$140.00", {"#routingNumber": "110000000", "#accountNumber": "000123456789"}, "#pay-bank"),
    "EUR": ("€140.00", {"#iban": "DE89370400440532013000"}, "#pay-sepa"),
    "GBP": ("£140.00", {"#sortCode": "108800", "#bacsAccountNumber": "00012345"}, "#pay-bacs"),
}


@pytest.fixture
def inbox():
    """A local SMTP server (aiosmtpd) the shop's [smtp] points at: receipt emails land here."""
    from aiosmtpd.controller import Controller
    box = Inbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    box.port = controller.port
    yield box
    controller.stop()


@pytest.fixture
def shop(project, live_server, make_app, request, inbox):
    """(statement URL, fake, currency): one customer owing 140.00 in the currency (USD unless the test
    parametrises `shop`), with SEPA and Bacs debits switched on and [smtp] at the local `inbox`."""
    currency = getattr(request, "param", "USD")
    fake = FakeStripe(webhook_secret=WHSEC, deliver="async")  # webhooks race the return page, as on Stripe
    fake.start()
    port = free_port()
    (project.root / "content" / "settings.toml").write_text(
        SETTINGS.replace('min_payment = "1.00"', f'min_payment = "1.00"\ncheckout_origin = "{fake.base_url}"')
        .replace("https://pay.acme.example", f"http://127.0.0.1:{port}")
        + "\n[payments]\nsepa_debit = true\nbacs_debit = true\n"
        + f'\n[smtp]\nhost = "127.0.0.1"\nport = {inbox.port}\nstarttls = false\n')
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


def axe_clean(page, axe_source) -> None:
    page.add_script_tag(content=axe_source)
    assert page.evaluate("async () => (await axe.run(document)).violations.map(v => v.id)") == []
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0  # nothing sideways


def fill_card(page, number: str) -> None:
    page.wait_for_url("**/c/pay/**")
    page.fill("#cardNumber", number)
    page.fill("#cardExpiry", "12 / 34")
    page.fill("#cardCvc", "123")
    page.click("#submit")


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_pay_a_chosen_invoice_by_card_and_see_it_on_the_statement(chrome, shop, axe_source, inbox, viewport):
    url, fake, _ = shop
    context = chrome.new_context(viewport=viewport, bypass_csp=True)  # for axe's own inline script
    page = context.new_page()
    page.goto(url)
    assert "INV-2" in open_items(page)
    axe_clean(page, axe_source)
    page.get_by_label("Chosen invoices:").check()
    page.get_by_label("INV-2: $40.00").check()
    page.get_by_role("button", name="Pay $40.00").click()  # the button says what will be charged
    page.wait_for_url(f"{fake.base_url}/c/pay/**")
    assert page.locator("h1").inner_text() == "Pay 40.00 USD"
    fill_card(page, "4242 4242 4242 4242")
    page.wait_for_url("**/pay/return?session_id=cs_test_*")
    assert "We received $40.00" in page.locator("main").inner_text()
    assert page.locator("h2").first.inner_text().startswith("Receipt R-")
    number = page.locator("h2").first.inner_text().removeprefix("Receipt ").split()[0]
    assert page.locator("table.applied").inner_text().lower().split() == ["applied", "to", "invoice", "amount",
                                                                          "inv-2", "$40.00"]
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"receipt-{viewport['width']}.png"), full_page=True)
    axe_clean(page, axe_source)
    page.get_by_role("link", name="Back to your statement").click()
    assert "INV-2" not in open_items(page) and "INV-1" in open_items(page)
    assert page.locator(".balance").first.inner_text() == "$100.00"
    assert "Online payment by card" in page.locator("table.recent").inner_text()
    deadline = time.time() + 15  # the receipt email, sent in the background, reaches the SMTP server
    while not inbox.messages and time.time() < deadline:
        time.sleep(0.1)
    (rcpts, msg), = inbox.messages
    assert rcpts == ["ap@first.example"] and msg["Subject"] == f"Acme Test Supply: receipt {number} for $40.00"
    assert "Applied to: INV-2" in msg.get_body(("plain",)).get_content()
    context.close()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_a_declined_card_then_3d_secure_paid_on_a_second_try(chrome, shop, axe_source, viewport):
    url = shop[0]
    context = chrome.new_context(viewport=viewport, bypass_csp=True)
    page = context.new_page()
    page.goto(url)
    page.get_by_role("button", name="Pay $140.00").click()
    fill_card(page, "4000 0000 0000 0002")  # declined: Checkout says so and stays open
    assert "declined" in page.locator("#error").inner_text()
    page.goto(url)  # back to the statement: nothing was charged, all still owed
    assert page.locator(".balance").first.inner_text() == "$140.00"
    page.get_by_role("button", name="Pay $140.00").click()
    fill_card(page, "4000 0025 0000 3155")  # asks for 3-D Secure
    page.click("#authenticate-complete")
    page.wait_for_url("**/pay/return?session_id=cs_test_*")
    assert "We received $140.00" in page.locator("main").inner_text()
    axe_clean(page, axe_source)
    page.get_by_role("link", name="Back to your statement").click()
    assert "Nothing is open" in page.locator("main").inner_text() and page.locator("form.pay").count() == 0
    context.close()


def pay_by_debit(chrome, shop, viewport=DESKTOP):
    """Pay the whole balance by the currency's bank debit on the hosted page; back on the statement."""
    url, fake, currency = shop
    owed, fields, button = DEBITS[currency]
    page = chrome.new_page(viewport=viewport, bypass_csp=True)  # for axe's own inline script
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


@pytest.mark.parametrize("shop, viewport", [("USD", DESKTOP), ("USD", PHONE), ("EUR", DESKTOP), ("GBP", PHONE)],
                         indirect=["shop"], ids=["USD-desktop", "USD-phone", "EUR-desktop", "GBP-phone"])
def test_bank_payment_is_processing_then_settled(chrome, shop, viewport, axe_source):
    page, pi = pay_by_debit(chrome, shop, viewport)
    assert page.locator("form.pay").count() == 0  # nothing is asked for again
    page.screenshot(path=str(ARTIFACTS / f"statement-processing-{shop[2]}-{viewport['width']}.png"), full_page=True)
    axe_clean(page, axe_source)
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
