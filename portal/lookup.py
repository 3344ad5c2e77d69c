"""Customers' current accounts, read from the last build's state (the payment service, reminders).

The service never trusts the page or the form for what is owed: it reads the customer's rows from
the ledger files where the last build indexed them, with the payment service's own recorded
payments, and recomputes the accounts.
"""
from __future__ import annotations

from datetime import date

from . import journal, ledger, state as st
from .accounts import Account, accounts
from .incremental import changed_inputs, read_indexed_rows
from .model import Customer, Entry
from .settings import Settings


class NotBuilt(Exception):
    """There is no usable build state: run `portal build`."""


def customer_accounts(settings: Settings, customer_id: str, as_of: date) -> tuple[Customer | None, list[Account]]:
    """(customer, accounts as of a date) from the ledger as the last build indexed it."""
    _, body = st.load_both(settings.state_dir)
    if body is None:
        raise NotBuilt("no build state: run `portal build`")
    found = accounts_of(settings, body, [customer_id], as_of)
    return found.get(customer_id, (None, []))


def current_state(settings: Settings) -> st.Body:
    """The last build's state, refused if the ledger changed since (so we never act on stale figures)."""
    head, body = st.load_both(settings.state_dir)
    if body is None:
        raise NotBuilt("no build state: run `portal build` first")
    _, _, changed, removed, customers_changed, _ = changed_inputs(settings, head)
    if changed or removed or customers_changed:
        names = changed + removed + (["customers.csv"] if customers_changed else [])
        raise NotBuilt(f"the ledger changed since the last build ({', '.join(names)}): run `portal build` first")
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
    """{customer id: entries} where the last build indexed them, each online payment at its latest
    state. Ids the build does not know are left out."""
    customers = customers or ledger.CustomerIndex(settings, body.customer_lines)
    names = {name: settings.root / name for name in body.files if name}
    reader = ledger.EntryReader(settings, customers)
    wanted = [cid for cid in ids if cid in body.customer_lines]
    out = {}
    for cid, rows in read_indexed_rows(body, body.files, names, reader, wanted).items():
        entries = [e for e, _ in sorted(rows, key=lambda x: (x[0].path, x[0].line))]
        out[cid] = journal.collapse(entries) if any(e.path.endswith(journal.FILE) for e in entries) else entries
    return out
