"""Test controls over HTTP, under ``/_fake/`` (no API key needed; form or query parameters).

    POST /_fake/checkout/sessions/<cs>/pay        method=card|bank|sepa_debit|bacs_debit [card=4242…]
                                                  [authenticate=complete|fail|none]
    POST /_fake/checkout/sessions/<cs>/expire     → checkout.session.expired
    POST /_fake/payment_intents/<pi>/settle       a bank debit (ACH, SEPA, Bacs) clears → succeeded
    POST /_fake/payment_intents/<pi>/fail         a bank debit bounces [code=insufficient_funds|account_closed|…]
    POST /_fake/charges/<ch>/dispute              [reason=…] [amount=…] → charge.dispute.created
    POST /_fake/disputes/<dp>/close               status=won|lost → charge.dispute.closed
    POST /_fake/refunds/<re>/succeed | /fail      an ACH refund's outcome [reason=declined]
    POST /_fake/payouts                           [currency=usd] [include_pending=true] → payout.paid
    POST /_fake/payouts/<po>/fail                 [code=account_closed] → payout.failed
    GET  /_fake/clock   POST /_fake/clock         now=<unix> or advance=<seconds>
    POST /_fake/reset                             forget everything
    GET  /_fake/webhooks                          delivery attempts, pending and failed counts
    POST /_fake/webhooks/deliver                  [shuffle=true] [duplicate_ratio=0.3] [seed=1]
    POST /_fake/webhooks/retry                    retry deliveries that gave up
"""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from werkzeug.wrappers import Request, Response

from .wire import StripeError, decode_form, dumps

if TYPE_CHECKING:
    from .fake import FakeStripe


def _bool(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true", "yes", "on")


def _int(params: dict, name: str) -> int | None:
    value = params.get(name)
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError:
        raise StripeError(f"Invalid integer: {value}", param=name,
                          code="parameter_invalid_integer") from None


def _pay(fake: FakeStripe, cs: str, p: dict):
    auth = p.get("authenticate", "complete")
    return fake.pay_session(cs, method=p.get("method", "card"),
                            card=p.get("card", "4242424242424242"),
                            authenticate=None if auth == "none" else auth)


ROUTES: list[tuple[str, str, Callable]] = [
    ("POST", r"/_fake/checkout/sessions/(?P<id>[\w]+)/pay", lambda f, p, id: _pay(f, id, p)),
    ("POST", r"/_fake/checkout/sessions/(?P<id>[\w]+)/expire",
     lambda f, p, id: f.expire_session(id)),
    ("POST", r"/_fake/payment_intents/(?P<id>[\w]+)/settle", lambda f, p, id: f.settle(id)),
    ("POST", r"/_fake/payment_intents/(?P<id>[\w]+)/fail",
     lambda f, p, id: f.fail(id, p.get("code") or "insufficient_funds")),
    ("POST", r"/_fake/charges/(?P<id>[\w]+)/dispute",
     lambda f, p, id: f.dispute(id, reason=p.get("reason") or None, amount=_int(p, "amount"))),
    ("POST", r"/_fake/disputes/(?P<id>[\w]+)/close",
     lambda f, p, id: f.close_dispute(id, p.get("status", ""))),
    ("POST", r"/_fake/refunds/(?P<id>[\w]+)/succeed", lambda f, p, id: f.succeed_refund(id)),
    ("POST", r"/_fake/refunds/(?P<id>[\w]+)/fail",
     lambda f, p, id: f.fail_refund(id, p.get("reason") or "declined")),
    ("POST", r"/_fake/payouts", lambda f, p: f.create_payout(
        p.get("currency") or "usd", include_pending=_bool(p.get("include_pending")))),
    ("POST", r"/_fake/payouts/(?P<id>[\w]+)/fail",
     lambda f, p, id: f.fail_payout(id, p.get("code") or "account_closed")),
    ("GET", r"/_fake/clock", lambda f, p: {"now": f.now()}),
    ("POST", r"/_fake/clock", lambda f, p: {"now": f.set_clock(_int(p, "now"))
                                            if p.get("now") else
                                            f.advance_clock(_int(p, "advance") or 0)}),
    ("POST", r"/_fake/reset", lambda f, p: f.reset() or {"reset": True}),
    ("GET", r"/_fake/webhooks", lambda f, p: {
        "url": f.webhooks.url, "mode": f.webhooks.mode, "attempts": f.deliveries,
        "pending": len(f.webhooks.pending), "failed": [e["id"] for e in f.webhooks.failed]}),
    ("POST", r"/_fake/webhooks/deliver", lambda f, p: {"data": f.deliver_pending(
        shuffle=_bool(p.get("shuffle")),
        duplicate_ratio=float(p.get("duplicate_ratio") or 0),
        seed=_int(p, "seed"))}),
    ("POST", r"/_fake/webhooks/retry", lambda f, p: {"data": f.retry_failed()}),
]


def handle(fake: FakeStripe, request: Request) -> Response:
    params = decode_form(request.query_string)
    if request.method == "POST":
        params.update(decode_form(request.get_data()))
    try:
        for method, pattern, action in ROUTES:
            match = re.fullmatch(pattern + "/?", request.path)
            if match and method == request.method:
                body = action(fake, params, **match.groupdict())
                return Response(dumps(body), mimetype="application/json")
        raise StripeError(f"Unrecognized control URL ({request.method}: {request.path}); see "
                          "the fakestripe package docstring.", status=404)
    except StripeError as exc:
        return Response(dumps(exc.envelope()), status=exc.status, mimetype="application/json")
