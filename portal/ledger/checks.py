"""Checks that need all of a customer's entries, and those only the whole ledger can settle."""
from __future__ import annotations

from collections.abc import Mapping
from operator import attrgetter

from ..core.records import Entry, Found, Problem

_STATUS = attrgetter("status")
Unresolved = tuple[str, int, str, str, str]  # an applies_to not settled yet: (path, line, ref, customer_id, type)
Where = tuple[str, int]  # (path, line)


def duplicate_invoice(ref: str, one: Where, other: Where, one_customer: bool = False) -> Problem:
    """An invoice number used twice (the one rule, whichever build finds it, between whichever
    customers): reported at the later of the two rows, naming the earlier. Two rows of one customer,
    one after the other, are more likely an invoice's lines: that is said too."""
    first, later = sorted((one, other))
    hint = ""
    if one_customer and first[0] == later[0] and later[1] - first[1] == 1:
        hint = ("; rows one after another with one invoice number look like a line-item export, a row per "
                "invoice line: export an invoice list instead, one row per invoice with its total")
    return Problem(later[0], later[1], f"duplicate invoice ref {ref} (first at {first[0]}:{first[1]}{hint})")


def validate(customer_id: str, entries: list[Entry], problems: Found,
             unresolved: list[Unresolved]) -> dict[str, Entry]:
    """Checks that need all of one customer's entries; returns this customer's invoices by ref.

    An applies_to that names none of this customer's invoices goes to `unresolved` as
    (path, line, ref, customer_id, type): only the whole ledger can say whether it is unknown
    or another customer's.
    """
    invoices: dict[str, Entry] = {}
    seen: dict[tuple[str, str], Entry] = {}
    if "failed" in map(_STATUS, entries):  # a returned bank debit: listed, counts for nothing
        entries = [e for e in entries if e.status != "failed"]
    for e in entries:
        if e.type == "invoice":
            first = invoices.get(e.ref)
            if first is not None:
                problems.append(duplicate_invoice(e.ref, (first.path, first.line), (e.path, e.line), one_customer=True))
            else:
                invoices[e.ref] = e
        elif e.ref and e.type in ("payment", "credit", "refund"):
            first = seen.get((e.type, e.ref))
            if first is not None and first.amount == e.amount and first.date == e.date:
                problems.append(Problem(e.path, e.line, f"{e.type} {e.ref} recorded twice "
                                        f"(first at {first.path}:{first.line}; an overlapping export?)"))
            seen.setdefault((e.type, e.ref), e)
    for e in entries:
        if not e.applies_to:
            continue
        if e.type == "refund":
            target = seen.get(("payment", e.applies_to)) or seen.get(("credit", e.applies_to))
            if target is None:
                problems.append(Problem(e.path, e.line, f"refund applies to {e.applies_to}, which is not a payment "
                                        f"or credit of {customer_id} (expected a payment or credit ref)"))
            continue
        inv = invoices.get(e.applies_to)
        if inv is None:
            unresolved.append((e.path, e.line, e.applies_to, customer_id, e.type))
        elif inv.currency != e.currency:
            problems.append(Problem(e.path, e.line, f"{e.type} in {e.currency} applies to {inv.ref}, which is in "
                                    f"{inv.currency} (expected the same currency)"))
    return invoices


def resolve(unresolved: list[Unresolved], owner_of: Mapping[str, tuple[str | None, str, int]]) -> list[Problem]:
    """Turn unresolved applies_to into problems, naming the owner when it is another customer.

    `owner_of` maps an invoice ref to (its customer, path, line).
    """
    out = []
    for path, line, ref, cid, etype in unresolved:
        other = owner_of.get(ref)
        if other is not None and other[0] != cid:
            out.append(Problem(path, line, f"{etype} of {cid} applies to {ref}, which is customer {other[0]}'s "
                                           f"invoice (expected one of {cid}'s invoices)"))
        else:
            out.append(Problem(path, line,
                               f"{etype} applies to unknown invoice {ref} (expected one of {cid}'s invoice refs)"))
    return out
