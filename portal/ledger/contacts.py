"""The contact log: `contacts.csv` beside the ledger, every reminder sent and every call, note and promise.

Appended under an exclusive lock and fsynced, like the payment journal; the build does not read it
as ledger entries. A promise to pay (a date and an amount) pauses reminders until its date.
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
           "currency", "items")  # new columns only ever go at the end: old files stay readable


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
    items: tuple[str, ...] = ()  # the item refs a reminder named (its identity, with the stage)

    def csv(self) -> str:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerow([
            self.date.isoformat(), safe_cell(self.customer_id), self.channel, self.stage, safe_cell(self.recipient),
            safe_cell(self.note), self.promise_date.isoformat() if self.promise_date else "",
            "" if self.promise_amount is None else str(self.promise_amount), self.currency,
            json.dumps(list(self.items)) if self.items else ""])
        return buf.getvalue()


def append(ledger_dir: Path, contacts: list[Contact]) -> None:
    """Add contacts to the log: locked, written in one write, fsynced."""
    path = Path(ledger_dir) / FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        size = os.fstat(fd).st_size
        head = "" if size else ",".join(COLUMNS) + "\n"
        if size:  # a torn last line from a crash: finish it so the next row starts clean
            os.lseek(fd, size - 1, os.SEEK_SET)
            if os.read(fd, 1) != b"\n":
                head = "\n"
        os.write(fd, (head + "".join(c.csv() for c in contacts)).encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def read(ledger_dir: Path) -> list[Contact]:
    """Every contact in the log, oldest first (rows that do not parse are skipped: it is our own file)."""
    path = Path(ledger_dir) / FILE
    if not path.exists():
        return []
    out = []
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f, restkey="more"):
            # A file begun before the items column: its header is shorter than the rows appended since.
            items = row.get("items") or (row.get("more") or [""])[0]
            try:
                out.append(Contact(
                    date.fromisoformat(row["date"]), row["customer_id"].lstrip("'"), row["channel"], row["note"],
                    row["stage"], row["recipient"],
                    date.fromisoformat(row["promise_date"]) if row.get("promise_date") else None,
                    Decimal(row["promise_amount"]) if row.get("promise_amount") else None, row.get("currency") or "",
                    _items(items)))
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


def open_promise(contacts: list[Contact], customer_id: str, today: date) -> Contact | None:
    """The customer's latest promise to pay, if its date has not passed."""
    promises = [c for c in contacts if c.customer_id == customer_id and c.promise_date is not None]
    latest = promises[-1] if promises else None
    promised = latest.promise_date if latest is not None else None
    return latest if promised is not None and promised >= today else None
