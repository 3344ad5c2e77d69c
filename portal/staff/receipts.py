"""Receipt emails: a receipt when an online payment is received (or, for a bank payment, submitted),
and word when a bank payment is returned. Sent once each: what triggers one is a ledger row the
payment service records once however often Stripe repeats its events, and each email sent is in
the contact log, which a second trigger (another process, a restart) finds before it sends again.
Sent through `[smtp]` by the payment service in the background, never in a request.
"""
from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from email.utils import formataddr
from html import escape

from ..core.clock import shown
from ..core.methods import clearing
from ..core.money import fmt
from ..core.receipts import receipt_number
from ..core.records import Customer
from ..ledger import contacts
from ..ledger.settings import Settings
from .dunning import PASSWORD_ENV
from .mailer import Letter, logo_url, message, send
from .reminders import usable_email

log = logging.getLogger(__name__)
STAGES = {"succeeded": "receipt", "processing": "receipt-processing", "failed": "payment-returned"}


def letters(settings: Settings, rows, customer_of: Callable[[str], tuple[Customer | None, dict[str, Decimal]]],
            now: datetime) -> list[Letter]:
    """The emails a batch of newly recorded payment rows calls for: one per payment and state.
    `customer_of(id)` gives the customer and what they owe now, by currency."""
    groups: dict[tuple[str, str], list] = {}
    for r in rows:
        if r.type == "payment" and r.status in STAGES:
            groups.setdefault((r.ref.split("/", 1)[0], r.status), []).append(r)
    out = []
    for (payment, status), found in groups.items():
        first = found[0]
        customer, balances = customer_of(first.customer_id)
        if customer is None or not usable_email(customer.email):
            log.info("no receipt email for %s: customer %s has no usable email address", payment, first.customer_id)
            continue
        amount = sum((r.amount for r in found), Decimal(0))
        applied = sorted({r.applies_to for r in found if r.applies_to})
        out.append(_letter(settings, customer, payment, status, first.date, amount, first.currency, applied,
                           balances.get(first.currency), now, first.method))
    return out


def _letter(settings: Settings, c: Customer, payment: str, status: str, day: date, amount: Decimal, currency: str,
            applied: list[str], owed: Decimal | None, now: datetime, method: str = "") -> Letter:
    company = settings.company
    number, money = receipt_number(payment), fmt(amount, currency)
    stage = STAGES[status]
    if stage == "payment-returned":
        subject = f"{company['name']}: your bank payment of {money} was returned"
        lines = [f"Your bank payment of {money} made on {shown(day)} (receipt {number}) was returned by your bank.",
                 "You were not charged" + (f"; {fmt(owed, currency)} is still due." if owed else ".")
                 + " You can pay again from your statement, by card or from another account."]
    else:
        subject = f"{company['name']}: receipt {number} for {money}"
        lines = [f"Thank you: we received your payment of {money} on {shown(day)}." if status == "succeeded" else
                 f"Thank you: your bank payment of {money} was submitted on {shown(day)}. Bank payments "
                 f"{clearing(method)}; it already counts as paid on your statement.",
                 f"Receipt {number} · account {c.name} ({c.id}) · Stripe reference {payment}",
                 "Applied to: " + (", ".join(applied) if applied else "your account, the oldest invoices first")]
    text = f"Dear {c.contact or c.name},\n\n" + "\n\n".join(lines) + f"\n\n--\n{company['name']}, Accounts receivable\n"
    accent = company.get("brand_color") or "#0b5cad"  # the brand's colour, as on the statements
    logo = logo_url(settings)
    heading = (f'<img src="{escape(logo)}" alt="{escape(company["name"])}" style="display:block;max-height:48px;'
               'max-width:224px;border:0;">' if logo else escape(company["name"]))
    html_part = (f'<div style="max-width:640px;font:15px/1.5 -apple-system,\'Segoe UI\',Helvetica,Arial,sans-serif;">'
                 f'<p style="margin:0 0 16px;font-size:18px;font-weight:bold;color:{accent};">{heading}'
                 f"</p><p>Dear {escape(c.contact or c.name)},</p>" + "".join(f"<p>{escape(x)}</p>" for x in lines)
                 + f"<p>--<br>{escape(company['name'])}, Accounts receivable</p></div>")
    sender = (settings.smtp.sender if settings.smtp else "") or company.get("email", "")
    identity = hashlib.sha256(f"{payment}|{stage}".encode()).hexdigest()[:24]
    msg = message(subject, formataddr((" ".join(company["name"].split()), sender), "utf-8"),
                  formataddr((" ".join(c.name.split()), c.email), "utf-8"), company.get("email") or sender, now,
                  f"{stage}-{identity}@{sender.rpartition('@')[2] or 'localhost'}", text, html_part)
    return Letter(c.id, stage, c.email, subject, (payment,), msg)


def send_for(settings: Settings, rows, customer_of, now: datetime) -> int:
    """Send the emails these new rows call for that the contact log does not already have; each sent
    one is logged there as soon as the server takes it. Returns how many were sent."""
    if settings.smtp is None or (not settings.company.get("email") and not settings.smtp.sender):
        return 0
    log_now = contacts.read(settings.ledger_dir)
    sent = {(c.stage, c.items) for c in log_now if c.channel == "email"}
    due = [x for x in letters(settings, rows, customer_of, now) if (x.stage, x.keys) not in sent]
    if not due:
        return 0

    def logged(letter: Letter) -> None:
        contacts.append(settings.ledger_dir, [contacts.Contact(
            now.date(), letter.customer_id, "email", letter.subject, stage=letter.stage, recipient=letter.recipient,
            items=letter.keys)])

    delivery = send(settings.smtp, os.environ.get(PASSWORD_ENV, ""), due, logged)
    if delivery.failure:
        log.error("receipt emails: %s", delivery.failure)
    for customer, recipient, why in delivery.refused:
        log.warning("receipt email to %s (%s) refused: %s", customer, recipient, why)
    return len(delivery.sent)
