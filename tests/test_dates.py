"""The order of day and month, decided per file from all its dates (issue: 03/04/2021 read as 3 April
and 04/13/2021 as 13 April in one file, without a word)."""
from __future__ import annotations

from datetime import date

import pytest

from portal.build.lookup import accounts_of, current_state, customer_accounts
from portal.core.records import InputError
from portal.ledger import dates

HEADER = "date,customer_id,type,ref,amount,currency,due_date,applies_to,memo\n"
BOTH = ("%d/%m/%Y", "%m/%d/%Y")
AS_OF = "2026-11-25"


def test_formats_that_read_one_text_as_two_dates_are_grouped():
    assert dates.conflicting(BOTH) == [BOTH]
    assert dates.conflicting(("%Y-%m-%d", "%d/%m/%Y", "%m/%d/%Y", "%b %d %Y")) == [BOTH]
    assert dates.conflicting(("%Y-%m-%d",)) == dates.conflicting(("%m/%d/%Y", "%Y-%m-%d")) == []
    assert dates.conflicting(("%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y", "%m.%d.%Y")) == [BOTH, ("%d.%m.%Y", "%m.%d.%Y")]


@pytest.mark.parametrize("texts, kept", [
    ({"03/04/2021": 2, "04/13/2021": 3}, ("%m/%d/%Y",)),  # 13 is no month: month first
    ({"03/04/2021": 2, "13/04/2021": 9}, ("%d/%m/%Y",)),
    ({"01/01/2021": 2, "05/05/2021": 3}, ("%d/%m/%Y",)),  # every date reads the same both ways
    ({"2021-03-04": 2}, BOTH),  # no date of this kind: nothing to decide
])
def test_the_one_format_that_reads_every_date_of_the_file_is_kept(texts, kept):
    assert dates.decide("a.csv", texts, BOTH, [BOTH]) == (kept, [])


def test_dates_in_two_orders_are_refused_where_the_second_order_shows():
    _, problems = dates.decide("a.csv", {"03/04/2021": 2, "13/04/2021": 5, "04/13/2021": 9}, BOTH, [BOTH])
    assert [str(p) for p in problems] == [
        "a.csv:9: date '04/13/2021' is in another order than '13/04/2021' on line 5 ('13/04/2021' reads only as "
        "%d/%m/%Y, '04/13/2021' only as %m/%d/%Y): a file's dates must all be in one order (export it again with "
        "one date format)"]


def test_a_file_no_date_of_which_settles_the_order_is_refused():
    _, problems = dates.decide("a.csv", {"01/02/2021": 2, "03/04/2021": 3}, BOTH, [BOTH])
    assert [str(p) for p in problems] == [
        "a.csv:2: no date in this file settles the order of day and month: '01/02/2021' is 1 February 2021 as "
        "%d/%m/%Y and 2 January 2021 as %m/%d/%Y (expected a date whose day is above 12 somewhere in the file, "
        "or date_formats in content/settings.toml naming only the order your export uses)"]


def settings_with_both_orders(project) -> None:
    path = project.root / "content" / "settings.toml"
    path.write_text(path.read_text() + '\n[ledger]\ndate_formats = ["%Y-%m-%d", "%d/%m/%Y", "%m/%d/%Y"]\n')


US = HEADER + "03/04/2021,C1,invoice,US-1,10.00,,04/13/2021,,\n"  # month first: settled by its due date
EU = HEADER + "03/04/2021,C2,invoice,EU-1,20.00,,30/04/2021,,\n"  # day first


@pytest.mark.parametrize("workers", [1, 2])
def test_each_file_is_read_in_its_own_order(project, workers):
    settings_with_both_orders(project)
    project.write("us.csv", US)
    project.write("eu.csv", EU)
    project.build(AS_OF, full_build=True, workers=workers)
    assert "<td>4 Mar 2021</td><td>13 Apr 2021</td>" in project.page_for("C1")
    assert "<td>3 Apr 2021</td><td>30 Apr 2021</td>" in project.page_for("C2")
    # the payment service reads rows where the build indexed them, in the order it decided
    s = project.settings()
    (_, (acct,)) = customer_accounts(s, "C1", date(2026, 11, 25))
    assert acct.items[0].entry.date == date(2021, 3, 4) and acct.items[0].due == date(2021, 4, 13)
    (_, (acct,)), = accounts_of(s, current_state(s), ["C2"], date(2026, 11, 25)).values()
    assert acct.items[0].entry.date == date(2021, 4, 3)


def test_an_incremental_build_decides_a_changed_file_from_all_its_dates(project):
    settings_with_both_orders(project)
    project.write("us.csv", US)
    project.write("eu.csv", EU)
    project.build(AS_OF)
    # staff append a row: the file is read whole and must still be in one order
    project.write("us.csv", US + "05/06/2021,C1,invoice,US-2,5.00,,06/30/2021,,\n")
    project.build(AS_OF)
    assert "<td>6 May 2021</td><td>30 Jun 2021</td>" in project.page_for("C1")
    assert "<td>3 Apr 2021</td>" in project.page_for("C2")  # the file not changed keeps its order
    project.write("us.csv", US + "05/06/2021,C1,invoice,US-2,5.00,,30/06/2021,,\n")  # a day-first date
    with pytest.raises(InputError) as e:
        project.build(AS_OF)
    assert [str(p).split(": ")[0] for p in e.value.problems] == ["content/ledger/us.csv:3"]
    assert "is in another order than '04/13/2021' on line 2" in str(e.value.problems[0])


def test_without_conflicting_formats_rows_read_as_before(project):
    path = project.root / "content" / "settings.toml"
    path.write_text(path.read_text() + '\n[ledger]\ndate_formats = ["%Y-%m-%d", "%m/%d/%Y"]\n')
    project.write("a.csv", HEADER + "2021-03-04,C1,invoice,A-1,10.00,,04/13/2021,,\n")
    project.build(AS_OF)
    assert "<td>4 Mar 2021</td><td>13 Apr 2021</td>" in project.page_for("C1")
