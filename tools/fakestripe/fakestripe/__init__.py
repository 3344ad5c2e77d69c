"""fakestripe: a faithful local Stripe for tests and the offline demo.

The official ``stripe`` SDK (16.1.0) talks to it over HTTP, exactly as to Stripe::

    with FakeStripe(webhook_url="http://127.0.0.1:8000/stripe/webhook",
                    webhook_secret="whsec_test_...") as fake:
        client = stripe.StripeClient("sk_test_x", base_addresses={"api": fake.base_url})
        session = client.v1.checkout.sessions.create({...}, {"idempotency_key": "k1"})
        fake.pay_session(session.id)                      # or open session.url in a browser
        ...

``python -m fakestripe --port 12111 --webhook-url URL --webhook-secret whsec_...`` runs it
stand-alone (``--deliver sync|async|manual``, ``--settlement-days N``).

API (``/v1``, ``Authorization: Bearer sk_test_...`` required, form-encoded bracketed params,
``Idempotency-Key`` honoured, every parameter checked against the SDK's typed params):
checkout sessions (create mode=payment, retrieve, list, expire, line_items), payment_intents
(retrieve, list), charges (retrieve, list), refunds (create, retrieve, list), disputes
(retrieve, list), events (retrieve, list with type/types/created), balance_transactions
(retrieve, list with payout/type/source), payouts (retrieve, list), balance. ``expand`` works for
ids that Stripe lets you expand (``payment_intent.latest_charge``, ``data.source``, …).

Hosted Checkout page: ``session.url`` (``/c/pay/<cs_id>``); selectors and test cards are listed in
``checkout_page`` and ``payments``. 4242424242424242 pays, 4000000000000002 is declined,
4000002500003155 asks for 3-D Secure (Complete/Fail page), and for USD sessions allowing
us_bank_account, routing 110000000 / account 000123456789 pays by ACH (``processing``); EUR sessions
allowing sepa_debit take IBAN DE89370400440532013000, GBP sessions allowing bacs_debit sort code
108800 / account 00012345 (each ``processing`` too; Stripe refuses a debit in another currency).

Test controls, over HTTP under ``/_fake/`` (no key; form or query params) and in Python::

    POST /_fake/checkout/sessions/<cs>/pay        fake.pay_session(cs, method="card"|"bank"|"sepa_debit"|
                                                  "bacs_debit", card=...)
    POST /_fake/checkout/sessions/<cs>/expire     fake.expire_session(cs)   checkout.session.expired
    POST /_fake/payment_intents/<pi>/settle       fake.settle(pi)           a bank debit clears
    POST /_fake/payment_intents/<pi>/fail         fake.fail(pi, code)       a bank debit bounces
    POST /_fake/charges/<ch>/dispute              fake.dispute(ch_or_pi, reason=, amount=)
    POST /_fake/disputes/<dp>/close?status=won|lost   fake.close_dispute(dp, "won")
    POST /_fake/refunds/<re>/succeed | /fail      fake.succeed_refund(re) / fake.fail_refund(re)
    POST /_fake/payouts  [currency, include_pending]  fake.create_payout("usd")
    POST /_fake/payouts/<po>/fail                 fake.fail_payout(po)      payout.failed
    GET|POST /_fake/clock  now=<unix>|advance=<s> fake.now() / set_clock(t) / advance_clock(s)
    POST /_fake/reset                             fake.reset()
    GET  /_fake/webhooks                          fake.deliveries
    POST /_fake/webhooks/deliver                  fake.deliver_pending(shuffle, duplicate_ratio, seed)
    POST /_fake/webhooks/retry                    fake.retry_failed()

Webhooks (``webhook_url``): raw JSON bodies signed ``Stripe-Signature: t=..,v1=..`` like Stripe,
retried on non-2xx; ``deliver="sync"`` (default), ``"async"`` or ``"manual"``.
``fake.events_for(object_id, type)`` and ``fake.signed_delivery(event)`` → (body, header) let a
test replay deliveries itself.

Deliberately not modelled: customers, prices/products as resources, subscriptions, payment method
types other than card, us_bank_account, sepa_debit and bacs_debit, mandates as objects, Connect,
live mode. A real Stripe parameter the fake does not model is refused with 400
``parameter_not_implemented_by_fake`` instead of being silently ignored.
"""
from .fake import FakeStripe
from .store import API_VERSION
from .webhooks import signature_header
from .wire import StripeError

__all__ = ["API_VERSION", "FakeStripe", "StripeError", "signature_header"]
