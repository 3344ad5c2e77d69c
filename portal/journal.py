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

A payment's state only moves forward: processing → succeeded or failed. A late `processing`
after `succeeded` is ignored, and `failed` is recorded only for a payment recorded as processing
(a bank debit that bounced; a declined card never reached the ledger). The build keeps the last
state of each payment (see `collapse`).
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

FILE = "online-payments.csv"
COLUMNS = ("date", "customer_id", "type", "ref", "amount", "currency", "due_date", "applies_to", "memo",
           "status", "key")
HEADER = ",".join(COLUMNS) + "\n"
RANK = {"processing": 1, "succeeded": 2, "failed": 2}  # a payment's state only moves up


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


class Journal:
    """Appends rows to the payment service's ledger file, exactly once each."""

    def __init__(self, ledger_dir: Path):
        self.path = Path(ledger_dir) / FILE
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
                if row.type == "payment" and self._state.get(row.ref, 0) >= RANK[row.status]:
                    continue  # an older state arriving late
                if row.type == "payment" and row.status == "failed" and row.ref not in self._state:
                    continue  # a declined card, never in the ledger: nothing to undo
                new.append(row)
                self._see(row.key, row.type, row.ref, row.status)
            if new:
                text = ("" if self._read_to else HEADER) + "".join(r.csv() for r in new)
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

    def recorded(self, key: str) -> bool:
        """Whether an effect is in the file (reads what other processes appended)."""
        if not self.path.exists():
            return False
        fd = os.open(self.path, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            self._catch_up(fd)
        finally:
            os.close(fd)
        return key in self._keys

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
            fields += [""] * (len(COLUMNS) - len(fields))
            rec = dict(zip(COLUMNS, fields))
            self._see(rec["key"], rec["type"], rec["ref"], rec["status"])
        self._read_to += end

    def _see(self, key: str, etype: str, ref: str, status: str) -> None:
        self._keys.add(key)
        if etype == "payment" and status in RANK:
            self._state[ref] = max(self._state.get(ref, 0), RANK[status])


def collapse(entries: list) -> list:
    """A customer's entries with each online payment at its latest state; failed ones dropped.

    Only entries from the journal file carry several rows per payment (processing, then
    succeeded or failed); staff files are left as they are.
    """
    latest: dict[str, object] = {}
    out = []
    for e in entries:
        if e.path.endswith(FILE) and e.type == "payment":
            prev = latest.get(e.ref)
            if prev is None or RANK.get(e.status or "succeeded", 2) >= RANK.get(prev.status or "succeeded", 2):
                latest[e.ref] = e
        else:
            out.append(e)
    out += [e for e in latest.values() if e.status != "failed"]
    out.sort(key=lambda e: (e.path, e.line))
    return out
