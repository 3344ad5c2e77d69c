"""The contact log: notes and promises appended safely; promises are open until their date."""
from __future__ import annotations

import csv
from datetime import date, timedelta
from decimal import Decimal

from portal.cli import main
from portal.ledger import contacts


def test_note_with_a_promise_is_logged(project, capsys):
    due = date.today() + timedelta(days=10)
    assert main(["--root", str(project.root), "note", "C1", "Called AP; cheque next week",
                 "--channel", "call", "--promise-date", due.isoformat(), "--promise-amount", "1,250.5"]) == 0
    assert f"promise of 1250.50 USD by {due}" in capsys.readouterr().out
    (c,) = contacts.read(project.ledger)
    assert (c.customer_id, c.channel, c.note, c.promise_date, c.promise_amount) == (
        "C1", "call", "Called AP; cheque next week", due, Decimal("1250.50"))
    assert contacts.open_promise([c], "C1", date.today()) == c
    assert contacts.open_promise([c], "C1", due + timedelta(days=1)) is None  # broken once its date passes


def test_bad_notes_are_refused_and_nothing_written(project, capsys):
    root = str(project.root)
    assert main(["--root", root, "note", "C9", "hello"]) == 1
    assert main(["--root", root, "note", "C1", "x", "--promise-date", "2026-12-01"]) == 1
    assert main(["--root", root, "note", "C1", "x", "--promise-date", "2026-12-01", "--promise-amount", "lots"]) == 1
    err = capsys.readouterr().err
    assert "no customer 'C9'" in err and "needs both" in err and "'lots' is not an amount" in err
    assert not (project.ledger / contacts.FILE).exists()


def test_spreadsheet_formulas_in_notes_are_neutralised_and_the_build_ignores_the_log(project):
    contacts.append(project.ledger, [contacts.Contact(date.today(), "C1", "note", "=HYPERLINK(\"http://x\")")])
    with open(project.ledger / contacts.FILE, newline="") as f:
        (row,) = list(csv.DictReader(f))
    assert row["note"].startswith("'=")
    project.write("a.csv", "date,customer_id,type,ref,amount\n2026-10-01,C1,invoice,INV-1,5.00\n")
    assert project.build().customers == 2  # contacts.csv is not read as ledger entries


def test_a_torn_last_line_does_not_swallow_the_next_contact(project):
    contacts.append(project.ledger, [contacts.Contact(date.today(), "C1", "note", "first")])
    with open(project.ledger / contacts.FILE, "a") as f:
        f.write("2026-11-25,C1,note,,,half a ro")  # a crash mid-write
    contacts.append(project.ledger, [contacts.Contact(date.today(), "C2", "note", "second")])
    assert [c.note for c in contacts.read(project.ledger)][-1] == "second"
