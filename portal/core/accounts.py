"""Pure accounting: one customer's entries → per-currency accounts (allocation, balance, aging).

No I/O. The buckets always add up to the open items; open items minus unapplied credit is
the balance.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from functools import cached_property
from operator import attrgetter, methodcaller
from typing import NamedTuple

from .receipts import receipt_number
from .records import ENTRY_TYPES, Entry

ZERO = Decimal(0)
BUCKETS = (("current", "Not yet due"), ("1-30", "1–30 days"), ("31-60", "31–60 days"),
           ("61-90", "61–90 days"), ("90+", "Over 90 days"))
BUCKET_KEYS = tuple(k for k, _ in BUCKETS)
DEBITS = ("invoice", "refund")  # plus positive adjustments
SALES_MONTHS = 12  # months of invoiced sales an account adds up (countback DSO looks this far back)


def bucket_of(days_overdue: int) -> str:
    """The aging bucket for a number of days past due (0 or less is not yet due)."""
    if days_overdue <= 0:
        return "current"
    if days_overdue <= 30:
        return "1-30"
    if days_overdue <= 60:
        return "31-60"
    if days_overdue <= 90:
        return "61-90"
    return "90+"


@dataclass
class OpenItem:
    """Something the customer owes: an invoice, or a refund/adjustment debit, and what is left of it."""

    entry: Entry
    due: date
    open: Decimal
    days_overdue: int = 0


class Activity(NamedTuple):
    """One row of an account's activity: an entry, what it added to the balance (negative: took
    off), and the balance after it. (A NamedTuple: made for every row of every page, it is made
    at a third of a frozen dataclass's cost.)"""

    entry: Entry
    change: Decimal
    balance: Decimal


@dataclass
class Account:
    """One customer's position in one currency as of a date."""

    currency: str
    balance: Decimal = ZERO
    unapplied: Decimal = ZERO  # credit not yet used against anything (shown as its own line)
    processing: Decimal = ZERO  # bank payments submitted, not yet cleared (already counted as paid)
    # bank debits of the period that failed after processing (returned): no effect on the balance,
    # one row per payment under its receipt number, newest first
    returned: list[Entry] = field(default_factory=list)
    items: list[OpenItem] = field(default_factory=list)  # open items, oldest due first
    buckets: dict[str, Decimal] = field(default_factory=dict)
    recent: list[Entry] = field(default_factory=list)  # payments, credits, refunds…, newest first
    invoices: dict[str, Decimal] = field(default_factory=dict)  # every invoice's open amount, by ref
    # The account's activity over the statement's period (recent_days): the balance before it, then
    # every entry in it, oldest first (an online payment as one row), with what it did to the balance.
    since: date | None = None
    opening: Decimal = ZERO
    activity: list[Activity] = field(default_factory=list)
    # what was invoiced in each of the last SALES_MONTHS months, the as-of month first (an empty
    # list for an account made by hand: no sales)
    sales: list[Decimal] = field(default_factory=list)
    last_payment: Entry | None = None  # the latest payment received (by date, a day's ties by order)

    @cached_property
    def oldest_days(self) -> int:
        """Days past due of the oldest unpaid item (0 when nothing is overdue): the items are
        settled by the time it is read (_account makes them)."""
        return max(map(_DAYS_OVERDUE, self.items), default=0)

    @cached_property
    def overdue(self) -> Decimal:
        """What is past due (worked out once: a page reads it four times; buckets are settled by
        then, in _account)."""
        return sum((v for k, v in self.buckets.items() if k != "current"), ZERO)


def accounts(entries: list[Entry], as_of: date, recent_days: int = 120) -> list[Account]:
    """Allocate credits to debits and age what is open, per currency, as of a date.

    Allocation: credits that name an invoice (`applies_to`) settle it first, up to its open
    amount; everything else (and any excess) pays the oldest-due items first; what is left
    is unapplied credit. Entries dated after `as_of` are not yet on the statement. A payment of
    status "failed" (a bank debit returned) counts for nothing: it is listed in `returned` when
    it is of the period, and makes no account of its own.
    """
    by_currency: dict[str, list[Entry]] = {}
    failed: dict[str, list[Entry]] = {}
    if entries and len(set(map(_CURRENCY, entries))) == 1 and max(map(_DATE, entries)) <= as_of and (
            "failed" not in map(_STATUS, entries)):  # most statements: the loop below's result, tested in C
        by_currency[entries[0].currency] = entries
    else:
        for e in entries:
            if e.date <= as_of:
                (failed if e.status == "failed" else by_currency).setdefault(e.currency, []).append(e)
    out = [_account(cur, es, as_of, recent_days) for cur, es in sorted(by_currency.items())]
    for a in out if failed else ():  # (none failed, as on most statements: none returned)
        gone = in_order([e for e in failed.get(a.currency, ()) if a.since is None or e.date >= a.since])
        a.returned = one_row_per_payment(gone[::-1])
    return out


_DUE = attrgetter("due")  # an open item's due day, its sort key
_DAYS_OVERDUE = attrgetter("days_overdue")


def _account(currency: str, entries: list[Entry], as_of: date, recent_days: int) -> Account:
    acct = Account(currency)
    items: list[OpenItem] = []
    by_ref: dict[str, OpenItem] = {}
    explicit: list[Entry] = []
    pool = ZERO
    balance = ZERO
    since = as_of - timedelta(days=recent_days)
    window: list[Entry] = []  # the entries of the period (since), for the account's activity
    changes: list[Decimal] = []  # what each of those did to the balance (_change)
    # Sales and the last payment, worked out in this loop over the entries already in order (the
    # references: aging.monthly_sales and aging.last_payments; test_accounts keeps them equal).
    sales = [ZERO] * SALES_MONTHS
    months = as_of.year * 12 + as_of.month  # an invoice's month, counted back: 0 for the as-of month
    last_payment = None
    for e in in_order(entries):
        amount = e.amount
        if e.type in DEBITS or (e.type == "adjustment" and amount > 0):
            item = OpenItem(e, e.due_date or e.date, amount)
            items.append(item)
            if e.type == "invoice":
                by_ref[e.ref] = item
                d = e.date
                m = months - d.year * 12 - d.month
                if m < SALES_MONTHS:
                    sales[m] += amount
            balance += amount
            if e.date >= since:
                window.append(e)
                changes.append(amount)
        else:
            amount = -amount if e.type == "adjustment" else amount
            balance -= amount
            if e.date >= since:
                window.append(e)
                changes.append(-amount)
            if e.applies_to and e.type != "adjustment":
                explicit.append(e)
            else:
                pool += amount
            if e.status == "processing":
                acct.processing += amount
            if e.type == "payment":
                last_payment = e
        if e.type != "invoice" and e.date >= since:
            acct.recent.append(e)
    for e in explicit:
        invoice = by_ref.get(e.applies_to)
        amount = e.amount
        if invoice is not None:
            used = min(amount, invoice.open)
            invoice.open -= used
            amount -= used
        pool += amount
    # The oldest due first, ties in the entries' order: the items were made in that order, so a
    # stable sort by due alone gives what sorting by (due, order(entry)) gives, without the keys.
    items.sort(key=_DUE)
    for item in items:
        if not pool:
            break
        used = min(pool, item.open)
        item.open -= used
        pool -= used
    buckets = dict.fromkeys(BUCKET_KEYS, ZERO)
    open_items = []
    for item in items:
        if item.entry.type == "invoice":
            acct.invoices[item.entry.ref] = item.open
        if item.open:
            item.days_overdue = max((as_of - item.due).days, 0)
            buckets[bucket_of(item.days_overdue)] += item.open
            open_items.append(item)
    acct.items = open_items
    acct.buckets = buckets
    acct.unapplied = pool
    acct.balance = balance
    opening = balance - sum(changes, ZERO)
    acct.recent = one_row_per_payment(acct.recent[::-1])
    acct.since, acct.opening, acct.activity = since, opening, _activity(opening, window, changes)
    acct.sales, acct.last_payment = sales, last_payment
    return acct


def _activity(opening: Decimal, window: list[Entry], changes: list[Decimal]) -> list[Activity]:
    """The period's rows (in ledger order) with a running balance from the balance brought forward;
    `changes`: what each entry of the window did to the balance (_change)."""
    if _online(window):
        window = in_order(one_row_per_payment(window))
        changes = [_change(e) for e in window]
    rows, balance = [], opening
    for e, change in zip(window, changes, strict=True):
        balance += change
        rows.append(Activity(e, change, balance))
    return rows


def _online(entries: list[Entry]) -> bool:
    """Whether any of the entries is of an online payment (its reference Stripe's `pi_…`)."""
    return any(map(_ONLINE, map(_REF, entries)))


def _change(e: Entry) -> Decimal:
    """What an entry does to the balance: debits add, credits take off; an adjustment is signed."""
    if e.type == "adjustment" or e.type in DEBITS:
        return e.amount
    return -e.amount


def one_row_per_payment(recent: list[Entry]) -> list[Entry]:
    """An online payment as the customer made it: one row, its receipt number for a reference and
    every invoice it paid named, not a row per invoice under Stripe's id (the payment service
    records `pi_…/INV-1`, `pi_…/INV-2`, and `pi_…` for what paid the oldest first)."""
    if not _online(recent):  # most statements: no online payment among them
        return recent
    out: list[Entry] = []
    at: dict[tuple[str, date, str], int] = {}  # (payment, day, status) -> its row in out
    for e in recent:
        pid = e.ref.split("/", 1)[0]
        if e.type != "payment" or not pid.startswith("pi_"):
            out.append(e)
            continue
        key = (pid, e.date, e.status)
        i = at.get(key)
        if i is None:
            at[key] = len(out)
            out.append(e._replace(ref=receipt_number(pid)))
            continue
        first = out[i]
        named = sorted({*first.applies_to.split(", "), e.applies_to} - {""})
        out[i] = first._replace(amount=first.amount + e.amount, applies_to=", ".join(named))
    return out


def in_order(entries: list[Entry]) -> list[Entry]:
    """`sorted(entries, key=order)`, at a fraction of the cost: sorted by date alone (keys made in C),
    then only the entries of a day shared by several sorted by `order` (test_accounts keeps the two equal)."""
    out = sorted(entries, key=_DATE)
    i, n = 1, len(out)
    while i < n:
        if out[i].date != out[i - 1].date:
            i += 1
            continue
        start, day = i - 1, out[i].date  # a day with several entries: they are sorted by order
        while i < n and out[i].date == day:
            i += 1
        out[start:i] = sorted(out[start:i], key=order)
    return out


_DATE, _CURRENCY, _STATUS, _REF = attrgetter("date"), attrgetter("currency"), attrgetter("status"), attrgetter("ref")
_ONLINE = methodcaller("startswith", "pi_")


def order(e: Entry) -> tuple[date, int, str, Decimal, str, date, str, str, str]:
    """Entries in the order they happened, ties broken by what they say, never by where they are in
    the ledger files: a reordered, re-cut or re-exported ledger gives the same statement (the
    incremental build relies on it: a page is made from its customer's rows, not their places)."""
    return (e.date, _TYPE_RANK[e.type], e.ref, e.amount, e.currency, e.due_date or e.date, e.applies_to, e.memo,
            e.status)


_TYPE_RANK = {t: n for n, t in enumerate(ENTRY_TYPES)}
