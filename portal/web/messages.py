"""The customer's message route: POST /pay/message, from the statement's "Send us a message".

Posted with the statement's signed pay token alone, it shows the form (the customer's open
invoices to choose from); posted with the form, it records the message in the contact log once
(the same form sent twice is one row), holds reminders as the message asks (ledger.contacts.held)
and mails accounts receivable in the background. One customer's rows are read; nothing is rendered
but this page; limited per address and per customer.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask import Blueprint, Flask, current_app, request

from ..build.render import message_url
from ..core import clock
from ..core.money import fmt
from ..ledger import contacts
from ..ledger.settings import Settings
from ..staff import messages
from ..staff.dunning import PASSWORD_ENV
from ..staff.mailer import Letter, send
from .mailing import Mailer
from .pay_routes import Asker, TokenCustomer, _page, _svc, token_customer
from .ratelimit import RateLimit

log = logging.getLogger("portal.message")
bp = Blueprint("message", __name__)
MESSAGE = Asker("message", "link", "Messages")
KINDS = (("question", "I have a question", "About an invoice or the account: reminders wait until we answer."),
         ("cheque", "I have sent a cheque", "Reminders wait while it reaches us."),
         ("promise", "I will pay on a date", "Reminders wait until that date."))


@dataclass
class MessageService:
    """What the message route keeps, attached to the app as `app.extensions["portal.message"]`."""

    mailer: Mailer  # mail to accounts receivable, in the background
    limit: RateLimit  # per client address
    customer_limit: RateLimit  # messages per customer an hour


def init(app: Flask, settings: Settings) -> None:
    """Attach the message route: its limits and the background mailer to accounts receivable."""
    def mail(letter: Letter) -> None:
        if settings.smtp is None:
            return
        delivery = send(settings.smtp, os.environ.get(PASSWORD_ENV, ""), [letter], lambda _sent: None)
        if delivery.failure or delivery.refused:
            log.error("message email to accounts receivable not sent: %s", delivery.failure or delivery.refused)

    app.extensions["portal.message"] = MessageService(
        mailer=Mailer(mail),
        limit=RateLimit(app.config.get("MESSAGE_RATE_LIMIT", 20), 60),  # per address: opening the form counts
        customer_limit=RateLimit(app.config.get("MESSAGE_CUSTOMER_RATE_LIMIT", 5), 3600))  # messages sent
    app.register_blueprint(bp)


@bp.post("/pay/message")
def message():
    svc, mine = _svc(), _state()
    if not mine.limit.allow(request.remote_addr or "?"):
        log.warning("message: rate limited %s", request.remote_addr)
        return _page(429, "Too many attempts", ["Please wait a minute and try again."])
    found = token_customer(svc, MESSAGE)
    if not isinstance(found, TokenCustomer):
        return found
    customer, accounts, today, token, link = found.customer, found.accounts, found.today, found.token, found.link
    cid = customer.id
    if "kind" not in request.form:  # from the statement's button: the form
        return _form(200, messages.Form(currency=customer.currency), {}, customer, accounts, token, today, link)
    if not mine.customer_limit.allow(cid):
        log.warning("message: rate limited customer %s (from %s)", cid, request.remote_addr)
        return _page(429, "Too many messages", ["Please wait an hour, or write to us by email."], statement=link)
    form = messages.Form.of(request.form)
    contact, errors = messages.read(form, customer, accounts, today)
    if contact is None:
        return _form(400, form, errors, customer, accounts, token, today, link)
    if contacts.append_once(svc.settings.ledger_dir, contact):
        log.info("message: %s sent %s%s", cid, contact.stage, f" about {contact.items[0]}" if contact.items else "")
        letter = messages.letter_to_ar(svc.settings, customer, contact, link, datetime.now(svc.tz))
        if letter is not None:
            mine.mailer.request(letter)
    else:
        log.info("message: %s sent the same %s again (logged once)", cid, contact.stage)
    return _page(200, "Thank you: we have your message", messages.summary(contact) + [messages.held_until(contact)],
                 kind="ok", statement=link, template="message.html", form=None)


def _form(status: int, form: messages.Form, errors: dict[str, str], customer, accounts, token: str, today: date,
          link: str):
    """The message form, with what the customer typed and what to fix."""
    currencies = sorted({a.currency for a in accounts} | {customer.currency},
                        key=lambda c: (c != customer.currency, c))
    return _page(status, "Send us a message" if not errors else "Please check your message",
                 [f"About your account {customer.id} ({customer.name})."], kind="form", statement=link,
                 template="message.html", form=form, errors=errors, kinds=KINDS,
                 invoices=messages.open_invoices(accounts), currencies=currencies, token=token,
                 action=message_url(_svc().settings), money=fmt, day=clock.shown, text_max=messages.TEXT_MAX,
                 earliest=(today - timedelta(days=messages.CHEQUE_BACK_DAYS)).isoformat(),
                 latest=(today + timedelta(days=messages.PROMISE_DAYS)).isoformat())


def _state() -> MessageService:
    return current_app.extensions["portal.message"]
