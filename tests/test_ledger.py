"""Reading the ledger folder: every problem located as path:line, all of them at once; real exports read."""
from __future__ import annotations

import csv
import io
import textwrap
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal.build.run import build, check
from portal.cli import main
from portal.core.records import Entry, InputError
from portal.ledger import reading as ledger
from portal.ledger import settings as settings_module

AS_OF = date(2026, 11, 25)
HEADER = "date,customer_id,type,ref,amount,currency,due_date,applies_to,memo\n"
CUSTOMERS_WITH_C3 = """\
customer_id,name,email,currency,terms_days,link_version
C1,First Customer,ap@first.example,USD,30,1
C2,Second Customer,ap@second.example,EUR,30,1
C3,Third Customer,ap@third.example,USD,,1
"""


def problems(project) -> list[str]:
    """What check() reports, as printed (it must report something)."""
    with pytest.raises(InputError) as e:
        check(project.settings(), AS_OF)
    return [str(p) for p in e.value.problems]


def only_problem(project) -> str:
    (p,) = problems(project)
    return p


def entries(project) -> list[Entry]:
    """The entries of every file, as the reader makes them; check() must find nothing wrong."""
    s = project.settings()
    check(s, AS_OF)
    customers, _, _, found = ledger.read_customers(s)
    reader = ledger.EntryReader(s, customers)
    out = []
    for path in ledger.entry_files(s):
        name = ledger.rel(path, s)
        lines, cols, more = reader.open(path, name)
        found += more
        out += [reader.entry(fields, cols, name, i + 1, found) for i, fields in ledger.records(lines)]
    assert found == []
    return out


def rows(text: str) -> str:
    """An entry file: our header, then the rows (dedented)."""
    return HEADER + textwrap.dedent(text)


def append_settings(project, text: str) -> None:
    path = project.root / "content" / "settings.toml"
    path.write_text(path.read_text() + text)


# -- one problem each, at its line ---------------------------------------------------------------

ONE_ROW = [
    pytest.param("2026-11-01,C9,invoice,INV-1,5.00,,,,", "unknown customer 'C9'", id="unknown customer"),
    pytest.param("2026-11-01,,invoice,INV-1,5.00,,,,", "empty customer_id", id="empty customer"),
    pytest.param("2026-11-01,  ,invoice,INV-1,5.00,,,,", "empty customer_id", id="blank customer"),
    pytest.param("2026-02-30,C1,invoice,INV-1,5.00,,,,", "date '2026-02-30' is not a date (expected %Y-%m-%d)",
                 id="impossible date"),
    pytest.param("01/11/2026,C1,payment,PAY-1,5.00,,,,", "date '01/11/2026' is not a date", id="other date form"),
    pytest.param("2026-11-01,C1,invoice,INV-1,ten,,,,", "amount 'ten' is not an amount", id="junk amount"),
    pytest.param("2026-11-01,C1,invoice,INV-1,,,,,", "amount empty amount", id="empty amount"),
    pytest.param("2026-11-01,C1,invoice,INV-1,1,234.50,,,,", "10 fields but the header has 9 (a comma inside "
                 "an unquoted field?)", id="unquoted thousands"),
    pytest.param('2026-11-01,C1,invoice,INV-1,"12,34",,,,', "amount '12,34' is not an amount", id="decimal comma"),
    pytest.param("2026-11-01,C1,invoice,INV-1,1.5E+03,,,,", "amount '1.5E+03' is not an amount", id="exponent"),
    pytest.param("2026-11-01,C1,invoice,INV-1," + "9" * 30 + ",,,,", "is too large an amount", id="huge amount"),
    pytest.param("2026-11-01,C1,payment,PAY-1,0,,,,", "payment amount 0 must be positive", id="zero payment"),
    pytest.param("2026-11-01,C1,invoice,INV-1,0.00,,,,", "invoice amount 0.00 must be positive", id="zero invoice"),
    pytest.param("2026-11-01,C1,invoice,INV-1,0.001,,,,", "amount '0.001' has more decimals than USD has (2); "
                 "it is not rounded to 0.00 unless [ledger] round_amounts = true", id="more decimals than USD"),
    pytest.param("2026-11-01,C1,invoice,INV-1,12.345,,,,", "amount '12.345' has more decimals than USD has (2); "
                 "it is not rounded to 12.35 unless [ledger] round_amounts = true", id="a tenth of a cent"),
    pytest.param("2026-11-01,C1,credit,CN-1,-5.00,,,,", "credit amount -5.00 must be positive", id="negative credit"),
    pytest.param("2026-11-01,C1,writeoff,WO-1,(5.00),,,,", "writeoff amount (5.00) must be positive",
                 id="negative writeoff"),
    pytest.param("2026-11-01,C1,refund,RF-1,-1,,,,", "refund amount -1 must be positive", id="negative refund"),
    pytest.param("2026-11-01,C1,adjustment,ADJ-1,0.00,,,,", "adjustment of zero", id="zero adjustment"),
    pytest.param("2026-11-01,C1,invoyce,INV-1,5.00,,,,", "unknown type 'invoyce' (expected one of invoice, credit, "
                 "payment, refund, adjustment, writeoff; an export's own name for one of these is mapped under "
                 "[ledger.types] in content/settings.toml, in the form \"invoyce\" = \"payment\")", id="unknown type"),
    pytest.param("2026-11-01,C1,,INV-1,5.00,,,,", "unknown type ''", id="empty type"),
    pytest.param("2026-11-01,C1,invoice,INV-1,5.00,XYZ,,,", "unknown currency 'XYZ'", id="unknown currency"),
    pytest.param("2026-11-01,C1,invoice,,5.00,,,,", "invoice without a ref", id="invoice without ref"),
    pytest.param("2026-11-01,C1,credit,,5.00,,,,", "credit without a ref", id="credit without ref"),
    pytest.param("2026-11-01,C1,invoice,INV-1,5.00,,2026-10-31,,", "due_date 2026-10-31 is before the invoice "
                 "date 2026-11-01", id="due before date"),
    pytest.param("2026-11-01,C1,invoice,INV-1,5.00,,next week,,", "due_date 'next week' is not a date",
                 id="junk due date"),
    pytest.param("2026-11-01,C1,invoice,INV-1,5.00,,,INV-0,", "invoice cannot apply to another entry",
                 id="applies_to on invoice"),
    pytest.param("2026-11-01,C1,adjustment,ADJ-1,5.00,,,INV-0,", "adjustment cannot apply to another entry",
                 id="applies_to on adjustment"),
    pytest.param("2026-11-01,C1,payment,PAY-1,5.00,,,INV-404,", "payment applies to unknown invoice INV-404 "
                 "(expected one of C1's invoice refs)", id="applies_to unknown invoice"),
    pytest.param("2026-11-01,C1,writeoff,WO-1,5.00,,,INV-404,", "writeoff applies to unknown invoice INV-404",
                 id="write-off applies_to unknown invoice"),
    pytest.param("2026-11-01,C1,refund,RF-1,5.00,,,PAY-404,", "refund applies to PAY-404, which is not a payment "
                 "or credit of C1", id="refund of unknown payment"),
    pytest.param("2026-11-01,C1,invoice,INV-1,5.00,,,,Widgets,extra", "10 fields but the header has 9",
                 id="too many fields"),
]


@pytest.mark.parametrize("row, message", ONE_ROW)
def test_each_bad_row_is_reported_at_its_line(project, row, message):
    project.write("2026-11.csv", HEADER + "2026-10-01,C1,invoice,INV-7,1.00,,,,fine\n" + row + "\n")
    problem = only_problem(project)
    assert problem.startswith("content/ledger/2026-11.csv:3: ")
    assert message in problem


def test_unknown_currency_in_customers_csv_is_reported_at_its_line(project):
    project.write("customers.csv", """\
        customer_id,name,email,currency,terms_days,link_version
        C1,First Customer,ap@first.example,USD,30,1
        C2,Second Customer,ap@second.example,EURO,30,1
        """)
    assert problems(project) == [
        "content/ledger/customers.csv:3: unknown currency 'EURO' (expected an ISO 4217 code such as USD)"]


def test_invoice_without_due_date_needs_the_customers_terms(project):
    project.write("customers.csv", CUSTOMERS_WITH_C3)
    project.write("a.csv", rows("""\
        2026-11-01,C3,invoice,INV-1,5.00,,,,
        2026-11-01,C3,invoice,INV-2,5.00,,2026-12-01,,
        2026-11-01,C1,invoice,INV-3,5.00,,,,
        """))
    assert problems(project) == [
        "content/ledger/a.csv:2: invoice INV-1 has no due_date and customer C3 has no terms_days "
        "(expected one or the other)"]


def test_invoice_due_date_comes_from_terms_days(project):
    project.write("a.csv", HEADER + "2026-11-01,C1,invoice,INV-1,5.00,,,,\n")
    (e,) = entries(project)
    assert e.due_date == date(2026, 12, 1)


def test_duplicate_invoice_ref_of_one_customer_names_the_first(project):
    project.write("a.csv", rows("""\
        2026-10-01,C1,invoice,INV-1,5.00,,,,
        2026-10-02,C1,invoice,INV-2,5.00,,,,
        2026-10-03,C1,invoice,INV-1,7.00,,,,
        """))
    assert problems(project) == [
        "content/ledger/a.csv:4: duplicate invoice ref INV-1 (first at content/ledger/a.csv:2)"]


def test_duplicate_invoice_ref_of_two_customers_names_the_first(project):
    project.write("a.csv", rows("""\
        2026-10-01,C1,invoice,INV-1,5.00,,,,
        2026-10-03,C2,invoice,INV-1,7.00,,,,
        """))
    assert problems(project) == [
        "content/ledger/a.csv:3: duplicate invoice ref INV-1 (first at content/ledger/a.csv:2)"]


def test_duplicate_invoice_ref_across_two_files_names_the_first_file(project):
    project.write("2026-10.csv", HEADER + "2026-10-01,C1,invoice,INV-1,5.00,,,,\n")
    project.write("2026-11.csv", rows("""\
        2026-11-01,C1,invoice,INV-2,5.00,,,,
        2026-11-02,C1,invoice,INV-1,5.00,,,,
        2026-11-03,C2,invoice,INV-1,5.00,,,,
        """))
    assert problems(project) == [
        "content/ledger/2026-11.csv:3: duplicate invoice ref INV-1 (first at content/ledger/2026-10.csv:2)",
        "content/ledger/2026-11.csv:4: duplicate invoice ref INV-1 (first at content/ledger/2026-10.csv:2)",
    ]


def test_payment_applied_to_another_customers_invoice_names_that_customer(project):
    project.write("a.csv", rows("""\
        2026-10-01,C2,invoice,INV-1,5.00,USD,,,
        2026-10-02,C1,payment,PAY-1,5.00,,,INV-1,
        """))
    assert problems(project) == [
        "content/ledger/a.csv:3: payment of C1 applies to INV-1, which is customer C2's invoice "
        "(expected one of C1's invoices)"]


def test_payment_in_another_currency_than_its_invoice(project):
    project.write("a.csv", rows("""\
        2026-10-01,C1,invoice,INV-1,5.00,,,,
        2026-10-02,C1,credit,CN-1,5.00,EUR,,INV-1,
        """))
    assert problems(project) == [
        "content/ledger/a.csv:3: credit in EUR applies to INV-1, which is in USD (expected the same currency)"]


def test_refund_must_apply_to_a_payment_or_credit(project):
    project.write("a.csv", rows("""\
        2026-10-01,C1,invoice,INV-1,5.00,,,,
        2026-10-02,C1,payment,PAY-1,9.00,,,INV-1,
        2026-10-02,C1,credit,CN-1,1.00,,,,
        2026-10-03,C1,refund,RF-1,4.00,,,PAY-1,
        2026-10-03,C1,refund,RF-2,1.00,,,CN-1,
        2026-10-04,C1,refund,RF-3,1.00,,,INV-1,
        """))
    assert problems(project) == [
        "content/ledger/a.csv:7: refund applies to INV-1, which is not a payment or credit of C1 "
        "(expected a payment or credit ref)"]


def test_the_same_payment_in_two_overlapping_exports_is_reported(project):
    project.write("2026-10.csv", rows("""\
        2026-10-01,C1,invoice,INV-1,50.00,,,,
        2026-10-30,C1,payment,PAY-1,20.00,,,INV-1,
        """))
    project.write("2026-11.csv", rows("""\
        2026-10-30,C1,payment,PAY-1,20.00,,,INV-1,
        2026-11-02,C1,payment,PAY-2,20.00,,,INV-1,
        """))
    assert problems(project) == [
        "content/ledger/2026-11.csv:2: payment PAY-1 recorded twice (first at content/ledger/2026-10.csv:3; "
        "an overlapping export?)"]


def test_missing_columns_are_reported_on_line_1(project):
    project.write("a.csv", "Date,Customer,Kind,Total\n2026-10-01,C1,invoice,5.00\n")
    project.write("b.csv", "date,customer_id,type,ref\n2026-10-01,C1,invoice,INV-1\n")
    project.write("c.csv", "")
    assert problems(project) == [
        "content/ledger/a.csv:1: missing columns customer_id, type, amount (header has: Date,Customer,Kind,Total)",
        "content/ledger/b.csv:1: missing column amount (header has: date,customer_id,type,ref)",
        "content/ledger/c.csv:1: empty file (expected a header row: date,customer_id,type,amount)",
    ]


def test_file_that_is_not_utf8_is_reported_at_the_line_of_the_bad_byte(project):
    (project.ledger / "a.csv").write_bytes(
        HEADER.encode() + b"2026-10-01,C1,invoice,INV-1,5.00,,,,\n2026-10-02,C1,invoice,INV-2,5.00,,,,Caf\xe9\n")
    assert problems(project) == [
        "content/ledger/a.csv:3: not UTF-8 text (byte 0xe9; export the file as UTF-8 CSV)"]


def test_file_with_a_bom_that_is_not_utf8_is_reported_at_the_line_of_the_bad_byte(project):
    (project.ledger / "a.csv").write_bytes(
        b"\xef\xbb\xbf" + HEADER.encode() + b"2026-10-01,C1,invoice,INV-1,5.00,,,,\n"
        b"2026-10-02,C1,invoice,INV-2,5.00,,,,Caf\x92s\n")
    assert problems(project) == [
        "content/ledger/a.csv:3: not UTF-8 text (byte 0x92; export the file as UTF-8 CSV)"]


# -- customers.csv -------------------------------------------------------------------------------

def test_customers_csv_problems_are_reported_together_at_their_lines(project):
    project.write("customers.csv", """\
        customer_id,name,email,currency,terms_days,link_version
        C1,First Customer,ap@first.example,USD,30,1
        C2,Second Customer,ap@second.example,EUR,30,1
        C1,First Again,again@first.example,USD,30,1
        C4,Fourth,not-an-email,USD,30,1
        C5,Fifth,ap@fifth example,USD,30,1
        C6,Sixth,ap@sixth.example,USD,thirty,1
        C7,Seventh,ap@seventh.example,USD,-1,1
        C8,Eighth,ap@eighth.example,USD,30,0
        C9,Ninth,ap@ninth.example,USD,30,v2
        ,Nobody,ap@nobody.example,USD,30,1
        """)
    assert problems(project) == [
        "content/ledger/customers.csv:4: duplicate customer_id C1 (first on line 2)",
        "content/ledger/customers.csv:5: email 'not-an-email' is not an email address (expected name@domain, "
        "or nothing)",
        "content/ledger/customers.csv:6: email 'ap@fifth example' is not an email address (expected name@domain, "
        "or nothing)",
        "content/ledger/customers.csv:7: terms_days 'thirty' is not a whole number of days",
        "content/ledger/customers.csv:8: terms_days '-1' is not a whole number of days",
        "content/ledger/customers.csv:9: link_version '0' is not a whole number ≥ 1",
        "content/ledger/customers.csv:10: link_version 'v2' is not a whole number ≥ 1",
        "content/ledger/customers.csv:11: empty customer_id (expected the customer's account id)",
    ]


def test_missing_customers_csv_is_reported_and_entries_are_still_checked(project):
    (project.ledger / "customers.csv").unlink()
    project.write("a.csv", HEADER + "2026-10-01,C1,invoice,INV-1,oops,,,,\n")
    assert problems(project) == [
        "content/ledger/a.csv:2: amount 'oops' is not an amount (expected a decimal such as 1234.50)",
        "content/ledger/a.csv:2: unknown customer 'C1' (expected a customer_id from customers.csv)",
        "content/ledger/customers.csv: customers file not found (expected customer_id,name,email,...)",
    ]


# -- everything at once --------------------------------------------------------------------------

def test_every_problem_in_every_file_is_reported_together_in_order(project):
    project.write("customers.csv", CUSTOMERS_WITH_C3)
    project.write("a.csv", rows("""\
        2026-10-01,C1,invoice,INV-1,100.00,,,,fine
        2026-10-02,C9,invoice,INV-2,50.00,,,,
        2026-10-03,C1,invoice,INV-1,60.00,,,,
        2026-10-32,C1,payment,PAY-1,10.00,,,,

        2026-10-05,C1,payment,PAY-2,ten,,,,
        2026-10-06,C1,payment,PAY-3,-5.00,,,,
        2026-10-07,C1,paymnt,PAY-4,5.00,,,,
        2026-10-08,C2,invoice,INV-3,5.00,,,,fine
        2026-10-09,C1,payment,PAY-5,5.00,,,INV-3,
        2026-10-10,C1,invoice,INV-4,5.00,,2026-10-01,,"due, early"
        2026-10-11,C1,invoice,INV-5,5.00,,,,"a, b",extra
        """))
    project.write("b.csv", rows("""\
        2026-10-01,C1,payment,PAY-9,5.00,,,INV-404,
        2026-10-02,C1,payment,PAY-10,5.00,EUR,,INV-1,
        2026-10-03,C3,invoice,INV-5,5.00,,,,
        2026-10-04,,invoice,INV-6,5.00,,,,
        2026-10-05,C1,invoice,,5.00,XYZ,,,
        2026-10-06,C1,refund,RF-1,5.00,,,INV-1,
        2026-10-07,C2,invoice,INV-1,5.00,,,,
        2026-10-08,C1,adjustment,ADJ-1,0,,,,
        """))
    a, b = "content/ledger/a.csv", "content/ledger/b.csv"
    assert problems(project) == [
        f"{a}:3: unknown customer 'C9' (expected a customer_id from customers.csv)",
        f"{a}:4: duplicate invoice ref INV-1 (first at {a}:2)",
        f"{a}:5: date '2026-10-32' is not a date (expected %Y-%m-%d)",
        f"{a}:7: amount 'ten' is not an amount (expected a decimal such as 1234.50)",
        f"{a}:8: payment amount -5.00 must be positive (only an adjustment may be negative)",
        f"{a}:9: unknown type 'paymnt' (expected one of invoice, credit, payment, refund, adjustment, writeoff; "
        "an export's own name for one of these is mapped under [ledger.types] in content/settings.toml, in the form "
        '"paymnt" = "payment")',
        f"{a}:11: payment of C1 applies to INV-3, which is customer C2's invoice (expected one of C1's invoices)",
        f"{a}:12: due_date 2026-10-01 is before the invoice date 2026-10-10",
        f"{a}:13: 10 fields but the header has 9 (a comma inside an unquoted field?)",
        f"{b}:2: payment applies to unknown invoice INV-404 (expected one of C1's invoice refs)",
        f"{b}:3: payment in EUR applies to INV-1, which is in USD (expected the same currency)",
        f"{b}:4: invoice INV-5 has no due_date and customer C3 has no terms_days (expected one or the other)",
        f"{b}:5: empty customer_id (expected a customer_id from customers.csv)",
        f"{b}:6: invoice without a ref (expected its number, e.g. INV-1001)",
        f"{b}:6: unknown currency 'XYZ' (expected an ISO 4217 code such as USD)",
        f"{b}:7: refund applies to INV-1, which is not a payment or credit of C1 (expected a payment or credit ref)",
        f"{b}:8: duplicate invoice ref INV-1 (first at {a}:2)",
        f"{b}:9: adjustment of zero (expected a non-zero amount)",
    ]


def test_check_command_prints_every_problem_and_exits_1(project, capsys):
    project.write("a.csv", rows("""\
        2026-10-01,C1,invoice,INV-1,5.00,,,,
        2026-10-02,C7,invoice,INV-2,5.00,,,,
        2026-10-03,C1,payment,PAY-1,5.00,,,INV-9,
        """))
    project.write("b.csv", HEADER + "2026-10-04,C1,invoice,INV-1,1.00,,,,\n")
    assert main(["--root", str(project.root), "check"]) == 1
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        "content/ledger/a.csv:3: unknown customer 'C7' (expected a customer_id from customers.csv)",
        "content/ledger/a.csv:4: payment applies to unknown invoice INV-9 (expected one of C1's invoice refs)",
        "content/ledger/b.csv:2: duplicate invoice ref INV-1 (first at content/ledger/a.csv:2)",
        "3 problems found; nothing was written.",
    ]
    assert "ledger OK" not in captured.out


def test_check_command_reports_settings_problems_the_same_way(project, capsys):
    append_settings(project, "\n[ledger]\ndate_format = [\"%m/%d/%Y\"]\n")
    assert main(["--root", str(project.root), "check"]) == 1
    assert capsys.readouterr().err.splitlines() == [
        "content/settings.toml:11: unknown key 'date_format' in [ledger] "
        "(expected one of columns, customer_columns, date_formats, dir, round_amounts, types)",
        "1 problem found; nothing was written.",
    ]


def test_failed_build_writes_no_site_and_no_staff_links(project):
    project.write("a.csv", rows("""\
        2026-10-01,C1,invoice,INV-1,5.00,,,,
        2026-10-02,C2,invoice,INV-2,5.00,,,,
        2026-10-03,C1,payment,PAY-1,5.00,,,INV-2,
        """))
    with pytest.raises(InputError) as e:
        build(project.settings(), AS_OF)
    assert [str(p) for p in e.value.problems] == [
        "content/ledger/a.csv:4: payment of C1 applies to INV-2, which is customer C2's invoice "
        "(expected one of C1's invoices)"]
    assert not (project.root / "site").exists()
    assert not (project.root / "staff" / "links.csv").exists()


# -- settings.toml -------------------------------------------------------------------------------

def test_unknown_settings_are_reported_together_at_their_lines(project):
    append_settings(project, '\n[ledger]\ndate_format = ["%m/%d/%Y"]\n[ledger.columns]\nnum = "Num"\n[theme]\n')
    with pytest.raises(InputError) as e:
        settings_module.load(project.root)
    assert [str(p) for p in e.value.problems] == [
        "content/settings.toml:11: unknown key 'date_format' in [ledger] "
        "(expected one of columns, customer_columns, date_formats, dir, round_amounts, types)",
        "content/settings.toml:13: unknown column 'num' in [ledger.columns] "
        "(expected one of date, customer_id, type, ref, amount, currency, due_date, applies_to, memo)",
        "content/settings.toml:14: unknown section 'theme' "
        "(expected one of build, company, import, ledger, payments, portal, reminders, smtp)",
    ]


def test_settings_that_are_not_toml_are_reported(project):
    append_settings(project, "\n[ledger\ndir = 'x'\n")
    with pytest.raises(InputError) as e:
        settings_module.load(project.root)
    (p,) = e.value.problems
    assert str(p) == ("content/settings.toml:10: not valid TOML: "
                      "Expected ']' at the end of a table declaration (column 8)")


# -- real exports just work ----------------------------------------------------------------------

def test_headers_are_read_in_any_case_and_with_spaces(project):
    project.write("a.csv", """\
        Date , Customer ID,TYPE,Ref,Amount,Currency,Due Date,Applies To,MEMO
        2026-10-01,C1,Invoice,INV-1,5.00,,2026-10-31,,Widgets
        2026-10-02,C1,PAYMENT,PAY-1,5.00,,,INV-1,Cheque
        """)
    assert entries(project) == [
        Entry(date(2026, 10, 1), "C1", "invoice", "INV-1", Decimal("5.00"), "USD", date(2026, 10, 31), "",
              "Widgets", "content/ledger/a.csv", 2),
        Entry(date(2026, 10, 2), "C1", "payment", "PAY-1", Decimal("5.00"), "USD", None, "INV-1",
              "Cheque", "content/ledger/a.csv", 3),
    ]


def test_spreadsheet_export_with_bom_crlf_and_quoted_fields_keeps_line_numbers(project):
    rows = [
        "Date,Customer ID,Type,Ref,Amount,Currency,Due Date,Applies To,Memo",
        '2026-10-01,C1,Invoice,INV-1,"1,234.50",,2026-10-31,,"Widgets, large"',
        '2026-10-02,C1,Credit Memo,CN-1,25.00,,,INV-1,"first line',
        'second line, with a comma"',
        "2026-10-03,C1,Adjustment,ADJ-1,(12.00),,,,",
        "2026-10-04,C2,invoice,INV-2,\u20ac7.10,,,,",
    ]
    (project.ledger / "a.csv").write_bytes(b"\xef\xbb\xbf" + "\r\n".join(rows).encode() + b"\r\n")
    got = entries(project)
    assert [(e.line, e.type, e.ref, e.amount, e.currency) for e in got] == [
        (2, "invoice", "INV-1", Decimal("1234.50"), "USD"),
        (3, "credit", "CN-1", Decimal("25.00"), "USD"),
        (5, "adjustment", "ADJ-1", Decimal("-12.00"), "USD"),
        (6, "invoice", "INV-2", Decimal("7.10"), "EUR"),
    ]
    assert got[0].memo == "Widgets, large"
    assert got[1].memo == "first line\r\nsecond line, with a comma"
    # and a problem after the two-line record is reported at its own line
    rows.append("2026-10-05,C1,payment,PAY-1,lots,,,,")
    (project.ledger / "a.csv").write_bytes(b"\xef\xbb\xbf" + "\r\n".join(rows).encode() + b"\r\n")
    assert problems(project) == [
        "content/ledger/a.csv:7: amount 'lots' is not an amount (expected a decimal such as 1234.50)"]


def test_blank_lines_are_ignored_and_do_not_shift_line_numbers(project):
    project.write("a.csv", rows("""\

        2026-10-01,C1,invoice,INV-1,5.00,,,,
        \t
        ,,,,,,,,
         , ,,,,,,,

        2026-10-02,C1,payment,PAY-1,5.00,,,INV-9,


        """))
    assert problems(project) == [
        "content/ledger/a.csv:8: payment applies to unknown invoice INV-9 (expected one of C1's invoice refs)"]
    project.write("a.csv", HEADER + "\n2026-10-01,C1,invoice,INV-1,5.00,,,,\n,,,,,,,,\n\n")
    assert [(e.ref, e.line) for e in entries(project)] == [("INV-1", 3)]


def test_type_aliases_are_read_in_any_case(project):
    project.write("a.csv", rows("""\
        2026-10-01,C1,Bill,INV-1,50.00,,,,
        2026-10-02,C1,Credit Memo,CN-1,5.00,,,,
        2026-10-02,C1,credit note,CN-2,5.00,,,,
        2026-10-03,C1,Receipt,PAY-1,5.00,,,,
        2026-10-04,C1,Write-Off,WO-1,5.00,,,,
        2026-10-05,C1,ADJ,ADJ-1,-5.00,,,,
        """))
    assert [e.type for e in entries(project)] == ["invoice", "credit", "credit", "payment", "writeoff", "adjustment"]


QUICKBOOKS_SETTINGS = """
[ledger]
date_formats = ["%m/%d/%Y"]
[ledger.columns]
date = "Txn Date"
type = "Transaction Type"
ref = "Num"
customer_id = "Customer"
due_date = "Due Date"
amount = "Open Balance"
[ledger.types]
"Sales Receipt" = "payment"
"""


def test_quickbooks_export_is_read_through_column_mapping_and_date_formats(project):
    append_settings(project, QUICKBOOKS_SETTINGS)
    project.write("qb.csv", """\
        Txn Date,Transaction Type,Num,Customer,Due Date,Amount,Open Balance
        11/01/2026,Invoice,1001,C1,12/01/2026,"1,500.00","1,200.00"
        11/05/2026,Sales Receipt,5001,C1,,300.00,300.00
        11/09/2026,Credit Memo,CM-7,C1,,40.00,40.00
        """)
    got = entries(project)
    assert [(e.date, e.type, e.ref, e.customer_id, e.due_date, e.amount) for e in got] == [
        (date(2026, 11, 1), "invoice", "1001", "C1", date(2026, 12, 1), Decimal("1200.00")),
        (date(2026, 11, 5), "payment", "5001", "C1", None, Decimal("300.00")),
        (date(2026, 11, 9), "credit", "CM-7", "C1", None, Decimal("40.00")),
    ]
    project.write("qb.csv", """\
        Txn Date,Transaction Type,Num,Customer,Due Date,Amount,Open Balance
        2026-11-01,Invoice,1001,C1,12/01/2026,"1,500.00","1,200.00"
        """)
    assert problems(project) == [
        "content/ledger/qb.csv:2: date '2026-11-01' is not a date (expected %m/%d/%Y)"]


def test_a_file_in_our_own_format_still_reads_beside_a_mapped_export(project):
    append_settings(project, QUICKBOOKS_SETTINGS)
    project.write("qb.csv", "Txn Date,Transaction Type,Num,Customer,Due Date,Open Balance\n"
                            "11/01/2026,Invoice,1001,C1,12/01/2026,80.00\n")
    project.write("manual.csv", HEADER + "11/10/2026,C1,adjustment,ADJ-1,15.00,,,,late fee\n")
    assert [(e.path, e.ref, e.amount, e.memo) for e in entries(project)] == [
        ("content/ledger/manual.csv", "ADJ-1", Decimal("15.00"), "late fee"),
        ("content/ledger/qb.csv", "1001", Decimal("80.00"), ""),
    ]


def test_settings_types_read_the_exports_own_type_names(project):
    project.write("a.csv", rows("""\
        2026-10-03,C1,Sales Receipt,SR-1,5.00,,,,
        2026-10-04,C1,Bounced,NSF-1,5.00,,,,
        """))
    s = project.settings(type_aliases={"sales receipt": "payment", "bounced": "chargeback"})
    with pytest.raises(InputError) as e:
        check(s, AS_OF)
    # an alias to something that is not one of our types is no type at all
    assert [str(p) for p in e.value.problems] == [
        "content/ledger/a.csv:3: unknown type 'Bounced' "
        "(expected one of invoice, credit, payment, refund, adjustment, writeoff; an export's own name for one of "
        'these is mapped under [ledger.types] in content/settings.toml, in the form "Bounced" = "payment")']


@pytest.mark.parametrize("currency, text", [
    ("USD", "1234.50"), ("USD", "0.00"), ("USD", "00012.30"), ("USD", "1234.5"), ("USD", "1,234.50"),
    ("USD", "$12.00"), ("USD", " 12.00 "), ("USD", "12.000"), ("USD", "(12.00)"), ("USD", "-0.00"),
    ("USD", "\u0661\u0662.00"), ("USD", "9" * 15 + ".99"), ("USD", "9" * 16 + ".99"), ("JPY", "184000"),
    ("JPY", "0184000"), ("JPY", "184000.00"), ("KWD", "1.234"), ("KWD", "1.23"), ("EUR", "12.5e1"),
    ("USD", "12.345"), ("USD", "12.340"), ("JPY", "184000.5"), ("KWD", "1.2345")])
def test_entry_amounts_are_what_parse_amount_makes_of_the_text(project, currency, text):
    from portal.core.money import MoneyError, parse_amount
    s = project.settings()
    customers, *_ = ledger.read_customers(s)
    fields = ["2026-11-01", "C1", "adjustment", "A1", text, currency, "", "", ""]
    cols = ledger.Columns({c: i for i, c in enumerate(HEADER.strip().split(","))}, 9)
    found: list = []
    got = ledger.EntryReader(s, customers).entry(fields, cols, "x.csv", 2, found)
    try:
        expected = parse_amount(text, currency, exact=True)  # a ledger's amounts are never rounded
    except MoneyError:
        assert got is None and found
        return
    if not expected:  # an adjustment of zero is refused
        assert got is None and found
        return
    assert got is not None and str(got.amount) == str(expected) and got.amount.as_tuple() == expected.as_tuple()


def test_columns_declares_a_type_for_each_of_its_slots():
    names = ledger.LEDGER_COLUMNS + (ledger.STATUS_COLUMN, "width")
    compiled = getattr(ledger.Columns, "__mypyc_attrs__", None)  # compiled (portal/native.py): its declared fields
    if compiled is None:
        assert tuple(ledger.Columns.__annotations__) == ledger.Columns.__slots__ == names
    else:
        assert compiled == names


@pytest.mark.parametrize("odd", ["\x0c", "\x1e", "\u2028", "\x85"])
def test_characters_that_python_takes_for_line_breaks_stay_inside_their_field(project, odd):
    project.write("e.csv", HEADER + f'2026-11-01,C1,invoice,INV-1,10.00,,2026-11-30,,"a{odd}b"\r\n'
                  "2026-11-02,C1,invoice,INV-2,oops,,2026-11-30,,\n")
    lines, _ = ledger.read_lines(project.ledger / "e.csv", "e.csv")
    assert len(lines) == 3 and lines[1].endswith(f'"a{odd}b"\r\n')
    assert only_problem(project) == ("content/ledger/e.csv:3: amount 'oops' is not an amount "
                                     "(expected a decimal such as 1234.50)")


@given(st.text(alphabet='a",\n\r', max_size=40))
def test_scan_ends_each_record_where_csv_reader_does_and_finds_the_quotes_it_leaves_open(text):
    lines = io.StringIO(text, newline="").readlines()  # as read_lines splits them
    reader = csv.reader(iter(lines))
    prev = 0
    for _ in reader:
        start, prev = prev, reader.line_num
        end, opened = ledger.scan(lines, start)
        assert end == prev
        # a quote left open reads a line after the record into its field
        absorbed = (next(csv.reader(lines[start:] + ["~\n"])) or [""])[-1].endswith("~\n")
        assert (opened is not None) == absorbed
        if opened is not None:
            assert end == len(lines) and lines[opened[0]][opened[1]] == '"'


def test_records_without_a_list_for_problems_raise_them_after_the_good_records(project):
    lines = [HEADER, "2026-11-01,C1,invoice,INV-1,5.00,,,,\n", '2026-11-02,C1,invoice,INV-2,5.00,,,,"open\n', "x\n"]
    got = []
    with pytest.raises(InputError) as e:
        got += ledger.records(lines, name="a.csv")
    assert [i for i, _ in got] == [1]
    assert [str(p) for p in e.value.problems] == [
        "a.csv:3: a quoted field opens here and is never closed (every later line was read into it; "
        "close the quote or remove it)"]


def test_a_file_with_carriage_returns_for_line_ends_is_read_at_its_rows_by_an_incremental_build(project):
    (project.ledger / "a.csv").write_bytes(HEADER.replace("\n", "\r").encode() + b"2026-10-01,C1,invoice,INV-1,5.00,,,,"
                                           b'"two\rlines"\r2026-10-02,C2,invoice,INV-2,5.00,,,,\r')
    project.build(as_of=AS_OF.isoformat())
    project.write("b.csv", HEADER + "2026-11-01,C1,payment,P1,1.00,,,INV-1,\n")
    assert project.build(as_of=AS_OF.isoformat()).mode == "incremental"
    assert "$4.00" in project.page_for("C1") and "two\nlines" in project.page_for("C1")


@given(st.text(alphabet='a",\n\r', max_size=40))
def test_a_record_read_at_its_byte_offset_is_the_record_a_reader_of_the_whole_file_reads(text):
    lines = io.StringIO(text, newline="").readlines()
    offsets = [0, *map(len, lines)]
    data = text.encode()
    reader = csv.reader(iter(lines))
    prev = 0
    for fields in reader:
        start, prev = prev, reader.line_num
        assert ledger.record_at_offset(data, sum(offsets[:start + 1])) == fields


def test_a_quote_inside_an_unquoted_memo_is_read_at_its_row_by_an_incremental_build(project):
    project.write("a.csv", HEADER + '2026-10-01,C1,invoice,INV-1,5.00,,,,12" pipe\n'
                                    '2026-10-02,C2,invoice,INV-2,5.00,,,,\n')
    project.build(as_of=AS_OF.isoformat())
    project.write("b.csv", HEADER + "2026-11-01,C1,payment,P1,1.00,,,INV-1,\n")
    assert project.build(as_of=AS_OF.isoformat()).mode == "incremental"
    assert "$4.00" in project.page_for("C1") and "12&#34; pipe" in project.page_for("C1")


def test_an_exports_own_status_column_is_not_the_payment_services(project):
    """Xero's and most invoicing products' exports have a Status (Draft, Paid, Void): not ours, ignored;
    `status` is read only in the payment service's own file."""
    project.write("a.csv", "Date,Customer ID,Type,Ref,Amount,Status,Due Date\n"
                  "2026-10-01,C1,invoice,INV-1,100.00,Awaiting Payment,2026-10-31\n"
                  "2026-10-02,C1,payment,P-1,40.00,Paid,\n")
    s = project.settings()
    check(s, AS_OF)
    customers, *_ = ledger.read_customers(s)
    reader = ledger.EntryReader(s, customers)
    lines, cols, problems = reader.open(s.ledger_dir / "a.csv", "content/ledger/a.csv")
    found: list = []
    entries = [reader.entry(f, cols, "content/ledger/a.csv", i + 2, found)
               for i, f in enumerate(ledger.csv.reader(lines[1:]))]
    assert not problems and not found and [(e.amount, e.status) for e in entries] == [
        (Decimal("100.00"), ""), (Decimal("40.00"), "")]


def test_an_invoice_number_on_rows_one_after_another_suggests_a_line_item_export(project):
    project.write("a.csv", rows("""\
        2026-10-01,C1,invoice,INV-1,5.00,,,,Widgets
        2026-10-01,C1,invoice,INV-1,7.00,,,,Shipping
        2026-10-01,C1,invoice,INV-1,1.00,,,,Tax
        """))
    assert problems(project) == [
        "content/ledger/a.csv:3: duplicate invoice ref INV-1 (first at content/ledger/a.csv:2; rows one after another "
        "with one invoice number look like a line-item export, a row per invoice line: export an invoice list "
        "instead, one row per invoice with its total)",
        "content/ledger/a.csv:4: duplicate invoice ref INV-1 (first at content/ledger/a.csv:2)"]
