"""Statement rendering: the page rendered in parts (fixed frame + per-customer blocks) is the template's page."""
from __future__ import annotations

from pathlib import Path

import pytest

from portal.site import SiteRenderer

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


def test_statement_rendered_in_parts_equals_the_template_rendered_whole(ledger, monkeypatch):
    ledger.build(full_build=True, workers=1)
    parts = pages_of(ledger)
    monkeypatch.setattr(SiteRenderer, "_frame", lambda self: None)
    ledger.build(full_build=True, workers=1)
    whole = pages_of(ledger)
    assert len(whole) == 4 and parts == whole
    page = ledger.page_for("C1")
    assert "&lt;b&gt;Bold&lt;/b&gt; &#34;Quoted&#34; &amp; Co" in page and "<script>x" not in page
    assert page.count("Harbor") == 0 and page.count("Acme Test Supply") == 3  # title, masthead, footer


def test_frame_is_the_page_around_the_per_customer_blocks(ledger):
    r = SiteRenderer(ledger.settings(), [])
    assert r.frame[1::2] == ["title", "header", "accounts", "signature"]
    assert r.frame[0].startswith("<!doctype html>") and r.frame[-1].endswith("</html>")
    assert not any("\x00" in part for part in r.frame)


def test_a_template_using_customer_values_outside_those_blocks_is_rendered_whole(ledger):
    template = Path(ledger.root / "site_templates" / "statement.html")
    template.write_text(template.read_text().replace(
        '{% if contact %}', '<p class="thanks">Thank you, {{ customer.name }}.</p>\n{% if contact %}'))
    assert SiteRenderer(ledger.settings(), []).frame is None
    ledger.build(full_build=True)
    assert "Thank you, Second Customer." in ledger.page_for("C2")
