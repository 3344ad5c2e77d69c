"""The staff aging report: `aging.html` and `aging.csv` in the staff folder, never in the public site.

A customer's CSV rows (all but the contact columns) are made when their statement is rendered and
kept in the build state's page record, like links.csv's rows, so writing the report joins
precomputed text: 100,000 customers cost a fraction of a second, not a re-read of the ledger.
The contact columns (last contact, promise to pay) come from contacts.csv when the report is written.
"""
from __future__ import annotations

import csv
import heapq
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from operator import attrgetter
from pathlib import Path

from ..core import aging
from ..core.accounts import BUCKET_KEYS, BUCKETS, Account
from ..core.cells import csv_cell, safe_cell
from ..core.money import fmt, plain
from ..core.records import Customer, Entry, InputError
from ..ledger import online as online_payments
from ..ledger.contacts import CUSTOMER, FILE, Contact, held
from ..ledger.contacts import read as read_contacts
from . import state as st
from .publish import write_atomic

HTML_ROWS = 500  # customers listed on the HTML page; every customer is in the CSV
MOST_OVERDUE = 10
# A row starts with its links.csv row (kept in the page record already), then the rest.
COLUMNS = ("customer_id", "name", "email", "statement_url", "currency", "balance", "overdue",
           *(f"days_{k.replace('-', '_').replace('+', '_plus')}" for k, _ in BUCKETS),
           "unapplied_credit", "processing", "oldest_days_overdue", "last_payment_date", "last_payment_amount")
CONTACT_COLUMNS = ("last_contact_date", "last_contact", "promise_date", "promise_amount", "promise_status")
NO_CONTACT = "," * len(CONTACT_COLUMNS)


def customer_rows(customer: Customer, accounts: list[Account]) -> str:
    """The rest of a customer's CSV rows after their links.csv rows (staff.link_rows: the same
    currencies in the same order), a line each, up to where the contact columns go."""
    out = []
    for a in (sorted(accounts, key=_CURRENCY) if len(accounts) > 1 else accounts) or [Account(customer.currency)]:
        cur = a.currency
        last = a.last_payment
        buckets = a.buckets
        figures = [*(buckets.get(k, aging.ZERO) for k in BUCKET_KEYS), a.unapplied, a.processing]
        out.append(",".join([*[plain(x, cur) for x in figures], str(a.oldest_days),
                             last.date.isoformat() if last else "", plain(last.amount, cur) if last else ""]) + "\n")
    return "".join(out)


_CURRENCY = attrgetter("currency")


def joined_rows(record: tuple, contact: str = "") -> str:
    """A customer's whole report rows from their page record: links.csv row, the rest, `contact`."""
    link, rest = record[st.LINK_ROWS], record[st.REPORT_ROWS]
    if link.count("\n") == 1:  # one currency: the usual case
        return f"{link[:-1]},{rest[:-1]}{contact}\n"
    # A line per currency in each, ended by "\n" (a name may hold \u2028 or \x85, which splitlines() breaks at).
    return "".join(f"{a},{b}{contact}\n" for a, b in zip(link.split("\n")[:-1], rest.split("\n")[:-1], strict=True))


@dataclass(frozen=True)
class ContactSummary:
    """What the contact log says about one customer, for the report."""

    last: Contact | None = None
    promise: Contact | None = None  # their latest promise to pay
    promise_status: str = ""  # open, kept, broken

    def cells(self) -> str:
        last, p = self.last, self.promise
        return "," + ",".join((
            last.date.isoformat() if last else "",
            csv_cell(safe_cell(f"{last.channel}: {last.note}" if last and last.note else last.channel if last else "")),
            p.promise_date.isoformat() if p and p.promise_date else "",  # a promise has a date
            str(p.promise_amount) if p else "", self.promise_status))


def summarise_contacts(contacts: list[Contact]) -> dict[str, tuple[Contact, Contact | None]]:
    """{customer: (their latest contact, their latest promise or None)} from the log, oldest first."""
    out: dict[str, tuple[Contact, Contact | None]] = {}
    for c in contacts:
        _, promise = out.get(c.customer_id, (None, None))
        out[c.customer_id] = (c, c if c.promise_date is not None else promise)
    return out


def promise_status(promise: Contact, payments: list[Entry], balance: Decimal, as_of: date) -> str:
    """open until its date; then kept if payments from the day it was made to its date reached the
    amount (or nothing is owed any more), else broken."""
    due, amount = promise.promise_date, promise.promise_amount
    assert due is not None  # a promise is a contact with a promise date (summarise_contacts)
    if due >= as_of:
        return "open"
    # The CLI records a promise's amount with its date. contacts.read takes a hand-edited row with only
    # a date: that stopped the report before (None compared with a Decimal) and still does, here.
    assert amount is not None
    paid = sum((e.amount for e in payments if e.type == "payment" and e.currency == promise.currency
                and promise.date <= e.date <= due and e.status != "failed"), aging.ZERO)
    return "kept" if paid >= amount or balance <= 0 else "broken"


@dataclass
class Line:
    """One customer row of the HTML report."""

    cells: dict
    contact: ContactSummary
    currency: str

    def money(self, column: str) -> str:
        return fmt(Decimal(self.cells[column]), self.currency)

    def has(self, column: str) -> bool:
        return Decimal(self.cells[column]) != 0


def parse_rows(text: str) -> list[dict]:
    """The report rows of joined_rows as dicts; lines end at "\n" only (a name may hold \u2028)."""
    return [dict(zip(COLUMNS, row, strict=True)) for row in csv.reader(text.split("\n")[:-1])]


@dataclass
class Totals:
    """One currency's line of the summary."""

    currency: str
    figures: list[Decimal]
    dso: Decimal | None

    @property
    def balance(self) -> Decimal:
        return self.figures[aging.BALANCE]

    @property
    def overdue(self) -> Decimal:
        return self.figures[aging.OVERDUE]

    def count(self, slot: int) -> int:
        return int(self.figures[slot])

    def shares(self):
        return aging.bucket_shares(self.figures)


def currency_totals(totals: dict[str, list[Decimal]], as_of: date) -> list[Totals]:
    return [Totals(cur, v, aging.countback_dso(v[aging.BALANCE], v[aging.SALES:], as_of))
            for cur, v in sorted(totals.items())]


def csv_text(pages: dict, contacts: dict[str, ContactSummary], ids=None) -> str:
    """The whole CSV: every customer in `ids` order (default: sorted), the contact columns filled in."""
    out = [",".join(COLUMNS + CONTACT_COLUMNS) + "\n"]
    for cid in sorted(pages) if ids is None else ids:
        known = contacts.get(cid)
        out.append(joined_rows(pages[cid], known.cells() if known else NO_CONTACT))
    return "".join(out)


def chart_svg_width(percent: int) -> int:
    """Bar width in the chart's 0–200 viewBox units for a whole percent."""
    return percent * 2


def report_path(staff_dir: Path, as_of: date | None) -> tuple[Path, Path]:
    """aging.html/.csv for the build's report; aging-<date>.html/.csv for one asked for a past date."""
    stem = "aging" if as_of is None else f"aging-{as_of.isoformat()}"
    return staff_dir / f"{stem}.html", staff_dir / f"{stem}.csv"


@dataclass
class View:
    """Everything the HTML page shows."""

    company: str
    as_of: date
    currencies: list[Totals]
    most_overdue: list[Line]
    lines: list[Line]
    customers: int
    listed_all: bool
    broken: int
    csv_name: str
    set_aside: list | None = None  # payments Stripe took that the ledger does not have (online_payments.SetAside)
    set_aside_problem: str = ""  # why the set-aside file could not be read, if it could not
    messages: list[Contact] = field(default_factory=list)  # customers' messages reminders wait for


def ordered(pages: dict, first: int | None = None) -> list[str]:
    """Customer ids, the longest overdue first (then by id): the order of the HTML page; only the
    `first` few of them when that is all that is needed (a partial selection, not a sort of all)."""
    def key(cid):
        return -pages[cid][st.RANK], cid
    return sorted(pages, key=key) if first is None or first >= len(pages) else heapq.nsmallest(first, pages, key=key)


def view(company: str, as_of: date, totals: dict, pages: dict, contacts: dict[str, ContactSummary], csv_name: str,
         limit: int = HTML_ROWS) -> View:
    """The HTML page's content: customers who owe something or are owed, plus any with a broken promise."""
    # Most customers listed owe something: twice the rows asked for is nearly always enough.
    lines = _lines(pages, contacts, limit, ordered(pages, 2 * limit + 1))
    if lines is None:
        lines = _lines(pages, contacts, limit, ordered(pages))
        assert lines is not None  # every customer asked for: _lines is None only when some were left out
    listed_all = len(lines) <= limit
    lines = lines[:limit]
    late = [ln for ln in lines if int(ln.cells["oldest_days_overdue"]) > 0]
    late.sort(key=lambda ln: (-int(ln.cells["oldest_days_overdue"]), -Decimal(ln.cells["overdue"])))
    return View(company, as_of, currency_totals(totals, as_of), late[:MOST_OVERDUE], lines, len(pages), listed_all,
                sum(1 for s in contacts.values() if s.promise_status == "broken"), csv_name)


def _lines(pages, contacts, limit, ids) -> list[Line] | None:
    """Up to limit + 1 lines for these customers in order; None if they ran out first and there are others."""
    lines: list[Line] = []
    for cid in ids:
        known = contacts.get(cid, ContactSummary())
        for cells in parse_rows(joined_rows(pages[cid])):
            if Decimal(cells["balance"]) == 0 and Decimal(cells["unapplied_credit"]) == 0 \
                    and known.promise_status != "broken":
                continue
            lines.append(Line(cells, known, cells["currency"]))
        if len(lines) > limit:
            return lines
    return lines if len(ids) == len(pages) else None


def html(env, v: View) -> str:
    return env.get_template("staff/aging.html").render(v=v, BUCKETS=BUCKETS, aging=aging, fmt=fmt,
                                                       width=chart_svg_width)


def waiting_messages(log: list[Contact], as_of: date, pages: dict) -> list[Contact]:
    """Customers' messages that hold reminders on this date, the newest first."""
    senders = {c.customer_id for c in log if c.channel == CUSTOMER and c.customer_id in pages}
    theirs: dict[str, list[Contact]] = {}
    for c in log:  # grouped once: each sender's contacts, not the whole log per sender
        if c.customer_id in senders:
            theirs.setdefault(c.customer_id, []).append(c)
    found = [m for cid, contacts in theirs.items() for m in held(contacts, cid, as_of)]
    return sorted(found, key=lambda m: (m.date, m.customer_id), reverse=True)


def inputs_signature(settings) -> tuple:
    """The signatures of the files the report reads besides the build's state (contacts.csv and the
    payments set aside): a change to either rewrites the report, even when no page changes."""
    paths = (settings.ledger_dir / FILE, settings.ledger_dir / online_payments.SET_ASIDE_FILE)
    return tuple(st.file_sig(p, None) if p.exists() else () for p in paths)


def set_aside(settings, body: st.Body) -> tuple[list, str]:
    """(payments set aside and not since recorded by hand, a problem reading the file or "").

    Staff record a set-aside payment by hand under its PaymentIntent id as the ref; one recorded so
    for the customer its metadata names is left off the list. Failed ones are left off too (no money)."""
    from .lookup import entries_of
    try:
        found = online_payments.read_set_aside(settings.ledger_dir, settings.root)
    except InputError as e:
        return [], f"{e.problems[0]} ({len(e.problems)} problem{'s' if len(e.problems) != 1 else ''} in the file)"
    live = [a for a in found.values() if a.status != "failed"]
    recorded = entries_of(settings, body, sorted({a.customer_id for a in live if a.customer_id in body.pages}))
    done = {e.ref for es in recorded.values() for e in es}
    return sorted((a for a in live if a.payment_intent not in done), key=lambda a: (a.day, a.payment_intent)), ""


@dataclass
class Contacts:
    """What the report says of the contact log: the log, and each customer's summary of it."""

    log: list[Contact]
    known: dict[str, ContactSummary]


def contacts(settings, as_of: date, body: st.Body) -> Contacts:
    """The contact log read, and summed up per customer (a promise's status from their payments)."""
    from .lookup import entries_of
    pages = body.pages
    log = read_contacts(settings.ledger_dir)
    summary = summarise_contacts(log)
    due = [cid for cid, (_, p) in summary.items()
           if p is not None and p.promise_date is not None and p.promise_date < as_of and cid in pages]
    payments = entries_of(settings, body, due) if due else {}
    known = {}
    for cid, (last, promise) in summary.items():
        if cid not in pages:
            continue
        status = ""
        if promise is not None:
            figures = st.figures(pages[cid]).get(promise.currency)
            status = promise_status(promise, payments.get(cid, []), figures[aging.BALANCE] if figures else aging.ZERO,
                                    as_of)
        known[cid] = ContactSummary(last, promise, status)
    return Contacts(log, known)


def write(settings, as_of: date, totals: dict, body: st.Body, dated: bool = False, ids=None) -> tuple[Path, Path]:
    """Write the report (HTML and CSV) into the staff folder; returns their paths. `ids`: the
    customers sorted, when the caller has them."""
    found = contacts(settings, as_of, body)
    return write_html(settings, as_of, totals, body, found, dated), write_csv(settings, as_of, body, found, dated, ids)


def write_csv(settings, as_of: date, body: st.Body, found: Contacts, dated: bool = False, ids=None) -> Path:
    """The report's CSV, every customer (a build writes it beside the HTML, in another process)."""
    csv_path = report_path(settings.staff_dir, as_of if dated else None)[1]
    write_atomic(csv_path, csv_text(body.pages, found.known, ids))
    return csv_path


def write_html(settings, as_of: date, totals: dict, body: st.Body, found: Contacts, dated: bool = False) -> Path:
    """The report's HTML page: the summary, the customers to chase first, set-aside payments, messages."""
    from .render import environment
    html_path, csv_path = report_path(settings.staff_dir, as_of if dated else None)
    page = view(settings.company.get("name", ""), as_of, st.read_totals(totals), body.pages, found.known,
                csv_path.name)
    page.set_aside, page.set_aside_problem = set_aside(settings, body)
    page.messages = waiting_messages(found.log, as_of, body.pages)
    write_atomic(html_path, html(environment(settings), page))
    return html_path
