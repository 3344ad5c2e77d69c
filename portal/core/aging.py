"""The aging report's arithmetic: each customer's figures, totals per currency, countback DSO. Pure.

A customer's figures in one currency are a fixed-width vector of Decimals (see the slot names
below), so totals are sums of vectors and an incremental build keeps them current by subtracting
the old vectors of the customers it re-rendered and adding their new ones.
"""
from __future__ import annotations

import calendar
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from .accounts import BUCKET_KEYS, BUCKETS, SALES_MONTHS, Account, order
from .records import Entry

ZERO = Decimal(0)
# Slots of a figures vector. OWING and LATE are 1 for one customer and a count in totals.
BALANCE, OVERDUE, UNAPPLIED, PROCESSING, OWING, LATE = range(6)
BUCKET = {key: 6 + i for i, (key, _) in enumerate(BUCKETS)}
SALES = 6 + len(BUCKETS)  # then SALES_MONTHS monthly invoice totals, the as-of month first
WIDTH = SALES + SALES_MONTHS


def figures(accounts: list[Account]) -> dict[str, list[Decimal]]:
    """{currency: figures vector} for one customer."""
    out = {}
    for a in accounts:  # the slots in their order (BALANCE, OVERDUE, …, BUCKET, SALES), made as one list
        b, overdue = a.buckets, a.overdue
        out[a.currency] = [a.balance, overdue, a.unapplied, a.processing, ONE if a.balance > 0 else ZERO,
                           ONE if overdue > 0 else ZERO, *[b.get(k, ZERO) for k in BUCKET_KEYS],
                           *(a.sales or _NO_SALES)]
    return out


def monthly_sales(entries: list[Entry], as_of: date) -> dict[str, list[Decimal]]:
    """{currency: what was invoiced in each of the last SALES_MONTHS months, the as-of month first}:
    the reference for Account.sales (accounts works it out in its loop; test_accounts keeps them equal)."""
    sales: dict[str, list[Decimal]] = {}
    months = as_of.year * 12 + as_of.month  # an invoice's month, counted back: 0 for the as-of month
    for e in entries:
        if e.type == "invoice" and e.date <= as_of:
            m = months - e.date.year * 12 - e.date.month
            if m < SALES_MONTHS:
                s = sales.get(e.currency)
                if s is None:
                    s = sales[e.currency] = [ZERO] * SALES_MONTHS
                s[m] += e.amount
    return sales


ONE = Decimal(1)
_NO_SALES = (ZERO,) * SALES_MONTHS


def encode(vectors: dict[str, list[Decimal]]) -> str:
    """Compact text for a page record: `USD:1200.00,1200.00,,…|EUR:…` (zeros left empty)."""
    return "|".join([f"{cur}:" + ",".join([str(x) if x else "" for x in v]) for cur, v in sorted(vectors.items())])


def decode(text: str) -> dict[str, list[Decimal]]:
    out = {}
    for part in text.split("|") if text else ():
        cur, _, values = part.partition(":")
        out[cur] = [Decimal(x) if x else ZERO for x in values.split(",")]
    return out


def add(totals: dict[str, list[Decimal]], vectors: dict[str, list[Decimal]], sign: int = 1) -> None:
    """Add (or with sign=-1 take away) one customer's vectors to running totals, in place."""
    for cur, v in vectors.items():
        t = totals.get(cur)
        if t is None:
            t = totals[cur] = [ZERO] * WIDTH
        for i, x in enumerate(v):
            if x:
                t[i] += x if sign == 1 else -x


def oldest_days(account: Account) -> int:
    """Days past due of the customer's oldest unpaid item (0 when nothing is overdue)."""
    return account.oldest_days


def last_payments(entries: list[Entry], as_of: date) -> dict[str, Entry]:
    """{currency: the latest payment received on or before the as-of date}: the reference for
    Account.last_payment (test_accounts keeps the two equal)."""
    out: dict[str, Entry] = {}
    for e in entries:
        if e.type == "payment" and e.date <= as_of and e.status != "failed":  # a returned debit paid nothing
            prev = out.get(e.currency)
            # the latest by date, a day's ties by order: the same rows, whatever their order, the same one
            if prev is None or e.date > prev.date or (e.date == prev.date and order(e) >= order(prev)):
                out[e.currency] = e
    return out


def countback_dso(balance: Decimal, sales: list[Decimal], as_of: date) -> Decimal | None:
    """Days sales outstanding by the countback method, to one decimal; None if beyond the months kept.

    Walk back from the as-of month: while the receivables left exceed a month's invoiced sales,
    take that month's sales off and count its days (the as-of month counts the days so far);
    the month that covers the rest counts the fraction of its days the rest is of its sales.
    """
    if balance <= 0:
        return ZERO
    left, days = balance, 0
    year, month = as_of.year, as_of.month
    for i, sold in enumerate(sales):
        month_days = as_of.day if i == 0 else calendar.monthrange(year, month)[1]
        if sold > 0 and left <= sold:
            return (days + month_days * left / sold).quantize(Decimal("0.1"))
        left -= max(sold, ZERO)
        days += month_days
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return None


def bucket_shares(total: list[Decimal]) -> list[tuple[str, str, Decimal, int]]:
    """(key, label, amount, percent of the open items, rounded) for each bucket, for the chart."""
    amounts = [total[BUCKET[k]] for k, _ in BUCKETS]
    whole = sum((a for a in amounts if a > 0), ZERO)
    return [(k, label, a, int((a * 100 / whole).to_integral_value(ROUND_HALF_UP)) if whole > 0 and a > 0 else 0)
            for (k, label), a in zip(BUCKETS, amounts, strict=True)]
