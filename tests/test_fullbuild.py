"""The parallel full build: each worker parses only its customers' rows, and the result is the same."""
from __future__ import annotations

import pytest

from portal.build.full import shard_of
from portal.core.records import InputError

CUSTOMERS = "customer_id,name,email,currency,terms_days\n" + "".join(
    f"K{i},Cust {i},k{i}@x.example,USD,30\n" for i in range(40)) + "K99,Bad Email,not-an-email,USD,30\n"


def shard(cid: str) -> int:
    return shard_of(cid, 2)


def problems(project, workers: int) -> list[str]:
    with pytest.raises(InputError) as e:
        project.build(full_build=True, workers=workers)
    return [str(p) for p in e.value.problems]


def test_each_problem_is_reported_once_whichever_worker_reads_the_row(project):
    ours = [f"K{i}" for i in range(40)]
    assert {shard(c) for c in ours} == {0, 1}  # the rows below land in both workers
    rows = ["date,customer_id,type,ref,amount,currency,due_date,applies_to,memo"]
    for i, cid in enumerate(ours):
        rows.append(f"2026-10-0{1 + i % 9},{cid},invoice,I{i},{100 + i}.50,,,,")
    rows += ["2026-10-01,NOBODY,invoice,X1,10.00,,,,",  # unknown customer
             "2026-10-01,K99,payment,X2,10.00,,,,",  # a customer whose own row is bad
             "2026-10-01,K3,payment,X3,ten,,,,",  # bad amount, one worker's customer
             "2026-10-01,K4,payment,X4,-5.00,,,,",  # and the other's
             "2026-10-01,K5,invoice,X5,(1.234),,,,",
             "2026-10-01",  # too few fields: no customer
             "", ",,,,,,,,",  # blank rows say nothing
             "2026-10-01,K6,invoice,X6,\"1,5.00\",,,,",
             "2026-13-01,K7,invoice,X7,1.00,,,,"]
    project.write("customers.csv", CUSTOMERS)
    project.write("e.csv", "\n".join(rows) + "\n")
    one, two = problems(project, 1), problems(project, 2)
    assert shard("K3") != shard("K4")
    assert one == two
    assert [p.split(": ")[0].removeprefix("content/ledger/") for p in two] == [
        "customers.csv:42", "e.csv:42", "e.csv:43", "e.csv:44", "e.csv:45", "e.csv:46",
        "e.csv:47", "e.csv:47", "e.csv:47", "e.csv:50", "e.csv:51"]
    assert "e.csv:42: unknown customer 'NOBODY'" in two[1]


def test_online_payments_keep_their_latest_state_in_a_parallel_build(project):
    project.write("e.csv", "date,customer_id,type,ref,amount,currency,due_date,applies_to,memo\n" + "".join(
        f"2026-10-01,K{i},invoice,I{i},100.00,,,,\n" for i in range(40)))
    project.write("customers.csv", CUSTOMERS.replace("K99,Bad Email,not-an-email", "K99,Fine,k99@x.example"))
    project.write("online-payments.csv", """\
        date,customer_id,type,ref,amount,currency,due_date,applies_to,memo,status,key
        2026-11-01,K1,payment,pi_1,60.00,USD,,I1,,processing,pi_1:processing
        2026-11-01,K4,payment,pi_4,70.00,USD,,I4,,processing,pi_4:processing
        2026-11-02,K1,payment,pi_1,60.00,USD,,I1,,succeeded,pi_1:succeeded
        2026-11-03,K4,payment,pi_4,70.00,USD,,I4,,failed,pi_4:failed
        """)
    assert shard("K1") != shard("K4")
    project.build(full_build=True, workers=2)
    k1, k4 = project.page_for("K1"), project.page_for("K4")
    assert "$40.00" in k1 and "processing" not in k1.split('<section class="contact"')[0]
    assert "$100.00" in k4 and "pi_4" not in k4  # the bounced bank payment is gone


def test_a_worker_that_fails_fails_the_build_and_publishes_nothing(project, monkeypatch):
    from portal.build import placement
    project.write("customers.csv", CUSTOMERS.replace("K99,Bad Email,not-an-email", "K99,Fine,k99@x.example"))
    project.write("e.csv", "date,customer_id,type,ref,amount,currency,due_date,applies_to,memo\n"
                  "2026-10-01,K4,invoice,I4,100.00,,,,\n")

    def boom(pages_fd, token, html):
        if "<dd>K4</dd>" in html:  # worker 0's customer's page; worker 1 finishes normally
            raise ValueError("disk on fire")
        return real(pages_fd, token, html)

    real = placement.write_page  # patched where the pages are written (the compiled modules' calls are fixed)
    monkeypatch.setattr(placement, "write_page", boom)
    with pytest.raises(ValueError, match="disk on fire"):
        project.build(full_build=True, workers=2)
    out = project.settings().out
    assert not out.exists() and not any(p.name.startswith(".site") for p in out.parent.iterdir())


def test_customer_problems_are_reported_once_by_the_worker_that_owns_the_row(project):
    project.write("customers.csv", CUSTOMERS + "K5,Again,k5@x.example,USD,30\n,No Id,n@x.example,USD,30\n"
                  "K8,Bad Terms,k8@x.example,USD,soon\n")
    project.write("e.csv", "date,customer_id,type,ref,amount,currency,due_date,applies_to,memo\n"
                  "2026-10-01,K8,invoice,I8,100.00,,,,\n")
    assert shard("K5") != shard("K8")
    one, two = problems(project, 1), problems(project, 2)
    assert one == two
    assert [p.split(": ")[0].removeprefix("content/ledger/") for p in two] == [
        "customers.csv:42", "customers.csv:43", "customers.csv:44", "customers.csv:45"]
    assert "duplicate customer_id K5 (first on line 7)" in two[1]


def test_a_bad_customers_header_is_reported_once(project):
    project.write("customers.csv", "id,name,email\n" + "".join(f"K{i},N,k{i}@x.example\n" for i in range(40)))
    project.write("e.csv", "date,customer_id,type,ref,amount,currency,due_date,applies_to,memo\n")
    assert problems(project, 2) == problems(project, 1) == [
        "content/ledger/customers.csv:1: missing column customer_id (header has: id,name,email)"]


def test_invoice_clashes_across_workers_are_found_as_in_one_process(project):
    assert shard("K1") != shard("K4") and shard("K4") == shard("K5")
    project.write("customers.csv", CUSTOMERS.replace("K99,Bad Email,not-an-email", "K99,Fine,k99@x.example"))
    project.write("a.csv", "date,customer_id,type,ref,amount,currency,due_date,applies_to,memo\n" + "".join(
        f"2026-10-01,K{i},invoice,I{i},100.00,,,,\n" for i in range(40)))
    project.write("b.csv", """\
        date,customer_id,type,ref,amount,currency,due_date,applies_to,memo
        2026-10-02,K4,invoice,I1,10.00,,,,
        2026-10-02,K5,invoice,I4,10.00,,,,
        2026-10-03,K1,payment,P1,5.00,,,I4,
        2026-10-03,K1,payment,P2,5.00,,,NOPE,
        """)
    one, two = problems(project, 1), problems(project, 2)
    assert one == two == [
        "content/ledger/b.csv:2: duplicate invoice ref I1 (first at content/ledger/a.csv:3)",
        "content/ledger/b.csv:3: duplicate invoice ref I4 (first at content/ledger/a.csv:6)",
        "content/ledger/b.csv:4: payment of K1 applies to I4, which is customer K4's invoice "
        "(expected one of K1's invoices)",
        "content/ledger/b.csv:5: payment applies to unknown invoice NOPE (expected one of K1's invoice refs)"]


def test_an_invoice_of_another_workers_customer_is_named_as_in_one_process(project):
    """No number twice (each worker's invoice list gathered as it validates): applies_to naming
    another shard's customer's invoice is still told from one that names none."""
    assert shard("K1") != shard("K4")
    project.write("customers.csv", CUSTOMERS.replace("K99,Bad Email,not-an-email", "K99,Fine,k99@x.example"))
    project.write("a.csv", "date,customer_id,type,ref,amount,currency,due_date,applies_to,memo\n" + "".join(
        f"2026-10-01,K{i},invoice,I{i},100.00,,,,\n" for i in range(40)) + """\
2026-10-03,K1,payment,P1,5.00,,,I4,
2026-10-03,K4,credit,C1,5.00,,,I1,
2026-10-03,K1,payment,P2,5.00,,,NOPE,
""")
    one, two = problems(project, 1), problems(project, 2)
    assert one == two == [
        "content/ledger/a.csv:42: payment of K1 applies to I4, which is customer K4's invoice "
        "(expected one of K1's invoices)",
        "content/ledger/a.csv:43: credit of K4 applies to I1, which is customer K1's invoice "
        "(expected one of K4's invoices)",
        "content/ledger/a.csv:44: payment applies to unknown invoice NOPE (expected one of K1's invoice refs)"]


@pytest.mark.parametrize("workers", [1, 2])
def test_rows_quoted_or_not_read_the_same(project, workers):
    """Most rows have no quote and are split without the csv module; a row quoted all through, one
    with a quoted comma or a memo over two lines, and CRLF line ends read as the csv module reads them."""
    import csv
    import io
    import re

    rows = [[f"2026-10-0{1 + i % 9}", f"K{i}", "invoice", f"I{i}", f"{100 + i}.50", "", "", "",
             ["", "plain memo", "memo, with a comma", "memo\nover two lines", ' "quoted" '][i % 5]] for i in range(40)]
    header = ["date", "customer_id", "type", "ref", "amount", "currency", "due_date", "applies_to", "memo"]
    project.write("customers.csv", CUSTOMERS.replace("K99,Bad Email,not-an-email", "K99,Fine,k99@x.example"))

    def pages(quoting: int, ends: str) -> dict[str, str]:
        out = io.StringIO()
        csv.writer(out, quoting=quoting, lineterminator=ends).writerows([header, *rows])
        project.write("e.csv", out.getvalue())
        project.build(full_build=True, workers=workers)
        # the same statement but for its reference (a digest of the rows' text, which differs)
        return {f"K{i}": re.sub(r"[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}", "REF", project.page_for(f"K{i}"))
                for i in range(40)}

    minimal = pages(csv.QUOTE_MINIMAL, "\n")
    assert "memo, with a comma" in minimal["K2"] and "over two lines" in minimal["K3"] and "120.50" in minimal["K20"]
    assert pages(csv.QUOTE_ALL, "\r\n") == minimal


@pytest.mark.parametrize("workers", [1, 2])
def test_every_page_is_written_whole_across_write_batches(project, workers):
    """Pages are written WRITE_BATCH at a time: full batches and the last, short one all land,
    each customer's page whole (it ends its document) and at its own address."""
    from portal.build.full import WRITE_BATCH
    n = 2 * WRITE_BATCH + 7
    project.write("customers.csv", "customer_id,name,email,currency\n"
                  + "".join(f"K{c},Customer {c},k{c}@x.example,USD\n" for c in range(n)))
    project.write("entries.csv", "date,customer_id,type,ref,amount,currency,due_date,applies_to,memo\n"
                  + "".join(f"2026-10-01,K{c},invoice,I-{c},{c + 1}.00,,2026-11-30,,\n" for c in range(n)))
    r = project.build(full_build=True, workers=workers)
    assert r.written == n
    pages = sorted((project.settings().out / "s").glob("*/index.html"))
    assert len(pages) == n
    assert all(p.read_text().rstrip().endswith("</html>") for p in pages)
    for c in (0, WRITE_BATCH - 1, WRITE_BATCH, n - 1):
        assert f"Customer {c}<" in project.page_for(f"K{c}") and f"${c + 1}.00" in project.page_for(f"K{c}")


@pytest.mark.parametrize("workers", [1, 2])
def test_a_file_saved_while_a_full_build_runs_is_built_as_it_was_hashed(project, monkeypatch, workers):
    """The workers parse the very bytes the build's signatures were made from (read once, before
    they start): a ledger saved again mid-build does not get into pages recorded as the old one,
    and the next build sees the change."""
    import hashlib

    from portal.build import publish
    from portal.build import state as st
    project.write("customers.csv", CUSTOMERS.replace("K99,Bad Email,not-an-email", "K99,Fine,k99@x.example"))
    old = "date,customer_id,type,ref,amount,currency,due_date,applies_to,memo\n" + "".join(
        f"2026-10-01,K{i},invoice,I{i},100.00,,,,\n" for i in range(40))
    path = project.write("e.csv", old)
    real = publish.Publisher.spares_wanted

    def saved_meanwhile(self, estimate):  # called once the signatures are taken, before any worker
        path.write_text(old.replace("I7,100.00", "I7,250.00"))
        return real(self, estimate)

    with monkeypatch.context() as m:
        m.setattr(publish.Publisher, "spares_wanted", saved_meanwhile)
        project.build(full_build=True, workers=workers)
    settings = project.settings()
    head = st.load_head(settings.state_dir)
    assert head.files["content/ledger/e.csv"][2] == hashlib.sha256(old.encode()).hexdigest()
    def k7() -> str:
        (row,) = [r for r in (settings.staff_dir / "links.csv").read_text().splitlines() if r.startswith("K7,")]
        return row.split(",")[-2]  # the balance

    assert k7() == "100.00"  # as hashed: the old row
    r = project.build()
    assert r.mode == "incremental" and r.written == 1 and k7() == "250.00"
