"""The build end to end: pages, incremental rebuilds, atomic publishing, escaping, privacy."""
from __future__ import annotations

import csv
import re
from decimal import Decimal
from pathlib import Path

import pytest

from portal.build import state as st
from portal.core.records import InputError

ENTRIES = """\
date,customer_id,type,ref,amount,currency,due_date,applies_to,memo
2026-08-01,C1,invoice,INV-1,"1,000.00",,2026-08-31,,Widgets
2026-10-01,C1,invoice,INV-2,250.00,,2026-10-31,,Gadgets
2026-09-10,C1,payment,PAY-1,400.00,,,INV-1,Cheque 1001
2026-11-01,C2,invoice,INV-3,99.99,,2026-12-01,,Service
"""


@pytest.fixture
def built(project):
    project.write("2026-q3.csv", ENTRIES)
    project.build()
    return project


def site_files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def mtimes(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("index.html")}


def aging_table(html: str) -> str:
    found = re.search(r'<table class="aging">.*?</table>', html, re.S)
    assert found is not None, "the page has no aging table"
    return found.group(0)


def test_statement_shows_balance_aging_and_open_invoices(built):
    html = built.page_for("C1")
    assert "First Customer" in html
    assert "$850.00" in html  # 1,000 + 250 - 400
    assert "INV-1" in html and "$600.00" in html  # open part of INV-1
    # On 2026-11-25, INV-2 (due Oct 31) is 25 days overdue, INV-1 (due Aug 31) 86 days.
    aging = aging_table(html)
    cells = re.findall(r'<td class="num[^"]*">([^<]*)</td>', aging)
    assert cells == ["$0.00", "$250.00", "$0.00", "$600.00", "$0.00"]
    assert "Cheque 1001" in html and "PAY-1" in html
    assert 'name="robots" content="noindex' in html


def test_buckets_on_page_add_up_to_the_balance(built):
    html = built.page_for("C1")
    aging = aging_table(html)
    cells = re.findall(r'<td class="num[^"]*">\$([0-9,.]+)</td>', aging)
    from decimal import Decimal
    assert sum(Decimal(c.replace(",", "")) for c in cells) == Decimal("850.00")


def test_links_csv_lists_every_customer_with_url_and_balance_outside_the_site(built):
    s = built.settings()
    with open(s.staff_dir / "links.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["customer_id"], r["currency"], r["balance"], r["overdue"]) for r in rows] == [
        ("C1", "USD", "850.00", "850.00"), ("C2", "EUR", "99.99", "0.00")]
    assert all(r["url"].startswith("https://pay.acme.example/s/") for r in rows)
    assert not s.staff_dir.resolve().is_relative_to(s.out.resolve())
    assert "links.csv" not in site_files(s.out)


def test_rebuild_with_no_change_writes_nothing(built):
    s = built.settings()
    before = mtimes(s.out)
    r = built.build()
    assert r.mode == "no change" and r.written == 0
    assert mtimes(s.out) == before


def test_new_billing_run_rewrites_only_the_customers_it_touches(built):
    s = built.settings()
    before = mtimes(s.out)
    built.write("2026-11.csv", """\
        date,customer_id,type,ref,amount,currency,due_date,applies_to,memo
        2026-11-20,C2,payment,PAY-9,50.00,,,,
        """)
    r = built.build()
    assert (r.mode, r.written, r.unchanged) == ("incremental", 1, 1)
    after = mtimes(s.out)
    changed = {k for k in after if after[k] != before.get(k)}
    assert len(changed) == 1
    assert "€49.99" in built.page_for("C2")
    assert "$850.00" in built.page_for("C1")


def test_incremental_result_equals_a_full_build(built, tmp_path):
    built.write("2026-11.csv", """\
        date,customer_id,type,ref,amount,currency,due_date,applies_to,memo
        2026-11-02,C1,credit,CN-1,25.00,,,INV-2,Damaged
        2026-11-20,C2,payment,PAY-9,50.00,,,,
        """)
    (built.ledger / "2026-q3.csv").write_text(ENTRIES.replace("400.00", "450.00"))
    r_incremental = built.build()
    incremental = site_files(built.settings().out)
    links = (built.settings().staff_dir / "links.csv").read_text()
    r_full = built.build(full_build=True)
    full = site_files(built.settings().out)
    assert r_incremental.mode == "incremental" and r_full.mode == "full"
    assert r_incremental.receivables == r_full.receivables == {
        "EUR": (Decimal("49.99"), Decimal("0")), "USD": (Decimal("775.00"), Decimal("775.00"))}
    assert {k: v for k, v in incremental.items() if k != ".publish-id"} == \
           {k: v for k, v in full.items() if k != ".publish-id"}
    assert (built.settings().staff_dir / "links.csv").read_text() == links


def test_raised_link_version_kills_the_old_link(built):
    s = built.settings()
    old_c1 = built.page_for("C1")
    token_dirs = {p for p in (s.out / "s").iterdir() if p.is_dir()}
    built.write("customers.csv", """\
        customer_id,name,email,currency,terms_days,link_version
        C1,First Customer,ap@first.example,USD,30,2
        C2,Second Customer,ap@second.example,EUR,30,1
        """)
    built.build()
    assert built.page_for("C1") != old_c1
    new_dirs = {p for p in (s.out / "s").iterdir() if p.is_dir()}
    assert len(new_dirs) == 2 and len(new_dirs & token_dirs) == 1  # C1's old link now answers 404


def test_removed_customer_loses_its_page(built):
    s = built.settings()
    customers = (built.ledger / "customers.csv").read_text()
    built.write("customers.csv", customers + "C3,Third Customer,ap@third.example,USD,30,1\n")
    built.build()
    assert len([p for p in (s.out / "s").iterdir() if p.is_dir()]) == 3
    built.write("customers.csv", customers)
    r = built.build()
    assert r.mode == "incremental" and r.customers == 2
    assert len([p for p in (s.out / "s").iterdir() if p.is_dir()]) == 2
    assert "Third Customer" not in (s.staff_dir / "links.csv").read_text()


def test_as_of_change_rebuilds_everything(built):
    r = built.build(as_of="2026-11-26")
    assert r.mode == "full" and r.written == 2
    assert "26 Nov 2026" in built.page_for("C1")


def test_failed_build_leaves_the_previous_site_whole(built):
    s = built.settings()
    before = site_files(s.out)
    links = (s.staff_dir / "links.csv").read_bytes()
    built.write("2026-11.csv", """\
        date,customer_id,type,ref,amount,currency,due_date,applies_to,memo
        2026-11-20,C9,payment,PAY-9,50.00,,,,
        2026-11-21,C2,payment,PAY-10,lots,,,,
        """)
    with pytest.raises(InputError) as e:
        built.build()
    assert [str(p) for p in e.value.problems] == [
        "content/ledger/2026-11.csv:2: unknown customer 'C9' (expected a customer_id from customers.csv)",
        "content/ledger/2026-11.csv:3: amount 'lots' is not an amount (expected a decimal such as 1234.50)",
    ]
    assert site_files(s.out) == before
    assert (s.staff_dir / "links.csv").read_bytes() == links
    with pytest.raises(InputError):
        built.build(full_build=True)
    assert site_files(s.out) == before


def test_build_killed_midway_leaves_the_previous_site(built, monkeypatch):
    """A crash while building (here: writing the 2nd page) publishes nothing."""
    from portal.build import placement
    s = built.settings()
    before = site_files(s.out)
    real = placement.write_page  # patched where the pages are written (the compiled modules' calls are fixed)
    calls = []

    def boom(*a, **kw):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*a, **kw)

    monkeypatch.setattr(placement, "write_page", boom)
    with pytest.raises(KeyboardInterrupt):
        built.build(full_build=True)
    assert site_files(s.out) == before
    assert not any(p.name.startswith(".site.staging") for p in s.out.parent.iterdir())


def test_hostile_names_and_memos_are_escaped(project):
    project.write("customers.csv", """\
        customer_id,name,email,terms_days
        C1,"<script>alert(1)</script> & Co",x@y.example,30
        """)
    project.write("e.csv", """\
        date,customer_id,type,ref,amount,currency,due_date,applies_to,memo
        2026-11-01,C1,invoice,"<img src=x onerror=alert(2)>",10.00,,,,"<b>bold</b>"
        """)
    project.build()
    html = project.page_for("C1")
    assert "<script>" not in html and "<img src=x" not in html and "<b>bold" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in html
    assert "&lt;img src=x onerror=alert(2)&gt;" in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html


def test_public_site_reveals_no_customer_list_or_other_customers_data(built):
    s = built.settings()
    files = site_files(s.out)
    pages = {k: v for k, v in files.items() if k.startswith("s/") and k != "s/index.html"}
    assert len(pages) == 2
    for name, data in files.items():
        text = data.decode("utf-8", "replace")
        if name in pages:
            mine = "First Customer" in text
            other = "Second Customer" in text
            assert mine != other, name  # each page names exactly one customer
        else:  # shared pages name nobody and link to no statement
            assert "First Customer" not in text and "Second Customer" not in text, name
            assert "/s/" not in text.replace('href="../', ""), name
    assert "s/index.html" in files  # a host that lists folders shows this, not the tokens
    assert "Disallow: /" in files["robots.txt"].decode()


def test_pages_load_no_third_party_assets(built):
    for name, data in site_files(built.settings().out).items():
        if name.endswith(".html"):
            text = data.decode()
            assert not re.search(r'(src|href)="(https?:)?//', text), name


def test_statement_names_its_version_in_a_reference_a_customer_can_quote(built):
    from portal.build import state as st
    from portal.build.render import statement_reference
    html = built.page_for("C1")
    s = built.settings()
    head = st.load_head(s.state_dir)
    assert head is not None
    body = st.load_body(s.state_dir, head)
    assert body is not None
    record = st.record(body.pages["C1"])
    reference = statement_reference(record.digest)
    assert re.fullmatch(r"[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}", reference)
    assert f"Statement reference <code>{reference}</code>" in html and "sha256" not in html


def test_parallel_build_equals_single_process_build(project, tmp_path):
    rows = ["date,customer_id,type,ref,amount,currency,due_date,applies_to,memo"]
    cust = ["customer_id,name,email,terms_days"]
    for i in range(60):
        cust.append(f"K{i},Cust {i},k{i}@x.example,30")
        rows.append(f"2026-0{1 + i % 9}-10,K{i},invoice,I{i},{100 + i}.50,,,,")
        if i % 3 == 0:
            rows.append(f"2026-10-0{1 + i % 9},K{i},payment,P{i},50.25,,,I{i},")
    project.write("customers.csv", "\n".join(cust) + "\n")
    project.write("e.csv", "\n".join(rows) + "\n")
    project.build(full_build=True, workers=1)
    one = site_files(project.settings().out)
    project.build(full_build=True, workers=2)
    two = site_files(project.settings().out)
    assert {k: v for k, v in one.items() if k != ".publish-id"} == {k: v for k, v in two.items() if k != ".publish-id"}


def test_state_is_ignored_when_it_was_written_for_other_inputs(built):
    s = built.settings()
    _, body_path = st.paths(s.state_dir)
    body_path.write_bytes(b"not a pickle")
    built.write("2026-11.csv", """\
        date,customer_id,type,ref,amount,currency,due_date,applies_to,memo
        2026-11-20,C2,payment,PAY-9,50.00,,,,
        """)
    r = built.build()
    assert r.mode == "full" and "€49.99" in built.page_for("C2")


HEADER = "date,customer_id,type,ref,amount,currency,due_date,applies_to,memo\n"


def test_incremental_build_refuses_an_invoice_number_another_customer_has(built):
    before = site_files(built.settings().out)
    built.write("2026-11.csv", HEADER + "2026-11-20,C2,invoice,INV-1,5.00,,2026-12-20,,\n")
    with pytest.raises(InputError) as e:
        built.build()
    assert [str(p) for p in e.value.problems] == [
        "content/ledger/2026-q3.csv:2: duplicate invoice ref INV-1 (first at content/ledger/2026-11.csv:2)"]
    assert site_files(built.settings().out) == before


def test_incremental_build_refuses_a_clash_between_two_touched_customers(built):
    built.write("2026-11.csv", HEADER + "2026-11-20,C1,payment,PAY-2,1.00,,,,\n"
                                        "2026-11-20,C2,invoice,INV-2,5.00,,2026-12-20,,\n")
    with pytest.raises(InputError) as e:
        built.build()
    expected = ["content/ledger/2026-q3.csv:3: duplicate invoice ref INV-2 (first at content/ledger/2026-11.csv:3)"]
    assert [str(p) for p in e.value.problems] == expected
    with pytest.raises(InputError) as e:  # one rule: a full build says the same
        built.build(full_build=True)
    assert [str(p) for p in e.value.problems] == expected


def test_incremental_build_refuses_a_payment_against_another_customers_invoice(built):
    built.write("2026-11.csv", HEADER + "2026-11-20,C2,payment,PAY-9,5.00,,,INV-1,\n")
    with pytest.raises(InputError) as e:
        built.build()
    assert [str(p) for p in e.value.problems] == [
        "content/ledger/2026-11.csv:2: payment of C2 applies to INV-1, which is customer C1's invoice "
        "(expected one of C2's invoices)"]


def test_full_build_reports_the_same_clash_as_the_incremental_one(built):
    """Files are read in name order, so 2026-11.csv comes before 2026-q3.csv in both builds."""
    built.write("2026-11.csv", HEADER + "2026-11-20,C2,invoice,INV-1,5.00,,2026-12-20,,\n")
    with pytest.raises(InputError) as e:
        built.build(full_build=True)
    assert [str(p) for p in e.value.problems] == [
        "content/ledger/2026-q3.csv:2: duplicate invoice ref INV-1 (first at content/ledger/2026-11.csv:2)"]


def test_duplicate_invoice_points_at_the_earlier_file_whatever_the_customer_order(project):
    project.write("a.csv", HEADER + "2026-10-01,C2,invoice,INV-1,5.00,,2026-11-01,,\n")
    project.write("b.csv", HEADER + "2026-10-01,C1,invoice,INV-1,5.00,,2026-11-01,,\n")
    for full_build in (True, False):
        with pytest.raises(InputError) as e:
            project.build(full_build=full_build)
        assert [str(p) for p in e.value.problems] == [
            "content/ledger/b.csv:2: duplicate invoice ref INV-1 (first at content/ledger/a.csv:2)"]


def test_incremental_reads_bom_crlf_quoted_newlines_and_non_ascii_files_like_a_full_build(project):
    (project.ledger / "a.csv").write_bytes(
        b"\xef\xbb\xbfdate,customer_id,type,ref,amount,currency,due_date,applies_to,memo\r\n"
        b'2026-09-01,C1,invoice,INV-1,"1,000.00",,,,"two\r\nlines, with a comma"\r\n'
        b"2026-09-02,C2,invoice,INV-2,50.00,,,,plain\r\n"
        b'2026-09-03,C1,payment,P-1,100.00,,,INV-1,"say ""hi"""\r\n')
    (project.ledger / "b.csv").write_text(
        HEADER + "2026-09-05,C1,invoice,INV-3,10.00,,,,Café crème\n2026-09-06,C2,credit,CN-1,5.00,,,INV-2,Zürich\n",
        encoding="utf-8")
    project.build()
    project.write("c.csv", HEADER + "2026-11-01,C1,payment,P-2,1.00,,,,\n2026-11-01,C2,payment,P-3,1.00,,,,\n")
    r = project.build()
    assert r.mode == "incremental" and r.written == 2
    incremental = site_files(project.settings().out)
    project.build(full_build=True)
    assert {k: v for k, v in incremental.items() if k != ".publish-id"} == \
           {k: v for k, v in site_files(project.settings().out).items() if k != ".publish-id"}
    html = project.page_for("C1")
    assert "two\nlines, with a comma" in html and "say &#34;hi&#34;" in html and "Café crème" in html


def test_rows_appended_to_a_file_touch_only_their_customers_and_equal_a_full_build(built):
    s = built.settings()
    with open(built.ledger / "2026-q3.csv", "a") as f:
        f.write("2026-11-03,C2,payment,PAY-7,9.99,,,INV-3,\n")
    r = built.build()
    assert (r.mode, r.written) == ("incremental", 1)
    assert "€90.00" in built.page_for("C2")
    with open(built.ledger / "2026-q3.csv", "a") as f:  # and appended again, with a quoted line break
        f.write('2026-11-04,C1,credit,CN-5,5.00,,,INV-2,"two\nlines"\n')
    assert built.build().written == 1
    incremental = site_files(s.out)
    built.build(full_build=True)
    assert {k: v for k, v in incremental.items() if k != ".publish-id"} == \
           {k: v for k, v in site_files(s.out).items() if k != ".publish-id"}


def test_a_file_rewritten_shorter_is_read_whole(built):
    shorter = ENTRIES.replace("2026-09-10,C1,payment,PAY-1,400.00,,,INV-1,Cheque 1001\n", "")
    (built.ledger / "2026-q3.csv").write_text(shorter)
    r = built.build()
    assert r.mode == "incremental" and "$1,250.00" in built.page_for("C1")


def test_the_aging_report_is_written_by_a_forked_child_alongside_the_state_and_its_failure_is_raised(tmp_path):
    import os

    from portal.build.run import _side_by_side
    order = []

    def child():
        (tmp_path / "child").write_text(str(os.getpid()))

    _side_by_side(child, lambda: order.append("parent"), fork=True)
    assert order == ["parent"] and int((tmp_path / "child").read_text()) != os.getpid()

    def failing():
        raise OSError("disk full")

    with pytest.raises(RuntimeError, match="writing the aging report"):
        _side_by_side(failing, lambda: order.append("parent again"), fork=True)
    assert order[-1] == "parent again"  # the state is still saved

    # A process with other threads (the payment service's) does not fork: same result in-process.
    _side_by_side(child, lambda: order.append("in process"), fork=False)
    assert order[-1] == "in process" and int((tmp_path / "child").read_text()) == os.getpid()
    with pytest.raises(OSError, match="disk full"):
        _side_by_side(failing, lambda: None, fork=False)


def test_only_a_single_threaded_process_forks(tmp_path):
    import os
    import threading

    from portal.build.run import _side_by_side
    gate = threading.Event()
    other = threading.Thread(target=gate.wait)
    other.start()
    try:
        _side_by_side(lambda: (tmp_path / "child").write_text(str(os.getpid())), lambda: None)
    finally:
        gate.set()
        other.join()
    assert int((tmp_path / "child").read_text()) == os.getpid()


def test_a_staff_folder_that_cannot_be_written_fails_the_build(project):
    project.write("a.csv", "date,customer_id,type,ref,amount\n2026-10-01,C1,invoice,INV-1,5.00\n")
    (project.root / "staff").write_text("not a folder")
    # Forked (the CLI): RuntimeError after the child's traceback; in-process: the OSError itself.
    with pytest.raises((RuntimeError, OSError)):
        project.build()
    assert (project.root / "staff").read_text() == "not a folder"


def test_templates_compiled_once_are_kept_and_an_edited_one_is_compiled_again(project):
    project.write("customers.csv", "customer_id,name,email,currency\nC1,First,a@x.example,USD\n")
    project.write("ledger.csv", "date,customer_id,type,ref,amount,currency,due_date,applies_to,memo\n"
                                "2026-11-01,C1,invoice,I-1,10.00,,2026-12-01,,\n")
    project.build()
    cache = project.settings().state_dir / "templates"
    assert list(cache.glob("__jinja2_*.cache"))  # statement.html and the rest, compiled once
    template = project.root / "site_templates" / "statement.html"
    template.write_text(template.read_text().replace("Statement reference", "Edited after a build", 1))
    project.build()
    assert "Edited after a build" in project.page_for("C1")


def test_the_cycle_collector_is_off_during_a_build_and_as_it_was_after(project, monkeypatch):
    import gc

    from portal.build import run
    project.write("customers.csv", "customer_id,name,email,currency\nC1,First,a@x.example,USD\n")
    project.write("ledger.csv", "date,customer_id,type,ref,amount,currency,due_date,applies_to,memo\n"
                                "2026-11-01,C1,invoice,I-1,10.00,,2026-12-01,,\n")
    seen = []
    real = run._build

    def spy(*a, **kw):
        seen.append(gc.isenabled())
        return real(*a, **kw)

    monkeypatch.setattr(run, "_build", spy)
    project.build()
    assert seen == [False] and gc.isenabled()
    gc.disable()
    try:
        project.build()
        assert not gc.isenabled()  # a caller's choice is left as it was
    finally:
        gc.enable()


def kept_pages(project) -> list[Path]:
    return sorted((project.settings().state_dir / "pages").glob("*.json"))


NEW_BILLING_RUN = ENTRIES.splitlines()[0] + "\n2026-11-02,C1,invoice,INV-9,10.00,,2026-12-02,,\n"


def built_with_contact_page(project, markdown: str) -> Path:
    """A build of ENTRIES with content/pages/contact.md (shown on each statement); the kept HTML's file."""
    pages = project.root / "content" / "pages"
    pages.mkdir(parents=True, exist_ok=True)
    (pages / "contact.md").write_text(markdown)
    project.write("2026-q3.csv", ENTRIES)
    project.build()
    (kept,) = kept_pages(project)
    return kept


def test_content_pages_are_converted_once_and_again_when_one_is_edited(project):
    """A build keeps the help pages' HTML in the state under its global digest: an incremental
    build takes them from there; an edited page (a new digest) is converted again."""
    kept = built_with_contact_page(project, "# Contact\n\nCall us **online**.\n")
    assert "<strong>online</strong>" in project.page_for("C1")
    # What an incremental build shows is what was kept (this marker is in no Markdown source)
    kept.write_text(kept.read_text().replace("<strong>online</strong>", "<strong>KEPT</strong>"))
    project.write("2026-q4.csv", NEW_BILLING_RUN)
    assert project.build().mode == "incremental"
    assert "<strong>KEPT</strong>" in project.page_for("C1")
    (project.root / "content" / "pages" / "contact.md").write_text("# Contact\n\nCall us *by phone*.\n")
    assert project.build().mode == "full"  # a page's source is in the global digest
    assert "<em>by phone</em>" in project.page_for("C1") and "KEPT" not in project.page_for("C1")
    assert len(kept_pages(project)) == 1 and kept_pages(project) != [kept]


def test_a_full_build_asked_for_converts_the_content_pages_again(project):
    kept = built_with_contact_page(project, "# Contact\n\nNet **30**.\n")
    kept.write_text(kept.read_text().replace("<strong>30</strong>", "<strong>KEPT</strong>"))
    project.build(full_build=True)  # a new Markdown, say: --full renders from the sources
    assert "<strong>30</strong>" in project.page_for("C1")
    assert "KEPT" not in kept.read_text()


def test_unreadable_kept_pages_are_converted_again(project):
    kept = built_with_contact_page(project, "# Contact\n\nNet **30**.\n")
    kept.write_text('[{"slug": "terms", "ti')  # cut short
    project.write("2026-q4.csv", NEW_BILLING_RUN)
    assert project.build().mode == "incremental"
    assert "<strong>30</strong>" in project.page_for("C1")
