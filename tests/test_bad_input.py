"""Bad ledger input of every kind is reported as path:line, all of it at once (capped), never as a traceback.

Each case goes through the real entry points: `portal check`, the full build in one process and
in two workers (whose shards each read part of the rows), and the incremental build.
"""
from __future__ import annotations

import pickle

import pytest

from portal.build.full import shard_of
from portal.cli import main
from portal.core.records import CAP, InputError, Problem, Problems

HEADER = "date,customer_id,type,ref,amount,currency,due_date,applies_to,memo\n"
CUSTOMERS = """\
customer_id,name,email,currency,terms_days,link_version
C1,First Customer,ap@first.example,USD,30,1
C2,Second Customer,ap@second.example,EUR,30,1
C7,Seventh Customer,ap@seventh.example,USD,30,1
"""
OPEN = "a quoted field opens here and is never closed (every later line was read into it; close the quote or remove it)"
OPEN_AT_END = "a quoted field opens here and is never closed (close the quote or remove it)"
LONG = "a field longer than 131,072 characters (the most a field may hold: shorten it)"
HUGE = "x" * 140_000


@pytest.fixture
def project(project):
    """The shared project with a customer in each of two workers' shards."""
    assert shard_of("C1", 2) != shard_of("C7", 2)
    project.write("customers.csv", CUSTOMERS)
    return project


def check(project, capsys) -> list[str]:
    """What `portal check` prints on stderr; it must exit 1."""
    assert main(["--root", str(project.root), "check", "--as-of", "2026-11-25"]) == 1
    return capsys.readouterr().err.splitlines()


def build_problems(project, **kw) -> list[str]:
    with pytest.raises(InputError) as e:
        project.build(**kw)
    return [str(p) for p in e.value.problems]


def every_build(project) -> list[str]:
    """The problems of a full build, the same in one process and in two workers; nothing published."""
    one = build_problems(project, full_build=True, workers=1)
    assert build_problems(project, full_build=True, workers=2) == one
    assert not project.settings().out.exists()
    return one


# -- 1. a quote that is never closed -------------------------------------------------------------

def test_a_quote_never_closed_is_reported_where_it_opens_not_read_as_the_rest_of_the_file(project, capsys):
    project.write("a.csv", HEADER + "2026-10-01,C1,invoice,INV-1,10.00,,2026-10-31,,fine\n"
                  "2026-10-02,C7,invoice,INV-2,10.00,,2026-10-31,,\"a memo, over\ntwo lines\"\n"
                  '2026-10-03,C1,invoice,INV-3,10.00,,2026-10-31,,"never closed\n'
                  "2026-10-04,C7,invoice,INV-4,oops,,2026-10-31,,\n"
                  "2026-10-05,C2,payment,PAY-1,5.00,,,,\n")
    assert check(project, capsys) == [f"content/ledger/a.csv:5: {OPEN}", "1 problem found; nothing was written."]
    assert every_build(project) == [f"content/ledger/a.csv:5: {OPEN}"]


def test_a_quote_never_closed_on_the_last_line_is_reported_too(project):
    project.write("a.csv", HEADER + '2026-10-03,C7,invoice,INV-3,10.00,,2026-10-31,,"never closed')
    assert every_build(project) == [f"content/ledger/a.csv:2: {OPEN_AT_END}"]


def test_the_line_of_an_open_quote_is_where_it_opens_inside_a_record_of_several_lines(project):
    project.write("a.csv", HEADER + '2026-10-03,C7,invoice,INV-3,"10\n.00",,2026-10-31,,"never closed\n'
                  "2026-10-04,C1,invoice,INV-4,oops,,2026-10-31,,\n")
    assert every_build(project) == [f"content/ledger/a.csv:3: {OPEN}"]


def test_quoted_commas_and_line_breaks_on_the_last_row_still_read(project):
    project.write("a.csv", HEADER + '2026-10-03,C7,invoice,INV-3,"1,000.00",,2026-10-31,,"two, with ""quotes""\n'
                  'lines"\n')
    project.build(full_build=True, workers=2)
    assert 'two, with "quotes"\nlines' in project.page_for("C7").replace("&#34;", '"').replace("&#34;", '"')


def test_a_quote_never_closed_in_the_header_is_reported_on_line_1(project):
    project.write("a.csv", 'date,customer_id,type,ref,amount,"currency\n2026-10-01,C1,invoice,INV-1,5.00,\n')
    assert every_build(project) == [f"content/ledger/a.csv:1: {OPEN}"]


def test_a_quote_never_closed_in_customers_csv_is_reported_once(project):
    project.write("customers.csv", CUSTOMERS + 'C8,"Eighth,ap@eighth.example,USD,30,1\n'
                                               'C9,Ninth,ap@ninth.example,USD,30,1\n')
    assert every_build(project) == [f"content/ledger/customers.csv:5: {OPEN}"]


def test_an_incremental_build_reports_a_quote_never_closed_in_new_and_appended_rows(project):
    project.write("a.csv", HEADER + "2026-10-01,C1,invoice,INV-1,10.00,,2026-10-31,,\n")
    project.build()
    with open(project.ledger / "a.csv", "a") as f:  # appended: only the new rows are read
        f.write('2026-10-02,C7,invoice,INV-2,10.00,,2026-10-31,,"never closed\n2026-10-03,C1,payment,P-1,1.00,,,,\n')
    project.write("b.csv", HEADER + '2026-10-02,C2,invoice,INV-5,"10.00,,2026-10-31,,\n'
                                    '2026-10-03,C2,payment,P-2,1.00,,,,\n')
    both = [f"content/ledger/a.csv:3: {OPEN}", f"content/ledger/b.csv:2: {OPEN}"]
    assert build_problems(project) == both
    assert build_problems(project, full_build=True) == both


# -- 2. a field longer than the csv module takes ----------------------------------------------

def test_a_field_too_long_is_reported_at_its_line_and_the_rows_after_it_are_read(project, capsys):
    project.write("a.csv", HEADER + f"2026-10-01,C1,invoice,INV-1,10.00,,2026-10-31,,{HUGE}\n"
                  f'2026-10-02,C7,invoice,INV-2,10.00,,2026-10-31,,"quoted\n{HUGE}\nover three lines"\n'
                  "2026-10-03,C7,invoice,INV-3,oops,,2026-10-31,,\n")
    expected = [f"content/ledger/a.csv:2: {LONG}", f"content/ledger/a.csv:3: {LONG}",
                "content/ledger/a.csv:6: amount 'oops' is not an amount (expected a decimal such as 1234.50)"]
    assert check(project, capsys) == expected + ["3 problems found; nothing was written."]
    assert every_build(project) == expected


def test_a_quote_never_closed_over_more_than_the_field_limit_says_so(project):
    project.write("a.csv", HEADER + '2026-10-03,C7,invoice,INV-3,10.00,,2026-10-31,,"never closed\n'
                  + "2026-10-04,C1,invoice,INV-4,5.00,,2026-10-31,,filler\n" * 3000)
    assert every_build(project) == [f"content/ledger/a.csv:2: {OPEN}"]


def test_a_field_too_long_in_the_header_or_in_customers_csv_is_reported(project):
    project.write("a.csv", f"date,customer_id,type,ref,amount,{HUGE}\n2026-10-01,C1,invoice,INV-1,5.00,\n")
    project.write("customers.csv", CUSTOMERS + f"C8,{HUGE},ap@eighth.example,USD,30,1\n")
    assert every_build(project) == [f"content/ledger/a.csv:1: {LONG}", f"content/ledger/customers.csv:5: {LONG}"]


def test_an_incremental_build_reports_a_field_too_long_in_new_and_appended_rows(project):
    project.write("a.csv", HEADER + "2026-10-01,C1,invoice,INV-1,10.00,,2026-10-31,,\n")
    project.build()
    with open(project.ledger / "a.csv", "a") as f:
        f.write(f"2026-10-02,C7,invoice,INV-2,10.00,,2026-10-31,,{HUGE}\n2026-10-03,C1,payment,P-1,x,,,,\n")
    project.write("b.csv", HEADER + f"2026-10-02,C2,invoice,INV-5,10.00,,2026-10-31,,{HUGE}\n")
    expected = [f"content/ledger/a.csv:3: {LONG}",
                "content/ledger/a.csv:4: amount 'x' is not an amount (expected a decimal such as 1234.50)",
                f"content/ledger/b.csv:2: {LONG}"]
    assert build_problems(project) == expected
    assert build_problems(project, full_build=True) == expected


# -- 3. a column named twice -------------------------------------------------------------------

def test_a_column_named_twice_is_reported_on_line_1(project):
    project.write("a.csv", "date,customer_id,type,ref,amount,amount,currency\n2026-10-01,C1,invoice,INV-1,5.00,6.00,\n")
    project.write("b.csv", "Date,Customer ID,Type,Amount,amount,Due Date,due_date\n")
    project.write("customers.csv", "customer_id,name,email,Email\nC1,First,a@b.example,c@d.example\n")
    assert every_build(project) == [
        "content/ledger/a.csv:1: two columns are amount: 'amount' (column 5) and 'amount' (column 6) "
        "(expected one: remove or rename the other)",
        "content/ledger/b.csv:1: two columns are amount: 'Amount' (column 4) and 'amount' (column 5) "
        "(expected one: remove or rename the other)",
        "content/ledger/b.csv:1: two columns are due_date: 'Due Date' (column 6) and 'due_date' (column 7) "
        "(expected one: remove or rename the other)",
        "content/ledger/customers.csv:1: two columns are email: 'email' (column 3) and 'Email' (column 4) "
        "(expected one: remove or rename the other)",
    ]


def test_two_headers_that_the_settings_map_onto_one_column_clash(project):
    path = project.root / "content" / "settings.toml"
    path.write_text(path.read_text() + '\n[ledger.columns]\ncustomer_id = "Customer"\n'
                    '[ledger.customer_columns]\nname = "Company"\n')
    project.write("customers.csv", "customer_id,Company,email,company\nC1,First,a@b.example,First Inc\n")
    project.write("a.csv", "date,Customer,type,ref,amount,CUSTOMER\n2026-10-01,C1,invoice,INV-1,5.00,C1\n")
    assert every_build(project) == [
        "content/ledger/a.csv:1: two columns are customer_id: 'Customer' (column 2) and 'CUSTOMER' (column 6) "
        "(expected one: remove or rename the other)",
        "content/ledger/customers.csv:1: two columns are name: 'Company' (column 2) and 'company' (column 4) "
        "(expected one: remove or rename the other)",
    ]


# -- 4. at most CAP problems of a file, then one line per kind --------------------------------

def test_a_file_of_many_problems_prints_the_first_50_then_a_line_per_kind(project, capsys):
    rows = [f"2026-10-01,X{i},invoice,INV-{i},5.00,,,,\n" for i in range(120)]  # lines 2-121
    rows += [f"2026-10-02,C{1 + 6 * (i % 2)},payment,P-{i},ten,,,,\n" for i in range(30)]  # lines 122-151
    project.write("a.csv", HEADER + "".join(rows))
    project.write("b.csv", HEADER + "2026-10-01,C1,invoice,INV-A,lots,,,,\n")
    err = check(project, capsys)
    assert err[:CAP] == [f"content/ledger/a.csv:{i + 2}: unknown customer 'X{i}' (expected a customer_id from "
                         "customers.csv)" for i in range(CAP)]
    assert err[CAP:] == [
        'content/ledger/a.csv: and 70 more problems like "unknown customer …"',
        'content/ledger/a.csv: and 30 more problems like "amount … is not an amount"',
        "content/ledger/b.csv:2: amount 'lots' is not an amount (expected a decimal such as 1234.50)",
        "151 problems found; nothing was written.",
    ]
    assert every_build(project) == err[:-1]


def test_customers_csv_problems_are_capped_like_any_file(project):
    project.write("customers.csv", CUSTOMERS + "".join(f"K{i},,k{i}@x.example,USD,30,1\n" for i in range(200)))
    problems = every_build(project)
    assert len(problems) == CAP + 1
    assert problems[-1] == 'content/ledger/customers.csv: and 150 more problems like "empty name"'


def test_problems_keep_the_first_of_each_file_in_line_order_whatever_order_they_come_in():
    found = [Problem("a.csv", line, f"amount '{line}' is not an amount") for line in range(200, 0, -1)]
    forward, backward, halves = Problems(reversed(found)), Problems(found), Problems(found[::2])
    halves += Problems(found[1::2])
    for p in (forward, backward, halves):
        assert len(p) == 200 and sorted(p) == sorted(Problem("a.csv", n, f"amount '{n}' is not an amount")
                                                     for n in range(1, CAP + 1))
        assert [str(x) for x in InputError(p).problems][CAP:] == [
            'a.csv: and 150 more problems like "amount … is not an amount"']
        assert InputError(p).count == 200


def test_a_bad_row_past_the_cap_is_still_refused(project):
    from portal.ledger import reading as ledger
    s = project.settings()
    customers, *_ = ledger.read_customers(s)
    problems = Problems(Problem("a.csv", n, f"unknown customer 'X{n}'") for n in range(1, CAP + 1))
    cols = ledger.Columns({c: i for i, c in enumerate(HEADER.strip().split(","))}, 9)
    row = ["2026-11-01", "C1", "invoice", "INV-1", "ten", "", "", "", ""]
    assert ledger.EntryReader(s, customers).entry(row, cols, "a.csv", 999, problems) is None
    assert len(problems) == CAP + 1 and len(list(problems)) == CAP
    header = {"customer_id": 0, "name": 1, "email": 2}
    assert ledger.customer_from(["C8", "Eighth", "nope"], header, 3, s, "a.csv", 1000, problems) is None


def test_problems_travel_between_processes_with_their_counts():
    p = Problems(Problem("a.csv", n, f"unknown customer 'X{n}'") for n in range(1, 80))
    q = pickle.loads(pickle.dumps(p))
    assert type(q) is Problems and list(q) == list(p) and len(q) == len(p) == 79
    assert InputError(q).problems == InputError(p).problems


def test_a_problem_found_twice_is_counted_once():
    p = Problems([Problem("c.csv", 1, "missing column email")] * 2)
    p += Problems([Problem("c.csv", 1, "missing column email")])
    assert InputError(p).count == 1 and len(InputError(p).problems) == 1


# -- 5. a rejected customers.csv row: its entries said once per file -------------------------

REJECTED = CUSTOMERS.replace("C7,Seventh Customer,ap@seventh.example", "C7,Seventh Customer,ap at seventh")


def test_a_rejected_customer_row_is_reported_once_per_file_not_once_per_entry(project, capsys):
    project.write("customers.csv", REJECTED)
    project.write("a.csv", HEADER + "2026-10-01,C1,invoice,INV-1,10.00,,2026-10-31,,\n"
                  + "".join(f"2026-10-02,C7,invoice,INV-{i},10.00,,2026-10-31,,\n" for i in range(2, 14))
                  + "2026-10-03,C7,payment,P-1,junk,,,INV-404,\n")
    project.write("b.csv", HEADER + "2026-10-04,C7,payment,P-2,5.00,,,,\n2026-10-04,C9,payment,P-3,5.00,,,,\n")
    expected = [
        "content/ledger/a.csv:3: customer C7's row in customers.csv was rejected "
        "(see content/ledger/customers.csv:4); its 13 entries in this file were not checked",
        "content/ledger/b.csv:2: customer C7's row in customers.csv was rejected "
        "(see content/ledger/customers.csv:4); its 1 entry in this file was not checked",
        "content/ledger/b.csv:3: unknown customer 'C9' (expected a customer_id from customers.csv)",
        "content/ledger/customers.csv:4: email 'ap at seventh' is not an email address (expected name@domain, "
        "or nothing)",
    ]
    assert check(project, capsys) == expected + ["4 problems found; nothing was written."]
    assert every_build(project) == expected


def test_a_customer_whose_second_row_is_rejected_still_has_its_entries_checked(project):
    project.write("customers.csv", CUSTOMERS + "C7,Seventh Again,not-an-email,USD,30,1\n")
    project.write("a.csv", HEADER + "2026-10-02,C7,invoice,INV-1,oops,,2026-10-31,,\n")
    assert every_build(project) == [
        "content/ledger/a.csv:2: amount 'oops' is not an amount (expected a decimal such as 1234.50)",
        "content/ledger/customers.csv:5: email 'not-an-email' is not an email address (expected name@domain, "
        "or nothing)",
    ]


def test_an_incremental_build_reports_a_rejected_customer_row_as_a_full_build_does(project):
    project.write("a.csv", HEADER + "2026-10-01,C7,invoice,INV-1,10.00,,2026-10-31,,\n"
                  "2026-10-02,C1,invoice,INV-2,10.00,,2026-10-31,,\n2026-10-03,C7,payment,P-1,4.00,,,INV-1,\n")
    project.write("b.csv", HEADER + "2026-10-04,C7,payment,P-2,1.00,,,,\n")
    project.build()
    site = sorted(p.name for p in project.settings().out.rglob("*"))
    project.write("customers.csv", REJECTED)
    project.write("c.csv", HEADER + "2026-10-05,C7,payment,P-3,1.00,,,,\n")
    expected = [
        "content/ledger/a.csv:2: customer C7's row in customers.csv was rejected "
        "(see content/ledger/customers.csv:4); its 2 entries in this file were not checked",
        "content/ledger/b.csv:2: customer C7's row in customers.csv was rejected "
        "(see content/ledger/customers.csv:4); its 1 entry in this file was not checked",
        "content/ledger/c.csv:2: customer C7's row in customers.csv was rejected "
        "(see content/ledger/customers.csv:4); its 1 entry in this file was not checked",
        "content/ledger/customers.csv:4: email 'ap at seventh' is not an email address (expected name@domain, "
        "or nothing)",
    ]
    assert build_problems(project) == expected
    assert sorted(p.name for p in project.settings().out.rglob("*")) == site
    assert build_problems(project, full_build=True) == expected


# -- amounts with more decimals than their currency has ------------------------------------------

EXTRA = ("amount '{}' has more decimals than {} has ({}); it is not rounded to {} unless "
         "[ledger] round_amounts = true")


def test_an_amount_with_more_decimals_than_its_currency_is_refused_in_every_build(project, capsys):
    project.write("a.csv", HEADER + "2026-10-01,C1,invoice,INV-1,12.345,,2026-10-31,,\n"
                  "2026-10-02,C7,invoice,INV-2,10.500,,2026-10-31,,trailing zeros are fine\n"
                  "2026-10-03,C7,payment,P-1,\"1,000.001\",,,,\n"
                  "2026-10-04,C2,invoice,INV-3,7.1,EUR,2026-10-31,,\n")
    expected = ["content/ledger/a.csv:2: " + EXTRA.format("12.345", "USD", 2, "12.35"),
                "content/ledger/a.csv:4: " + EXTRA.format("1,000.001", "USD", 2, "1000.00")]
    assert check(project, capsys) == expected + ["2 problems found; nothing was written."]
    assert every_build(project) == expected
    project.write("a.csv", HEADER + "2026-10-01,C1,invoice,INV-1,12.34,,2026-10-31,,\n")
    project.build()
    project.write("a.csv", HEADER + "2026-10-01,C1,invoice,INV-1,12.34,,2026-10-31,,\n"
                  "2026-10-05,C1,payment,P-2,0.125,,,,\n")  # a row appended: the incremental build reads it
    assert build_problems(project) == ["content/ledger/a.csv:3: " + EXTRA.format("0.125", "USD", 2, "0.13")]


@pytest.mark.parametrize("workers", [1, 2])
def test_round_amounts_rounds_half_up_and_says_so_once_a_file(project, capsys, workers):
    settings = project.root / "content" / "settings.toml"
    assert "[ledger]" not in settings.read_text()
    settings.write_text(settings.read_text() + "\n[ledger]\nround_amounts = true\n")
    project.write("a.csv", HEADER + "2026-10-01,C1,invoice,INV-1,12.345,,2026-10-31,,\n"
                  "2026-10-02,C7,invoice,INV-2,10.00,,2026-10-31,,\n"
                  "2026-10-03,C7,payment,P-1,2.005,,,,\n")
    assert main(["--root", str(project.root), "build", "--as-of", "2026-11-25", "--full", "--workers", str(workers),
                 "-q"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err == ["warning: content/ledger/a.csv:2: 2 amounts with more decimals than the currency has rounded "
                   "half up ([ledger] round_amounts = true), the first on this line",
                   "1 warning (they never stop a build; see the README, 'Warnings')"]
    assert "$12.35" in project.page_for("C1") and "$7.99" in project.page_for("C7")  # 10.00 less 2.01
    project.write("a.csv", HEADER + "2026-10-01,C1,invoice,INV-1,12.345,,2026-10-31,,\n"
                  "2026-10-02,C7,invoice,INV-2,10.00,,2026-10-31,,\n"
                  "2026-10-03,C7,payment,P-1,2.005,,,,\n2026-10-04,C1,payment,P-2,1.001,,,,\n")
    assert main(["--root", str(project.root), "build", "--as-of", "2026-11-25", "-q"]) == 0
    assert "$11.35" in project.page_for("C1")
    # the incremental build reads the rows of the customers that changed: C1's two
    assert "a.csv:2: 2 amounts with more decimals" in capsys.readouterr().err


def test_the_types_that_are_not_ours_are_listed_once_a_file_with_their_counts(project, capsys):
    rows = [f"2026-10-01,C{1 if i % 2 else 7},Sales Receipt,R{i},5.00,,,," for i in range(60)]
    rows += ["2026-10-02,C1,Bounced,B1,5.00,,,,", "2026-10-02,C1,invoice,INV-1,5.00,,2026-10-31,,"]
    project.write("a.csv", HEADER + "\n".join(rows) + "\n")
    summary = ("content/ledger/a.csv:2: 61 rows of this file have a type that is not ours: 'Sales Receipt' (60), "
               "'Bounced' (1) (map each under [ledger.types] in content/settings.toml, or correct the rows)")
    problems = every_build(project)
    assert summary in problems and len(problems) == 51  # the summary, then the first 50 rows (capped)
    assert summary in check(project, capsys)
    project.write("a.csv", HEADER + "2026-10-02,C1,invoice,INV-1,5.00,,2026-10-31,,\n")
    project.build()
    project.write("a.csv", HEADER + "\n".join(rows) + "\n")
    assert summary in build_problems(project)  # the incremental build says it too
