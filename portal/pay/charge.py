"""Pure: what a customer may pay online, worked out from the current ledger, never from the form.

The statement's pay form says what the customer wants (the whole balance, what is overdue,
chosen invoices, or an amount); this module answers with the amount to charge and the invoices it
settles, or refuses with a message the customer can act on.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from ..core.accounts import Account
from ..core.errors import PortalError
from ..core.money import MoneyError, fmt, parse_amount

METADATA_LIMIT = 500  # characters in one Stripe metadata value


class Refused(PortalError):
    """A payment request that will not be charged; `message` is for the customer."""

    def __init__(self, message: str, status: int = 422):
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class Charge:
    """What to charge: the amount, in the account's currency, and the invoices it pays."""

    currency: str
    amount: Decimal
    invoices: tuple[str, ...]
    description: str
    # (invoice ref, amount): what the customer chose to settle, when they chose
    allocations: tuple[tuple[str, Decimal], ...] = ()

    @property
    def allocations_text(self) -> str:
        """The allocations as Stripe metadata (`INV-1=100.00;INV-2=40.00`), whole entries only:
        what does not fit in one metadata value is paid oldest-due first, as any payment is."""
        text = ""
        for ref, amount in self.allocations:
            part = f"{';' if text else ''}{ref}={amount}"
            if len(text) + len(part) > METADATA_LIMIT:
                break
            text += part
        return text


@dataclass(frozen=True)
class PayForm:
    """What the statement's pay form posted: the option chosen and the fields beside it."""

    choice: str
    invoices: tuple[str, ...] = ()
    amount: str = ""

    def readings(self) -> list[PayForm]:
        """The ways the form can be read. One when its fields agree with its choice; several when
        they do not (an invoice ticked, or an amount typed, with another option chosen): then the
        customer is asked which they meant, never charged for a guess."""
        amount = self.amount.strip()
        meant = []
        if self.invoices:
            meant.append(PayForm("invoices", self.invoices))
        if amount:
            meant.append(PayForm("amount", amount=amount))
        chosen = PayForm(self.choice, self.invoices if self.choice == "invoices" else (),
                         amount if self.choice == "amount" else "")
        if chosen not in meant and self.choice:
            meant.insert(0, chosen)
        return meant or [chosen]


def charge_for(account: Account | None, choice: str, invoices: list[str], amount_text: str,
               minimum: Decimal) -> Charge:
    """The charge for a pay-form choice against the account as it is now."""
    if account is None or account.balance <= 0:
        raise Refused("There is nothing to pay on this account now. Thank you!", 409)
    cur = account.currency
    if choice == "balance":
        amount, refs, what = account.balance, tuple(i.entry.ref for i in account.items if i.entry.ref), "balance"
    elif choice == "overdue":
        amount = account.overdue
        refs = tuple(i.entry.ref for i in account.items if i.days_overdue > 0 and i.entry.ref)
        what = "overdue invoices"
        if amount <= 0:
            raise Refused("Nothing is overdue now: your statement may be out of date.", 409)
    elif choice == "invoices":
        if not invoices:
            raise Refused("Choose at least one invoice to pay.")
        open_now = {i.entry.ref: i.open for i in account.items if i.entry.type == "invoice"}
        stale = [r for r in invoices if r not in open_now]
        if stale:
            raise Refused(f"{', '.join(stale)} {'is' if len(stale) == 1 else 'are'} no longer open (paid or credited "
                          "since your statement was made). Please reload your statement.", 409)
        refs = tuple(dict.fromkeys(invoices))
        amount = sum((open_now[r] for r in refs), Decimal(0))
        what = ", ".join(refs)
    elif choice == "amount":
        try:
            amount = parse_amount(amount_text, cur)
        except MoneyError:
            raise Refused(f"{amount_text.strip() or 'An empty amount'} is not an amount in {cur}.") from None
        refs, what = (), "payment on account"
    else:
        raise Refused("Choose what to pay.", 400)
    if amount > account.balance:
        raise Refused(f"{fmt(amount, cur)} is more than the {fmt(account.balance, cur)} you owe.")
    if amount < minimum or amount <= 0:
        raise Refused(f"The smallest online payment is {fmt(minimum, cur)}.")
    allocations: tuple[tuple[str, Decimal], ...] = ()
    if choice in ("invoices", "overdue"):  # the customer named these: settle them, not the oldest
        open_now = {i.entry.ref: i.open for i in account.items}
        allocations = tuple((r, open_now[r]) for r in refs)
    return Charge(cur, amount, refs, what, allocations)
