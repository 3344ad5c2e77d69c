"""The payment service's own ledger file: the only code that appends to the ledger.

Online payments, refunds and disputes are appended to `online-payments.csv` in the ledger
folder, which the build reads like any other entry file; staff files are never touched. Each
append takes an exclusive lock (several worker processes may record at once), is written in one
`write` and fsynced before the caller acknowledges anything (the fsync after the lock is
released, so concurrent appends share their flushes). Every row carries a key naming the
effect (e.g. `pi_123:succeeded`), and a key already in the file is never written again, so
Stripe's repeated and out-of-order deliveries record each effect exactly once. A crash mid-write
can leave a torn last row: it was never acknowledged (Stripe will deliver again), so the next
append cuts it off.

A payment's state only moves forward: processing → failed → succeeded (see `supersedes`). A
late `processing` after a final state is ignored; `succeeded` wins over everything, because a
PaymentIntent that succeeded stays succeeded; `failed` is recorded only for a payment recorded as
processing (a bank debit that bounced; a declined card never reached the ledger). The build keeps
the last state of each payment (see `collapse`).

Payments Stripe reports that the portal did not start, or whose customer the ledger does not
know, are not ledger rows: they go to `payments-set-aside.csv` beside it (`SetAsideLog`), under
the same discipline, for staff to see in the aging report and `portal reconcile`.
"""
from __future__ import annotations

import csv
import fcntl
import io
import os
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

from . import ledger
from .model import InputError, Problem
from .money import MoneyError, is_currency, parse_amount

FILE = ledger.PAYMENTS_FILE
COLUMNS = ("date", "customer_id", "type", "ref", "amount", "currency", "due_date", "applies_to", "memo",
           "status", "key")
SET_ASIDE_FILE = "payments-set-aside.csv"
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
class Row:
    """One effect to record. `ref` is the Stripe object it comes from (PaymentIntent, refund, dispute)."""

    date: date
    customer_id: str
    type: str  # payment, refund
    ref: str
    amount: Decimal
    currency: str
    status: str = "succeeded"  # for payments: processing, succeeded, failed
    applies_to: str = ""
    memo: str = ""

    @property
    def key(self) -> str:
        return f"{self.ref}:{self.status}" if self.type == "payment" else f"{self.ref}:{self.type}"

    def csv(self) -> str:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerow([
            self.date.isoformat(), self.customer_id, self.type, self.ref, f"{self.amount}", self.currency, "",
            self.applies_to, self.memo, self.status if self.type == "payment" else "", self.key])
        return buf.getvalue()


@dataclass(frozen=True)
class SetAsideRow:
    """A payment Stripe reported that is not recorded in the ledger, and why (a row to append)."""

    date: date
    payment_intent: str
    customer_id: str
    amount: Decimal
    currency: str
    status: str  # processing, succeeded, failed
    method: str
    reason: str
    type: str = "payment"

    @property
    def ref(self) -> str:
        return self.payment_intent

    @property
    def key(self) -> str:
        return f"{self.payment_intent}:{self.status}"

    def csv(self) -> str:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerow([
            self.date.isoformat(), self.payment_intent, self.customer_id, f"{self.amount}", self.currency, self.status,
            self.method, self.reason, self.key])
        return buf.getvalue()


class Journal:
    """Appends rows to the payment service's ledger file, exactly once each."""

    name = FILE
    columns = COLUMNS
    ref_column = "ref"

    def __init__(self, ledger_dir: Path):
        self.path = Path(ledger_dir) / self.name
        self._read_to = 0  # bytes of the file this process has seen
        self._keys: set[str] = set()
        self._state: dict[str, int] = {}  # payment ref -> rank of its latest state

    def record(self, rows: list[Row]) -> list[Row]:
        """Append the rows whose effect is not recorded yet; return those appended (durable on return)."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            self._catch_up(fd)
            new = []
            for row in rows:
                if row.key in self._keys:
                    continue
                if row.type == "payment":
                    previous = self._state.get(row.ref)
                    if previous is not None and not supersedes(row.status, previous):
                        continue  # an older state arriving late
                    if row.status == "failed" and previous is None:
                        continue  # a declined card, never in the ledger: nothing to undo
                new.append(row)
                self._see(row.key, row.type, row.ref, row.status)
            if new or not self._read_to:  # a new file gets its header even with nothing to add
                header = ",".join(self.columns) + "\n"
                text = ("" if self._read_to else header) + "".join(r.csv() for r in new)
                data = text.encode()
                os.write(fd, data)
                self._read_to += len(data)
            # What to record was decided under the lock; the fsync can wait outside it, so several
            # processes' fsyncs overlap (a group commit). Nothing is acknowledged before its own
            # fsync returns, and a row lost to a crash before then was never acknowledged: Stripe
            # delivers it again.
            fcntl.flock(fd, fcntl.LOCK_UN)
            if new:
                os.fsync(fd)
            return new
        finally:
            os.close(fd)

    def _catch_up(self, fd: int) -> None:
        """Under the lock: read rows appended since we last looked; cut off a torn last row."""
        size = os.fstat(fd).st_size
        if size < self._read_to:  # replaced or truncated by someone: start over
            self._read_to, self._keys, self._state = 0, set(), {}
        if size == self._read_to:
            return
        os.lseek(fd, self._read_to, os.SEEK_SET)
        chunk = b""
        while len(chunk) < size - self._read_to:
            part = os.read(fd, size - self._read_to - len(chunk))
            if not part:
                break
            chunk += part
        end = chunk.rfind(b"\n") + 1
        if end < len(chunk):  # a row without its newline: a crash mid-append
            os.ftruncate(fd, self._read_to + end)
            os.fsync(fd)
            chunk = chunk[:end]
        text = chunk.decode("utf-8")
        rows = csv.reader(io.StringIO(text, newline=""))
        for fields in rows:
            if not fields or fields[0] == "date":
                continue
            fields += [""] * (len(self.columns) - len(fields))
            rec = dict(zip(self.columns, fields))
            self._see(rec["key"], rec.get("type", "payment"), rec[self.ref_column], rec["status"])
        self._read_to += end

    def _see(self, key: str, etype: str, ref: str, status: str) -> None:
        self._keys.add(key)
        if etype == "payment" and status in RANK:
            previous = self._state.get(ref)
            if previous is None or supersedes(status, previous):
                self._state[ref] = status


class SetAsideLog(Journal):
    """Payments not recorded in the ledger (not the portal's, or of a customer it does not know)."""

    name = SET_ASIDE_FILE
    columns = SET_ASIDE_COLUMNS
    ref_column = "payment_intent"


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
        row = _set_aside_row(dict(zip(header, fields)), name, i + 1, problems)
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
            amount = parse_amount(rec["amount"], currency)
        except MoneyError as e:
            found.append(f"amount {e}")
    if rec["status"] not in RANK:
        found.append(f"status {rec['status']!r} is not processing, succeeded or failed")
    if not rec["payment_intent"]:
        found.append("no payment_intent")
    problems += [Problem(name, line, m) for m in found]
    if found:
        return None
    return SetAside(rec["payment_intent"], rec.get("customer_id", ""), amount, currency, rec["status"],
                    rec.get("method", ""), rec["reason"], day, f"{name}:{line}")


def collapse(entries: list, warnings: list | None = None) -> list:
    """A customer's entries with each online payment at its latest state; failed ones dropped.

    Only entries from the journal file carry several rows per payment (processing, then
    succeeded or failed); staff files are left as they are. A recorded row never makes a build
    fail: one that staff also recorded by hand (its PaymentIntent id as a ref) is left out, the
    staff row counts; one that applies to an invoice the customer no longer has (or has in
    another currency) pays oldest-due first instead. Each is said in `warnings`.
    """
    warnings = [] if warnings is None else warnings
    latest: dict[str, object] = {}
    staff = []
    for e in entries:
        if e.path.endswith(FILE) and e.type == "payment":
            prev = latest.get(e.ref)
            if prev is None or not supersedes(prev.status, e.status):
                latest[e.ref] = e
        else:
            staff.append(e)
    ours = [e for e in latest.values() if e.status != "failed"]
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
        if e.applies_to and invoices.get(e.applies_to) != e.currency:
            warnings.append(Problem(e.path, e.line, f"{e.type} {e.ref} of {e.customer_id} applies to {e.applies_to}, "
                                    f"which {e.customer_id} no longer has in {e.currency}: it pays the oldest-due "
                                    "items instead"))
            e = e._replace(applies_to="")
        out.append(e)
    out.sort(key=lambda e: (e.path, e.line))
    return out
