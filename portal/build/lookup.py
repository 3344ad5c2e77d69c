"""Customers' current accounts, for the payment service and reminders, without building anything.

The service never trusts the page or the form for what is owed: it reads one customer's rows
from the ledger files where the last build indexed them, the payment service's own rows
recorded since, and any staff file changed since the build, and recomputes the accounts. The
work is one customer's, whatever the size of the ledger: the build's row index (~70 ms to load
at 100,000 customers) is kept until a build replaces it, rows are read at their byte offsets,
and the payment file only from where the build left it.
"""
from __future__ import annotations

import io
import threading
from datetime import date
from pathlib import Path

from ..core.accounts import Account, accounts
from ..core.errors import PortalError, StaleState
from ..core.records import Customer, Entry, Problem
from ..ledger import checks
from ..ledger import online as online_payments
from ..ledger import reading as ledger
from ..ledger.settings import Settings
from . import state as st
from .changes import changed_inputs
from .rows import read_indexed_rows


class NotBuilt(StaleState):
    """There is no usable build state: run `portal build`."""


class Unreadable(PortalError):
    """The customer's rows in a ledger file changed since the build do not read cleanly."""

    def __init__(self, problems: list[Problem]):
        super().__init__("; ".join(map(str, problems[:3])))
        self.problems = problems


class LedgerView:
    """One customer at a time, from the last build's index and what changed since (thread-safe)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._lock = threading.Lock()
        self._key: tuple | None = None  # the head file's identity when the index was loaded
        self._state: tuple[st.Head, st.RowIndex] | None = None
        self._customers: tuple | None = None  # (customers.csv signature, {id: Customer}) when it changed

    def customer_accounts(self, customer_id: str, as_of: date) -> tuple[Customer | None, list[Account]]:
        """(customer, accounts as of a date); (None, []) for a customer the ledger does not have."""
        head, index = self._current()
        customer = self._customer(head, index, customer_id)
        if customer is None:
            return None, []
        return customer, accounts(self.entries(customer_id, head, index, customer), as_of,
                                  self.settings.recent_days)

    def knows(self, customer_id: str) -> bool:
        """Whether customers.csv has this customer (as the last build read it, or as it is now)."""
        head, index = self._current()
        if self._customers_unchanged(head):
            return customer_id in index.customer_lines
        return self._customer(head, index, customer_id) is not None

    def entries(self, customer_id: str, head: st.Head, index: st.RowIndex, customer: Customer) -> list[Entry]:
        """The customer's entries as the ledger is now, each online payment at its latest state."""
        s = self.settings
        reader = ledger.EntryReader(s, {customer_id: customer})
        reader.orders = dict(index.date_orders)  # a file changed since is read whole: decided again
        problems: list[Problem] = []
        now = {ledger.rel(p, s): p for p in ledger.entry_files(s)}
        unchanged, grown, reread = [], {}, []
        for name, path in now.items():
            old = head.files.get(name)
            stat = path.stat()
            if ledger.sig_holds(old, stat):
                unchanged.append(name)
            elif old is not None and name == self._payments_name and stat.st_size > old[0] > 0:
                grown[name] = old[0]  # the payment file only grows: read what was appended
            else:
                reread.append(name)
        skip = {f for f, name in enumerate(index.files) if name not in unchanged and name not in grown}
        found = read_indexed_rows(_IndexBody(index), index.files, now, reader, [customer_id], skip, problems)
        rows = [e for e, _ in found.get(customer_id, [])]
        for name, start in grown.items():
            rows += _rows_in_tail(now[name], name, start, reader, problems, customer_id)
        for name in reread:  # a staff file changed since the build: its whole text, this customer's rows
            rows += _rows_in_file(now[name], name, reader, problems, customer_id)
        if problems:
            raise Unreadable(problems)
        rows.sort(key=lambda e: (e.path, e.line))
        if any(e.path == self._payments_name for e in rows):
            rows = online_payments.collapse(rows)
        checks.validate(customer_id, rows, problems, [])
        if problems:
            raise Unreadable(problems)
        return rows

    @property
    def _payments_name(self) -> str:
        return ledger.rel(self.settings.ledger_dir / online_payments.FILE, self.settings)

    def _current(self) -> tuple[st.Head, st.RowIndex]:
        """The last build's head and row index, loaded again only when a build has saved new ones."""
        head_path = st.paths(self.settings.state_dir)[0]
        try:
            info = head_path.stat()
        except FileNotFoundError:
            raise NotBuilt("no build state: run `portal build`") from None
        key = (info.st_ino, info.st_mtime_ns, info.st_size)
        with self._lock:
            if key != self._key or self._state is None:
                head, index = st.load_head_and_index(self.settings.state_dir)
                if head is None or index is None:
                    raise NotBuilt("no build state: run `portal build`")
                self._state, self._key = (head, index), key
            return self._state

    def _customers_unchanged(self, head: st.Head) -> bool:
        """Whether customers.csv is as the last build read it (its size and time)."""
        path = ledger.customers_path(self.settings)
        old = head.files.get(ledger.rel(path, self.settings))
        try:
            stat = path.stat()
        except FileNotFoundError:
            return False
        return ledger.sig_holds(old, stat)

    def _customer(self, head: st.Head, index: st.RowIndex, customer_id: str) -> Customer | None:
        s = self.settings
        if self._customers_unchanged(head):
            if customer_id not in index.customer_lines:
                return None
            return ledger.CustomerIndex(s, index.customer_lines).get(customer_id)
        path = ledger.customers_path(s)
        try:
            stat = path.stat()
        except FileNotFoundError:
            return None
        sig = (stat.st_size, stat.st_mtime_ns)
        with self._lock:  # changed since the build: read it whole, once per version
            if self._customers is None or self._customers[0] != sig:
                customers, _, _, _ = ledger.read_customers(s)
                self._customers = (sig, customers)
            return self._customers[1].get(customer_id)


class _IndexBody:
    """The row index where read_indexed_rows expects a state body."""

    def __init__(self, index: st.RowIndex):
        self.lines = index.lines


def _rows_in_file(path: Path, name: str, reader, problems: list, customer_id: str) -> list[Entry]:
    """One customer's rows of a whole entry file (one changed since the build: a new export not
    built yet). The file is split into records; only the customer's are read as entries."""
    lines, cols, found = reader.open(path, name)
    if found:
        problems += found
        return []
    if not any(customer_id in line for line in lines):
        return []
    return _customer_rows(ledger.records(lines, 1, name, problems), cols, name, 0, reader, problems, customer_id)


def _rows_in_tail(path: Path, name: str, start: int, reader, problems: list, customer_id: str) -> list[Entry]:
    """One customer's rows among those appended to a file after byte `start` (the payment file)."""
    with open(path, "rb") as f:
        head = f.readline()
        f.seek(start)
        tail = f.read()
        f.seek(0)
        first_line = f.read(start).count(b"\n")  # the line number of the first appended row, less one
    cols = reader.columns(ledger.record_at([head.decode("utf-8-sig")], 0), name)
    text = tail.decode("utf-8", errors="replace")
    if customer_id not in text:
        return []
    lines = list(io.StringIO(text, newline=""))
    if lines and not lines[-1].endswith(("\n", "\r")):
        lines.pop()  # an append in progress: not a row yet
    not_csv: list = []
    rows = _customer_rows(ledger.records(lines, 0, name, not_csv), cols, name, first_line, reader, problems,
                          customer_id)
    problems += [Problem(p.path, first_line + p.line, p.message) for p in not_csv]
    return rows


def _customer_rows(records, cols, name: str, first_line: int, reader, problems: list, customer_id: str) -> list[Entry]:
    out = []
    for i, fields in records:
        if cols.customer_id < len(fields) and fields[cols.customer_id].strip() == customer_id:
            e = reader.entry(fields, cols, name, first_line + i + 1, problems)
            if e is not None:
                out.append(e)
    return out


def customer_accounts(settings: Settings, customer_id: str, as_of: date) -> tuple[Customer | None, list[Account]]:
    """(customer, accounts as of a date), as the ledger is now (one call's LedgerView)."""
    return LedgerView(settings).customer_accounts(customer_id, as_of)


def current_state(settings: Settings) -> st.Body:
    """The last build's state, refused if the ledger changed since (so we never act on stale figures)."""
    head, body = st.load_both(settings.state_dir)
    if body is None:
        raise NotBuilt("no build state: run `portal build` first")
    assert head is not None  # load_both gives a body only with the head it was written with
    changes = changed_inputs(settings, head)
    if changes.any:
        raise NotBuilt(f"the ledger changed since the last build ({', '.join(changes.described())}): "
                       "run `portal build` first")
    return body


def owing(body: st.Body) -> list[str]:
    """Customers whose page record shows a positive balance in some currency (no ledger read)."""
    return [cid for cid, rec in body.pages.items() if any(b > 0 for b, _ in st.balances(rec).values())]


def accounts_of(settings: Settings, body: st.Body, ids, as_of: date) -> dict[str, tuple[Customer, list[Account]]]:
    """{customer id: (customer, accounts as of a date)} for many customers, reading the ledger once."""
    customers = ledger.CustomerIndex(settings, body.customer_lines)
    return {cid: (customers[cid], accounts(es, as_of, settings.recent_days))
            for cid, es in entries_of(settings, body, ids, customers).items()}


def entries_of(settings: Settings, body: st.Body, ids, customers=None) -> dict[str, list[Entry]]:
    """{customer id: entries} where the last build indexed them (the ledger unchanged since), each
    online payment at its latest state. Ids the build does not know are left out."""
    customers = customers or ledger.CustomerIndex(settings, body.customer_lines)
    names = {name: settings.root / name for name in body.files if name}
    reader = ledger.EntryReader(settings, customers)
    reader.orders = dict(body.date_orders)
    wanted = [cid for cid in ids if cid in body.customer_lines]
    out = {}
    for cid, rows in read_indexed_rows(body, body.files, names, reader, wanted).items():
        entries = [e for e, _ in sorted(rows, key=lambda x: (x[0].path, x[0].line))]
        online = any(e.path.endswith(online_payments.FILE) for e in entries)
        out[cid] = online_payments.collapse(entries) if online else entries
    return out
