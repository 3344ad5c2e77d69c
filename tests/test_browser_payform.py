"""The statement's pay form in real headless Chromium: with its script the choice follows what is ticked
or typed and the button says what will be charged; without it the form is the same plain post.

The service runs with no Stripe key, so it answers a post with "You would pay $X (…)": what it
was asked to charge. Amounts typed in the browser are checked against money.parse_amount and fmt.
"""
from __future__ import annotations

from urllib.parse import parse_qs

import pytest
from conftest import ARTIFACTS
from playwright.sync_api import expect

from portal.core.money import MoneyError, fmt, parse_amount
from portal.core.signing import Signer, load_keys

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]

CUSTOMERS = """\
customer_id,name,email,currency,terms_days
C1,Phone Customer Inc,ap@phone.example,USD,30
C2,Yen Customer KK,ap@yen.example,JPY,30
C3,Two Currency Trading,ap@two.example,USD,30
C4,Svensk Kund AB,ap@se.example,SEK,30
"""
# C1 is the customer who found the defect: one overdue invoice of $1,389.05 in a balance of $2,704.98.
LEDGER = """\
date,customer_id,type,ref,amount,currency,due_date,applies_to,memo
2020-01-01,C1,invoice,INV-1,"1,389.05",,2020-01-31,,Spare parts
2020-02-01,C1,invoice,INV-2,"1,315.93",,2099-01-31,,Service contract
2020-01-01,C2,invoice,J-1,184000,,2099-01-31,,
2020-01-02,C2,invoice,J-2,20500,,2099-01-31,,
2020-01-01,C3,invoice,US-1,250.00,,2099-01-31,,
2020-01-01,C3,invoice,EU-1,"1,000.10",EUR,2099-01-31,,
2020-01-02,C3,invoice,EU-2,99.90,EUR,2099-01-31,,
2020-01-01,C4,invoice,S-1,"12,000.00",,2099-01-31,,
"""


@pytest.fixture(autouse=True)
def ledger(project):
    project.write("customers.csv", CUSTOMERS)
    project.write("e.csv", LEDGER)


@pytest.fixture
def site(project, live_server, app):
    """The app serving the built statements, with no Stripe key: base URL and a statement URL maker.
    (conftest's `app` builds as of today: the service reckons what is overdue as of today.)"""
    base = live_server(app)
    signer = Signer(load_keys(project.settings().state_dir))
    return lambda cid: f"{base}/s/{signer.link_token(cid, 1)}/"


class Statement:
    """One statement open in its own browser context; records script errors and CSP reports."""

    def __init__(self, chrome, url: str, javascript: bool = True, viewport: dict = DESKTOP, bypass_csp: bool = False):
        self.context = chrome.new_context(java_script_enabled=javascript, viewport=viewport, bypass_csp=bypass_csp)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("console", self._console)
        self.page.goto(url)

    def _console(self, message) -> None:
        # A 503 from the service (no Stripe key) and the 404 of /favicon.ico are logged as errors too.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.errors.append(message.text)

    def form(self, currency: str = "USD"):
        return self.page.locator("form.pay", has=self.page.locator(f"input[name=currency][value={currency}]"))

    def button(self, currency: str = "USD"):
        return self.form(currency).locator("button[type=submit]")

    def choice(self, currency: str = "USD") -> str:
        return self.form(currency).locator("input[name=choice]:checked").get_attribute("value")

    def ticked(self, currency: str = "USD") -> list[str]:
        return self.form(currency).locator("input[name=invoice]:checked").evaluate_all("bs => bs.map(b => b.value)")

    def amount(self, currency: str = "USD"):
        return self.form(currency).get_by_label(f"Amount in {currency}")

    def invoice(self, label: str, currency: str = "USD"):
        return self.form(currency).get_by_label(label)

    def pay(self, currency: str = "USD") -> tuple[dict, str]:
        """Press the form's button: (the fields posted, the text of the service's answer)."""
        with self.page.expect_request(lambda r: r.method == "POST") as request, self.page.expect_navigation():
            self.button(currency).click()
        return parse_qs(request.value.post_data, keep_blank_values=True), self.page.locator("main").inner_text()

    def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / name), full_page=True)

    def close(self) -> None:
        self.context.close()
        assert self.errors == [], self.errors  # no script error, nothing refused by the CSP


def test_the_button_says_the_whole_balance_when_the_page_opens(chrome, site):
    s = Statement(chrome, site("C1"))
    expect(s.button()).to_have_text("Pay $2,704.98")
    assert s.choice() == "balance" and s.ticked() == [] and s.amount().input_value() == ""
    assert s.page.evaluate("document.scripts[0].src").endswith("/assets/pay.js")
    s.close()


def test_ticking_an_invoice_chooses_invoices_and_the_service_is_asked_for_that_invoice(chrome, site):
    s = Statement(chrome, site("C1"))
    s.invoice("INV-1: $1,389.05").check()  # the radio button left at "The whole balance", as on the phone
    assert s.choice() == "invoices"
    expect(s.button()).to_have_text("Pay $1,389.05")
    s.invoice("INV-2: $1,315.93").check()
    expect(s.button()).to_have_text("Pay $2,704.98")
    s.invoice("INV-2: $1,315.93").uncheck()
    expect(s.button()).to_have_text("Pay $1,389.05")
    s.shot("payform-invoice-ticked.png")
    fields, answer = s.pay()
    assert fields["choice"] == ["invoices"] and fields["invoice"] == ["INV-1"] and fields["amount"] == [""]
    assert "You would pay $1,389.05 (INV-1)." in answer
    s.close()


def test_unticking_the_last_invoice_goes_back_to_the_whole_balance(chrome, site):
    s = Statement(chrome, site("C1"))
    s.invoice("INV-2: $1,315.93").check()
    expect(s.button()).to_have_text("Pay $1,315.93")
    s.invoice("INV-2: $1,315.93").uncheck()
    assert s.choice() == "balance"
    expect(s.button()).to_have_text("Pay $2,704.98")
    s.close()


def test_typing_an_amount_chooses_another_amount_and_the_service_is_asked_for_it(chrome, site):
    s = Statement(chrome, site("C1"))
    s.amount().fill("100")  # "Another amount" not chosen first, as on the phone
    assert s.choice() == "amount"
    expect(s.button()).to_have_text("Pay $100.00")
    s.amount().fill("1,234.5")
    expect(s.button()).to_have_text("Pay $1,234.50")
    s.amount().fill("12,34")
    expect(s.button()).to_have_text("Pay now")  # not an amount: nothing to name
    assert s.choice() == "amount"
    s.amount().fill("100")
    s.shot("payform-amount-typed.png")
    fields, answer = s.pay()
    assert fields["choice"] == ["amount"] and fields["amount"] == ["100"] and "invoice" not in fields
    assert "You would pay $100.00 (payment on account)." in answer
    s.close()


def test_clearing_the_amount_goes_back_to_the_whole_balance(chrome, site):
    s = Statement(chrome, site("C1"))
    s.amount().fill("100")
    s.amount().fill("")
    assert s.choice() == "balance"
    expect(s.button()).to_have_text("Pay $2,704.98")
    s.close()


def test_each_choice_empties_what_belongs_to_the_others(chrome, site):
    s = Statement(chrome, site("C1"))
    s.invoice("INV-1: $1,389.05").check()
    s.amount().fill("50")  # another amount instead of the ticked invoice
    assert s.choice() == "amount" and s.ticked() == []
    expect(s.button()).to_have_text("Pay $50.00")
    s.invoice("INV-2: $1,315.93").check()  # and back to an invoice
    assert s.choice() == "invoices" and s.amount().input_value() == ""
    s.page.get_by_label("What is overdue").check()
    assert s.ticked() == [] and s.amount().input_value() == ""
    expect(s.button()).to_have_text("Pay $1,389.05")
    s.amount().fill("75")
    s.page.get_by_label("The whole balance").check()
    assert s.ticked() == [] and s.amount().input_value() == ""
    expect(s.button()).to_have_text("Pay $2,704.98")
    s.page.get_by_label("Chosen invoices:").check()  # chosen before any invoice is ticked
    expect(s.button()).to_have_text("Pay now")
    s.page.get_by_label("What is overdue").check()
    fields, answer = s.pay()
    assert fields["choice"] == ["overdue"] and "invoice" not in fields and fields["amount"] == [""]
    assert "You would pay $1,389.05 (overdue invoices)." in answer
    s.close()


def test_choosing_by_keyboard_keeps_the_focus_where_it_is(chrome, site):
    s = Statement(chrome, site("C1"))
    s.invoice("INV-1: $1,389.05").focus()
    s.page.keyboard.press("Space")
    assert s.choice() == "invoices"
    assert s.page.evaluate("document.activeElement.value") == "INV-1"
    s.amount().focus()
    s.page.keyboard.type("20")
    assert s.page.evaluate("document.activeElement.name") == "amount" and s.choice() == "amount"
    expect(s.button()).to_have_text("Pay $20.00")
    assert s.button().get_attribute("aria-live") == "polite"  # the new text is read out, politely
    s.close()


def test_back_from_the_service_the_restored_form_and_its_button_agree(chrome, site):
    s = Statement(chrome, site("C1"))
    s.invoice("INV-1: $1,389.05").check()
    s.pay()
    s.page.go_back()  # Chromium restores the ticked box and the chosen radio button
    assert s.choice() == "invoices" and s.ticked() == ["INV-1"]
    expect(s.button()).to_have_text("Pay $1,389.05")
    s.amount().fill("100")
    s.pay()
    s.page.go_back()  # the radio button comes back, the amount (autocomplete off) does not
    assert s.choice() == "balance" and s.ticked() == [] and s.amount().input_value() == ""
    expect(s.button()).to_have_text("Pay $2,704.98")
    s.close()


def test_yen_amounts_are_whole_yen(chrome, site):
    s = Statement(chrome, site("C2"))
    expect(s.button("JPY")).to_have_text("Pay ¥204,500")
    s.invoice("J-1: ¥184,000", "JPY").check()
    expect(s.button("JPY")).to_have_text("Pay ¥184,000")
    s.amount("JPY").fill("1500.5")  # the service rounds half up to whole yen
    expect(s.button("JPY")).to_have_text("Pay ¥1,501")
    fields, answer = s.pay("JPY")
    assert fields["choice"] == ["amount"] and "You would pay ¥1,501 (payment on account)." in answer
    s.close()


def test_each_currency_on_a_two_currency_statement_has_its_own_form(chrome, site):
    s = Statement(chrome, site("C3"))
    expect(s.button("USD")).to_have_text("Pay $250.00")
    expect(s.button("EUR")).to_have_text("Pay €1,100.00")
    s.invoice("EU-2: €99.90", "EUR").check()
    s.amount("USD").fill("10")
    assert s.choice("EUR") == "invoices" and s.ticked("EUR") == ["EU-2"]
    assert s.choice("USD") == "amount" and s.ticked("USD") == []
    expect(s.button("EUR")).to_have_text("Pay €99.90")
    expect(s.button("USD")).to_have_text("Pay $10.00")
    s.amount("USD").fill("")
    assert s.choice("EUR") == "invoices"
    expect(s.button("EUR")).to_have_text("Pay €99.90")
    s.shot("payform-two-currencies.png")
    fields, answer = s.pay("EUR")
    assert fields["currency"] == ["EUR"] and fields["choice"] == ["invoices"] and fields["invoice"] == ["EU-2"]
    assert "You would pay €99.90 (EU-2)." in answer
    s.close()


@pytest.mark.parametrize("currency, cid", [("USD", "C1"), ("SEK", "C4"), ("JPY", "C2")])
def test_a_typed_amount_is_named_as_the_service_reads_it(chrome, site, currency, cid):
    typed = ["100", "100.5", "1,234.56", "1234.565", "1234.564", "$50", "€7", "¥9", "+7", ".5", "5.",
             " 42 ", "1 000", "1\u00a0000", "12,345,678.9", "0.004", "0.005", "0", "-5", "-$5", "(5)",
             "$-5", "abc", "1.2.3", "1,23", "1,2345", "１２", "1e3", "NaN", "1_000", "--5", ".", "$",
             "99999999999999999999999", "9" * 27 + ".99", "0.5", "0.49", "1,000,000"]
    s = Statement(chrome, site(cid))
    shown = []
    for text in typed:
        s.amount(currency).fill(text)
        shown.append(s.button(currency).inner_text())
    expected = []
    for text in typed:
        try:
            amount = parse_amount(text, currency)
        except MoneyError:
            amount = None
        expected.append(f"Pay {fmt(amount, currency)}" if amount is not None and amount > 0 else "Pay now")
    assert list(zip(typed, shown, strict=True)) == list(zip(typed, expected, strict=True))
    s.close()


def test_without_javascript_the_form_posts_the_whole_balance_as_before(chrome, site):
    s = Statement(chrome, site("C1"), javascript=False)
    expect(s.button()).to_have_text("Pay now")
    assert s.choice() == "balance"
    s.shot("payform-no-javascript.png")
    fields, answer = s.pay()
    assert fields["choice"] == ["balance"] and fields["amount"] == [""] and "invoice" not in fields
    assert "You would pay $2,704.98 (balance)." in answer
    s.close()


def test_without_javascript_a_chosen_invoice_is_posted_as_chosen(chrome, site):
    s = Statement(chrome, site("C1"), javascript=False)
    s.page.get_by_label("Chosen invoices:").check()
    s.invoice("INV-2: $1,315.93").check()
    expect(s.button()).to_have_text("Pay now")
    fields, answer = s.pay()
    assert fields["choice"] == ["invoices"] and fields["invoice"] == ["INV-2"]
    assert "You would pay $1,315.93 (INV-2)." in answer
    s.close()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_statement_and_its_pay_form_pass_axe(chrome, site, axe_source, viewport):
    s = Statement(chrome, site("C3"), viewport=viewport, bypass_csp=True)  # for axe's own inline script
    s.invoice("EU-1: €1,000.10", "EUR").check()  # the button as it is after a change, too
    s.amount("USD").fill("12.5")
    s.page.add_script_tag(content=axe_source)
    found = s.page.evaluate(
        "async (tags) => (await axe.run(document, {runOnly: {type: 'tag', values: tags}})).violations"
        ".flatMap(v => v.nodes.map(n => [v.id, n.target.join(' ')]))", AXE_TAGS)
    s.shot(f"payform-axe-{viewport['width']}.png")
    assert found == []
    s.close()
