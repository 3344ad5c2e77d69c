"""Allocation and aging: entries → per-currency accounts, as of a date (pure, no I/O)."""
from __future__ import annotations

import itertools
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portal.core import aging
from portal.core.accounts import BUCKETS, accounts, bucket_of
from portal.core.money import from_minor, parse_amount
from portal.core.records import Entry

AS_OF = date(2026, 11, 25)
_lines = itertools.count(2)


def d(text: str) -> date:
    return date.fromisoformat(text)


def entry(type_: str, amount: str, when: str, ref: str = "", *, due: str | None = None, applies_to: str = "",
          currency: str = "USD", status: str = "", customer: str = "C1") -> Entry:
    """An Entry as the ledger reader would make it (amount parsed like the CSV's text)."""
    return Entry(d(when), customer, type_, ref, parse_amount(amount, currency), currency,
                 d(due) if due else None, applies_to, "", "content/ledger/test.csv", next(_lines), status)


def invoice(ref: str, amount: str, when: str, due: str, **kw) -> Entry:
    return entry("invoice", amount, when, ref, due=due, **kw)


def one(entries, as_of=AS_OF, recent_days=120):
    """The single account these entries make."""
    (acct,) = accounts(entries, as_of, recent_days)
    return acct


def open_items(acct) -> dict[str, Decimal]:
    return {i.entry.ref: i.open for i in acct.items}


def buckets(**nonzero) -> dict[str, Decimal]:
    names = {"current": "current", "d1_30": "1-30", "d31_60": "31-60", "d61_90": "61-90", "d90": "90+"}
    out = dict.fromkeys((k for k, _ in BUCKETS), Decimal(0))
    for k, v in nonzero.items():
        out[names[k]] = Decimal(v)
    return out


def test_payment_applies_to_the_invoice_it_names_before_older_ones():
    acct = one([
        invoice("INV-1", "100.00", "2026-08-01", "2026-08-31"),
        invoice("INV-2", "100.00", "2026-09-01", "2026-10-01"),
        entry("payment", "100.00", "2026-10-05", "PAY-1", applies_to="INV-2"),
    ])
    assert acct.invoices == {"INV-1": Decimal("100.00"), "INV-2": Decimal("0.00")}
    assert open_items(acct) == {"INV-1": Decimal("100.00")}
    assert acct.balance == Decimal("100.00")
    assert acct.unapplied == 0


def test_payment_applies_oldest_invoice_first():
    # INV-2 is dated later but due sooner: "oldest" means oldest due date.
    acct = one([
        invoice("INV-1", "100.00", "2026-09-01", "2026-10-31"),
        invoice("INV-2", "100.00", "2026-09-15", "2026-09-30"),
        invoice("INV-3", "100.00", "2026-10-01", "2026-11-30"),
        entry("payment", "150.00", "2026-10-10", "PAY-1"),
    ])
    assert acct.invoices == {"INV-1": Decimal("50.00"), "INV-2": Decimal("0.00"), "INV-3": Decimal("100.00")}
    assert [i.entry.ref for i in acct.items] == ["INV-1", "INV-3"]  # open items, oldest due first
    assert acct.balance == Decimal("150.00")


def test_explicit_payments_settle_their_invoices_before_unapplied_payments_are_spread():
    # The unapplied payment is older, yet INV-2 is kept for the payment that names it.
    acct = one([
        invoice("INV-1", "100.00", "2026-08-01", "2026-08-31"),
        invoice("INV-2", "100.00", "2026-08-02", "2026-09-01"),
        entry("payment", "150.00", "2026-09-05", "PAY-1"),
        entry("payment", "100.00", "2026-09-20", "PAY-2", applies_to="INV-2"),
    ])
    assert acct.invoices == {"INV-1": Decimal("0.00"), "INV-2": Decimal("0.00")}
    assert acct.unapplied == Decimal("50.00")
    assert acct.balance == Decimal("-50.00")


def test_excess_of_an_explicit_payment_flows_to_the_oldest_due_item():
    acct = one([
        invoice("INV-1", "100.00", "2026-08-01", "2026-08-31"),
        invoice("INV-2", "100.00", "2026-09-01", "2026-09-30"),
        invoice("INV-3", "100.00", "2026-10-01", "2026-10-31"),
        entry("payment", "160.00", "2026-10-05", "PAY-1", applies_to="INV-3"),
    ])
    assert acct.invoices == {"INV-1": Decimal("40.00"), "INV-2": Decimal("100.00"), "INV-3": Decimal("0.00")}
    assert acct.unapplied == 0
    assert acct.balance == Decimal("140.00")


def test_payment_applied_to_an_unknown_ref_is_spread_like_any_other():
    acct = one([
        invoice("INV-1", "100.00", "2026-08-01", "2026-08-31"),
        entry("payment", "30.00", "2026-09-05", "PAY-1", applies_to="INV-404"),
    ])
    assert acct.invoices == {"INV-1": Decimal("70.00")}


def test_overpayment_becomes_unapplied_credit():
    acct = one([
        invoice("INV-1", "100.00", "2026-10-01", "2026-10-31"),
        entry("payment", "130.00", "2026-10-20", "PAY-1", applies_to="INV-1"),
    ])
    assert acct.items == []
    assert acct.invoices == {"INV-1": Decimal("0.00")}
    assert acct.unapplied == Decimal("30.00")
    assert acct.balance == Decimal("-30.00")
    assert acct.buckets == buckets()
    assert acct.overdue == 0


def test_refund_consumes_unapplied_credit():
    acct = one([
        invoice("INV-1", "100.00", "2026-10-01", "2026-10-31"),
        entry("payment", "130.00", "2026-10-20", "PAY-1", applies_to="INV-1"),
        entry("refund", "30.00", "2026-11-02", "RF-1", applies_to="PAY-1"),
    ])
    assert acct.items == []
    assert acct.unapplied == 0
    assert acct.balance == 0
    assert acct.buckets == buckets()


def test_refund_larger_than_the_credit_is_owed_from_its_date():
    acct = one([
        entry("payment", "20.00", "2026-10-20", "PAY-1"),
        entry("refund", "50.00", "2026-11-02", "RF-1", applies_to="PAY-1"),
    ])
    assert open_items(acct) == {"RF-1": Decimal("30.00")}
    assert acct.items[0].due == d("2026-11-02")
    assert acct.items[0].days_overdue == 23
    assert acct.buckets == buckets(d1_30="30.00")
    assert acct.balance == Decimal("30.00")
    assert acct.unapplied == 0


@pytest.mark.parametrize("kind", ["credit", "writeoff", "payment"])
def test_credit_notes_and_write_offs_reduce_the_balance_like_payments(kind):
    acct = one([
        invoice("INV-1", "100.00", "2026-08-01", "2026-08-31"),
        invoice("INV-2", "80.00", "2026-09-01", "2026-09-30"),
        entry(kind, "30.00", "2026-10-01", "X-1", applies_to="INV-2"),
        entry(kind, "25.00", "2026-10-02", "X-2"),
    ])
    assert acct.invoices == {"INV-1": Decimal("75.00"), "INV-2": Decimal("50.00")}
    assert acct.balance == Decimal("125.00")
    assert acct.unapplied == 0


def test_positive_adjustment_is_an_open_item_due_on_its_date():
    acct = one([entry("adjustment", "25.00", "2026-10-01", "ADJ-1")])
    (item,) = acct.items
    assert item.entry.ref == "ADJ-1"
    assert item.due == d("2026-10-01")
    assert item.open == Decimal("25.00")
    assert item.days_overdue == 55
    assert acct.buckets == buckets(d31_60="25.00")
    assert acct.balance == Decimal("25.00")
    assert acct.invoices == {}  # only invoices are listed by ref for the pay form


def test_positive_adjustment_is_paid_in_due_order_with_the_invoices():
    acct = one([
        invoice("INV-1", "100.00", "2026-10-01", "2026-10-31"),
        entry("adjustment", "10.00", "2026-10-15", "ADJ-1"),
        entry("payment", "10.00", "2026-11-01", "PAY-1"),
    ])
    assert open_items(acct) == {"INV-1": Decimal("100.00")}


def test_negative_adjustment_is_a_credit():
    acct = one([
        invoice("INV-1", "100.00", "2026-10-01", "2026-10-31"),
        entry("adjustment", "(40.00)", "2026-10-15", "ADJ-1"),
    ])
    assert open_items(acct) == {"INV-1": Decimal("60.00")}
    assert acct.balance == Decimal("60.00")
    assert acct.unapplied == 0
    alone = one([entry("adjustment", "-40.00", "2026-10-15", "ADJ-1")])
    assert alone.items == []
    assert alone.unapplied == Decimal("40.00")
    assert alone.balance == Decimal("-40.00")


@pytest.mark.parametrize("days_overdue, bucket", [
    (-30, "current"), (-1, "current"), (0, "current"),
    (1, "1-30"), (30, "1-30"),
    (31, "31-60"), (60, "31-60"),
    (61, "61-90"), (90, "61-90"),
    (91, "90+"), (400, "90+"),
])
def test_aging_bucket_boundaries(days_overdue, bucket):
    due = AS_OF - timedelta(days=days_overdue)
    acct = one([invoice("INV-1", "100.00", str(min(due, AS_OF)), str(due))])
    expected = dict.fromkeys((k for k, _ in BUCKETS), Decimal(0))
    expected[bucket] = Decimal("100.00")
    assert acct.buckets == expected
    assert acct.items[0].days_overdue == max(days_overdue, 0)
    assert acct.overdue == (0 if bucket == "current" else Decimal("100.00"))
    assert bucket_of(days_overdue) == bucket


def test_entries_dated_after_as_of_are_not_yet_on_the_statement():
    acct = one([
        invoice("INV-1", "100.00", "2026-11-25", "2026-12-25"),  # on the as-of date: included
        invoice("INV-2", "999.00", "2026-11-26", "2026-12-26"),
        entry("payment", "40.00", "2026-11-26", "PAY-1"),
    ])
    assert acct.invoices == {"INV-1": Decimal("100.00")}
    assert acct.balance == Decimal("100.00")
    assert [e.ref for e in acct.recent] == []
    assert accounts([invoice("INV-3", "5.00", "2026-12-01", "2026-12-31")], AS_OF, 120) == []


def test_each_currency_is_its_own_account():
    usd, eur = accounts([
        invoice("INV-1", "100.00", "2026-10-01", "2026-10-31"),
        invoice("INV-2", "70.00", "2026-10-01", "2026-10-31", currency="EUR"),
        entry("payment", "100.00", "2026-10-05", "PAY-1", currency="EUR"),  # does not pay the USD invoice
    ], AS_OF, 120)[::-1]
    assert (usd.currency, eur.currency) == ("USD", "EUR")
    assert usd.balance == Decimal("100.00") and usd.unapplied == 0
    assert usd.invoices == {"INV-1": Decimal("100.00")}
    assert eur.balance == Decimal("-30.00") and eur.unapplied == Decimal("30.00")
    assert eur.invoices == {"INV-2": Decimal("0.00")}


def test_jpy_amounts_have_no_minor_unit():
    acct = one([
        invoice("INV-1", "¥184,000", "2026-10-01", "2026-10-31", currency="JPY"),
        entry("payment", "4,000", "2026-11-01", "PAY-1", currency="JPY"),
    ])
    assert str(acct.balance) == "180000"
    assert str(acct.invoices["INV-1"]) == "180000"
    assert str(acct.buckets["1-30"]) == "180000"


def test_processing_payment_counts_as_paid_and_is_reported_as_processing():
    acct = one([
        invoice("INV-1", "100.00", "2026-10-01", "2026-10-31"),
        entry("payment", "40.00", "2026-11-20", "pi_1", status="processing"),
        entry("payment", "10.00", "2026-11-21", "PAY-2"),
    ])
    assert acct.balance == Decimal("50.00")
    assert acct.processing == Decimal("40.00")
    assert acct.invoices == {"INV-1": Decimal("50.00")}


def test_recent_lists_what_was_received_in_recent_days_newest_first():
    acct = one([
        invoice("INV-1", "100.00", "2026-07-01", "2026-07-31"),
        entry("payment", "10.00", "2026-07-27", "PAY-OLD"),  # 121 days before as_of
        entry("payment", "10.00", "2026-07-28", "PAY-1"),  # exactly 120 days
        entry("credit", "5.00", "2026-11-01", "CN-1"),
        entry("adjustment", "3.00", "2026-11-02", "ADJ-1"),
    ], recent_days=120)
    assert [e.ref for e in acct.recent] == ["ADJ-1", "CN-1", "PAY-1"]


# -- property: on any ledger, the numbers add up -------------------------------------------------

CURRENCIES = ("USD", "EUR", "JPY", "BHD")
START = date(2026, 1, 1)


@st.composite
def ledgers(draw):
    """Random entries of one customer (several currencies, dates, applies_to), and an as-of date."""
    def day(limit=365):
        return START + timedelta(days=draw(st.integers(0, limit)))

    def money(cur):
        return from_minor(draw(st.integers(1, 5_000_000)), cur)

    entries: list[Entry] = []
    line = itertools.count(2)

    def add(type_, amount, cur, when, ref="", due=None, applies="", status=""):
        entries.append(Entry(when, "C1", type_, ref, amount, cur, due, applies, "", "content/ledger/x.csv",
                             next(line), status))

    refs = []
    for n in range(draw(st.integers(0, 12))):
        cur, when = draw(st.sampled_from(CURRENCIES)), day()
        ref = f"INV-{n}"
        refs.append(ref)
        add("invoice", money(cur), cur, when, ref, when + timedelta(days=draw(st.integers(0, 90))))
    paid = []
    for n in range(draw(st.integers(0, 12))):
        kind = draw(st.sampled_from(("payment", "credit", "writeoff")))
        cur = draw(st.sampled_from(CURRENCIES))
        applies = draw(st.sampled_from(["", "INV-NONE", *refs]))
        status = draw(st.sampled_from(["", "processing"])) if kind == "payment" else ""
        ref = f"{kind}-{n}"
        paid.append(ref)
        add(kind, money(cur), cur, day(), ref, applies=applies, status=status)
    for n in range(draw(st.integers(0, 4))):
        cur = draw(st.sampled_from(CURRENCIES))
        add("refund", money(cur), cur, day(), f"RF-{n}", applies=draw(st.sampled_from(["", *paid])))
    for n in range(draw(st.integers(0, 4))):
        cur = draw(st.sampled_from(CURRENCIES))
        sign = draw(st.sampled_from((1, -1)))
        add("adjustment", sign * money(cur), cur, day(), f"ADJ-{n}")
    order = draw(st.permutations(range(len(entries))))
    return [entries[i] for i in order], day(420)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ledgers())
def test_buckets_minus_unapplied_is_the_balance_on_any_ledger(ledger):
    entries, as_of = ledger
    result = accounts(entries, as_of, 120)
    on_statement = [e for e in entries if e.date <= as_of]
    assert [a.currency for a in result] == sorted({e.currency for e in on_statement})
    for acct in result:
        mine = [e for e in on_statement if e.currency == acct.currency]
        debits = sum((e.amount for e in mine if e.type in ("invoice", "refund")
                      or (e.type == "adjustment" and e.amount > 0)), Decimal(0))
        credits = sum((e.amount for e in mine if e.type in ("payment", "credit", "writeoff")), Decimal(0)) \
            - sum((e.amount for e in mine if e.type == "adjustment" and e.amount < 0), Decimal(0))
        processing = sum((e.amount for e in mine if e.status == "processing"), Decimal(0))

        assert sum(acct.buckets.values()) - acct.unapplied == acct.balance == debits - credits
        assert sum(i.open for i in acct.items) == sum(acct.buckets.values())
        assert acct.processing == processing
        assert acct.unapplied >= 0
        if acct.unapplied:
            assert acct.items == []  # credit is left over only when nothing is open
        for item in acct.items:
            assert 0 < item.open <= item.entry.amount
            assert item.days_overdue == max((as_of - item.due).days, 0)
        assert [(i.due, i.entry.date) for i in acct.items] == sorted((i.due, i.entry.date) for i in acct.items)
        invoices = {e.ref: e.amount for e in mine if e.type == "invoice"}
        assert acct.invoices.keys() == invoices.keys()
        for ref, left in acct.invoices.items():
            assert 0 <= left <= invoices[ref]
        numbers = [acct.balance, acct.unapplied, acct.processing, acct.overdue, *acct.buckets.values(),
                   *acct.invoices.values(), *(i.open for i in acct.items)]
        assert all(type(x) is Decimal for x in numbers), [type(x) for x in numbers]
        assert list(acct.buckets) == [k for k, _ in BUCKETS]


def test_an_online_payment_is_one_row_under_its_receipt_number_naming_what_it_paid():
    from portal.core.receipts import receipt_number
    entries = [
        Entry(date(2026, 10, 1), "C1", "invoice", "INV-1", Decimal("60.00"), "USD", date(2026, 10, 31), "", "", "a", 2),
        Entry(date(2026, 10, 1), "C1", "invoice", "INV-2", Decimal("50.00"), "USD", date(2026, 10, 31), "", "", "a", 3),
        Entry(date(2026, 11, 2), "C1", "payment", "pi_7/INV-2", Decimal("50.00"), "USD", None, "INV-2",
              "Online payment by card", "o", 2),
        Entry(date(2026, 11, 2), "C1", "payment", "pi_7/INV-1", Decimal("20.00"), "USD", None, "INV-1",
              "Online payment by card", "o", 3),
        Entry(date(2026, 11, 2), "C1", "payment", "pi_7", Decimal("5.00"), "USD", None, "",
              "Online payment by card", "o", 4),
        Entry(date(2026, 11, 3), "C1", "payment", "CHQ-9", Decimal("1.00"), "USD", None, "", "", "a", 4),
    ]
    (a,) = accounts(entries, date(2026, 11, 25))
    assert [(e.ref, e.amount, e.applies_to) for e in a.recent] == [
        ("CHQ-9", Decimal("1.00"), ""), (receipt_number("pi_7"), Decimal("75.00"), "INV-1, INV-2")]
    assert a.balance == Decimal("34.00")  # the figures are the rows', not the row shown


def test_a_returned_bank_debit_counts_for_nothing_and_is_listed_as_returned_under_its_receipt():
    from portal.core.receipts import receipt_number
    rows = [invoice("INV-1", "100.00", "2026-11-01", "2026-12-01"),
            entry("payment", "60.00", "2026-11-20", "pi_A/INV-1", applies_to="INV-1", status="failed"),
            entry("payment", "40.00", "2026-11-20", "pi_A", status="failed"),
            entry("payment", "5.00", "2026-01-02", "pi_OLD", status="failed"),  # before the period: not listed
            entry("payment", "9.00", "2026-11-21", "pi_E", currency="EUR", status="failed")]  # no EUR account
    (acct,) = accounts(rows, AS_OF)
    assert acct.balance == Decimal("100.00") and acct.recent == [] and acct.processing == 0
    assert [(e.ref, e.amount, e.applies_to) for e in acct.returned] == [
        (receipt_number("pi_A"), Decimal("100.00"), "INV-1")]
    assert all(a.entry.status != "failed" for a in acct.activity)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ledgers(), st.randoms(use_true_random=False))
def test_open_items_are_oldest_due_first_ties_in_entry_order_whatever_the_rows_order(ledger, rnd):
    """Items are paid and listed by due date, ties by what the entries say (accounts.order): the
    stable sort by due alone that _account does gives that, and a reordered ledger the same."""
    from portal.core.accounts import order
    entries, as_of = ledger
    result = accounts(entries, as_of, 120)
    for acct in result:
        assert acct.items == sorted(acct.items, key=lambda i: (i.due, order(i.entry)))
    shuffled = list(entries)
    rnd.shuffle(shuffled)
    assert [(a.items, a.buckets, a.unapplied, a.invoices) for a in accounts(shuffled, as_of, 120)] == \
        [(a.items, a.buckets, a.unapplied, a.invoices) for a in result]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ledgers(), st.integers(0, 3))
def test_sales_and_the_last_payment_are_what_their_references_say(ledger, returned):
    """accounts works out each account's monthly sales and last payment in its own loop:
    aging.monthly_sales and aging.last_payments are the references (a returned bank debit paid
    nothing and is no last payment)."""
    entries, as_of = ledger
    entries = entries + [e._replace(status="failed", ref=e.ref + "-R", line=e.line + 1000)
                         for e in entries if e.type == "payment"][:returned]
    sales, paid = aging.monthly_sales(entries, as_of), aging.last_payments(entries, as_of)
    for a in accounts(entries, as_of, 120):
        assert a.sales == sales.get(a.currency, [Decimal(0)] * aging.SALES_MONTHS)
        assert a.last_payment == paid.get(a.currency)
    assert {a.currency for a in accounts(entries, as_of, 120) if a.last_payment} == set(paid)


@st.composite
def same_day_heavy(draw):
    """Entries of a few days only (most share their day with others), in any order, of any type."""
    entries = []
    for n in range(draw(st.integers(0, 14))):
        kind = draw(st.sampled_from(("invoice", "payment", "credit", "refund", "adjustment", "writeoff")))
        when = date(2026, 11, 1) + timedelta(days=draw(st.integers(0, 3)))
        entries.append(Entry(when, "C1", kind, draw(st.sampled_from(["", "A", "B", f"X-{n}"])),
                             Decimal(draw(st.sampled_from(["1.00", "2.00", "-3.00", "2.5"]))),
                             draw(st.sampled_from(["USD", "EUR"])), draw(st.sampled_from([None, when])),
                             draw(st.sampled_from(["", "A"])), draw(st.sampled_from(["", "m"])),
                             draw(st.sampled_from(["a.csv", "b.csv"])), n + 2,
                             draw(st.sampled_from(["", "processing"]))))
    return entries


@settings(max_examples=400, deadline=None)
@given(same_day_heavy())
def test_in_order_is_sorting_by_order(entries):
    """accounts.in_order (dates sorted in C, a day's entries by order) equals sorting by order."""
    from portal.core.accounts import in_order, order
    assert in_order(entries) == sorted(entries, key=order)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ledgers())
def test_one_currency_fast_path_gives_what_the_general_path_gives(ledger):
    """accounts() skips grouping when every entry is of one currency, none failed and none is after
    the as-of day: adding an entry after that day (ignored, but it takes the general path) changes nothing."""
    entries, as_of = ledger
    for cur in {e.currency for e in entries}:
        mine = [e for e in entries if e.currency == cur and e.status != "failed" and e.date <= as_of]
        later = entry("invoice", "9.00", (as_of + timedelta(days=1)).isoformat(), "LATER",
                      due=(as_of + timedelta(days=30)).isoformat(), currency=cur)
        assert accounts(mine, as_of, 120) == accounts([*mine, later], as_of, 120)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ledgers())
def test_each_activity_row_changes_the_balance_as_its_entry_does(ledger):
    """_account notes each change while it allocates (not by _change again): the two agree, and the
    rows run from the balance brought forward to the balance."""
    from portal.core.accounts import _change
    entries, as_of = ledger
    for acct in accounts(entries, as_of, 120):
        assert [r.change for r in acct.activity] == [_change(r.entry) for r in acct.activity]
        running = acct.opening
        for r in acct.activity:
            running += r.change
            assert r.balance == running
        assert running == acct.balance
