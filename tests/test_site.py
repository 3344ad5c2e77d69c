"""Statement rendering: the page rendered in parts (fixed frame + per-customer blocks) is the template's page."""
from __future__ import annotations

import re
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portal.build.render import PAY_FORM, SiteRenderer, compile_templates, money_formatter
from portal.core.money import EXPONENT, fmt, from_minor, quantize, to_minor
from portal.core.records import InputError

# Every shape of account: several currencies, overdue and not, unapplied credit, a processing bank
# payment, a refund, adjustments both ways, nothing open, and text that must be escaped.
CUSTOMERS = """\
customer_id,name,email,currency,terms_days,link_version
C1,"<b>Bold</b> ""Quoted"" & Co",ap@one.example,USD,30,1
C2,Second Customer,ap@two.example,EUR,30,1
C3,Paid Up Ltd,ap@three.example,GBP,30,1
C4,Yen Customer,ap@four.example,JPY,,1
"""
ENTRIES = '''\
date,customer_id,type,ref,amount,currency,due_date,applies_to,memo,status
2026-08-01,C1,invoice,<I&1>,100.00,,,,"memo <script>x</script> & ""q""",
2026-08-02,C1,invoice,I2,"1,250.55",EUR,2026-08-20,,,
2026-09-01,C1,payment,P1,20.00,,,<I&1>,'quoted',processing
2026-11-02,C1,credit,CR1,5.00,,,,,
2026-11-03,C1,refund,RF1,2.00,,,P1,,
2026-11-04,C1,adjustment,ADJ1,-3.50,,,,,
2026-11-05,C1,adjustment,ADJ2,7.25,,,,,
2026-11-06,C1,writeoff,WO1,1.00,EUR,,I2,,
2026-11-01,C2,invoice,E1,10.00,,2026-12-01,,,
2026-11-20,C2,payment,E2,25.00,,,,overpaid,
2026-11-01,C3,invoice,G1,10.00,,2026-12-01,,,
2026-11-02,C3,payment,G2,10.00,,,G1,,
2026-07-01,C4,invoice,J1,184000,,2026-07-31,,,
'''


def pages_of(project) -> dict[str, str]:
    out = project.settings().out
    return {str(p.relative_to(out)): p.read_text() for p in sorted(out.glob("s/*/index.html"))}


@pytest.fixture
def ledger(project):
    project.write("customers.csv", CUSTOMERS)
    project.write("e.csv", ENTRIES)
    return project


def test_pages_filled_into_the_frame_equal_the_template_rendered_whole(ledger, monkeypatch):
    ledger.build(full_build=True, workers=1)
    framed = pages_of(ledger)
    monkeypatch.setattr(SiteRenderer, "_frame", lambda self: None)
    ledger.build(full_build=True, workers=1)
    whole = pages_of(ledger)
    assert len(whole) == 4 and framed == whole
    page = ledger.page_for("C1")
    assert "&lt;b&gt;Bold&lt;/b&gt; &#34;Quoted&#34; &amp; Co" in page and "<script>x" not in page
    assert page.count("Acme Test Supply") == 3  # title, masthead, footer
    assert re.search(r"Statement reference <code>[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}</code>", page)


def test_frame_has_a_slot_wherever_the_template_prints_a_page_value(ledger):
    texts, slots = SiteRenderer(ledger.settings(), []).frame
    assert slots == [("customer", ("name",)), ("customer", ("name",)), ("customer", ("id",)), ("as_of", ()),
                     ("pay_token", ()), ("accounts_html", ()), ("pay_token", ()), ("reference", ()),
                     ("customer", ("name",))]
    assert len(texts) == len(slots) + 1 and texts[0].startswith("<!doctype html>")
    assert not any("\x00" in t for t in texts)


def edit_template(ledger, old: str, new: str) -> None:
    template = Path(ledger.root / "site_templates" / "statement.html")
    text = template.read_text()
    assert old in text
    template.write_text(text.replace(old, new))


@pytest.mark.parametrize("extra, shown", [
    ("{% if reference %}Thank you, {{ customer.name }}.{% endif %}", "Thank you, Second Customer."),
    ("Thank you, {{ customer.name|upper }}.", "Thank you, SECOND CUSTOMER."),
    ("{% set who = customer %}Thank you, {{ who.name }}.", "Thank you, Second Customer."),
    ("{% filter upper %}Thank you, {{ customer.name }}.{% endfilter %}", "THANK YOU, SECOND CUSTOMER."),
    ("Thank you, {{ self.title()|replace('Statement for ', '') }}.", "Thank you, Second Customer &middot; Acme"),
    ("{% for customer in [company] %}Thank you, {{ customer.name }}.{% endfor %}", "Thank you, Acme Test Supply."),
    ("{% macro thanks() %}Thank you, {{ customer.name }}.{% endmacro %}{{ thanks()|upper }}",
     "THANK YOU, SECOND CUSTOMER."),
])
def test_a_template_doing_more_than_printing_a_page_value_is_rendered_whole(ledger, extra, shown):
    edit_template(ledger, "{% if contact %}", f'<p class="thanks">{extra}</p>\n{{% if contact %}}')
    assert SiteRenderer(ledger.settings(), []).frame is None
    ledger.build(full_build=True)
    assert shown in ledger.page_for("C2")


def test_a_block_printing_its_parent_block_keeps_the_frame(ledger):
    edit_template(ledger, "{% block title %}", "{% block title %}{{ super() }} · ")
    r = SiteRenderer(ledger.settings(), [])
    assert r.frame is not None
    ledger.build(full_build=True)
    title = "<title>Acme Test Supply · Statement for Second Customer &middot; Acme Test Supply</title>"
    assert title in ledger.page_for("C2")


def test_templates_compiled_ahead_go_to_the_cache_and_a_broken_one_is_left_to_the_build(ledger):
    settings = ledger.settings()
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    compile_templates(settings)
    cache = settings.state_dir / "templates"
    assert len(list(cache.iterdir())) == 3  # statement.html, account.html, staff/aging.html
    shutil.rmtree(cache)
    edit_template(ledger, "{% block title %}", "{% block title %}{% if %}")
    compile_templates(settings)  # says nothing: the build does (TemplateProblem, file:line)
    assert len(list(cache.iterdir())) == 2
    with pytest.raises(InputError, match=r"statement\.html"):
        ledger.build(full_build=True)


@given(st.decimals(allow_nan=False, allow_infinity=False, min_value=-10**12, max_value=10**12),
       st.sampled_from(sorted(EXPONENT)))
def test_money_formatter_prints_what_money_fmt_prints(amount, currency):
    assert money_formatter(currency)(amount) == fmt(amount, currency)


@given(st.integers(min_value=-10**10, max_value=10**10), st.sampled_from(sorted(EXPONENT)))
def test_an_amount_with_its_currencys_decimals_prints_as_money_fmt_prints_it(minor, currency):
    """The ledger's amounts and their sums, which money_formatter prints from str() (under a
    million, not negative) and the others as money.fmt does."""
    amount = Decimal(minor).scaleb(-EXPONENT[currency])
    assert money_formatter(currency)(amount) == fmt(amount, currency)


@given(st.decimals(allow_nan=False, allow_infinity=False, min_value=0, max_value=10**12),
       st.sampled_from(sorted(EXPONENT)))
def test_the_digits_of_a_printed_amount_are_its_minor_units(amount, currency):
    amount = quantize(amount, currency)  # as every amount from the ledger is
    skip = PAY_FORM[currency][1]
    assert int(money_formatter(currency)(amount)[skip:].replace(",", "").replace(".", "")) == to_minor(amount, currency)


PAY_FORM_TAG = re.compile(r'<form class="pay"[^>]* data-prefix="([^"]*)" data-exponent="(\d)">.*?'
                          r'name="currency" value="(\w+)">(.*?)</form>', re.S)
MINOR_AND_PRINTED = re.compile(r'data-minor="(\d+)"[^>]*> (?:The whole balance, |What is overdue, |[^<:]+: )([^<]+)<')


def test_pay_forms_carry_the_minor_units_of_the_amounts_they_print(ledger):
    ledger.build(full_build=True)
    forms = [m.groups() for page in pages_of(ledger).values() for m in PAY_FORM_TAG.finditer(page)]
    assert sorted(cur for *_, cur, _ in forms) == ["EUR", "JPY", "USD"]
    for prefix, exponent, cur, body in forms:
        assert fmt(Decimal(1000), cur) == prefix + "1,000" + ("." + "0" * int(exponent) if int(exponent) else "")
        pairs = MINOR_AND_PRINTED.findall(body)
        assert len(pairs) == body.count("data-minor=") >= 2  # the balance and each invoice
        for minor, printed in pairs:
            assert fmt(from_minor(int(minor), cur), cur) == printed


def test_statement_pages_run_only_the_sites_own_script(ledger):
    ledger.build(full_build=True)
    for page in pages_of(ledger).values():
        assert re.findall(r"<script\b[^>]*>", page) == ['<script src="../../assets/pay.js" defer>']
        assert not re.search(r"<[^>]+\son\w+=", page)  # no inline event handlers
        csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', page)[1]
        assert "script-src 'self';" in csp and "unsafe" not in csp
    assert (ledger.settings().out / "assets" / "pay.js").is_file()


# site_templates/account.html is the reference for each currency's section; render.py composes
# the same text for speed. They must be equal for every account.

def sections(renderer, acct, multi=False, token="tok.en", minimum="$1.00"):
    return renderer._section(acct, multi, token, minimum), renderer._section_from_template(acct, multi, token, minimum)


def test_the_shipped_account_template_is_the_one_the_fast_path_composes():
    import hashlib

    from conftest import REPO

    from portal.build.render import ACCOUNT_TEMPLATE_SHA256
    shipped = (REPO / "site_templates" / "account.html").read_bytes()
    assert hashlib.sha256(shipped).hexdigest() == ACCOUNT_TEMPLATE_SHA256


def test_every_demo_section_composed_equals_the_template(tmp_path):
    import shutil
    from datetime import date

    from conftest import REPO

    from portal.build import state as st
    from portal.build.lookup import accounts_of
    from portal.build.run import build
    from portal.ledger import settings as settings_module
    root = tmp_path / "demo"
    not_ledger = shutil.ignore_patterns("online-payments.csv", "contacts.csv")
    shutil.copytree(REPO / "content", root / "content", ignore=not_ledger)
    shutil.copytree(REPO / "site_templates", root / "site_templates")
    s = settings_module.load(root)
    build(s, date(2026, 11, 25))
    body = st.load_both(s.state_dir)[1]
    renderer = SiteRenderer(s, [])
    assert renderer.fast_sections
    n = 0
    for cid, (_, accts) in accounts_of(s, body, sorted(body.pages), date(2026, 11, 25)).items():
        for a in accts:
            fast, reference = sections(renderer, a, multi=len(accts) > 1)
            assert fast == reference, cid
            n += 1
    assert n >= 40


ENTRY = st.tuples(st.sampled_from(["invoice", "payment", "credit", "refund", "writeoff", "adjustment"]),
                  st.integers(-5000, 500000), st.integers(0, 300), st.integers(-20, 90),
                  st.sampled_from(["", "Widgets & <b>gadgets</b>", "Q3 \"retainer\""]),
                  st.sampled_from(["", "INV-1", "INV-2"]), st.sampled_from(["", "processing", "failed"]))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(ENTRY, max_size=12), currency=st.sampled_from(["USD", "JPY", "SEK", "EUR"]),
       multi=st.booleans())
def test_any_section_composed_equals_the_template(ledger, rows, currency, multi):
    from datetime import date, timedelta
    from decimal import Decimal

    from portal.core.accounts import accounts
    from portal.core.money import EXPONENT
    from portal.core.records import Entry
    start = date(2026, 6, 1)
    entries = []
    for n, (kind, cents, day, due, memo, applies, status) in enumerate(rows):
        amount = Decimal(cents).scaleb(-EXPONENT[currency]) if kind == "adjustment" else abs(Decimal(cents or 1))
        amount = amount.scaleb(-EXPONENT[currency]) if kind != "adjustment" else amount
        if not amount:
            continue
        ref = f"INV-{n}" if kind == "invoice" else (f"R-{n}" if kind in ("credit", "payment") else "")
        entries.append(Entry(start + timedelta(days=day), "C1", kind, ref, amount, currency,
                             start + timedelta(days=day + abs(due)) if kind == "invoice" else None,
                             applies if kind in ("payment", "credit", "writeoff") else "", memo, "f.csv", n + 2,
                             status if kind == "payment" else ""))
    renderer = SiteRenderer(ledger.settings(), [])
    for a in accounts(entries, date(2026, 11, 25)):
        fast, reference = sections(renderer, a, multi)
        assert fast == reference


def test_an_edited_account_template_renders_the_sections(ledger):
    edit = ledger.root / "site_templates" / "account.html"
    edit.write_text(edit.read_text().replace("Balance due", "Amount owing"))
    ledger.build(full_build=True)
    page = ledger.page_for("C1")
    assert "Amount owing" in page and "Balance due" not in page


def test_a_statement_template_printing_a_name_it_is_not_given_is_a_problem_at_its_line(ledger, capsys):
    from portal.cli import main
    edit_template(ledger, "{% block footer %}", "{% block footer %}\n  <p>{{ customer.nickname }}</p>")
    assert main(["--root", str(ledger.root), "build", "--full"]) == 1
    err = capsys.readouterr().err
    assert ("site_templates/statement.html:33: the template prints customer.nickname, which a customer does "
            "not have") in err
    assert "Traceback" not in err


def test_a_project_whose_templates_predate_the_reference_still_builds(ledger):
    """Its statement.html prints digest and entry_count (as the templates did before the
    statement reference), and it has no account.html: the build goes on with the built-in sections."""
    (ledger.root / "site_templates" / "account.html").unlink()
    edit_template(ledger, "Statement reference <code>{{ reference }}</code>",
                  "Built from {{ entry_count }} ledger {{ entries_word }} · digest <code>sha256:{{ digest }}</code>")
    ledger.build(full_build=True)
    assert "Built from 8 ledger entries · digest <code>sha256:" in ledger.page_for("C1")


def test_the_balance_box_has_a_pay_link_and_the_form_offers_what_is_overdue_only_when_it_is_not_all(ledger):
    ledger.build()
    pages = pages_of(ledger)
    page = next(p for p in pages.values() if "Yen Customer" in p)  # all of its ¥184,000 is overdue
    assert '<p class="pay-link"><a href="#pay-JPY">Pay ¥184,000</a></p>' in page and 'id="pay-JPY"' in page
    assert "What is overdue" not in page and "of this is overdue" in page
    assert "placeholder=" not in page  # an amount box that looks filled in when it is not
    ledger.write("e.csv", ENTRIES + "2026-11-10,C4,invoice,J2,1000,,2026-12-10,,,\n")  # not yet due
    ledger.build()
    page = next(p for p in pages_of(ledger).values() if "Yen Customer" in p)  # overdue less than the balance
    assert '<input type="radio" name="choice" value="overdue" data-minor="184000"> What is overdue, ¥184,000' in page
    paid_up = next(p for p in pages.values() if "Paid Up Ltd" in p)
    assert "pay-link" not in paid_up and 'class="pay"' not in paid_up.split("<footer")[0].split("</header>")[-1]


def test_the_companys_phone_is_a_link(ledger):
    path = ledger.root / "content" / "settings.toml"
    path.write_text(path.read_text().replace('[portal]', 'phone = "+1 (555) 010-2030"\n\n[portal]', 1))
    ledger.build()
    page = next(iter(pages_of(ledger).values()))
    assert '<a href="tel:+15550102030">+1 (555) 010-2030</a>' in page


def test_the_pay_form_says_only_the_methods_checkout_offers_in_its_currency(ledger):
    from portal.core.methods import payment_methods
    ledger.build()
    hints = re.findall(r'<legend>Pay online \((\w+)\)</legend>.*?<p class="hint">([^.]+)\.',
                       "".join(pages_of(ledger).values()), re.S)
    assert set(hints) >= {("USD", "Card or US bank account"), ("JPY", "Card")}
    assert all(("us_bank_account" in payment_methods(cur)) == ("bank" in words) for cur, words in hints)


def test_a_credit_balance_reads_as_credit_in_the_customers_favour(ledger):
    ledger.build()
    page = next(p for p in pages_of(ledger).values() if "Second Customer" in p)  # paid 25.00 on 10.00
    assert '<h2 id="bal-EUR">Credit balance</h2>\n    <p class="balance is-credit">€15.00</p>' in page
    assert "This is in your favour: it comes off your next invoices." in page
    assert "-€15.00" in page.split('class="aging"')[1]  # the aging table's unapplied credit column
    assert "Balance due" not in page and "unapplied credit" not in page.split("</div>")[0].split("summary")[-1]


def test_the_account_activity_runs_from_the_balance_brought_forward_to_the_balance_now(project):
    project.write("customers.csv", "customer_id,name,email,currency,terms_days\nK1,Kay,k@x.example,USD,30\n")
    project.write("e.csv", "date,customer_id,type,ref,amount,currency,due_date,applies_to,memo\n"
                           "2026-01-10,K1,invoice,OLD-1,100.00,,,,\n"      # before the period: brought forward
                           "2026-09-01,K1,invoice,INV-1,200.00,,,,\n"
                           "2026-09-15,K1,payment,CHQ-1,150.00,,,,\n"
                           "2026-10-01,K1,credit,CN-1,20.00,,,INV-1,\n"
                           "2026-10-02,K1,refund,RF-1,5.00,,,,\n"
                           "2026-10-03,K1,adjustment,ADJ-1,-2.50,,,,\n")
    project.build()  # as of 2026-11-25: the period is the last 120 days, from 28 Jul 2026
    page = next(iter(pages_of(project).values()))
    table = page.split('<table class="activity">')[1].split("</table>")[0]
    rows = [[re.sub(r"<[^>]+>", "", cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row)]
            for row in re.findall(r"<tr><td>.*?</tr>", table)]
    assert rows == [
        ["28 Jul 2026", "Balance brought forward", "", "", "$100.00"],
        ["1 Sep 2026", "Invoice INV-1", "$200.00", "", "$300.00"],
        ["15 Sep 2026", "Payment CHQ-1", "", "$150.00", "$150.00"],
        ["1 Oct 2026", "Credit note CN-1 (applied to INV-1)", "", "$20.00", "$130.00"],
        ["2 Oct 2026", "Refund RF-1", "$5.00", "", "$135.00"],  # a refund is charged back: signed, labelled
        ["3 Oct 2026", "Adjustment ADJ-1", "", "$2.50", "$132.50"],
    ]
    assert '<p class="balance is-overdue">$132.50</p>' in page  # where the activity ends: the balance due


PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


def test_a_logo_and_brand_colour_from_the_settings_are_served_from_the_site(ledger):
    (ledger.root / "content" / "brand").mkdir()
    (ledger.root / "content" / "brand" / "Logo.PNG").write_bytes(PNG)
    path = ledger.root / "content" / "settings.toml"
    path.write_text(path.read_text().replace('[portal]', 'logo = "brand/Logo.PNG"\nbrand_color = "#1B5E20"\n'
                                             'phone = "+1 555 0100"\n\n[portal]', 1))
    ledger.build()
    out = ledger.settings().out
    assert (out / "assets" / "logo.png").read_bytes() == PNG
    assert (out / "assets" / "brand.css").read_text() == ":root { --accent: #1b5e20; }\n"
    page = next(iter(pages_of(ledger).values()))
    assert '<img class="logo" src="../../assets/logo.png" alt="Acme Test Supply">' in page
    assert '<link rel="stylesheet" href="../../assets/brand.css">' in page
    # a new logo is a new site: every page depends on it
    (ledger.root / "content" / "brand" / "Logo.PNG").write_bytes(PNG + b"\0")
    assert ledger.build().written == len(pages_of(ledger))


@pytest.mark.parametrize("line, message", [
    ('brand_color = "#ffcc00"', "'brand_color' in [company]: '#ffcc00' is too light: white text on it has a "
                                "contrast of 1.5:1 (expected 4.5:1 or more; choose a darker shade)"),
    ('brand_color = "blue"', "'brand_color' in [company]: 'blue' is not a colour (expected #rrggbb, such as "
                             '"#0b4f8a")'),
    ('logo = "missing.png"', "'logo' in [company]: 'missing.png' is not a file in content/ (expected the logo's "
                             "file, relative to content/)"),
    ('logo = "../secret.png"', "'logo' in [company]: '../secret.png' is not an image inside content/ (expected a "
                               '.png, .svg, .jpg, .jpeg, .webp file such as "logo.png", relative to content/)'),
])
def test_a_logo_or_colour_that_would_not_do_is_said_at_its_line(ledger, line, message):
    from portal.core.records import InputError
    path = ledger.root / "content" / "settings.toml"
    path.write_text(path.read_text().replace('[portal]', f'{line}\n\n[portal]', 1))
    with pytest.raises(InputError) as e:
        ledger.settings()
    assert [p.message for p in e.value.problems] == [message]


def test_each_pay_form_states_the_minimum_in_its_own_currency(ledger):
    ledger.build()
    page = next(p for p in pages_of(ledger).values() if "Bold" in p)  # USD and EUR accounts
    hints = dict(re.findall(r'<legend>Pay online \((\w+)\)</legend>.*?Minimum ([^.]+\.\d+|[^.]+)\. ', page, re.S))
    assert hints == {"USD": "$1.00", "EUR": "€1.00"}  # the service's check: min_payment in the form's currency


def test_with_several_currencies_the_top_says_what_is_owed_in_each_overdue_first(ledger):
    ledger.write("e.csv", ENTRIES + "2026-11-20,C1,invoice,I9,10.00,GBP,2026-12-20,,,\n")  # not yet due
    ledger.build()
    page = next(p for p in pages_of(ledger).values() if "Bold" in p)
    top = page.split('<nav class="currencies"')[1].split("</nav>")[0]
    items = re.findall(r'<li><a href="#bal-(\w+)">\1</a>: ([^<]+)</li>', top)
    assert [cur for cur, _ in items][-1] == "GBP" and {cur for cur, _ in items} == {"USD", "EUR", "GBP"}
    assert dict(items)["GBP"] == "£10.00 due" and all("overdue" in what for cur, what in items if cur != "GBP")
    assert page.index('<nav class="currencies"') < page.index('id="bal-')  # at the top, before the accounts
    one = next(p for p in pages_of(ledger).values() if "Yen Customer" in p)
    assert 'class="currencies"' not in one  # one currency: nothing to sum up


def test_esc_is_what_autoescape_prints_for_any_text():
    """The fast path of esc (text with nothing to escape returned as it is) agrees with markupsafe."""
    import random

    from markupsafe import escape

    from portal.build.render import esc
    rng = random.Random(7)
    alphabet = "aZ09 -_/.&<>\"'\u00e9\u2028"
    samples = ["", "INV-1", "O'Brien & Co", "<b>x</b>", '"quoted"'] + [
        "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12))) for _ in range(2000)]
    for text in samples:
        assert esc(text) == str(escape(text)), text


def test_a_statement_of_ascii_data_is_ascii_its_few_other_characters_as_references(project):
    """A page with one character past ASCII is slower to compose and to encode (see render.PAGE_BUCKETS):
    the shipped templates and the composed sections write the others as references."""
    import html
    project.write("customers.csv", "customer_id,name,email,currency,terms_days,link_version\n"
                                   "C1,Dollar Customer,ap@one.example,USD,30,1\n")
    project.write("e.csv", "date,customer_id,type,ref,amount,currency,due_date,applies_to,memo\n"
                           "2026-08-01,C1,invoice,I1,100.00,,,,late\n2026-11-20,C1,invoice,I2,5.00,,,,not yet due\n")
    project.build(full_build=True)
    page = project.page_for("C1")
    assert page.isascii()
    assert "&ndash;" in page and "&middot;" in page  # the aging head's ranges, the title's separator
    assert "1–30 days" in html.unescape(page)
