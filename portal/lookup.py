"""One customer's current accounts, read from the last build's state (for the payment service).

The service never trusts the page or the form for what is owed: it reads the customer's rows from
the ledger files where the last build indexed them, with the payment service's own recorded
payments, and recomputes the accounts.
"""
from __future__ import annotations

from datetime import date

from . import journal, ledger, state as st
from .accounts import Account, accounts
from .incremental import read_indexed_rows
from .model import Customer
from .settings import Settings


class NotBuilt(Exception):
    """There is no usable build state: run `portal build`."""


def customer_accounts(settings: Settings, customer_id: str, as_of: date) -> tuple[Customer | None, list[Account]]:
    """(customer, accounts as of a date) from the ledger as the last build indexed it."""
    _, body = st.load_both(settings.state_dir)
    if body is None:
        raise NotBuilt("no build state: run `portal build`")
    if customer_id not in body.customer_lines:
        return None, []
    customers = ledger.CustomerIndex(settings, body.customer_lines)
    customer = customers.get(customer_id)
    names = {name: settings.root / name for name in body.files if name}
    reader = ledger.EntryReader(settings, customers)
    rows = read_indexed_rows(body, body.files, names, reader, [customer_id])[customer_id]
    entries = [e for e, _ in sorted(rows, key=lambda x: (x[0].path, x[0].line))]
    if any(e.path.endswith(journal.FILE) for e in entries):
        entries = journal.collapse(entries)
    return customer, accounts(entries, as_of, settings.recent_days)
