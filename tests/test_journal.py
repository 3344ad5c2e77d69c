"""The payment service's ledger file: exactly once, in order, durable, crash-safe, shared by processes."""
from __future__ import annotations

import csv
import multiprocessing
import random
import signal
import subprocess
import sys
import time
from datetime import date
from decimal import Decimal

from portal.ledger.online import FILE
from portal.pay.payment_log import Journal, Row

D = date(2026, 11, 20)


def rows_in(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def pay(ref, status="succeeded", amount="100.00", cid="C1"):
    return Row(D, cid, "payment", ref, Decimal(amount), "USD", status)


def test_each_effect_is_recorded_once(tmp_path):
    j = Journal(tmp_path)
    assert j.record([pay("pi_1")]) == [pay("pi_1")]
    assert j.record([pay("pi_1")]) == []
    assert Journal(tmp_path).record([pay("pi_1")]) == []  # another process, same file
    assert [r["key"] for r in rows_in(tmp_path / FILE)] == ["pi_1:succeeded"]


def test_a_late_processing_after_succeeded_is_ignored(tmp_path):
    j = Journal(tmp_path)
    j.record([pay("pi_1", "succeeded")])
    assert j.record([pay("pi_1", "processing")]) == []
    j.record([pay("pi_2", "processing")])
    assert j.record([pay("pi_2", "failed")]) == [pay("pi_2", "failed")]
    assert j.record([pay("pi_2", "processing")]) == []  # the old state, delivered after the failure
    assert j.record([pay("pi_3", "failed")]) == []  # a declined card: nothing to undo
    assert [r["key"] for r in rows_in(tmp_path / FILE)] == ["pi_1:succeeded", "pi_2:processing", "pi_2:failed"]


def test_succeeded_wins_over_any_state_in_any_order(tmp_path):
    j = Journal(tmp_path)
    j.record([pay("pi_1", "processing"), pay("pi_1", "failed")])
    assert j.record([pay("pi_1", "succeeded")]) == [pay("pi_1", "succeeded")]  # paid again another way
    assert j.record([pay("pi_1", "failed"), pay("pi_1", "processing")]) == []
    assert Journal(tmp_path).record([pay("pi_1", "failed")]) == []  # another process knows it too
    assert [r["key"] for r in rows_in(tmp_path / FILE)] == ["pi_1:processing", "pi_1:failed", "pi_1:succeeded"]


def test_the_ordering_rule_is_one_rule(tmp_path):
    from portal.ledger.online import supersedes
    order = ["processing", "failed", "succeeded"]
    for i, a in enumerate(order):
        for j, b in enumerate(order):
            assert supersedes(b, a) == (j > i)
    assert supersedes("", "failed") and not supersedes("processing", "")  # a staff row is settled money


def test_set_aside_payments_are_kept_once_each_state_and_read_at_their_latest(tmp_path):
    from portal.ledger.online import SET_ASIDE_FILE, read_set_aside
    from portal.pay.payment_log import SetAsideLog, SetAsideRow
    log = SetAsideLog(tmp_path)
    row = SetAsideRow(D, "pi_9", "C9999", Decimal("12.50"), "USD", "processing", "us_bank_account", "not the portal's")
    done = SetAsideRow(D, "pi_9", "C9999", Decimal("12.50"), "USD", "succeeded", "us_bank_account", "not the portal's")
    assert log.record([row, row]) == [row]
    assert SetAsideLog(tmp_path).record([done, row]) == [done]
    (found,) = read_set_aside(tmp_path).values()  # the writer's rows read back by the one reader
    assert (found.payment_intent, found.status, found.amount, found.where) == ("pi_9", "succeeded", Decimal("12.50"),
                                                                                f"{tmp_path / SET_ASIDE_FILE}:3")
    assert rows_in(tmp_path / SET_ASIDE_FILE)[0]["reason"] == "not the portal's"
    assert not (tmp_path / FILE).exists()  # never in the ledger


def test_refunds_are_keyed_on_their_own_id(tmp_path):
    j = Journal(tmp_path)
    r1 = Row(D, "C1", "refund", "re_1", Decimal("30.00"), "USD", applies_to="pi_1")
    assert j.record([r1, r1]) == [r1]
    assert rows_in(tmp_path / FILE)[0]["key"] == "re_1:refund"


def test_a_torn_last_row_is_cut_off_before_the_next_append(tmp_path):
    j = Journal(tmp_path)
    j.record([pay("pi_1")])
    with open(tmp_path / FILE, "ab") as f:
        f.write(b"2026-11-20,C1,payment,pi_2,50.0")  # the crash: no newline, never acknowledged
    assert Journal(tmp_path).record([pay("pi_2", amount="50.00")]) == [pay("pi_2", amount="50.00")]
    rows = rows_in(tmp_path / FILE)
    assert [(r["ref"], r["amount"]) for r in rows] == [("pi_1", "100.00"), ("pi_2", "50.00")]


def _hammer(path, refs, seed):
    rnd = random.Random(seed)
    j = Journal(path)
    for ref in rnd.sample(refs, len(refs)):
        j.record([pay(ref, amount="1.01")])


def test_many_processes_recording_duplicates_in_any_order_write_each_effect_once(tmp_path):
    refs = [f"pi_{i}" for i in range(300)]
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_hammer, args=(tmp_path, refs, seed)) for seed in range(6)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    rows = rows_in(tmp_path / FILE)
    assert sorted(r["ref"] for r in rows) == sorted(refs)
    assert sum(Decimal(r["amount"]) for r in rows) == Decimal("303.00")


WRITER = """
import sys, time
from datetime import date
from decimal import Decimal
from pathlib import Path
from portal.pay.payment_log import Journal, Row
j = Journal(Path(sys.argv[1]))
i = 0
while True:
    j.record([Row(date(2026, 11, 20), "C1", "payment", f"pi_{i}", Decimal("2.50"), "USD")])
    print(i, flush=True)
    i += 1
"""


def test_a_writer_killed_mid_append_leaves_a_readable_file_and_no_lost_acknowledged_row(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    acknowledged = []
    deadline = time.time() + 30
    while len(acknowledged) < 200 and time.time() < deadline:
        acknowledged.append(int(proc.stdout.readline()))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    Journal(tmp_path).record([pay("pi_after", amount="1.00")])  # repairs a torn tail, if any
    rows = rows_in(tmp_path / FILE)
    refs = [r["ref"] for r in rows]
    assert len(refs) == len(set(refs))  # nothing twice
    assert {f"pi_{i}" for i in acknowledged} <= set(refs)  # nothing acknowledged lost
    assert refs[-1] == "pi_after" and all(r["amount"] in ("2.50", "1.00") for r in rows)


HEADER = "date,customer_id,type,ref,amount,currency,due_date,applies_to,memo\n"


def test_the_build_shows_processing_then_settled_and_owes_again_after_a_failure(project):
    project.write("a.csv", HEADER + "2026-10-01,C1,invoice,INV-1,100.00,,2026-10-31,,\n"
                                    "2026-10-01,C1,invoice,INV-2,40.00,,2026-10-31,,\n")
    j = Journal(project.ledger)
    j.record([Row(D, "C1", "payment", "pi_ach", Decimal("100.00"), "USD", "processing", applies_to="INV-1")])
    project.build()
    page = project.page_for("C1")
    assert "$40.00" in page and '<span class="badge">processing</span>' in page
    assert "$100.00 in bank payments is processing" in page
    j.record([Row(D, "C1", "payment", "pi_ach", Decimal("100.00"), "USD", "succeeded", applies_to="INV-1")])
    r = project.build()
    assert r.mode == "incremental" and r.written == 1
    page = project.page_for("C1")
    assert "$40.00" in page and "processing" not in page
    j.record([Row(D, "C1", "payment", "pi_2", Decimal("40.00"), "USD", "processing", applies_to="INV-2"),
              Row(D, "C1", "payment", "pi_2", Decimal("40.00"), "USD", "failed", applies_to="INV-2")])
    project.build()
    incremental = project.page_for("C1")
    assert "$40.00" in incremental  # the failed bank payment is owed again
    project.build(full_build=True)
    assert project.page_for("C1") == incremental


# A row the payment service recorded never makes a build fail.

def test_a_recorded_payment_of_a_customer_removed_since_is_a_warning_not_a_failed_build(project, capsys):
    from portal.cli import main
    project.write("a.csv", HEADER + "2026-10-01,C1,invoice,INV-1,100.00,,2026-10-31,,\n"
                                    "2026-10-01,C2,invoice,INV-2,10.00,EUR,2026-10-31,,\n")
    Journal(project.ledger).record([Row(D, "C2", "payment", "pi_gone", Decimal("10.00"), "EUR")])
    project.build()
    project.write("customers.csv", "customer_id,name,email,currency,terms_days,link_version\n"
                                   "C1,First Customer,ap@first.example,USD,30,1\n")
    project.write("a.csv", HEADER + "2026-10-01,C1,invoice,INV-1,100.00,,2026-10-31,,\n")
    assert main(["--root", str(project.root), "build", "--as-of", "2026-11-25"]) == 0  # incremental: C2 is gone
    err = capsys.readouterr().err
    assert f"warning: content/ledger/{FILE}: customer C2, no longer in customers.csv, has 1 row(s)" in err
    for args in (["build", "--full", "--as-of", "2026-11-25"], ["check"]):
        assert main(["--root", str(project.root), *args]) == 0
        err = capsys.readouterr().err
        assert f"warning: content/ledger/{FILE}:2: unknown customer 'C2'" in err and "1 warning" in err


def test_a_recorded_payment_for_an_invoice_staff_removed_pays_oldest_first(project):
    project.write("a.csv", HEADER + "2026-10-01,C1,invoice,INV-1,100.00,,2026-10-31,,\n"
                                    "2026-10-05,C1,invoice,INV-2,40.00,,2026-11-30,,\n")
    Journal(project.ledger).record([Row(D, "C1", "payment", "pi_1/INV-2", Decimal("40.00"), "USD", applies_to="INV-2")])
    project.build()
    project.write("a.csv", HEADER + "2026-10-01,C1,invoice,INV-1,100.00,,2026-10-31,,\n"
                                    "2026-10-05,C1,invoice,INV-3,40.00,,2026-11-30,,\n")  # INV-2 renumbered
    r = project.build()
    assert any("applies to INV-2, which C1 no longer has" in str(w) for w in r.warnings)
    assert "$100.00" in project.page_for("C1")  # 140 owed, 40 paid: the oldest item is part-paid


def test_a_recorded_payment_staff_also_typed_by_hand_counts_once(project):
    project.write("a.csv", HEADER + "2026-10-01,C1,invoice,INV-1,100.00,,2026-10-31,,\n"
                                    "2026-11-20,C1,payment,pi_both,60.00,,,,entered from the bank statement\n")
    Journal(project.ledger).record([Row(D, "C1", "payment", "pi_both", Decimal("60.00"), "USD")])
    r = project.build()
    assert [w.message.split(":")[0] for w in r.warnings] == ["payment pi_both of C1 is recorded by hand too"]
    from portal.build.lookup import customer_accounts
    _, (acct,) = customer_accounts(project.settings(), "C1", date(2026, 11, 25))
    assert acct.balance == Decimal("40.00")
    assert project.build(full_build=True).warnings == r.warnings


def test_a_row_being_appended_while_the_build_reads_is_not_read(project):
    project.write("a.csv", HEADER + "2026-10-01,C1,invoice,INV-1,100.00,,2026-10-31,,\n")
    Journal(project.ledger).record([Row(D, "C1", "payment", "pi_1", Decimal("10.00"), "USD")])
    with open(project.ledger / FILE, "a") as f:
        f.write("2026-11-20,C1,payment,pi_2,1234.5")  # the service is mid-append: 1234.56 is coming
    r = project.build()
    assert r.warnings == []
    from portal.build.lookup import customer_accounts
    _, (acct,) = customer_accounts(project.settings(), "C1", date(2026, 11, 25))
    assert acct.balance == Decimal("90.00")


def test_rows_appended_while_a_build_reads_are_read_by_the_next_build_once(project, monkeypatch):
    """The payment service appends while a build runs: the build reads the file as far as the size
    it records, and the next build reads what was appended after that, once. (Read to the end, a
    row appended between the two was read by both: "refund re_… recorded twice", seen in a demo.)"""
    from portal.build import run
    project.write("a.csv", HEADER + "2026-10-01,C1,invoice,INV-1,100.00,,2026-10-31,,\n")
    j = Journal(project.ledger)
    j.record([Row(D, "C1", "payment", "pi_1", Decimal("10.00"), "USD")])
    project.build()
    j.record([Row(D, "C1", "payment", "pi_2", Decimal("20.00"), "USD")])
    real = run.changed_inputs

    def then_a_payment(settings, head, meanwhile=None):  # the service appends just after the build looked at the files
        found = real(settings, head, meanwhile)
        j.record([Row(D, "C1", "payment", "pi_3", Decimal("30.00"), "USD")])
        return found
    monkeypatch.setattr(run, "changed_inputs", then_a_payment)
    assert project.build().mode == "incremental"  # reads pi_2
    monkeypatch.setattr(run, "changed_inputs", real)
    assert project.build().mode == "incremental"  # reads pi_3, once
    from portal.build.lookup import customer_accounts
    assert customer_accounts(project.settings(), "C1", date(2026, 11, 25))[1][0].balance == Decimal("40.00")
    page = project.page_for("C1")
    project.build(full_build=True)
    assert project.page_for("C1") == page
