"""A faithful local Stripe, for tests and the offline demo: the official SDK talks to it over HTTP.

    fake = FakeStripe(webhook_url="http://127.0.0.1:8000/stripe/webhook", webhook_secret="whsec_...")
    base = fake.start()            # point the SDK (or STRIPE_API_BASE) here
    ...
    fake.stop()

It speaks Stripe's wire format (form-encoded bracketed params, list envelopes with paging, error
envelopes, Idempotency-Key), checks what it receives against the SDK's own typed params, serves a
hosted Checkout page a browser can complete (cards 4242… succeed, 4000…0002 is declined,
4000 0025 0000 3155 asks for 3-D Secure; US bank account payments stay processing until settled or
failed), and sends signed webhooks as Stripe does. Test controls, in Python and over HTTP:

    POST /_fake/payment_intents/<pi>/settle | /fail      an ACH payment clears or bounces
    POST /_fake/charges/<ch>/dispute                        a dispute opens (an ACH return)
    POST /_fake/disputes/<dp>/close?status=won|lost
    POST /_fake/checkout/sessions/<cs>/expire
    POST /_fake/deliver                                     send queued webhooks (delivery="manual")

`python -m portal.stripefake --port 12111 --webhook-url URL --webhook-secret whsec_...` runs it.
"""
from .server import FakeStripe

__all__ = ["FakeStripe"]
