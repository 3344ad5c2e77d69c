"""The contact log: `contacts.csv` beside the ledger, every reminder sent and every call, note and promise.

Appended under an exclusive lock and fsynced, like the payment journal; the build does not read it
as ledger entries. A promise to pay (a date and an amount) pauses reminders until its date.

Customers write to it too, from their statement (channel "customer"): a question about an invoice
or the account holds reminders for it until staff answer (log a call, note, email or letter after
it); a cheque in the post holds them for CHEQUE_DAYS or until staff answer; a date they will pay is
a promise like one staff take on the phone. One rule for all of this: `held`.
"""
from __future__ import annotations

import csv
import datetime
import fcntl
import io
import json
import os
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

from ..core.cells import safe_cell

FILE = "contacts.csv"
COLUMNS = ("date", "customer_id", "channel", "stage", "recipient", "note", "promise_date", "promise_amount",
           "currency", "items", "key")  # new columns only ever go at the end: old files stay readable
CUSTOMER = "customer"  # the channel of what a customer sent from their statement
KINDS = {"question": "a question", "cheque": "a cheque sent", "promise": "a date to pay by"}  # a message's stage
ANSWERS = ("call", "note", "email", "letter")  # staff channels: a contact on one (not a reminder) answers
CHEQUE_DAYS = 14  # a cheque in the post holds reminders this long (post and clearing) unless staff answer
TAIL_BYTES = 64 * 1024  # how far back append_once looks for the same message: a resubmitted form, not history


@dataclass(frozen=True)
class Contact:
    """One contact with a customer: a reminder, a call, a note, a promise."""

    date: date
    customer_id: str
    channel: str  # email, call, note
    note: str = ""
    stage: str = ""  # the reminder stage, for reminders
    recipient: str = ""
    promise_date: datetime.date | None = None  # spelled out: in this class `date` is the field above
    promise_amount: Decimal | None = None
    currency: str = ""
    items: tuple[str, ...] = ()  # the item refs a reminder named (its identity, with the stage), or a message's
    key: str = ""  # a customer message's identity: the same form sent twice is logged once

    def csv(self) -> str:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerow([
            self.date.isoformat(), safe_cell(self.customer_id), self.channel, self.stage, safe_cell(self.recipient),
            safe_cell(self.note), self.promise_date.isoformat() if self.promise_date else "",
            "" if self.promise_amount is None else str(self.promise_amount), self.currency,
            json.dumps(list(self.items)) if self.items else "", self.key])
        return buf.getvalue()

    @property
    def from_customer(self) -> bool:
        return self.channel == CUSTOMER

    @property
    def answers(self) -> bool:
        """Whether this is staff getting back to a customer (a reminder or a receipt is not)."""
        return self.channel in ANSWERS and not self.stage


def append(ledger_dir: Path, contacts: list[Contact]) -> None:
    """Add contacts to the log: locked, written in one write, fsynced."""
    _append(Path(ledger_dir) / FILE, contacts, None)


def append_once(ledger_dir: Path, contact: Contact) -> bool:
    """Add a contact unless the end of the log already has one with its key (a form sent twice);
    True when it was added. Bounded: only the last TAIL_BYTES are read, under the lock."""
    assert contact.key, "append_once needs the contact's key"
    return _append(Path(ledger_dir) / FILE, [contact], contact.key)


def _append(path: Path, contacts: list[Contact], key: str | None) -> bool:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        size = os.fstat(fd).st_size
        head = "" if size else ",".join(COLUMNS) + "\n"
        if size:
            start = max(0, size - TAIL_BYTES) if key else size - 1
            tail = os.pread(fd, size - start, start)
            if key and f",{key}\n".encode() in tail + b"\n":
                return False
            if not tail.endswith(b"\n"):  # a torn last line from a crash: finish it so the next row starts clean
                head = "\n"
        os.write(fd, (head + "".join(c.csv() for c in contacts)).encode())
        os.fsync(fd)
        return True
    finally:
        os.close(fd)


def read(ledger_dir: Path) -> list[Contact]:
    """Every contact in the log, oldest first (rows that do not parse are skipped: it is our own file).
    Cells are taken by position (columns are only ever added at the end), so a file begun before
    a column was added reads the rows appended since in full."""
    path = Path(ledger_dir) / FILE
    if not path.exists():
        return []
    out = []
    with open(path, newline="", encoding="utf-8") as f:
        rows = csv.reader(f)
        next(rows, None)  # the header
        for cells in rows:
            row = dict(zip(COLUMNS, cells, strict=False))  # a torn or older row: fewer cells
            try:
                out.append(Contact(
                    date.fromisoformat(row["date"]), row["customer_id"].lstrip("'"), row["channel"], row["note"],
                    row["stage"], row["recipient"],
                    date.fromisoformat(row["promise_date"]) if row.get("promise_date") else None,
                    Decimal(row["promise_amount"]) if row.get("promise_amount") else None, row.get("currency") or "",
                    _items(row.get("items", "")), row.get("key", "")))
            except (KeyError, ValueError, TypeError, ArithmeticError):
                continue
    return out


def _items(cell: str) -> tuple[str, ...]:
    """A JSON list of refs (refs may hold any character, so no separator would do)."""
    if not cell:
        return ()
    refs = json.loads(cell)
    if not isinstance(refs, list):
        raise ValueError("items is not a list")
    return tuple(str(r) for r in refs)


def held(contacts: list[Contact], customer_id: str, today: date) -> list[Contact]:
    """The customer's messages that hold reminders today (oldest first): a question until staff answer
    it, a cheque until staff answer or its date passes, a date to pay by until it passes. Items
    named: reminders leave those items out; none: the whole account waits."""
    mine = [c for c in contacts if c.customer_id == customer_id]
    out = []
    for i, c in enumerate(mine):
        if not c.from_customer or c.stage not in KINDS:
            continue
        dated = c.promise_date is not None and c.promise_date >= today
        answered = c.stage != "promise" and any(later.answers for later in mine[i + 1:])  # a promise stands
        if not answered and (dated or c.stage == "question"):
            out.append(c)
    return out


def open_promise(contacts: list[Contact], customer_id: str, today: date) -> Contact | None:
    """The customer's latest promise to pay, if its date has not passed."""
    promises = [c for c in contacts if c.customer_id == customer_id and c.promise_date is not None]
    latest = promises[-1] if promises else None
    promised = latest.promise_date if latest is not None else None
    return latest if promised is not None and promised >= today else None
