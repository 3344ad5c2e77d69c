"""Immutable ledger records, each carrying the file and line it came from."""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import NamedTuple

ENTRY_TYPES = ("invoice", "credit", "payment", "refund", "adjustment", "writeoff")
# What each type does to the balance: +1 adds to what the customer owes, -1 reduces it.
# An adjustment carries its own sign.
SIGN = {"invoice": 1, "refund": 1, "adjustment": 1, "credit": -1, "payment": -1, "writeoff": -1}


class Customer(NamedTuple):
    """One row of customers.csv."""

    id: str
    name: str
    email: str
    currency: str
    terms_days: int | None
    contact: str
    phone: str
    address: str
    link_version: int
    paused: bool
    path: str
    line: int


class Entry(NamedTuple):
    """One ledger row: an invoice, credit note, payment, refund, adjustment or write-off.

    `status` is empty for settled money and "processing" for a bank payment that has been
    submitted but not yet cleared (recorded by the payment service).
    """

    date: date
    customer_id: str
    type: str
    ref: str
    amount: Decimal
    currency: str
    due_date: date | None
    applies_to: str
    memo: str
    path: str
    line: int
    status: str = ""


class Problem(NamedTuple):
    """One thing wrong with the input, located as `path:line`."""

    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}" if self.line else f"{self.path}: {self.message}"


class InputError(Exception):
    """Every problem found in the input, reported together."""

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(set(problems), key=lambda p: (p.path, p.line, p.message))
        super().__init__("\n".join(map(str, self.problems)))
