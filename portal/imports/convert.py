"""An export's records, read with a profile, to ledger rows and customers (pure: no files).

What an invoice-list export says is what is open on the day it was run: each document becomes an
invoice for its total and, for the part already paid, a payment that names it, so the statement
shows what the export shows. Report-style exports carry rows that are not data (title rows before
the header, blank rows, `Total for …`/`TOTAL` rows, a footer): the header is found by its names
and those rows are skipped. A row per invoice line is taken a document at a time, its totals once.
"""
from __future__ import annotations

import base64
import hashlib
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from itertools import chain, islice

from ..core.money import MoneyError, is_currency, parse_amount, plain
from ..core.records import Problem
from .profile import REQUIRED, Profile

HEADER_WITHIN = 30  # records: a report's title rows come before its header
ENTRY_HEADER = ("date", "customer_id", "type", "ref", "amount", "currency", "due_date", "applies_to", "memo")
_TERMS = re.compile(r"(?:net\s*)?(\d{1,4})(?:\s*days?)?", re.IGNORECASE)
_ON_RECEIPT = {"due on receipt", "on receipt", "due upon receipt", "immediate", "cod"}


@dataclass(frozen=True)
class Customer:
    id: str
    name: str
    email: str
    currency: str


@dataclass
class Converted:
    """Ledger rows (ENTRY_HEADER's columns, as text) with the export line each comes from (kept
    here, or handed to a sink as they are made: a million rows need not be held), the customers
    they name, the invoice and credit numbers' lines (when asked for, to compare exports), and what
    was wrong (problems: nothing is imported) or worth saying."""

    rows: list[tuple[str, ...]] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    customers: dict[str, Customer] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    numbers: dict[str, int] | None = None
    sink: Callable[[tuple[str, ...], int], None] | None = None

    def add(self, row: tuple[str, ...], line: int) -> None:
        if self.numbers is not None and row[2] in ("invoice", "credit"):
            self.numbers.setdefault(row[3], line)
        if self.sink is not None:
            self.sink(row, line)
        else:
            self.rows.append(row)
            self.lines.append(line)


@lru_cache(maxsize=200_000)
def customer_id(name: str) -> str:
    """A stable id for a customer the export names but gives no id: from the name as written, less
    case, accents' forms and spacing. It carries no part of the name (URLs carry the id, signed but
    readable); the same name always gives the same id, so links survive a re-export."""
    key = " ".join(unicodedata.normalize("NFKC", name).casefold().split())
    return "C-" + base64.b32encode(hashlib.sha256(key.encode()).digest()).decode()[:10]


def find_header(records: list[tuple[int, list[str]]], profile: Profile) -> int | None:
    """The index in `records` of the header: the first record with every column the profile maps."""
    wanted = set(profile.columns.values())
    for i, (_, fields) in enumerate(records[:HEADER_WITHIN]):
        if wanted <= {f.strip() for f in fields}:
            return i
    return None


def not_data(fields: list[str], date_at: int, profile: Profile) -> bool:
    """A report's row that is no document: blank, one cell (a heading, a footer), a total (its first
    cell "Total…" and no date of its own: "Total for Acme", "TOTAL"; a customer named "Total
    Fitness" in a row with a date is still data), or one of a profile's other rows."""
    cells = [(i, f.strip()) for i, f in enumerate(fields) if f.strip()]
    if len(cells) <= 1:
        return True
    at, first = cells[0]
    dated = date_at < len(fields) and date_at != at and fields[date_at].strip()
    return (first.casefold().startswith("total") and not dated) or first in profile.not_data


def convert(name: str, records: Iterable[tuple[int, list[str]]], profile: Profile, home_currency: str,
            out: Converted | None = None) -> Converted:
    """Read an export's records (line number, fields) with a profile, a document at a time."""
    out = out if out is not None else Converted()
    records = iter(records)
    head = list(islice(records, HEADER_WITHIN))
    h = find_header(head, profile)
    if h is None:
        missing = sorted(set(profile.columns.values()) - {f.strip() for _, fs in head for f in fs})
        out.problems.append(Problem(name, 1, f"no header row with the columns of {profile.title} (missing: "
                                             f"{', '.join(missing)}); is it that export?"))
        return out
    header = [f.strip() for f in head[h][1]]
    col = {ours: header.index(theirs) for ours, theirs in profile.columns.items()}
    skip = [(header.index(theirs), values) for theirs, values in profile.skip.items() if theirs in header]
    keep = [(header.index(theirs), values) for theirs, values in profile.keep.items() if theirs in header]
    if profile.customer_sections:  # the heading row's name, put in a column of its own
        col["customer"] = len(header)
    width = len(header) + profile.customer_sections
    section = ""
    rows: list[tuple[int, list[str]]] = []  # the document being read: its lines, one after another
    key: tuple = ()
    done: dict[tuple, int] = {}  # the documents read, by key: at which line (a line-item export's)
    for line, fields in chain(head[h + 1:], records):
        if not_data(fields, col["date"], profile):
            heading = [f.strip() for f in fields if f.strip()]
            if profile.customer_sections and len(heading) == 1 and not heading[0].casefold().startswith("total"):
                section = heading[0]
            continue
        if any(fields[i].strip() not in values for i, values in keep if i < len(fields)):
            continue  # another account's line of a journal
        if len(fields) < width:
            fields = fields + [""] * (width - len(fields))
        if profile.customer_sections:
            fields = fields[:len(header)] + [section]
        if not profile.lines:
            _document(name, [(line, fields)], col, skip, profile, home_currency, out)
            continue
        found = tuple(fields[col[k]].strip() for k in ("document", "type", "number") if k in col)
        if found != key and rows:
            _document(name, rows, col, skip, profile, home_currency, out)
            done[key], rows = rows[0][0], []
        key = found
        if key in done:
            out.problems.append(Problem(name, line, f"a line of {fields[col['number']].strip()!r}, whose lines "
                                                    f"began on line {done[key]} and stopped (expected a document's "
                                                    "lines one after another, as the export writes them)"))
            continue
        rows.append((line, fields))
    if rows:
        _document(name, rows, col, skip, profile, home_currency, out)
    return out


def _document(name: str, rows: list[tuple[int, list[str]]], col: dict[str, int], skip: list, profile: Profile,
              home: str, out: Converted) -> None:
    line, first = rows[0]
    found: list[Problem] = []
    values = {key: first[i].strip() for key, i in col.items()}

    def get(key: str) -> str:
        return values.get(key, "")

    def problem(message: str, at: int = line) -> None:
        found.append(Problem(name, at, message))

    for key in ("customer", "number", "date", "total", "paid", "balance", "currency", "status", "type", "due_date"):
        for other_line, other in rows[1:]:  # a document's own fields repeat on each of its lines
            if key in col and other[col[key]].strip() != get(key):
                problem(f"{profile.columns[key]} {other[col[key]].strip()!r} differs from {get(key)!r} on line "
                        f"{line}, a line of the same document {get('number')!r} (expected it repeated as it is)",
                        other_line)
                break
    credit_kind = profile.credit_types.get(get("type"))
    negative = get("total").lstrip().startswith(("-", "(")) or (
        "total" not in col and bool(get("credit")) and not get("debit"))
    if not credit_kind and profile.negative and negative:
        credit_kind = profile.negative  # a journal's or aged report's negative amount: money in, or credit
    for key in REQUIRED:
        if not get(key) and not (key == "number" and credit_kind):  # a payment may have no number
            problem(f"empty {profile.columns[key]} (expected {key.replace('_', ' ')})")
    who = get("customer")
    cid = get("customer_id") or (customer_id(who) if who else "")
    currency = (get("currency") or home).upper()
    if not is_currency(currency):
        problem(f"unknown currency {currency!r} in {profile.columns.get('currency', 'the settings')} "
                "(expected an ISO 4217 code such as USD)")
    when = _date(get("date"), profile, "date", problem)
    due = _date(get("due_date"), profile, "due_date", problem) if get("due_date") else None
    amounts = {k: _amount(get(k), currency, profile.columns[k], problem) for k in ("total", "paid", "balance")
               if k in col and get(k) and is_currency(currency)}
    if "total" not in col and "line_total" in col and is_currency(currency):  # the sum of the document's lines
        amounts["total"] = sum((_amount(r[col["line_total"]].strip(), currency, profile.columns["line_total"],
                                        lambda m, at=at: problem(m, at)) for at, r in rows), Decimal(0))
    elif "total" not in col and ("debit" in col or "credit" in col) and is_currency(currency):  # a journal line
        side = {k: _amount(get(k), currency, profile.columns[k], problem) if get(k) else Decimal(0)
                for k in ("debit", "credit") if k in col}
        amounts["total"] = side.get("debit", Decimal(0)) - side.get("credit", Decimal(0))
    elif "total" in col and not get("total"):
        problem(f"empty {profile.columns['total']} (expected the document's total)")
    if found:
        out.problems += found
        return
    if cid and cid not in out.customers:
        out.customers[cid] = Customer(cid, who, get("email"), currency)
    elif cid and get("email") and not out.customers[cid].email:
        out.customers[cid] = Customer(cid, out.customers[cid].name, get("email"), out.customers[cid].currency)
    status, kind = get("status"), get("type")
    total = amounts.get("total", Decimal(0))
    if status in profile.not_owed or any(first[i].strip() in values for i, values in skip) or not total:
        # a draft, a void (kept with 0.00 by QuickBooks), a deletion
        return
    if "balance" in amounts:
        left = amounts["balance"]
        if "paid" in amounts and total - amounts["paid"] != left:
            out.warnings.append(Problem(name, line, f"{get('number')}: total {plain(total, currency)} less paid "
                                                    f"{plain(amounts['paid'], currency)} is not the balance "
                                                    f"{plain(left, currency)}; the balance is taken"))
    elif status in profile.paid and "paid" not in col:
        left = Decimal(0)
    else:
        left = total - amounts.get("paid", Decimal(0))
        if status in profile.partial and "paid" not in col:
            out.warnings.append(Problem(name, line, f"{get('number')} is {status!r} but the export does not say how "
                                                    f"much was paid: counted fully open ({plain(total, currency)})"))
    number, memo = get("number"), get("memo")
    # An export with no currency column: its rows are in the customer's currency (customers.csv's; the
    # home currency unless a customers.csv says otherwise), read with the home currency's decimals.
    written = currency if "currency" in col else ""
    assert when is not None  # a date is required: its absence or misreading is a problem above
    if credit_kind:  # what is still open of a credit note or a payment: credit, naming an invoice or none
        if left:
            names = number if profile.negative_names_invoice else ""  # then its number is the invoice's
            ref = number if number and not names else f"{kind or credit_kind} {get('document') or when.isoformat()}"
            _row(out, line, when, cid, credit_kind, ref, abs(left), written, None, names, memo)
        return
    if not Decimal(0) <= left <= total:
        out.problems.append(Problem(name, line, f"{get('number')}: {plain(left, currency)} open of a total of "
                                                f"{plain(total, currency)} (expected between 0 and the total)"))
        return
    if profile.invoice_types and kind not in profile.invoice_types:
        types = sorted(profile.invoice_types | profile.credit_types.keys())
        out.problems.append(Problem(name, line, f"document type {kind!r} (expected one of {', '.join(types)})"))
        return
    if due is None:
        days = _terms(get("terms")) if get("terms") else profile.terms_days
        if days is None:
            out.problems.append(Problem(name, line, f"{number}: no due date and no terms to work it out from "
                                                    f"(expected {profile.columns.get('due_date', 'a due date')} or "
                                                    "terms such as Net 30)"))
            return
        due = when + timedelta(days=days)
    _row(out, line, when, cid, "invoice", number, total, written, due, "", memo)
    if left < total:
        paid_on = _date(get("paid_date"), profile, "paid_date", lambda m: None) if get("paid_date") else None
        _row(out, line, paid_on or when, cid, "payment", f"{number}/paid", total - left, written, None, number,
             "paid (as the export says)")


def _row(out: Converted, line: int, when: date, cid: str, kind: str, ref: str, amount: Decimal, currency: str,
         due: date | None, applies_to: str, memo: str) -> None:
    out.add((when.isoformat(), cid, kind, ref, f"{amount:f}", currency, due.isoformat() if due else "",
             applies_to, memo), line)


def _date(text: str, profile: Profile, key: str, problem) -> date | None:
    found = _parse_date(text, profile.date_format)
    if found is None:
        problem(f"{profile.columns[key]} {text!r} is not a date (expected {profile.date_format})")
    return found


@lru_cache(maxsize=100_000)
def _parse_date(text: str, fmt: str) -> date | None:
    """strptime, once per distinct text (an export of a million rows has a few thousand dates)."""
    try:
        return datetime.strptime(text, fmt).date()
    except ValueError:
        return None


def _amount(text: str, currency: str, column: str, problem) -> Decimal:
    try:
        return parse_amount(text, currency, exact=True)
    except MoneyError as e:
        problem(f"{column} {e}")
        return Decimal(0)


def _terms(text: str) -> int | None:
    """Days from "Net 30", "30", "30 days"; 0 for "Due on receipt"; None when there are none."""
    t = text.strip()
    if t.casefold() in _ON_RECEIPT:
        return 0
    m = _TERMS.fullmatch(t)
    return int(m[1]) if m else None
