"""The aging report's arithmetic: figures vectors, their totals, countback DSO, chart shares."""
from __future__ import annotations

from datetime import date
from decimal import Decimal as D

from portal.core import aging
from portal.core.accounts import accounts
from portal.core.records import Entry


def entry(day, etype, ref, amount, due=None, applies="", cur="USD", status=""):
    return Entry(date.fromisoformat(day), "C1", etype, ref, D(amount), cur,
                 date.fromisoformat(due) if due else None, applies, "", "x.csv", 2, status)


def test_countback_walks_back_month_by_month():
    as_of = date(2026, 11, 15)
    # November so far: 15 days, 1,000 of sales; October: 31 days, 1,000 of sales.
    assert aging.countback_dso(D("1500"), [D("1000"), D("1000")] + [D(0)] * 10, as_of) == D("30.5")
    assert aging.countback_dso(D("500"), [D("1000")] + [D(0)] * 11, as_of) == D("7.5")
    # A month with no sales counts all its days: 15 + 31 (Oct, none) + 30 × 200/400 (Sep).
    assert aging.countback_dso(D("1200"), [D("1000"), D(0), D("400")] + [D(0)] * 9, as_of) == D("61.0")
    assert aging.countback_dso(D("0"), [D(0)] * 12, as_of) == 0
    assert aging.countback_dso(D("-20"), [D(0)] * 12, as_of) == 0
    assert aging.countback_dso(D("99999"), [D("10")] * 12, as_of) is None  # more than a year of sales owed


def test_countback_crosses_the_year_and_leap_february():
    as_of = date(2028, 3, 10)  # 2028 is a leap year
    sales = [D("100"), D("100"), D("290")] + [D(0)] * 9  # Mar (10 days), Feb (29), Jan (31)
    assert aging.countback_dso(D("345"), sales, as_of) == D("54.5")  # 10 + 29 + 31 × 145/290


def test_figures_hold_the_account_and_the_monthly_sales():
    es = [entry("2026-08-01", "invoice", "I1", "300.00", due="2026-08-31"),
          entry("2026-11-02", "invoice", "I2", "200.00", due="2026-12-02"),
          entry("2026-11-03", "payment", "P1", "50.00", applies="I1"),
          entry("2026-11-04", "payment", "P2", "20.00", status="processing"),
          entry("2026-12-01", "invoice", "I3", "999.00", due="2026-12-31")]  # after the as-of date
    as_of = date(2026, 11, 25)
    (acct,) = accounts(es, as_of)
    v = aging.figures([acct])["USD"]
    assert len(v) == aging.WIDTH and all(type(x) is D for x in v)
    assert v[aging.BALANCE] == D("430.00") and v[aging.OVERDUE] == D("230.00") and v[aging.UNAPPLIED] == 0
    assert v[aging.BUCKET["61-90"]] == D("230.00") and v[aging.BUCKET["current"]] == D("200.00")
    assert v[aging.PROCESSING] == D("20.00") and v[aging.OWING] == 1 and v[aging.LATE] == 1
    assert v[aging.SALES] == D("200.00") and v[aging.SALES + 3] == D("300.00")
    assert sum(v[aging.SALES:]) == D("500.00")
    assert aging.oldest_days(acct) == 86
    assert aging.last_payments(es, as_of)["USD"].ref == acct.last_payment.ref == "P2"


def test_totals_add_and_take_away_exactly():
    a = {"USD": [D("1.10")] + [D(0)] * (aging.WIDTH - 1), "JPY": [D("500")] + [D(0)] * (aging.WIDTH - 1)}
    b = {"USD": [D("2.25")] + [D(1)] * (aging.WIDTH - 1)}
    totals: dict = {}
    aging.add(totals, a)
    aging.add(totals, b)
    assert totals["USD"][0] == D("3.35") and totals["JPY"][0] == D("500")
    aging.add(totals, b, -1)
    assert totals == {"USD": a["USD"], "JPY": a["JPY"]}
    assert aging.decode(aging.encode(b)) == b and aging.decode(aging.encode(a)) == a


def test_chart_shares_are_rounded_percents_of_what_is_open():
    v = [D(0)] * aging.WIDTH
    v[aging.BUCKET["current"]] = D("995")
    v[aging.BUCKET["90+"]] = D("5")
    shares = {k: pct for k, _, _, pct in aging.bucket_shares(v)}
    assert shares == {"current": 100, "1-30": 0, "31-60": 0, "61-90": 0, "90+": 1}
