"""The statement page in real headless Chromium: phone width, print, labels, contrast."""
from __future__ import annotations

import re

import pytest
from conftest import ARTIFACTS, REPO
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def statement_url(project, live_server, make_app):
    project.write("customers.csv", """\
        customer_id,name,email,currency,terms_days
        C1,"Wide Load Industrial Wholesale & Distribution Partners Incorporated",ap@wide.example,USD,30
        C2,Euro Kunde GmbH,ap@eu.example,EUR,30
        """)
    rows = ["date,customer_id,type,ref,amount,currency,due_date,applies_to,memo"]
    for i in range(8):
        rows.append(f"2026-0{i + 2}-15,C1,invoice,INV-2026-{i:05d},\"12,{i}45.67\",,,,"
                    f"\"Quarterly maintenance and spare parts, batch {i}\"")
    rows.append("2026-11-01,C1,payment,PAY-1,500.00,,,,ACH remittance")
    rows.append("2026-11-02,C1,invoice,INV-EUR-1,100.00,EUR,,,Imported goods")
    project.write("e.csv", "\n".join(rows) + "\n")
    base = live_server(make_app(as_of="2026-11-25", TESTING=False))
    from portal.core.signing import Signer, load_keys
    token = Signer(load_keys(project.settings().state_dir)).link_token("C1", 1)
    return f"{base}/s/{token}/"


def test_statement_fits_a_phone_screen(chrome, statement_url):
    page = chrome.new_page(viewport=PHONE)
    page.goto(statement_url)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"page scrolls sideways by {overflow}px on a phone"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "statement-phone.png"), full_page=True)
    assert page.locator("h1").inner_text() == "Statement of account"
    # 8 invoices of 12,0i45.67 (i = 0..7) = 99,165.36, less 500.00 paid
    assert page.locator(".balance").first.inner_text() == "$98,665.36"
    # where to pay is on the first screen: the balance box's button leads to the form
    link = page.locator(".pay-link a").first
    assert link.inner_text() == "Pay $98,665.36" and link.bounding_box()["y"] + 44 <= PHONE["height"]
    link.click()
    form = page.locator("form.pay").first.bounding_box()
    assert -1 <= form["y"] < PHONE["height"] and page.evaluate("location.hash") == "#pay-USD"
    page.close()


def test_on_a_phone_each_invoice_and_payment_is_a_card_with_every_amount_in_view(chrome, statement_url, axe_source):
    context = chrome.new_context(viewport=PHONE, bypass_csp=True)  # bypass: axe's own inline script
    page = context.new_page()
    page.goto(statement_url)
    # each shown cell: its label (the ::before text), its own text, where it is
    rows = page.evaluate("""[...document.querySelectorAll('table.items tbody tr, table.recent tbody tr')].map(tr =>
        [...tr.children].filter(c => getComputedStyle(c).display !== 'none').map(c => {
            const r = c.getBoundingClientRect(), label = getComputedStyle(c, '::before').content;
            return [(label === 'none' ? '' : JSON.parse(label) + ' ') + c.innerText.replace(/\\s+/g, ' ').trim(),
                    r.left, r.right]; }))""")
    assert len(rows) == 10  # eight invoices in USD, one in EUR, a payment
    cells = [cell for row in rows for cell in row]
    assert all(left >= 0 and right <= PHONE["width"] for _, left, right in cells), "a cell is off-screen"
    first = [text for text, _, _ in rows[0]]
    assert first[0] == "INV-2026-00000 Quarterly maintenance and spare parts, batch 0"
    assert first[1:] == ["Date 15 Feb 2026", "Due 17 Mar 2026", "Days overdue 253", "Original $12,045.67",
                         "Open $11,545.67"]  # the payment of 500.00 went to the oldest
    payment = next([text for text, _, _ in row] for row in rows if row[0][0] == "Date 1 Nov 2026")
    assert payment == ["Date 1 Nov 2026", "Type Payment", "Reference PAY-1 ACH remittance", "Amount $500.00"]
    # (no "Applied to": it names no invoice)
    for table in ("items", "recent"):
        assert page.evaluate(f"(t => t.scrollWidth <= t.clientWidth)(document.querySelector('table.{table}'))")
    page.add_script_tag(content=axe_source)
    assert page.evaluate("async () => (await axe.run(document)).violations.map(v => v.id)") == []
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "statement-phone-cards.png"), full_page=True)
    context.close()


def test_print_hides_the_pay_form_and_keeps_the_figures(chrome, statement_url):
    page = chrome.new_page()
    page.goto(statement_url)
    page.emulate_media(media="print")
    assert page.locator("form.pay").first.is_hidden() and page.locator(".pay-link").first.is_hidden()
    # a heading is never left at the foot of a page without what it heads; the balance box is not split
    assert page.evaluate("getComputedStyle(document.querySelector('h2')).breakAfter") == "avoid"
    assert page.evaluate("getComputedStyle(document.querySelector('.summary')).breakInside") == "avoid"
    assert page.locator("table.items").first.is_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.pdf(path=str(ARTIFACTS / "statement.pdf"))
    page.close()


def test_every_form_control_has_a_label_and_tables_have_captions(chrome, statement_url):
    page = chrome.new_page()
    page.goto(statement_url)
    unlabeled = page.evaluate("""[...document.querySelectorAll('input:not([type=hidden]), button')]
        .filter(e => e.tagName === 'INPUT' ? e.labels.length === 0 : !e.textContent.trim()).length""")
    assert unlabeled == 0
    assert page.evaluate("[...document.querySelectorAll('table')].every(t => t.caption)") is True
    assert page.evaluate("document.querySelectorAll('th[scope]').length") > 10
    page.close()


def test_pay_form_is_a_plain_post_that_works_without_javascript(chrome, statement_url):
    context = chrome.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(statement_url)
    form = page.locator("form.pay").first
    assert form.get_attribute("method") == "post" and form.get_attribute("action") == "/pay"
    names = page.evaluate("[...document.querySelector('form.pay').elements].map(e => e.name).filter(Boolean)")
    assert {"token", "currency", "choice", "invoice", "amount"} <= set(names)
    page.locator("label", has_text="INV-2026-00003").first.click()  # labels toggle boxes without JS
    assert page.locator("input[name=invoice]").nth(3).is_checked()
    context.close()


def _luminance(hex_colour: str) -> float:
    r, g, b = (int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5))
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in (r, g, b)]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def test_text_colours_meet_wcag_aa_contrast_on_the_page_background():
    css = (REPO / "site_templates" / "assets" / "statement.css").read_text()
    colours = dict(re.findall(r"--(\w+): (#[0-9a-f]{6})", css))
    for bg in ("bg", "soft"):
        for fg in ("ink", "muted", "late", "ok", "accent"):
            hi, lo = sorted((_luminance(colours[fg]), _luminance(colours[bg])), reverse=True)
            assert (hi + 0.05) / (lo + 0.05) >= 4.5, (fg, bg)


def test_a_help_page_opened_from_the_statement_leads_back_to_it(chrome, statement_url, project):
    (project.root / "content" / "pages").mkdir(parents=True, exist_ok=True)
    (project.root / "content" / "pages" / "faq.md").write_text("# Frequently asked questions\n\nPay online.\n")
    project.build("2026-11-25")  # the site again, with the page (the statement's address is the same)
    page = chrome.new_page()
    page.goto(statement_url)
    page.get_by_role("link", name="Frequently asked questions").first.click()
    back = page.get_by_role("link", name="Back to your statement")
    expect(back).to_be_visible()  # once its deferred script has run
    back.click()
    page.wait_for_url(statement_url)
    assert page.locator("h1").inner_text() == "Statement of account"
    alone = chrome.new_page()  # opened on its own (a bookmark): no way back to show
    alone.goto(statement_url.split("/s/")[0] + "/pages/faq/", wait_until="load")  # its scripts have run
    assert alone.locator("#back").is_hidden()
    page.close()
    alone.close()


@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 900}, PHONE], ids=["desktop", "phone"])
def test_a_customer_sends_a_question_from_the_statement(chrome, statement_url, project, axe_source, viewport):
    context = chrome.new_context(viewport=viewport, bypass_csp=True)  # bypass: axe's own inline script
    page = context.new_page()
    page.goto(statement_url)

    def axe_clean():
        page.add_script_tag(content=axe_source)
        assert page.evaluate("async () => (await axe.run(document)).violations.map(v => v.id)") == []
        assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0

    page.get_by_role("button", name="Send us a message").click()
    expect(page.locator("h1")).to_have_text("Send us a message")
    axe_clean()
    page.get_by_label("I have a question").check()
    page.get_by_role("button", name="Send to Acme Test Supply").click()  # no words yet
    expect(page.locator(".form-errors")).to_contain_text("Please write your question.")
    axe_clean()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"message-form-{viewport['width']}.png"), full_page=True)
    page.get_by_label("Which invoice?").select_option("INV-2026-00003")
    page.get_by_label("Your message").fill("We were billed twice for batch 3 — please check.")
    page.get_by_role("button", name="Send to Acme Test Supply").click()
    expect(page.locator("h1")).to_have_text("Thank you: we have your message")
    expect(page.locator("main")).to_contain_text("until we have answered you")
    axe_clean()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"message-sent-{viewport['width']}.png"), full_page=True)
    page.get_by_role("link", name="Back to your statement").click()
    expect(page.locator("h1")).to_have_text("Statement of account")
    from portal.ledger import contacts
    (sent,) = [c for c in contacts.read(project.ledger) if c.channel == "customer"]
    assert (sent.customer_id, sent.items, sent.note) == (
        "C1", ("INV-2026-00003",), "We were billed twice for batch 3 — please check.")
    context.close()


@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 900}, PHONE], ids=["desktop", "phone"])
def test_error_pages_are_plain_words_that_pass_axe(chrome, statement_url, axe_source, viewport):
    """A forged pay token, an unknown statement address, and paying with no Stripe key set: each a
    page in the site's frame that says what to do, readable at both widths."""
    context = chrome.new_context(viewport=viewport, bypass_csp=True)  # bypass: axe's own inline script
    page = context.new_page()

    def check(title: str, says: str) -> None:
        assert page.locator("h1").inner_text() == title
        assert says in page.locator("main").inner_text()
        page.add_script_tag(content=axe_source)
        assert page.evaluate("async () => (await axe.run(document)).violations.map(v => v.id)") == []
        assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0

    page.goto(statement_url)
    page.eval_on_selector("form.pay input[name=token]", "e => e.value = e.value.slice(0, -4) + 'AAAA'")
    page.locator("form.pay button[type=submit]").first.click()
    check("This payment link does not work", "Please open the statement link from our latest email.")
    page.goto(statement_url)
    page.locator("form.pay button[type=submit]").first.click()  # the service has no Stripe key
    check("Online payment is not set up", "You would pay")
    page.goto(statement_url.rsplit("/", 2)[0] + "/WyJDMSIsMV0.forged/")
    check("This link does not work", "")
    context.close()
