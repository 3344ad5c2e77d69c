"""The payment service's files as the rest of the portal reads them: the rules, not the writing.

`online-payments.csv` holds what the payment service recorded (pay.payment_log appends it): each
payment once per state. A payment's state only moves forward, processing → failed → succeeded
(`supersedes`); a build keeps each payment's latest state and never fails on a recorded row
(`collapse`). `payments-set-aside.csv` holds the payments it did not record (not started by the
portal, or of a customer the ledger does not know), read by `read_set_aside` for the aging report
and `portal reconcile`.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

from ..core.money import MoneyError, is_currency, parse_amount
from ..core.records import Entry, InputError, Problem
from . import reading as ledger

FILE = ledger.PAYMENTS_FILE  # the payment service's own entry file
SET_ASIDE_FILE = "payments-set-aside.csv"  # the payments it did not record, beside it
SET_ASIDE_COLUMNS = ("date", "payment_intent", "customer_id", "amount", "currency", "status", "method", "reason",
                     "key")
# A payment's states in the order they can follow one another: a bank debit is processing, then
# fails or succeeds; a PaymentIntent that failed can still succeed (paid again another way), and one
# that succeeded stays so. Anything seen out of this order is an older state arriving late.
RANK = {"processing": 1, "failed": 2, "succeeded": 3}


def supersedes(status: str, previous: str) -> bool:
    """Whether a payment state recorded after `previous` replaces it (the one ordering rule)."""
    return RANK.get(status or "succeeded", 3) > RANK.get(previous or "succeeded", 3)


@dataclass(frozen=True)
class SetAside:
    """A payment the payment service set aside instead of recording it (its file's last row for it)."""

    payment_intent: str
    customer_id: str
    amount: Decimal
    currency: str
    status: str  # processing, succeeded, failed
    method: str
    reason: str
    day: date
    where: str  # path:line of that row


SET_ASIDE_NEEDS = ("date", "payment_intent", "amount", "currency", "status", "reason")


def read_set_aside(ledger_dir: Path, root: Path | None = None) -> dict[str, SetAside]:
    """The payments the payment service set aside, by PaymentIntent: the last row of each wins (a
    payment's rows follow its status). No file: none. InputError naming each unreadable row; a
    last row without its newline is an append cut short by a crash (the service cuts it off) and
    is left out. `root`: errors name the file relative to it."""
    path = Path(ledger_dir) / SET_ASIDE_FILE
    if not path.exists():
        return {}
    name = str(path.relative_to(root)) if root and path.is_relative_to(root) else str(path)
    lines, problems = ledger.read_lines(path, name)
    if problems:
        raise InputError(problems)
    if lines and not lines[-1].endswith(("\n", "\r")):
        lines.pop()  # torn
    first = list(ledger.records(lines[:1], 0, name, problems))
    if problems:
        raise InputError(problems)
    header = [h.strip() for h in first[0][1]] if first else []
    lacking = [c for c in SET_ASIDE_NEEDS if c not in header]
    if lacking:
        raise InputError([Problem(name, 1, f"header lacks {', '.join(lacking)}")])
    out: dict[str, SetAside] = {}
    for i, fields in ledger.records(lines, 1, name, problems):
        fields = [f.strip() for f in fields] + [""] * (len(header) - len(fields))
        # padded to the header; fields past its end have no column and are not read
        row = _set_aside_row(dict(zip(header, fields, strict=False)), name, i + 1, problems)
        if row is not None:
            out[row.payment_intent] = row
    if problems:
        raise InputError(problems)
    return out


def _set_aside_row(rec: dict[str, str], name: str, line: int, problems: list[Problem]) -> SetAside | None:
    found = []
    try:
        day = date.fromisoformat(rec["date"])
    except ValueError:
        found.append(f"date {rec['date']!r} is not a date (expected YYYY-MM-DD)")
    currency, amount = rec["currency"].upper(), None
    if not is_currency(currency):
        found.append(f"currency {rec['currency']!r} is not a currency this portal knows")
    else:
        try:
            amount = parse_amount(rec["amount"], currency, exact=True)
        except MoneyError as e:
            found.append(f"amount {e}")
    if rec["status"] not in RANK:
        found.append(f"status {rec['status']!r} is not processing, succeeded or failed")
    if not rec["payment_intent"]:
        found.append("no payment_intent")
    problems += [Problem(name, line, m) for m in found]
    if found or amount is None:  # no amount without a problem found
        return None
    return SetAside(rec["payment_intent"], rec.get("customer_id", ""), amount, currency, rec["status"],
                    rec.get("method", ""), rec["reason"], day, f"{name}:{line}")


def collapse(entries: list[Entry], warnings: list[Problem] | None = None) -> list[Entry]:
    """A customer's entries with each online payment at its latest state; a failed one (a bank debit
    returned) kept with status "failed", which counts for nothing (core.accounts lists it as returned).

    Only entries from the journal file carry several rows per payment (processing, then
    succeeded or failed); staff files are left as they are. A recorded row never makes a build
    fail: one that staff also recorded by hand (its PaymentIntent id as a ref) is left out, the
    staff row counts; one that applies to an invoice the customer no longer has (or has in
    another currency) pays oldest-due first instead. Each is said in `warnings`.
    """
    warnings = [] if warnings is None else warnings
    latest: dict[str, Entry] = {}
    staff: list[Entry] = []
    for e in entries:
        if e.path.endswith(FILE) and e.type == "payment":
            prev = latest.get(e.ref)
            if prev is None or not supersedes(prev.status, e.status):
                latest[e.ref] = e
        else:
            staff.append(e)
    ours = list(latest.values())
    ours += [e for e in staff if e.path.endswith(FILE)]
    staff = [e for e in staff if not e.path.endswith(FILE)]
    by_hand = {e.ref for e in staff if e.ref and e.type in ("payment", "refund")}
    invoices = {e.ref: e.currency for e in staff if e.type == "invoice"}
    out = list(staff)
    for e in ours:
        if e.ref.split("/", 1)[0] in by_hand or e.ref in by_hand:
            warnings.append(Problem(e.path, e.line, f"{e.type} {e.ref} of {e.customer_id} is recorded by hand too: "
                                    "the row staff typed counts, this one is left out"))
            continue
        if e.status == "failed":  # pays nothing: no invoice to check
            out.append(e)
            continue
        if e.applies_to and invoices.get(e.applies_to) != e.currency:
            warnings.append(Problem(e.path, e.line, f"{e.type} {e.ref} of {e.customer_id} applies to {e.applies_to}, "
                                    f"which {e.customer_id} no longer has in {e.currency}: it pays the oldest-due "
                                    "items instead"))
            e = e._replace(applies_to="")
        out.append(e)
    out.sort(key=lambda e: (e.path, e.line))
    return out
