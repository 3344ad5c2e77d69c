"""What a customer tells us from their statement: a question, a cheque in the post, a date they
will pay. Pure: the form read into a contact-log row (or what to fix), and the email that tells
accounts receivable. The payment service (web/messages.py) does the I/O.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from email.utils import formataddr
from html import escape

from ..core.accounts import Account
from ..core.clock import shown
from ..core.money import MoneyError, fmt, parse_amount
from ..core.records import Customer
from ..ledger.contacts import CHEQUE_DAYS, CUSTOMER, KINDS, Contact
from ..ledger.settings import Settings
from .mailer import Letter, message
from .reminders import usable_email

TEXT_MAX = 2000  # characters of a message
PROMISE_DAYS = 90  # how far ahead a customer may promise to pay
CHEQUE_BACK_DAYS = 60  # how long ago a cheque may have been sent
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u2028\u2029]")


@dataclass(frozen=True)
class Invoice:
    """An open invoice the form offers: its ref, currency and what is left of it."""

    ref: str
    currency: str
    open: Decimal
    due: date


@dataclass(frozen=True)
class Form:
    """The message form as the customer sent it (text as typed, kept to show again)."""

    kind: str = ""
    invoice: str = ""  # a ref, or "" for the whole account
    currency: str = ""
    day: str = ""  # YYYY-MM-DD, as a date input sends it
    amount: str = ""
    text: str = ""

    @classmethod
    def of(cls, fields) -> Form:
        """From a request's form (a mapping of field -> text)."""
        return cls(*(str(fields.get(name, ""))[:TEXT_MAX + 100] for name in
                     ("kind", "invoice", "currency", "day", "amount", "text")))


def open_invoices(accounts: list[Account]) -> list[Invoice]:
    """The invoices a message can be about: what is still open, oldest due first."""
    found = [Invoice(i.entry.ref, a.currency, i.open, i.due) for a in accounts for i in a.items
             if i.open > 0 and i.entry.type == "invoice"]
    return sorted(found, key=lambda i: (i.due, i.ref))


def read(form: Form, customer: Customer, accounts: list[Account], today: date) -> tuple[Contact | None, dict[str, str]]:
    """(the contact-log row the form makes, None and {field: what to fix} when it makes none)."""
    errors: dict[str, str] = {}
    invoices = {i.ref: i for i in open_invoices(accounts)}
    balances = {a.currency: a.balance for a in accounts} or {customer.currency: Decimal(0)}
    kind = form.kind if form.kind in KINDS else ""
    if not kind:
        errors["kind"] = "Choose what your message is about."
    invoice = invoices.get(form.invoice) if form.invoice else None
    if form.invoice and invoice is None:
        errors["invoice"] = "Choose one of your open invoices, or the whole account."
    currency = invoice.currency if invoice else (form.currency or customer.currency).upper()
    if currency not in balances:
        errors["currency"] = f"Choose one of your account's currencies ({', '.join(sorted(balances))})."
        currency = customer.currency
    text = _CONTROL.sub(" ", form.text.replace("\r\n", "\n")).strip()
    if len(text) > TEXT_MAX:
        errors["text"] = f"Please keep your message under {TEXT_MAX:,} characters (it has {len(text):,})."
    if kind == "question" and not text:
        errors["text"] = "Please write your question."
    day = _day(form.day, kind, today, errors)
    amount = _amount(form.amount, kind, currency, errors)
    if errors:
        return None, errors
    if amount is None and kind != "question":  # the invoice's open amount, or the account's balance
        amount = invoice.open if invoice else max(balances[currency], Decimal(0))
    until = None
    if kind == "promise":
        until = day
    elif kind == "cheque":
        until = (day or today) + timedelta(days=CHEQUE_DAYS)
    if kind == "cheque" and day is not None:
        text = f"Sent on {day.isoformat()}." + (f" {text}" if text else "")
    items = (invoice.ref,) if invoice else ()
    key = hashlib.sha256("\x1f".join((today.isoformat(), customer.id, kind, ",".join(items), currency,
                                      str(until or ""), str(amount or ""), text)).encode()).hexdigest()[:24]
    return Contact(today, customer.id, CUSTOMER, text, stage=kind, promise_date=until,
                   promise_amount=amount if kind != "question" else None,
                   currency=currency if kind != "question" else "", items=items, key=key), {}


def _day(text: str, kind: str, today: date, errors: dict[str, str]) -> date | None:
    """The form's date: required for a promise (today to PROMISE_DAYS ahead), optional for a
    cheque (when it was sent: up to today), unused for a question."""
    text = text.strip()
    if kind == "question" or (not text and kind == "cheque"):
        return None
    if not text:
        errors["day"] = "Choose the date you will pay by."
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        errors["day"] = f"{text!r} is not a date: use the date picker, or write it as {today.isoformat()}."
        return None
    last = today + timedelta(days=PROMISE_DAYS)
    if kind == "promise" and not today <= day <= last:
        errors["day"] = f"Choose a date from {shown(today)} to {shown(last)}."
    if kind == "cheque" and not today - timedelta(days=CHEQUE_BACK_DAYS) <= day <= today:
        errors["day"] = f"The date you sent it: today ({shown(today)}) or earlier."
    return day


def _amount(text: str, kind: str, currency: str, errors: dict[str, str]) -> Decimal | None:
    """The form's amount: optional (the invoice's or account's balance is taken), positive,
    no more decimals than the currency has."""
    if kind == "question" or not text.strip():
        return None
    try:
        value = parse_amount(text, currency, exact=True)
    except MoneyError as e:
        errors["amount"] = f"{e}: write an amount such as {fmt(Decimal('250'), currency)}."
        return None
    if value <= 0:
        errors["amount"] = "The amount must be more than zero."
        return None
    return value


def summary(c: Contact, to_staff: bool = False) -> list[str]:
    """What the customer told us, in words: to them (the thank-you page) or about them (the email to AR)."""
    you, your = ("They", "Their") if to_staff else ("You", "Your")
    about = _about(c, "the account" if to_staff else "your account")
    money = fmt(c.promise_amount, c.currency) if c.promise_amount is not None else ""
    if c.stage == "question":
        lines = [f"{your} question about {about}."]
    elif c.stage == "cheque":
        lines = [f"A cheque for {money} towards {about}."]
    else:
        assert c.promise_date is not None  # a promise has its date (read)
        lines = [f"{you} will pay {money} towards {about} by {shown(c.promise_date)}."]
    return lines + ([f"{your} message: “{c.note}”"] if c.note else [])


def held_until(c: Contact) -> str:
    """How long reminders wait for this message, in words (ledger.contacts.held is the rule)."""
    about = _about(c, "your account")
    if c.stage == "promise" and c.promise_date is not None:
        return f"We will not send reminders about {about} before {shown(c.promise_date)}."
    if c.stage == "cheque" and c.promise_date is not None:
        return f"We will not send reminders about {about} while the cheque reaches us (until {shown(c.promise_date)})."
    return f"We will not send reminders about {about} until we have answered you."


def _about(c: Contact, account: str) -> str:
    return f"invoice {c.items[0]}" if c.items else account


def letter_to_ar(settings: Settings, customer: Customer, c: Contact, link: str, now: datetime) -> Letter | None:
    """The email telling accounts receivable what the customer sent (None without an address)."""
    company = settings.company
    to = company.get("email", "")
    sender = (settings.smtp.sender if settings.smtp else "") or to
    if not to:
        return None
    about = f" about {c.items[0]}" if c.items else ""
    subject = f"Message from {' '.join(customer.name.split())} ({customer.id}): {KINDS[c.stage]}{about}"
    until = shown(c.promise_date) if c.promise_date is not None else ""
    waits = {"question": "staff answer", "cheque": f"{until} or staff answer", "promise": until}[c.stage]
    lines = [f"Customer: {customer.name} ({customer.id})",
             f"Email: {customer.email or 'none on file'}" + (f" · Phone: {customer.phone}" if customer.phone else ""),
             f"Sent: {shown(c.date)} from their statement",
             *summary(c, to_staff=True),
             f"Reminders wait until {waits}: log the answer with `portal note {customer.id} \"...\"`.",
             f"Their statement: {link}"]
    text = "\n".join(lines) + "\n"
    html_part = "".join(f"<p>{escape(x)}</p>" for x in lines)
    reply_to = customer.email if usable_email(customer.email) else to
    domain = sender.rpartition("@")[2] or "localhost"
    msg = message(subject, formataddr((" ".join(company["name"].split()), sender), "utf-8"), to,
                  formataddr((" ".join(customer.name.split()), reply_to), "utf-8"), now,
                  f"customer-message-{c.key}@{domain}", text, html_part)
    return Letter(customer.id, "customer-message", to, subject, c.items, msg)
