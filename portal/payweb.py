"""The payment routes: /pay, /pay/return and /stripe/webhook (a Flask blueprint)."""
from __future__ import annotations

import logging
import os
from datetime import date

from flask import Blueprint, current_app, redirect, request

from . import builder
from .fulfil import HANDLED, Fulfiller
from .journal import Journal
from .lookup import NotBuilt, customer_accounts
from .model import InputError
from .money import fmt
from .payments import Refused, charge_for
from .ratelimit import RateLimit
from .rebuilder import Rebuilder
from .signing import BadToken, Signer, load_keys, statement_url
from .site import environment
from .stripe_gateway import Gateway, GatewayError, SignatureError

log = logging.getLogger("portal.pay")
bp = Blueprint("pay", __name__)
PAY_TOKEN_MAX_AGE_DAYS = 90


def init(app, settings) -> None:
    """Attach the payment service to an app: keys from the environment, never from files."""
    secret = app.config.get("STRIPE_SECRET_KEY") or os.environ.get("STRIPE_SECRET_KEY", "")
    hook = app.config.get("STRIPE_WEBHOOK_SECRET") or os.environ.get("STRIPE_WEBHOOK_SECRET", "")
    base = app.config.get("STRIPE_API_BASE") or os.environ.get("STRIPE_API_BASE") or None
    gateway = Gateway(secret, hook, base) if secret else None
    journal = Journal(settings.ledger_dir)

    def rebuild():
        try:
            builder.build(settings)
        except InputError as e:  # a staff file is wrong: the payment is recorded, the page waits
            log.error("rebuild after a payment failed: %d problem(s) in the ledger, first: %s",
                      len(e.problems), e.problems[0])

    # Each worker process rebuilds at most ~5 times a second however many payments arrive.
    rebuilder = Rebuilder(rebuild, delay=app.config.get("REBUILD_DELAY", 0.2))

    app.extensions["portal.pay"] = {
        "settings": settings, "gateway": gateway, "webhook_ready": bool(secret and hook),
        "fulfiller": Fulfiller(gateway, journal, rebuilder.request) if gateway else None,
        "signer": Signer(load_keys(settings.state_dir)), "rebuild": rebuild, "rebuilder": rebuilder,
        "env": environment(settings),
        "pay_limit": RateLimit(app.config.get("PAY_RATE_LIMIT", 20), 60),
        "hook_limit": RateLimit(app.config.get("WEBHOOK_RATE_LIMIT", 6000), 60),
    }
    app.register_blueprint(bp)


def _ctx():
    return current_app.extensions["portal.pay"]


def _statement(token: str) -> str:
    """The statement's address: on this host when the app serves the site too, else at base_url."""
    if current_app.config.get("SERVE_SITE"):
        return f"/s/{token}/"
    return statement_url(_ctx()["settings"].base_url, token)


def _page(status: int, title: str, lines: list[str], kind: str = "error", statement: str | None = None):
    ctx = _ctx()
    s = ctx["settings"]
    html = ctx["env"].get_template("pay.html").render(
        company=s.company, nav=[], form_origin="'self'", root="/", title=title, lines=lines, kind=kind,
        statement_url=statement)
    return html, status, {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"}


@bp.post("/pay")
def pay():
    ctx = _ctx()
    s, signer = ctx["settings"], ctx["signer"]
    if not ctx["pay_limit"].allow(request.remote_addr or "?"):
        log.warning("pay: rate limited %s", request.remote_addr)
        return _page(429, "Too many attempts", ["Please wait a minute and try again."])
    try:
        cid, version, issued = signer.read_pay(request.form.get("token", ""), date.today(), PAY_TOKEN_MAX_AGE_DAYS)
    except BadToken as e:
        log.warning("pay: refused token from %s: %s", request.remote_addr, e)
        return _page(403, "This payment link does not work", [str(e).capitalize() + ".",
                     "Please open the statement link from our latest email."])
    ctx["rebuild"]()  # the ledger as it is now, not as the page was built
    try:
        customer, accounts = customer_accounts(s, cid, date.today())
    except NotBuilt:
        return _page(503, "Payments are not available yet", ["The statements have not been built."])
    if customer is None or customer.link_version != version:
        log.warning("pay: refused revoked or unknown customer link for %s", cid)
        return _page(403, "This payment link has been replaced", ["Please open the link in our latest email."])
    link = _statement(signer.link_token(cid, version))
    cancel = statement_url(s.base_url, signer.link_token(cid, version))
    if current_app.config.get("SERVE_SITE"):
        cancel = request.url_root.rstrip("/") + link
    currency = request.form.get("currency", customer.currency).upper()
    account = next((a for a in accounts if a.currency == currency), None)
    try:
        charge = charge_for(account, request.form.get("choice", ""), request.form.getlist("invoice"),
                            request.form.get("amount", ""), s.min_payment)
    except Refused as r:
        log.info("pay: refused for %s: %s", cid, r.message)
        return _page(r.status, "We could not start this payment", [r.message], statement=link)
    if ctx["gateway"] is None:
        return _page(503, "Online payment is not set up", [
            f"You would pay {fmt(charge.amount, charge.currency)} ({charge.description}).",
            "The payment service has no Stripe key: set STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET "
            "(see the README) and restart it."], kind="info", statement=link)
    try:
        checkout = ctx["gateway"].create_checkout(
            customer_id=cid, email=customer.email, currency=charge.currency, amount=charge.amount,
            invoices=charge.invoices, allocations=charge.allocations, description=charge.description,
            success_url=request.url_root.rstrip("/") + "/pay/return?session_id={CHECKOUT_SESSION_ID}",
            cancel_url=cancel)
    except GatewayError as e:
        log.error("pay: %s", e)
        return _page(502, "The payment service is unavailable", ["Please try again in a few minutes."],
                     statement=link)
    log.info("pay: checkout %s for %s %s %s", checkout.id, cid, charge.currency, charge.amount)
    return redirect(checkout.url, 303)


@bp.get("/pay/return")
def pay_return():
    ctx = _ctx()
    fulfiller = ctx["fulfiller"]
    session_id = request.args.get("session_id", "")
    if fulfiller is None or not session_id.startswith("cs_"):
        return _page(404, "Payment not found", ["Please open your statement link to see your balance."])
    try:
        status, payment, _ = fulfiller.session(session_id)  # the webhook's path: recorded once either way
        ctx["rebuilder"].wait(ctx["rebuilder"].request())  # the statement shows it when they go back
    except GatewayError as e:
        log.error("return: %s", e)
        return _page(502, "We could not confirm your payment yet",
                     ["If you completed it, it will show on your statement shortly. Please don't pay again."])
    signer, s = ctx["signer"], ctx["settings"]
    link = None
    if payment and payment.customer_id:
        customer, _ = customer_accounts(s, payment.customer_id, date.today())
        if customer is not None:
            link = _statement(signer.link_token(customer.id, customer.link_version))
    if payment is None or payment.status == "open":
        return _page(200, "Payment not completed", ["Nothing was charged."], kind="info", statement=link)
    amount = fmt(payment.amount, payment.currency)
    if payment.status == "succeeded":
        return _page(200, "Thank you: payment received", [f"We received {amount}. Your statement shows it now."],
                     kind="ok", statement=link)
    if payment.status == "processing":
        return _page(200, "Bank payment processing", [
            f"Your bank payment of {amount} is processing. Bank payments take up to 4 business days to clear.",
            "It already counts as paid on your statement: please don't pay again."], kind="ok", statement=link)
    return _page(200, "Payment failed", [f"Your payment of {amount} did not go through. Nothing is owed for it; "
                                         "you can try again from your statement."], statement=link)


@bp.post("/stripe/webhook")
def webhook():
    ctx = _ctx()
    if not ctx["webhook_ready"]:
        return {"error": "webhooks not configured"}, 503
    if not ctx["hook_limit"].allow(request.remote_addr or "?"):
        return {"error": "rate limited"}, 429
    try:
        event = ctx["gateway"].event(request.get_data(), request.headers.get("Stripe-Signature"))
    except SignatureError as e:
        log.warning("webhook: refused, bad signature from %s: %s", request.remote_addr, e)
        return {"error": "bad signature"}, 400
    if event.type not in HANDLED:
        return {"received": True, "ignored": event.type}, 200
    try:
        rows = ctx["fulfiller"].event(event.object_type, event.object_id, event.payment)
    except GatewayError as e:
        log.error("webhook %s: %s", event.id, e)
        return {"error": "try again"}, 503  # Stripe retries
    return {"received": True, "recorded": [r.key for r in rows]}, 200
