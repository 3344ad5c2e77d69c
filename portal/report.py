"""The staff aging report: `aging.html` and `aging.csv` in the staff folder, never in the public site.

A customer's CSV rows (all but the contact columns) are made when their statement is rendered and
kept in the build state's page record, like links.csv's rows, so writing the report joins
precomputed text: 100,000 customers cost a fraction of a second, not a re-read of the ledger.
The contact columns (last contact, promise to pay) come from contacts.csv when the report is written.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

from . import aging, state as st
from .accounts import BUCKETS, Account
from .contacts import FILE, Contact
from .contacts import read as read_contacts
from .model import Customer, Entry
from .money import fmt, plain
from .publish import write_atomic
from .staff import safe_cell

HTML_ROWS = 500  # customers listed on the HTML page; every customer is in the CSV
MOST_OVERDUE = 10
COLUMNS = ("customer_id", "name", "email", "currency", "balance", "overdue",
           *(f"days_{k.replace('-', '_').replace('+', '_plus')}" for k, _ in BUCKETS),
           "unapplied_credit", "processing", "oldest_days_overdue", "last_payment_date", "last_payment_amount",
           "statement_url")
CONTACT_COLUMNS = ("last_contact_date", "last_contact", "promise_date", "promise_amount", "promise_status")
NO_CONTACT = "," * len(CONTACT_COLUMNS)


def customer_rows(customer: Customer, accounts: list[Account], entries: list[Entry], as_of: date, url: str) -> str:
    """A customer's CSV rows, one per currency, each ending where the contact columns go."""
    paid = aging.last_payments(entries, as_of)
    head = ",".join((_cell(safe_cell(customer.id)), _cell(safe_cell(customer.name)), _cell(safe_cell(customer.email))))
    out = []
    for a in accounts or [Account(customer.currency)]:
        cur = a.currency
        last = paid.get(cur)
        figures = [a.balance, a.overdue, *(a.buckets.get(k, aging.ZERO) for k, _ in BUCKETS), a.unapplied, a.processing]
        out.append(",".join((head, cur, *(plain(x, cur) for x in figures), str(aging.oldest_days(a)),
                             last.date.isoformat() if last else "", plain(last.amount, cur) if last else "",
                             url)) + "\n")
    return "".join(out)


def _cell(text: str) -> str:
    return f'"{text.replace(chr(34), chr(34) * 2)}"' if any(ch in text for ch in ',"\n\r') else text


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
            _cell(safe_cell(f"{last.channel}: {last.note}" if last and last.note else last.channel if last else "")),
            p.promise_date.isoformat() if p else "", str(p.promise_amount) if p else "", self.promise_status))


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
    if promise.promise_date >= as_of:
        return "open"
    paid = sum((e.amount for e in payments if e.type == "payment" and e.currency == promise.currency
                and promise.date <= e.date <= promise.promise_date), aging.ZERO)
    return "kept" if paid >= promise.promise_amount or balance <= 0 else "broken"


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
    return [dict(zip(COLUMNS, row)) for row in csv.reader(text.splitlines())]


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


def csv_text(pages: dict, rows_at: int, contacts: dict[str, ContactSummary]) -> str:
    """The whole CSV: every customer in id order, the contact columns filled in where known."""
    out = [",".join(COLUMNS + CONTACT_COLUMNS) + "\n"]
    for cid in sorted(pages):
        rows = pages[cid][rows_at]
        known = contacts.get(cid)
        out.append(rows.replace("\n", (known.cells() if known else NO_CONTACT) + "\n"))
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


def ordered(pages: dict, rank_at: int) -> list[str]:
    """Customer ids, the longest overdue first (then by id): the order of the HTML page."""
    return sorted(pages, key=lambda cid: (-pages[cid][rank_at], cid))


def view(company: str, as_of: date, totals: dict, pages: dict, rows_at: int, rank_at: int,
         contacts: dict[str, ContactSummary], csv_name: str, limit: int = HTML_ROWS) -> View:
    """The HTML page's content: customers who owe something or are owed, plus any with a broken promise."""
    lines: list[Line] = []
    listed_all = True
    for cid in ordered(pages, rank_at):
        known = contacts.get(cid, ContactSummary())
        for cells in parse_rows(pages[cid][rows_at]):
            if Decimal(cells["balance"]) == 0 and Decimal(cells["unapplied_credit"]) == 0 \
                    and known.promise_status != "broken":
                continue
            if len(lines) == limit:
                listed_all = False
                break
            lines.append(Line(cells, known, cells["currency"]))
        if not listed_all:
            break
    late = [ln for ln in lines if int(ln.cells["oldest_days_overdue"]) > 0]
    late.sort(key=lambda ln: (-int(ln.cells["oldest_days_overdue"]), -Decimal(ln.cells["overdue"])))
    return View(company, as_of, currency_totals(totals, as_of), late[:MOST_OVERDUE], lines, len(pages), listed_all,
                sum(1 for s in contacts.values() if s.promise_status == "broken"), csv_name)


def html(env, v: View) -> str:
    return env.get_template("staff/aging.html").render(v=v, BUCKETS=BUCKETS, aging=aging, fmt=fmt,
                                                       width=chart_svg_width)


def contacts_signature(settings) -> tuple:
    """contacts.csv's (size, mtime, sha256), or () when there is none: a change rewrites the report."""
    path = settings.ledger_dir / FILE
    return st.file_sig(path, None) if path.exists() else ()


def write(settings, as_of: date, totals: dict, body: st.Body, dated: bool = False) -> tuple[Path, Path]:
    """Write the report (HTML and CSV) into the staff folder; returns their paths."""
    from .lookup import entries_of
    from .site import environment
    pages = body.pages
    summary = summarise_contacts(read_contacts(settings.ledger_dir))
    due = [cid for cid, (_, p) in summary.items() if p is not None and p.promise_date < as_of and cid in pages]
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
    html_path, csv_path = report_path(settings.staff_dir, as_of if dated else None)
    write_atomic(csv_path, csv_text(pages, st.REPORT_ROWS, known))
    page = view(settings.company.get("name", ""), as_of, st.read_totals(totals), pages, st.REPORT_ROWS, st.RANK,
                known, csv_path.name)
    write_atomic(html_path, html(environment(settings), page))
    return html_path, csv_path
