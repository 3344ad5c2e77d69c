"""Statement rendering: the page rendered in parts (fixed frame + per-customer blocks) is the template's page."""
from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from portal.money import EXPONENT, fmt
from portal.site import SiteRenderer, money_formatter

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
    assert "Built from 8 ledger entries" in page and "Built from 1 ledger entry " in ledger.page_for("C4")


def test_frame_has_a_slot_wherever_the_template_prints_a_page_value(ledger):
    texts, slots = SiteRenderer(ledger.settings(), []).frame
    assert slots == [("customer", ("name",)), ("customer", ("name",)), ("customer", ("id",)), ("as_of", ()),
                     ("accounts_html", ()), ("entry_count", ()), ("entries_word", ()), ("digest", ()),
                     ("customer", ("name",))]
    assert len(texts) == len(slots) + 1 and texts[0].startswith("<!doctype html>")
    assert not any("\x00" in t for t in texts)


def edit_template(ledger, old: str, new: str) -> None:
    template = Path(ledger.root / "site_templates" / "statement.html")
    text = template.read_text()
    assert old in text
    template.write_text(text.replace(old, new))


@pytest.mark.parametrize("extra, shown", [
    ("{% if entry_count > 1 %}Thank you, {{ customer.name }}.{% endif %}", "Thank you, Second Customer."),
    ("Thank you, {{ customer.name|upper }}.", "Thank you, SECOND CUSTOMER."),
    ("{% set who = customer %}Thank you, {{ who.name }}.", "Thank you, Second Customer."),
    ("{% filter upper %}Thank you, {{ customer.name }}.{% endfilter %}", "THANK YOU, SECOND CUSTOMER."),
    ("Thank you, {{ self.title()|replace('Statement for ', '') }}.", "Thank you, Second Customer · Acme"),
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
    assert "<title>Acme Test Supply · Statement for Second Customer · Acme Test Supply</title>" in ledger.page_for("C2")


@given(st.decimals(allow_nan=False, allow_infinity=False, min_value=-10**12, max_value=10**12),
       st.sampled_from(sorted(EXPONENT)))
def test_money_formatter_prints_what_money_fmt_prints(amount, currency):
    assert money_formatter(currency)(amount) == fmt(amount, currency)
