"""The payment service's own ledger file: the only code that appends to the ledger (and to the
file of the payments it sets aside).

Online payments, refunds and disputes are appended to `online-payments.csv` in the ledger
folder, which the build reads like any other entry file; staff files are never touched. Each
append takes an exclusive lock (several worker processes may record at once), is written in one
`write` and fsynced before the caller acknowledges anything (the fsync after the lock is
released, so concurrent appends share their flushes). Every row carries a key naming the
effect (e.g. `pi_123:succeeded`), and a key already in the file is never written again, so
Stripe's repeated and out-of-order deliveries record each effect exactly once. A crash mid-write
can leave a torn last row: it was never acknowledged (Stripe will deliver again), so the next
append cuts it off.

A payment's state only moves forward (ledger.online.supersedes): a late `processing` after a
final state is ignored; `succeeded` wins over everything, because a PaymentIntent that succeeded
stays succeeded; `failed` is recorded only for a payment recorded as processing (a bank debit that
bounced; a declined card never reached the ledger). The build keeps each payment's latest state.

Payments Stripe reports that the portal did not start, or whose customer the ledger does not
know, are not ledger rows: they go to `payments-set-aside.csv` beside it (`SetAsideLog`), under
the same discipline, for staff to see in the aging report and `portal reconcile`.
"""
from __future__ import annotations

import csv
import fcntl
import io
import os
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

from ..ledger.online import FILE, RANK, SET_ASIDE_COLUMNS, SET_ASIDE_FILE, supersedes

COLUMNS = ("date", "customer_id", "type", "ref", "amount", "currency", "due_date", "applies_to", "memo",
           "status", "key")


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
    method: str = field(default="", compare=False)  # the payment method type, for the emails (not written)

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


R = TypeVar("R", Row, SetAsideRow)  # a row of either file


class Journal:
    """Appends rows to the payment service's ledger file, exactly once each."""

    name = FILE
    columns: tuple[str, ...] = COLUMNS
    ref_column = "ref"

    def __init__(self, ledger_dir: Path):
        self.path = Path(ledger_dir) / self.name
        self._read_to = 0  # bytes of the file this process has seen
        self._keys: set[str] = set()
        self._state: dict[str, str] = {}  # payment ref -> its latest state

    def record(self, rows: list[R]) -> list[R]:
        """Append the rows whose effect is not recorded yet; return those appended (durable on return)."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            self._catch_up(fd)
            new: list[R] = []
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
            rec = dict(zip(self.columns, fields, strict=False))  # padded; fields past the header are not read
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
