"""The payment routes: /pay, /pay/return and /stripe/webhook (a Flask blueprint).

No request renders the site or forks: /pay works out what one customer owes from the ledger as
it is now (lookup.LedgerView); pages are refreshed after a payment in a background thread, one
customer's pages at a time (builder.refresh); a new day's statements are the staff build's job.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from urllib.parse import urljoin

from flask import Blueprint, Flask, current_app, redirect, request
from jinja2 import Environment

from ..build import run as builder
from ..build.lookup import LedgerView, NotBuilt, Unreadable
from ..build.render import environment, page_frame
from ..core import clock
from ..core.methods import clearing, method_name
from ..core.money import fmt, to_minor
from ..core.receipts import receipt_number
from ..core.records import Customer, InputError
from ..core.signing import BadToken, Signer, load_keys, payment_mark_text, statement_url
from ..ledger.settings import Settings
from ..pay.charge import Charge, PayForm, Refused, charge_for
from ..pay.fulfil import HANDLED, Fulfiller
from ..pay.gateway import Gateway, GatewayError, SignatureError
from ..pay.payment_log import Journal, SetAsideLog
from ..staff import receipts
from .mailing import Mailer
from .ratelimit import RateLimit
from .refresher import Rebuilder

log = logging.getLogger("portal.pay")
bp = Blueprint("pay", __name__)
PAY_TOKEN_MAX_AGE_DAYS = 90
RETURN_COOKIE = "portal_pay"
RETURN_COOKIE_SECONDS = 2 * 24 * 3600  # Checkout sessions last at most a day
RETURN_WAIT_SECONDS = 5.0  # how long the return page waits for the statement to show the payment


@dataclass
class PayService:
    """Everything the payment routes share, attached to the app as `app.extensions["portal.pay"]`."""

    settings: Settings
    tz: tzinfo | None
    gateway: Gateway | None
    webhook_ready: bool
    fulfiller: Fulfiller | None
    signer: Signer
    ledger: LedgerView
    rebuilder: Rebuilder
    mailer: Mailer  # receipt emails, in the background
    env: Environment
    pay_limit: RateLimit  # per client address
    customer_limit: RateLimit  # per customer (a pay token), whatever address it comes from
    hook_limit: RateLimit
    return_limit: RateLimit


def init(app: Flask, settings: Settings) -> None:
    """Attach the payment service to an app: keys from the environment, never from files."""
    secret = app.config.get("STRIPE_SECRET_KEY") or os.environ.get("STRIPE_SECRET_KEY", "")
    hook = app.config.get("STRIPE_WEBHOOK_SECRET") or os.environ.get("STRIPE_WEBHOOK_SECRET", "")
    base = app.config.get("STRIPE_API_BASE") or os.environ.get("STRIPE_API_BASE") or None
    tz = clock.zone(settings.timezone)
    gateway = Gateway(secret, hook, base, tz) if secret else None
    signer = Signer(load_keys(settings.state_dir))
    view = LedgerView(settings)

    def refresh():
        try:
            builder.refresh(settings, clock.today(tz))
        except InputError as e:  # a staff file is wrong: the payment is recorded, the page waits
            log.error("page refresh after a payment failed: %d problem(s) in the ledger, first: %s",
                      len(e.problems), e.problems[0])

    # Each worker process refreshes at most ~5 times a second however many payments arrive.
    rebuilder = Rebuilder(refresh, delay=app.config.get("REBUILD_DELAY", 0.2))

    def mail(rows) -> None:
        today = clock.today(tz)

        def customer_of(cid: str):
            try:
                customer, accounts = view.customer_accounts(cid, today)
            except (NotBuilt, Unreadable):
                return None, {}
            return customer, {a.currency: a.balance for a in accounts}
        receipts.send_for(settings, list(rows), customer_of, datetime.now(tz))

    mailer = Mailer(mail, wanted=lambda rows: any(r.type == "payment" for r in rows))
    fulfiller = (Fulfiller(gateway, Journal(settings.ledger_dir), SetAsideLog(settings.ledger_dir), signer.check_mark,
                           view.knows, rebuilder.request, mailer.request)
                 if gateway else None)  # as fulfil.fulfiller_for, one view
    app.extensions["portal.pay"] = PayService(
        settings=settings, tz=tz, gateway=gateway, webhook_ready=bool(secret and hook), fulfiller=fulfiller,
        signer=signer, ledger=view, rebuilder=rebuilder, mailer=mailer, env=environment(settings),
        pay_limit=RateLimit(app.config.get("PAY_RATE_LIMIT", 20), 60),
        customer_limit=RateLimit(app.config.get("PAY_CUSTOMER_RATE_LIMIT", 10), 60),
        hook_limit=RateLimit(app.config.get("WEBHOOK_RATE_LIMIT", 6000), 60),
        return_limit=RateLimit(app.config.get("RETURN_RATE_LIMIT", 30), 60))
    app.register_blueprint(bp)


def _svc() -> PayService:
    return current_app.extensions["portal.pay"]


def return_url(settings: Settings) -> str:
    """Checkout's success URL, from the configured addresses (never from the request's Host)."""
    pay = urljoin(settings.base_url + "/", settings.pay_url)
    return pay.rstrip("/") + "/return?session_id={CHECKOUT_SESSION_ID}"


def _statement(token: str) -> str:
    """The statement's address for a link on our pages: on this host when the app serves the site
    too, else at base_url."""
    if current_app.config.get("SERVE_SITE"):
        return f"/s/{token}/"
    return statement_url(_svc().settings.base_url, token)


def _page(status: int, title: str, lines: list[str], kind: str = "error", statement: str | None = None,
          template: str = "pay.html", **extra):
    svc = _svc()
    html = svc.env.get_template(template).render(
        company=svc.settings.company, nav=[], form_origin=f"'self' {svc.settings.checkout_origin}", root="/",
        **page_frame(svc.settings),
        title=title, lines=lines, kind=kind, statement_url=statement, **extra)
    return html, status, {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"}


@dataclass(frozen=True)
class Asker:
    """How a route taking the statement's pay token names itself in the log and on its pages."""

    log: str  # "pay"
    link: str  # "payment link"
    things: str  # "Payments"


PAY = Asker("pay", "payment link", "Payments")


@dataclass(frozen=True)
class TokenCustomer:
    """Whose statement a posted pay token is, and their accounts as of today."""

    token: str  # the pay token posted
    customer: Customer
    accounts: list
    today: date
    link_token: str  # the token of their statement's address

    @property
    def link(self) -> str:
        """Their statement's address, for a link on our pages."""
        return _statement(self.link_token)


def token_customer(svc: PayService, asker: Asker, limit: RateLimit | None = None):
    """The customer a request's pay token names, as the ledger is now: a TokenCustomer, or the page
    refusing it (403 forged, expired or replaced; 429 past `limit` for that customer; 503 no build).
    One rule for /pay, the PDF and the message form."""
    today = clock.today(svc.tz)
    token = request.form.get("token", "")
    try:
        cid, version, _ = svc.signer.read_pay(token, today, PAY_TOKEN_MAX_AGE_DAYS)
    except BadToken as e:
        log.warning("%s: refused token from %s: %s", asker.log, request.remote_addr, e)
        return _page(403, f"This {asker.link} does not work", [str(e).capitalize() + ".",
                     "Please open the statement link from our latest email."])
    if limit is not None and not limit.allow(cid):
        log.warning("%s: rate limited customer %s (from %s)", asker.log, cid, request.remote_addr)
        return _page(429, "Too many attempts", ["Please wait a minute and try again."])
    try:
        customer, accounts = svc.ledger.customer_accounts(cid, today)
    except NotBuilt:
        return _page(503, f"{asker.things} are not available yet", ["The statements have not been built."])
    except Unreadable as e:
        log.error("%s: %s's rows do not read: %s", asker.log, cid, e)
        return _page(503, f"{asker.things} are paused for a moment", [
            "We are updating our records. Please try again in a few minutes."])
    if customer is None or customer.link_version != version:
        log.warning("%s: refused revoked or unknown customer link for %s", asker.log, cid)
        return _page(403, f"This {asker.link} has been replaced", ["Please open the link in our latest email."])
    return TokenCustomer(token, customer, accounts, today, svc.signer.link_token(cid, version))


@bp.post("/pay")
def pay():
    svc = _svc()
    s = svc.settings
    if not svc.pay_limit.allow(request.remote_addr or "?"):
        log.warning("pay: rate limited %s", request.remote_addr)
        return _page(429, "Too many attempts", ["Please wait a minute and try again."])
    found = token_customer(svc, PAY, svc.customer_limit)
    if not isinstance(found, TokenCustomer):
        return found
    customer, accounts, link, token = found.customer, found.accounts, found.link, found.link_token
    cid = customer.id
    currency = request.form.get("currency", customer.currency).upper()
    account = next((a for a in accounts if a.currency == currency), None)
    form = PayForm(request.form.get("choice", ""), tuple(request.form.getlist("invoice")),
                   request.form.get("amount", ""))
    readings = form.readings()
    if len(readings) > 1:
        log.info("pay: asked %s which they meant (%s)", cid, ", ".join(r.choice for r in readings))
        return _ask(readings, account, found.token, currency, link)
    try:
        charge = charge_for(account, readings[0].choice, list(readings[0].invoices), readings[0].amount,
                            s.min_payment)
    except Refused as r:
        log.info("pay: refused for %s: %s", cid, r.message)
        return _page(r.status, "We could not start this payment", [r.message], statement=link)
    if svc.gateway is None:
        return _page(503, "Online payment is not set up", [
            f"You would pay {fmt(charge.amount, charge.currency)} ({charge.description}).",
            "The payment service has no Stripe key: set STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET "
            "(see the README) and restart it."], kind="info", statement=link)
    return _checkout(svc, svc.gateway, customer, charge, token, link)


def _checkout(svc: PayService, gateway: Gateway, customer, charge: Charge, token: str, link: str):
    s = svc.settings
    mark = svc.signer.mark(payment_mark_text(customer.id, charge.currency, _minor(charge), charge.allocations_text))
    try:
        checkout = gateway.create_checkout(
            customer_id=customer.id, email=customer.email, currency=charge.currency, amount=charge.amount,
            invoices=charge.invoices, allocations_text=charge.allocations_text, description=charge.description,
            mark=mark, success_url=return_url(s), cancel_url=statement_url(s.base_url, token),
            enabled=s.payment_methods)
    except GatewayError as e:
        log.error("pay: %s", e)
        return _page(502, "The payment service is unavailable", ["Please try again in a few minutes."],
                     statement=link)
    log.info("pay: checkout %s for %s %s %s", checkout.id, customer.id, charge.currency, charge.amount)
    resp = redirect(checkout.url, 303)
    started = svc.signer.read_return_cookie(request.cookies.get(RETURN_COOKIE, ""), RETURN_COOKIE_SECONDS)
    resp.set_cookie(RETURN_COOKIE, svc.signer.return_cookie([i for i in started if i != checkout.id] + [checkout.id]),
                    max_age=RETURN_COOKIE_SECONDS, path="/pay", httponly=True, samesite="Lax",
                    secure=s.base_url.startswith("https://") or request.is_secure)
    return resp


def _minor(charge: Charge) -> int:
    return to_minor(charge.amount, charge.currency)


def _ask(readings: list[PayForm], account, token: str, currency: str, link: str):
    """The form's fields disagree with its choice: show each way to read it, with what it would
    charge, and let the customer pick. Their input is kept in each option's form."""
    s = _svc().settings
    options = []
    for r in readings:
        try:
            charge = charge_for(account, r.choice, list(r.invoices), r.amount, s.min_payment)
        except Refused as refused:
            options.append({"form": r, "refused": refused.message})
            continue
        options.append({"form": r, "refused": "", "label": _label(r, charge),
                        "amount": fmt(charge.amount, charge.currency)})
    return _page(409, "Which payment did you mean?", [
        "The options on the form disagree (for example an invoice ticked while “the whole balance” is chosen). "
        "Nothing has been charged. Please choose:"], kind="ask", statement=link, template="pay_choose.html",
        options=options, token=token, currency=currency, pay_url=s.pay_url)


def _label(form: PayForm, charge: Charge) -> str:
    if form.choice == "balance":
        return "The whole balance"
    if form.choice == "overdue":
        return "What is overdue"
    if form.choice == "invoices":
        return "The chosen invoice" + ("s " if len(charge.invoices) > 1 else " ") + ", ".join(charge.invoices)
    return "The amount you typed"


@bp.get("/pay/return")
def pay_return():
    svc = _svc()
    fulfiller = svc.fulfiller
    session_id = request.args.get("session_id", "")
    if fulfiller is None or not session_id.startswith("cs_"):
        return _page(404, "Payment not found", ["Please open your statement link to see your balance."])
    started = svc.signer.read_return_cookie(request.cookies.get(RETURN_COOKIE, ""), RETURN_COOKIE_SECONDS)
    if session_id not in started:
        # Not the browser that started this payment: say nothing about it (a session id is no key
        # to someone's statement). Webhooks record the payment whatever happens here.
        log.info("return: a session this browser did not start (from %s)", request.remote_addr)
        return _page(200, "Thank you", [
            "If you completed a payment, it will show on your statement shortly. Please open your statement "
            "from the link in our email."], kind="info")
    if not svc.return_limit.allow(request.remote_addr or "?"):
        return _page(429, "Too many attempts", ["Please wait a minute and try again."])
    try:
        _, payment, _ = fulfiller.session(session_id)  # the webhook's path: recorded once either way
        svc.rebuilder.wait(svc.rebuilder.request(), RETURN_WAIT_SECONDS)  # so the statement shows it
    except GatewayError as e:
        log.error("return: %s", e)
        return _page(502, "We could not confirm your payment yet",
                     ["If you completed it, it will show on your statement shortly. Please don't pay again."])
    link = customer = None
    if payment and payment.customer_id:
        try:
            customer, _ = svc.ledger.customer_accounts(payment.customer_id, clock.today(svc.tz))
        except (NotBuilt, Unreadable):
            customer = None
        if customer is not None:
            link = _statement(svc.signer.link_token(customer.id, customer.link_version))
    if payment is None or payment.status == "open":
        return _page(200, "Payment not completed", ["Nothing was charged."], kind="info", statement=link)
    amount = fmt(payment.amount, payment.currency)
    if payment.status == "succeeded":
        return _page(200, "Thank you: payment received", [f"We received {amount}. Your statement shows it now."],
                     kind="ok", statement=link, template="receipt.html", receipt=_receipt(payment, customer))
    if payment.status == "processing":
        return _page(200, "Bank payment processing", [
            f"Your bank payment of {amount} is processing. Bank payments {clearing(payment.method)}.",
            "It already counts as paid on your statement: please don't pay again."], kind="ok", statement=link,
            template="receipt.html", receipt=_receipt(payment, customer))
    return _page(200, "Payment failed", [f"Your payment of {amount} did not go through. You were not charged, "
                                         "and the amount is still due: you can try again from your statement."],
                 statement=link)


def _receipt(payment, customer) -> dict:
    """What the receipt page says of a payment (the browser that made it sees it, no other)."""
    return {
        "number": receipt_number(payment.id), "payment_id": payment.id, "day": clock.shown(payment.day),
        "amount": fmt(payment.amount, payment.currency),
        "method": payment.method_detail or method_name(payment.method),
        "customer": f"{customer.name} ({customer.id})" if customer is not None else payment.customer_id,
        "status": ("Received" if payment.status == "succeeded" else
                   f"Processing: bank payments {clearing(payment.method)}"),
        "applied": [(ref, fmt(amount, payment.currency)) for ref, amount in payment.allocations],
    }


@bp.post("/stripe/webhook")
def webhook():
    svc = _svc()
    if not svc.webhook_ready or svc.gateway is None or svc.fulfiller is None:  # ready: both are there
        return {"error": "webhooks not configured"}, 503
    if not svc.hook_limit.allow(request.remote_addr or "?"):
        return {"error": "rate limited"}, 429
    try:
        event = svc.gateway.event(request.get_data(), request.headers.get("Stripe-Signature"))
    except SignatureError as e:
        log.warning("webhook: refused, bad signature from %s: %s", request.remote_addr, e)
        return {"error": "bad signature"}, 400
    if event.type not in HANDLED:
        return {"received": True, "ignored": event.type}, 200
    try:
        rows = svc.fulfiller.event(event.object_type, event.object_id, event.payment)
    except GatewayError as e:
        log.error("webhook %s: %s", event.id, e)
        return {"error": "try again"}, 503  # Stripe retries
    except NotBuilt as e:
        log.error("webhook %s: %s", event.id, e)
        return {"error": "try again"}, 503
    return {"received": True, "recorded": [r.key for r in rows]}, 200
