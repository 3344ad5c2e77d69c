"""Exports as accounting products write them, imported with no customers.csv and no script; balances
and buckets checked against the fixtures' own oracle (tests/fixtures/exports/oracle.py, expected.json)."""
from __future__ import annotations

import base64
import json
import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from portal.build.lookup import accounts_of, current_state
from portal.cli import main
from portal.core.records import InputError
from portal.core.signing import Signer, load_keys
from portal.imports import convert as cv
from portal.imports import run as imports
from portal.ledger import reading as ledger

FIXTURES = Path(__file__).parent / "fixtures" / "exports"
EXPECTED = json.loads((FIXTURES / "expected.json").read_text())["files"]
PRESET_OF = {name: name.removesuffix(".csv") for name in (
    "quickbooks-invoice-list.csv", "quickbooks-ar-aging-detail.csv", "quickbooks-transaction-list-by-customer.csv",
    "xero-invoices.csv", "xero-aged-receivables-detail.csv", "zoho-invoices.csv", "freshbooks-invoice-details.csv",
    "invoice2go-invoices.csv", "invoicely-invoices.csv", "sage-customer-transactions.csv",
    "wave-account-transactions.csv")}  # each fixture is named for its preset


@pytest.fixture
def exports(project):
    """The project with no customers.csv and an exports folder."""
    (project.ledger / "customers.csv").unlink(missing_ok=True)
    folder = project.root / "content" / "exports"
    folder.mkdir()
    return folder


@pytest.mark.parametrize("fixture", sorted(PRESET_OF))
def test_each_export_is_detected_as_its_preset(fixture):
    records, problems = imports.read_export(FIXTURES / fixture, fixture)
    assert not problems and [p.name for p in imports.detect(records)][:1] == [PRESET_OF[fixture]]


HOME = {"sage-customer-transactions.csv": "GBP", "xero-aged-receivables-detail.csv": "GBP"}  # as the oracle's


@pytest.mark.parametrize("fixture", sorted(PRESET_OF))
def test_an_export_builds_statements_whose_figures_are_the_oracles(project, exports, fixture):
    settings = project.root / "content" / "settings.toml"
    settings.write_text(settings.read_text().replace('currency = "USD"', f'currency = "{HOME.get(fixture, "USD")}"'))
    shutil.copy(FIXTURES / fixture, exports / fixture)
    if fixture == "sage-customer-transactions.csv":  # the rows carry no currency: the customer record does
        project.build("2026-04-30")
        imported = (ledger.imported_dir(project.settings()) / "customers.csv").read_text()
        project.write("customers.csv", imported.replace("VDBK001,Van den Berg Koffie BV,,GBP",
                                                        "VDBK001,Van den Berg Koffie BV,,EUR"))
    spec = EXPECTED[fixture]
    for as_of in spec["as_of"]:
        project.build(as_of)
        s = project.settings()
        body = current_state(s)
        names = {c.name: c for c in ledger.read_customers(s)[0].values()}
        assert sorted(names) == sorted(spec["customers"])  # every customer the export names, void-only ones too
        got = accounts_of(s, body, [c.id for c in names.values()], date.fromisoformat(as_of))
        for name, per_currency in spec["customers"].items():
            _, accounts = got.get(names[name].id, (None, []))
            by_currency = {a.currency: a for a in accounts}
            for currency, dates in per_currency.items():
                want = dates[as_of]
                a = by_currency.get(currency)
                found = {"balance": a.balance, "unapplied_credit": a.unapplied, **a.buckets} if a else {}
                assert {k: Decimal(found.get(k, 0)) for k in want} == {k: Decimal(v) for k, v in want.items()}, \
                    (fixture, name, currency, as_of)


def test_ids_come_from_names_and_carry_none_of_the_name(project, exports):
    shutil.copy(FIXTURES / "quickbooks-invoice-list.csv", exports / "q.csv")
    project.build("2026-05-01")
    customers = ledger.read_customers(project.settings())[0]
    c = next(c for c in customers.values() if c.name == "Hill, Ross and Partners")
    assert c.id == cv.customer_id("hill,  ROSS and partners ") and c.id.startswith("C-") and "hill" not in c.id.lower()
    assert c.email == ""  # the report has none: reminders list the customer as having no usable email
    # the statement URL's token is signed, not encrypted: its payload is the id, with nothing of the name
    token = Signer(load_keys(project.settings().state_dir)).link_token(c.id, c.link_version)
    payload = base64.urlsafe_b64decode(token.split(".")[0] + "==").decode()
    assert payload == f'["{c.id}",1]' and "Hill" in project.page_for(c.id)
    assert ledger.rel(ledger.customers_path(project.settings()), project.settings()) == "content/imported/customers.csv"


def test_a_customers_csv_of_staffs_wins(project, exports):
    shutil.copy(FIXTURES / "quickbooks-invoice-list.csv", exports / "q.csv")
    project.build("2026-05-01")
    imported = ledger.imported_dir(project.settings()) / "customers.csv"
    text = imported.read_text().replace("Okafor Design Studio,,USD", "Okafor Design Studio,ap@okafor.example,USD")
    project.write("customers.csv", text)
    project.build("2026-05-01")
    customers = ledger.read_customers(project.settings())[0]
    assert next(c for c in customers.values() if c.name == "Okafor Design Studio").email == "ap@okafor.example"


def test_an_unchanged_export_is_not_imported_again_and_a_removed_one_takes_its_rows(project, exports, capsys):
    shutil.copy(FIXTURES / "xero-invoices.csv", exports / "x.csv")
    root = ["--root", str(project.root)]
    assert main([*root, "import"]) == 0
    assert "imported content/exports/x.csv as Xero: Invoices export" in capsys.readouterr().out
    assert main([*root, "import"]) == 0
    assert "no export changed since the last import" in capsys.readouterr().out
    (exports / "x.csv").unlink()
    assert main([*root, "import"]) == 0
    assert not ledger.imported_dir(project.settings()).exists()


def test_detect_says_which_export_and_how_it_is_read(project, capsys):
    assert main(["--root", str(project.root), "import", "--detect", str(FIXTURES / "zoho-invoices.csv")]) == 0
    out = capsys.readouterr().out
    assert "Zoho Books: Invoices export (preset 'zoho-invoices'" in out and "'Balance' -> balance" in out
    assert '  [import]\n  preset = "zoho-invoices"\n  date_format = "%Y-%m-%d"' in out  # the settings it would use


def test_bad_rows_are_said_at_the_exports_lines_and_nothing_is_imported(project, exports):
    text = (FIXTURES / "quickbooks-invoice-list.csv").read_text()
    row = '1002,"Hill, Ross and Partners",Retainer Q1,02/14/2026,Net 30,"5,000.00",'
    text = text.replace(f'01/15/2026,{row}"1,500.00"', f'13/15/2026,{row}"1,500.005"')
    text = text.replace("03/12/2026,1007,Pine Street Bakery,,04/11/2026,Net 30,640.50,640.50",
                        "03/12/2026,1007,Pine Street Bakery,,04/11/2026,Net 30,640.50,700.00")
    (exports / "q.csv").write_text(text)
    with pytest.raises(InputError) as e:
        project.build("2026-05-01")
    assert [str(p) for p in e.value.problems] == [
        "content/exports/q.csv:7: Date '13/15/2026' is not a date (expected %m/%d/%Y)",
        "content/exports/q.csv:7: Open balance '1,500.005' has more decimals than USD has (2); it is not rounded "
        "to 1500.01 unless [ledger] round_amounts = true",
        "content/exports/q.csv:12: 1007: 700.00 open of a total of 640.50 (expected between 0 and the total)"]
    assert not ledger.imported_dir(project.settings()).exists()


def test_line_item_rows_that_disagree_on_their_invoice_are_refused(project, exports):
    text = (FIXTURES / "xero-invoices.csv").read_text().splitlines(keepends=True)
    text[2] = text[2].replace(",918.00,153.00,918.00,0.00,", ",900.00,153.00,900.00,0.00,")  # INV-0101's 2nd line
    (exports / "x.csv").write_text("".join(text))
    with pytest.raises(InputError) as e:
        project.build("2026-05-01")
    assert [str(p) for p in e.value.problems] == [
        f"content/exports/x.csv:3: {column} '900.00' differs from '918.00' on line 2, a line of the same document "
        "'INV-0101' (expected it repeated as it is)" for column in ("InvoiceAmountPaid", "Total")]


def test_a_file_that_is_no_known_export_is_refused(project, exports):
    (exports / "mystery.csv").write_text("a,b,c\n1,2,3\n")
    with pytest.raises(InputError) as e:
        project.build("2026-05-01")
    assert str(e.value.problems[0]).startswith("content/exports/mystery.csv:1: not an export this portal knows")


@pytest.mark.parametrize("text, days", [("Net 30", 30), ("30", 30), ("net45", 45), ("60 days", 60),
                                        ("Due on receipt", 0), ("", None), ("2/10 Net 30", None)])
def test_terms(text, days):
    assert cv._terms(text) == days


def test_a_partly_paid_invoice_whose_paid_part_the_export_does_not_give_is_said(project, exports, capsys):
    shutil.copy(FIXTURES / "invoicely-invoices.csv", exports / "i.csv")
    assert main(["--root", str(project.root), "build", "--as-of", "2026-05-01", "-q"]) == 0
    assert ("warning: content/exports/i.csv:5: INV-0034 is 'Partial' but the export does not say how much was "
            "paid: counted fully open (1480.00)") in capsys.readouterr().err


def add_settings(project, text: str) -> None:
    path = project.root / "content" / "settings.toml"
    path.write_text(path.read_text() + "\n" + text)


def test_an_export_no_preset_knows_is_read_with_the_profile_the_settings_give(project, exports):
    add_settings(project, """\
[import]
date_format = "%m/%d/%Y"
not_owed = ["cancelled"]
[import.columns]
customer = "Client"
number = "Inv No"
date = "Issued"
due_date = "Due"
total = "Gross"
balance = "Outstanding"
status = "State"
""")
    (exports / "ours.csv").write_text("Client,Inv No,Issued,Due,Gross,Outstanding,State\n"
                                      "Acme Ltd,A-1,03/15/2026,04/14/2026,100.00,40.00,open\n"
                                      "Acme Ltd,A-2,03/20/2026,04/19/2026,50.00,50.00,cancelled\n")
    project.build("2026-05-01")
    s = project.settings()
    cid = cv.customer_id("Acme Ltd")
    (_, (acct,)), = accounts_of(s, current_state(s), [cid], date(2026, 5, 1)).values()
    assert (acct.balance, acct.buckets["1-30"], [i.entry.ref for i in acct.items]) == (
        Decimal("40.00"), Decimal("40.00"), ["A-1"])


def test_a_preset_named_in_the_settings_is_used_with_the_keys_given_over_its_own(project, exports):
    add_settings(project, '[import]\npreset = "invoicely-invoices"\ndate_format = "%d %b %Y"\n')
    (exports / "i.csv").write_text('"Date","Due","Details","Client","Status","Total"\n'
                                   '"05 Jan 2026","04 Feb 2026","INV-1","Alvarez & Co.","Due","2,300.00"\n')
    project.build("2026-05-01")
    s = project.settings()
    (_, (acct,)), = accounts_of(s, current_state(s), [cv.customer_id("Alvarez & Co.")], date(2026, 5, 1)).values()
    assert acct.items[0].entry.date == date(2026, 1, 5) and acct.balance == Decimal("2300.00")


def test_what_is_wrong_with_import_settings_is_said_at_its_line(project, exports):
    (exports / "i.csv").write_text("a,b\n1,2\n")
    add_settings(project, '[import]\npreset = "quickbooks"\n[import.columns]\nclient = "Client"\n')
    with pytest.raises(InputError) as e:
        project.build("2026-05-01")
    assert [str(p) for p in e.value.problems] == [
        "content/settings.toml:11: 'preset' in [import]: 'quickbooks' is not a preset (expected one of "
        + ", ".join(imports.PRESETS) + ")",
        "content/settings.toml:12: 'client' in [import.columns] is not one of our fields (expected one of "
        "customer, customer_id, email, number, document, type, status, date, due_date, terms, total, debit, credit, "
        "line_total, paid, balance, paid_date, currency, memo)"]


def test_a_journal_with_debit_and_credit_columns_keeps_its_receivables_lines(project, exports):
    """A double-entry export: the A/R lines among income and bank lines; debit is an invoice, credit a
    payment on the invoice it names (one column feeding both the invoice number and what a payment pays)."""
    add_settings(project, """\
[import]
terms_days = 30
keep = { Account = ["Accounts Receivable"] }
skip = { Memo = ["reversed"] }
negative = "payment"
negative_names_invoice = true
[import.columns]
document = "Txn"
date = "Date"
customer = "Customer"
number = "Invoice"
debit = "Debit"
credit = "Credit"
memo = "Memo"
""")
    (exports / "journal.csv").write_text(
        "Txn,Date,Account,Customer,Invoice,Debit,Credit,Memo\n"
        "1,2026-03-01,Sales,Acme Ltd,101,,500.00,\n"
        "1,2026-03-01,Accounts Receivable,Acme Ltd,101,500.00,,\n"
        "2,2026-03-05,Accounts Receivable,Acme Ltd,102,80.00,,reversed\n"
        "3,2026-03-20,Bank,Acme Ltd,101,200.00,,\n"
        "3,2026-03-20,Accounts Receivable,Acme Ltd,101,,200.00,\n")
    project.build("2026-05-01")
    s = project.settings()
    (_, (acct,)), = accounts_of(s, current_state(s), [cv.customer_id("Acme Ltd")], date(2026, 5, 1)).values()
    assert [(i.entry.ref, i.open) for i in acct.items] == [("101", Decimal("300.00"))]
    assert [(e.type, e.ref, e.applies_to) for e in acct.recent] == [("payment", "payment 3", "101")]


def test_a_documents_lines_split_up_are_refused_where_they_come_back(project, exports):
    lines = (FIXTURES / "xero-invoices.csv").read_text().splitlines(keepends=True)
    lines.insert(4, lines.pop(2))  # INV-0101's second line after INV-0102's two
    (exports / "x.csv").write_text("".join(lines))
    with pytest.raises(InputError) as e:
        project.build("2026-05-01")
    assert [str(p) for p in e.value.problems] == [
        "content/exports/x.csv:5: a line of 'INV-0101', whose lines began on line 2 and stopped (expected a "
        "document's lines one after another, as the export writes them)"]


def test_a_balance_that_is_not_the_total_less_what_was_paid_is_taken_with_a_warning(project, exports, capsys):
    text = (FIXTURES / "xero-invoices.csv").read_text()
    lines = text.splitlines(keepends=True)
    lines[3] = lines[3].replace(",2448.00,408.00,1000.00,1448.00,", ",2448.00,408.00,1000.00,1400.00,")
    lines[4] = lines[4].replace(",2448.00,408.00,1000.00,1448.00,", ",2448.00,408.00,1000.00,1400.00,")
    (exports / "x.csv").write_text("".join(lines))
    assert main(["--root", str(project.root), "build", "--as-of", "2026-05-01", "-q"]) == 0
    assert ("warning: content/exports/x.csv:4: INV-0102: total 2448.00 less paid 1000.00 is not the balance "
            "1400.00; the balance is taken") in capsys.readouterr().err


def test_an_export_made_again_after_payments_brings_the_statements_up_to_date(project, exports):
    shutil.copy(FIXTURES / "quickbooks-invoice-list.csv", exports / "q.csv")
    project.build("2026-05-01", full_build=True)
    s = project.settings()
    cid = cv.customer_id("Pine Street Bakery")
    (_, (before,)), = accounts_of(s, current_state(s), [cid], date(2026, 5, 1)).values()
    row = "03/12/2026,1007,Pine Street Bakery,,04/11/2026,Net 30,640.50,"
    text = (exports / "q.csv").read_text().replace(row + "640.50", row + "0.00")
    (exports / "q.csv").write_text(text)  # the customer paid invoice 1007; the list is exported again
    result = project.build("2026-05-01")
    assert result.mode == "incremental" and result.written == 1  # only that customer's page
    (_, (after,)), = accounts_of(s, current_state(s), [cid], date(2026, 5, 1)).values()
    assert before.balance - after.balance == Decimal("640.50") and "1007" not in {i.entry.ref for i in after.items}


def test_exports_of_two_products_needing_different_settings_sit_side_by_side(project, exports):
    """[import.files."<pattern>"]: each export read with the table its file name matches; one that
    matches none is detected (the Xero fixture here)."""
    add_settings(project, """\
[import]
terms_days = 30
[import.files."ours-*.csv"]
date_format = "%m/%d/%Y"
[import.files."ours-*.csv".columns]
customer = "Client"
number = "Inv No"
date = "Issued"
total = "Gross"
balance = "Outstanding"
[import.files."invoicely*.csv"]
preset = "invoicely-invoices"
date_format = "%d %b %Y"
""")
    (exports / "ours-2026.csv").write_text("Client,Inv No,Issued,Gross,Outstanding\n"
                                           "Acme Ltd,A-1,03/15/2026,100.00,40.00\n")
    (exports / "invoicely-jan.csv").write_text('"Date","Due","Details","Client","Status","Total"\n'
                                               '"05 Jan 2026","04 Feb 2026","INV-1","Alvarez & Co.","Due","2,300.00"\n')
    shutil.copy(FIXTURES / "xero-invoices.csv", exports / "xero.csv")
    result = project.build("2026-05-01")
    assert result.customers > 2
    s = project.settings()
    got = accounts_of(s, current_state(s), [cv.customer_id("Acme Ltd"), cv.customer_id("Alvarez & Co.")],
                      date(2026, 5, 1))
    (acme,), (alvarez,) = (accts for _, accts in got.values())
    assert acme.balance == Decimal("40.00") and acme.items[0].due == date(2026, 4, 14)  # [import]'s 30 days
    assert alvarez.items[0].entry.date == date(2026, 1, 5) and alvarez.balance == Decimal("2300.00")


def test_what_is_wrong_with_an_import_files_table_is_said_at_its_line(project, exports):
    (exports / "ours-1.csv").write_text("a,b\n1,2\n")
    add_settings(project, '[import.files."ours-*.csv"]\npreset = "quickbooks"\nlines = "yes"\n')
    with pytest.raises(InputError) as e:
        project.build("2026-05-01")
    text = [str(p) for p in e.value.problems]
    assert text[0].startswith("content/settings.toml:12: 'lines' in [import.files.\"ours-*.csv\"]: ")
    add_settings(project, 'colour = "red"\n')
    with pytest.raises(InputError) as e:
        project.build("2026-05-01")
    assert any(str(p).startswith("content/settings.toml:14: unknown key 'colour' in [import.files.\"ours-*.csv\"]")
               for p in e.value.problems)
