"""The staff aging report: figures checked against the ledger, kept right by incremental builds,
contacts and promises, hostile text, the CLI, and the page in Chromium."""
from __future__ import annotations

import csv
from datetime import date
from decimal import Decimal

import pytest
from conftest import ARTIFACTS
from test_demo import AS_OF, demo_settings, oracle

from portal.build import aging_report as report
from portal.build import state as st
from portal.build.render import environment
from portal.build.run import build, write_report
from portal.cli import main
from portal.core.money import fmt
from portal.ledger import contacts

FIGURES = ("balance", "days_current", "days_1_30", "days_31_60", "days_61_90", "days_90_plus", "unapplied_credit")


def rows_of(path) -> dict[tuple[str, str], dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return {(r["customer_id"], r["currency"]): r for r in csv.DictReader(f)}


def test_the_demo_report_agrees_with_an_independent_computation(tmp_path):
    s = demo_settings(tmp_path)
    build(s, AS_OF)
    rows = rows_of(s.staff_dir / "aging.csv")
    expected = oracle()
    assert rows.keys() == expected.keys()
    for key, figures in expected.items():
        assert [Decimal(rows[key][c]) for c in FIGURES] == figures, key
        r = rows[key]
        assert Decimal(r["overdue"]) == sum(Decimal(r[c]) for c in FIGURES[2:6])
    page = (s.staff_dir / "aging.html").read_text()
    for cur in {c for _, c in expected}:
        total = sum(f[0] for (_, c), f in expected.items() if c == cur)
        assert f"{cur}: {fmt(total, cur)}</h3>" in page
    listed = page.split("<h2>Customers</h2>")[1].count("<tr><td>")
    assert listed == sum(1 for f in expected.values() if f[0] or f[-1])  # owing or owed
    assert not [p for p in s.out.rglob("*") if "aging" in p.name]  # staff only: never in the public site


def test_a_report_for_a_past_date_agrees_with_the_ledger_then_and_leaves_the_site_alone(tmp_path):
    s = demo_settings(tmp_path)
    build(s, AS_OF)
    before = {p: p.stat().st_mtime_ns for p in s.out.rglob("*")}
    current = (s.staff_dir / "aging.csv").read_bytes()
    then = date(2026, 9, 30)
    html_path, csv_path, totals = write_report(s, then)
    assert csv_path.name == "aging-2026-09-30.csv" and html_path.exists()
    rows = rows_of(csv_path)
    expected = oracle(then)  # its buckets are as of the date; its balance column is not
    usd = Decimal(0)
    for key, figures in expected.items():
        if key not in rows:  # no business in that currency yet on that date
            assert not any(figures[1:]), key
            continue
        r = rows[key]
        assert [Decimal(r[c]) for c in FIGURES[1:]] == figures[1:], key
        assert Decimal(r["balance"]) == sum(figures[1:6]) - figures[6]
        usd += Decimal(r["balance"]) if key[1] == "USD" else 0
    assert sum(1 for f in expected.values() if any(f[1:])) > 30  # the demo had real business by then
    assert totals["USD"][0] == usd != 0
    assert {p: p.stat().st_mtime_ns for p in s.out.rglob("*")} == before
    assert (s.staff_dir / "aging.csv").read_bytes() == current


LEDGER = """\
date,customer_id,type,ref,amount,due_date,applies_to
2026-09-10,C1,invoice,INV-1,500.00,2026-10-10,
2026-10-05,C1,invoice,INV-2,1000.00,2026-11-04,
2026-11-01,C1,invoice,INV-3,1000.00,2026-12-01,
2026-11-02,C1,payment,PAY-1,1000.00,,
2026-10-01,C2,invoice,E-1,80.00,2026-10-31,
"""


def test_countback_dso_and_buckets_from_a_hand_count(project, capsys):
    project.write("a.csv", LEDGER)
    assert main(["--root", str(project.root), "report", "--as-of", "2026-11-25"]) == 0  # no build needed
    out = capsys.readouterr().out
    # Balance 1,500. November so far: 25 days, 1,000 of sales; October 1,000 covers the other 500:
    # 25 + 31 × 500/1000 = 40.5 days. The payment took INV-1 and half of INV-2 (oldest first).
    assert "USD: receivables $1,500.00, overdue $500.00, over 90 days $0.00, DSO 40.5 days" in out
    rows = rows_of(project.root / "staff" / "aging-2026-11-25.csv")
    c1 = rows[("C1", "USD")]
    assert (c1["days_current"], c1["days_1_30"], c1["oldest_days_overdue"]) == ("1000.00", "500.00", "21")
    assert (c1["last_payment_date"], c1["last_payment_amount"]) == ("2026-11-02", "1000.00")
    assert rows[("C2", "EUR")]["days_1_30"] == "80.00" and rows[("C2", "EUR")]["oldest_days_overdue"] == "25"
    assert "40.5 days" in (project.root / "staff" / "aging-2026-11-25.html").read_text()


def test_incremental_builds_keep_the_report_equal_to_a_full_build(project):
    project.write("a.csv", LEDGER)
    project.build()
    project.write("b.csv", "date,customer_id,type,ref,amount,applies_to\n2026-11-20,C1,payment,PAY-2,250.00,INV-3\n"
                  "2026-11-21,C2,invoice,E-2,20.00,\n")
    s = project.settings()
    assert project.build().mode == "incremental"
    head = st.load_head(s.state_dir)
    incremental = (s.staff_dir / "aging.csv").read_text(), head.totals
    assert st.read_totals(head.totals)["USD"][0] == Decimal("1250.00")
    assert project.build(full_build=True).mode == "full"
    assert ((s.staff_dir / "aging.csv").read_text(), st.load_head(s.state_dir).totals) == incremental


def test_contacts_and_promises_show_and_a_note_alone_refreshes_the_report(project):
    project.write("a.csv", LEDGER + "2026-11-08,C2,payment,PE-1,30.00,,\n")
    project.build()
    s = project.settings()
    assert rows_of(s.staff_dir / "aging.csv")[("C1", "USD")]["promise_status"] == ""
    d = date.fromisoformat
    contacts.append(project.ledger, [
        contacts.Contact(d("2026-11-03"), "C1", "call", "will pay 300 by the 10th", promise_date=d("2026-11-10"),
                         promise_amount=Decimal("300.00"), currency="USD"),
        contacts.Contact(d("2026-11-05"), "C2", "call", "paying 30 Monday", promise_date=d("2026-11-09"),
                         promise_amount=Decimal("30.00"), currency="EUR"),
        contacts.Contact(d("2026-11-20"), "C2", "email", "statement sent"),
    ])
    assert project.build().mode == "no change"  # the site is untouched, the report is not
    rows = rows_of(s.staff_dir / "aging.csv")
    c1, c2 = rows[("C1", "USD")], rows[("C2", "EUR")]
    assert (c1["promise_date"], c1["promise_amount"], c1["promise_status"]) == ("2026-11-10", "300.00", "broken")
    assert c1["last_contact"] == "call: will pay 300 by the 10th" and c1["last_contact_date"] == "2026-11-03"
    assert c2["promise_status"] == "kept" and c2["last_contact"] == "email: statement sent"
    page = (s.staff_dir / "aging.html").read_text()
    assert "1 broken promise to pay." in page
    contacts.append(project.ledger, [contacts.Contact(d("2026-11-24"), "C1", "call", "new date",
                                                      promise_date=d("2026-12-01"), promise_amount=Decimal("100"),
                                                      currency="USD")])
    project.build()
    assert rows_of(s.staff_dir / "aging.csv")[("C1", "USD")]["promise_status"] == "open"


def test_spreadsheet_formulas_are_neutralised_and_html_is_escaped(project):
    project.write("customers.csv", 'customer_id,name,email,currency,terms_days\n'
                  'C1,"=HYPERLINK(""http://evil.example"",""x"")",@SUM(A1),USD,30\n'
                  'C2,<script>alert(1)</script>,+1@x.example,USD,30\n')
    project.write("a.csv", "date,customer_id,type,ref,amount\n2026-09-01,C1,invoice,I-1,10.00\n"
                  "2026-09-01,C2,invoice,I-2,-5.00\n".replace("-5.00", "5.00"))
    contacts.append(project.ledger, [contacts.Contact(date(2026, 11, 1), "C2", "note", "ok: -2+3")])
    project.build()
    s = project.settings()
    rows = rows_of(s.staff_dir / "aging.csv")
    assert rows[("C1", "USD")]["name"].startswith("'=HYPERLINK(")
    assert rows[("C1", "USD")]["email"] == "'@SUM(A1)" and rows[("C2", "USD")]["email"] == "'+1@x.example"
    assert rows[("C2", "USD")]["last_contact"] == "note: ok: -2+3"
    page = (s.staff_dir / "aging.html").read_text()
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_a_big_book_lists_the_longest_overdue_on_the_page_and_everyone_in_the_csv(project):
    project.write("a.csv", LEDGER)
    project.build()
    s = project.settings()
    head, body = st.load_both(s.state_dir)
    v = report.view("Acme", date(2026, 11, 25), st.read_totals(head.totals), body.pages, {}, "aging.csv", limit=1)
    assert [ln.cells["customer_id"] for ln in v.lines] == ["C2"] and not v.listed_all  # 25 days overdue beats 21
    page = report.html(environment(s), v)
    assert "every customer is in <a href=\"aging.csv\">aging.csv</a>" in page


def test_a_bad_ledger_is_reported_and_no_report_written(project, capsys):
    project.write("a.csv", "date,customer_id,type,ref,amount\n2026-13-01,C1,invoice,I-1,10.00\n")
    assert main(["--root", str(project.root), "report"]) == 1
    assert "content/ledger/a.csv:2:" in capsys.readouterr().err
    assert not (project.root / "staff").exists()


@pytest.mark.browser
@pytest.mark.parametrize("width", [1280, 390])
def test_the_report_page_in_chromium(tmp_path, chrome, width):
    s = demo_settings(tmp_path)
    build(s, AS_OF)
    page = chrome.new_page(viewport={"width": width, "height": 900})
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto((s.staff_dir / "aging.html").as_uri())
    assert page.locator("h1").inner_text() == "Aging report"
    assert page.locator("svg[role=img]").count() == 4  # one chart per currency
    usd = page.locator("section.card", has_text="USD:")
    assert usd.locator("rect").count() == 5  # every USD bucket has money in the demo
    widths = [float(w) for w in usd.locator("rect").evaluate_all("rs => rs.map(r => r.getAttribute('width'))")]
    assert max(widths) == widths[0]  # not-yet-due is the biggest bucket in the demo's USD book
    th = page.locator("th").first.evaluate("e => getComputedStyle(e).backgroundColor")
    assert th == "rgb(241, 243, 245)"  # the inline stylesheet applied under the page's CSP
    assert errors == []
    if width >= 1280:  # the customer table fits a laptop's screen: no sideways scrolling
        assert page.evaluate("(w => w.scrollWidth <= w.clientWidth)(document.querySelector('.wide'))")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"aging-report-{width}.png"), full_page=True)
    page.close()


def test_rows_per_currency_join_up_and_a_short_page_still_finds_who_owes(project):
    project.write("customers.csv", "customer_id,name,email,currency,terms_days\n"
                  + "".join(f"C{i},Paid {i},p{i}@x.example,USD,30\n" for i in range(1, 5))
                  + 'C5,"Owes\nTwo Lines",o@x.example,USD,30\nC6,Two Currencies,t@x.example,USD,30\n')
    project.write("a.csv", "date,customer_id,type,ref,amount,currency\n"
                  + "".join(f"2026-11-01,C{i},invoice,I-{i},10.00,\n2026-11-02,C{i},payment,P-{i},10.00,\n"
                            for i in range(1, 5))
                  + "2026-11-20,C5,invoice,I-5,7.00,\n2026-08-01,C6,invoice,I-6,5.00,EUR\n"
                    "2026-11-20,C6,invoice,I-7,3.00,USD\n")
    project.build()
    s = project.settings()
    rows = rows_of(s.staff_dir / "aging.csv")
    assert len(rows) == 7
    assert rows[("C5", "USD")]["name"] == "Owes Two Lines"  # one line per row, whatever the export held
    eur, usd = rows[("C6", "EUR")], rows[("C6", "USD")]
    assert (eur["balance"], eur["days_61_90"], eur["oldest_days_overdue"]) == ("5.00", "5.00", "86")
    assert (usd["balance"], usd["days_current"], usd["oldest_days_overdue"]) == ("3.00", "3.00", "0")
    assert eur["statement_url"] == usd["statement_url"] != rows[("C5", "USD")]["statement_url"]
    _, body = st.load_both(s.state_dir)
    v = report.view("Acme", date(2026, 11, 25), {}, body.pages, {}, "aging.csv", limit=3)
    assert [(ln.cells["customer_id"], ln.currency) for ln in v.lines] == [("C6", "EUR"), ("C6", "USD"), ("C5", "USD")]
    assert v.listed_all
    # Limit 2: the first 5 in line (C6, then the paid-up C1-C4) fill only 2 rows; that C5 also owes
    # is found by looking at everyone, so the page says it is not the whole list.
    v = report.view("Acme", date(2026, 11, 25), {}, body.pages, {}, "aging.csv", limit=2)
    assert [ln.cells["customer_id"] for ln in v.lines] == ["C6", "C6"] and not v.listed_all


def test_csv_cells_made_by_hand_read_back_as_written():
    import io
    import random

    from portal.core.cells import csv_cell
    rng = random.Random(7)
    for _ in range(5000):
        cells = ["".join(rng.choice('ab,"\n\r =+-@ é') for _ in range(rng.randint(0, 8))) for _ in range(4)]
        text = ",".join(map(csv_cell, cells)) + "\n"
        assert next(csv.reader(io.StringIO(text, newline=""))) == cells


def test_a_name_holding_a_line_separator_character_keeps_its_report_row_whole(project):
    project.write("customers.csv", "customer_id,name,email,currency\n"
                                   "C1,First\u2028Line\x85Co,ap@first.example,USD\n"
                                   "C2,Second Customer,ap@second.example,EUR\n")
    project.write("a.csv", "date,customer_id,type,ref,amount,currency,due_date,applies_to,memo\n"
                           "2026-10-01,C1,invoice,INV-1,100.00,,2026-10-31,,\n"
                           "2026-10-01,C1,invoice,INV-2,50.00,EUR,2026-10-31,,\n")
    project.build()
    import csv
    with open(project.settings().staff_dir / "aging.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["customer_id"] == "C1"]
    assert [(r["name"], r["currency"], r["balance"]) for r in rows] == [
        ("First\u2028Line\x85Co", "EUR", "50.00"), ("First\u2028Line\x85Co", "USD", "100.00")]


def test_each_currency_shows_its_buckets_once_and_the_customer_table_ends_in_totals(tmp_path):
    s = demo_settings(tmp_path)
    build(s, AS_OF)
    page = (s.staff_dir / "aging.html").read_text()
    usd = page.split('id="cur-USD"')[1].split("</section>")[0]
    figures = usd.split("<dl>")[1]  # the buckets are in the chart (its label names them too), not again below it
    assert "Not yet due" not in figures and "Overdue" in figures
    assert 'aria-label="USD open items by age: Not yet due $' in usd
    footer = page.split("<tfoot>")[1].split("</tfoot>")[0]
    for cur in {c for _, c in oracle()}:  # each currency's total, from the oracle's figures
        total = sum(f[0] for (_, c), f in oracle().items() if c == cur)
        assert f"Total {cur}, all customers</th><td class=\"num\">{fmt(total, cur)}</td>" in footer
