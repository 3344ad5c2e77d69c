"""``FakeStripe``: the server's lifecycle and the Python test-control API."""
from __future__ import annotations

import copy
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from werkzeug.serving import WSGIRequestHandler, make_server

from . import balance, checkout, confirm, disputes, refunds
from .fees import Fees
from .server import App
from .store import Config, Store
from .webhooks import MODES, Deliverer, event_body
from .wire import StripeError


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class FakeStripe:
    """A local Stripe the official SDK talks to over HTTP.

    ``deliver``: "sync" (webhooks sent before the causing call returns), "async" or "manual".
    ``settlement_days``: how long charge funds stay pending before payouts can sweep them.
    ``requests``: (method, path, params as sent) of recent authenticated API calls.
    """

    def __init__(self, webhook_url: str | None = None,
                 webhook_secret: str = "whsec_test_fakestripe",
                 currency_fees: dict | None = None, *, deliver: str = "sync",
                 host: str = "127.0.0.1", port: int = 0, settlement_days: int = 2,
                 enabled_payment_method_types: tuple[str, ...] = ("card", "us_bank_account", "sepa_debit",
                                                                  "bacs_debit"),
                 webhook_retries: int = 3, webhook_backoff: float = 0.05,
                 webhook_timeout: float = 10.0, log_requests: bool = False):
        if not webhook_secret.startswith("whsec_"):
            raise ValueError("webhook_secret must start with whsec_")
        self.host, self.port, self.log_requests = host, port, log_requests
        self.webhook_secret = webhook_secret
        self.store = Store(Config(fees=Fees(currency_fees), settlement_days=settlement_days,
                                  enabled_payment_method_types=tuple(enabled_payment_method_types),
                                  webhook_endpoints=1 if webhook_url else 0))
        self.webhooks = Deliverer(webhook_url, webhook_secret, deliver,
                                  serialize=self._serialize, on_success=self.store.delivered,
                                  retries=webhook_retries, backoff=webhook_backoff,
                                  timeout=webhook_timeout)
        self.base_url: str | None = None
        self.requests: deque[tuple[str, str, dict]] = deque(maxlen=10_000)
        self._server = None
        self._thread: threading.Thread | None = None

    # Tests learn the receiver's address only after starting the fake (the app needs the
    # fake's address first), and switch modes mid-test: both are settable after start.
    @property
    def webhook_url(self) -> str | None:
        return self.webhooks.url

    @webhook_url.setter
    def webhook_url(self, url: str | None) -> None:
        with self.store.lock:
            self.webhooks.url = url
            self.store.config.webhook_endpoints = 1 if url else 0

    @property
    def deliver(self) -> str:
        return self.webhooks.mode

    @deliver.setter
    def deliver(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"deliver must be one of {MODES}, not {mode!r}")
        self.webhooks.mode = mode

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> str:
        if self._server is not None:
            return self.base_url
        self._server = make_server(self.host, self.port, App(self), threaded=True,
                                   request_handler=None if self.log_requests else _QuietHandler)
        self.port = self._server.server_port
        self.base_url = f"http://{self.host}:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        name="fakestripe", daemon=True)
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = self._thread = None
        self.webhooks.close()

    def __enter__(self) -> FakeStripe:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def client(self, api_key: str = "sk_test_fakestripe", **options: Any):
        """A ``stripe.StripeClient`` pointed at this fake."""
        import stripe
        return stripe.StripeClient(api_key, base_addresses={"api": self.start()}, **options)

    # -- plumbing ----------------------------------------------------------------------------
    def _serialize(self, event: dict) -> str:
        with self.store.lock:
            return event_body(event)

    def tick(self) -> None:
        """Let time act: due sessions expire, pending funds become available."""
        with self.store.lock:
            checkout.expire_due(self.store)
            balance.refresh(self.store)

    def _run(self, operation: Callable[[Store], Any]) -> Any:
        """Run one state change under the lock, then deliver the events it caused."""
        with self.store.lock:
            try:
                self.tick()
                result = copy.deepcopy(operation(self.store))
            finally:
                events = self.store.drain_outbox()
        self.webhooks.dispatch(events)
        return result

    # -- checkout ----------------------------------------------------------------------------
    def pay_session(self, session_id: str, method: str = "card", card: str = "4242424242424242",
                    *, authenticate: str | None = "complete", name: str | None = None,
                    email: str | None = None, routing: str = "110000000",
                    account: str = "000123456789", iban: str = "DE89370400440532013000",
                    sort_code: str = "108800", bacs_account: str = "00012345") -> dict:
        """Complete a Checkout Session as the hosted page would; returns the session.

        method="card": a test card (3-D Secure cards are then authenticated when
        authenticate="complete", refused when "fail", left waiting when None); declines leave
        the session open with the PaymentIntent's ``last_payment_error`` set.
        method="bank": a US bank account debit, "sepa_debit": a SEPA Direct Debit (eur),
        "bacs_debit": a Bacs Direct Debit (gbp); each left ``processing`` (settle or fail it).
        A bank debit the session does not offer raises StripeError.
        """
        debits = {"bank": lambda s: confirm.pay_bank(s, session_id, routing, account, name=name, email=email),
                  "sepa_debit": lambda s: confirm.pay_sepa(s, session_id, iban, name=name, email=email),
                  "bacs_debit": lambda s: confirm.pay_bacs(s, session_id, sort_code, bacs_account, name=name,
                                                           email=email)}
        if method in debits:
            outcome = self._run(debits[method])
            if outcome.kind == "error":
                raise StripeError(outcome.message or "payment refused", param="payment_method")
            return outcome.session
        if method != "card":
            raise ValueError("method must be 'card', 'bank', 'sepa_debit' or 'bacs_debit'")
        outcome = self._run(lambda s: confirm.pay_card(s, session_id, card, name=name,
                                                        email=email))
        if outcome.kind == "authenticate" and authenticate in ("complete", "fail"):
            outcome = self._run(lambda s: confirm.authenticate(s, session_id,
                                                                authenticate == "complete"))
        return outcome.session

    def authenticate(self, session_id: str, ok: bool = True) -> dict:
        return self._run(lambda s: confirm.authenticate(s, session_id, ok).session)

    def expire_session(self, session_id: str) -> dict:
        return self._run(lambda s: checkout.expire(s, session_id))

    def settle(self, payment_intent_id: str) -> dict:
        return self._run(lambda s: confirm.settle(s, payment_intent_id))

    def fail(self, payment_intent_id: str, code: str = "insufficient_funds") -> dict:
        return self._run(lambda s: confirm.fail_payment(s, payment_intent_id, code))

    # -- after the payment -------------------------------------------------------------------
    def dispute(self, charge_id: str, reason: str | None = None,
                amount: int | None = None) -> dict:
        """Open a dispute on a charge (a PaymentIntent id means its latest charge)."""
        def run(s: Store) -> dict:
            target = charge_id
            if target.startswith("pi_"):
                target = s.get("payment_intent", target)["latest_charge"] or ""
            return disputes.open_dispute(s, target, reason, amount)
        return self._run(run)

    def close_dispute(self, dispute_id: str, status: str) -> dict:
        return self._run(lambda s: disputes.close_dispute(s, dispute_id, status))

    def succeed_refund(self, refund_id: str) -> dict:
        return self._run(lambda s: refunds.succeed_refund(s, refund_id))

    def fail_refund(self, refund_id: str, reason: str = "declined") -> dict:
        return self._run(lambda s: refunds.fail_refund(s, refund_id, reason))

    def create_payout(self, currency: str = "usd", include_pending: bool = False) -> dict:
        return self._run(lambda s: balance.create_payout(s, currency, include_pending))

    def fail_payout(self, payout_id: str, code: str = "account_closed") -> dict:
        return self._run(lambda s: balance.fail_payout(s, payout_id, code))

    # -- clock and state ---------------------------------------------------------------------
    def now(self) -> int:
        return self.store.now()

    def set_clock(self, now: int) -> int:
        return self._run(lambda s: s.clock.set(int(now)))

    def advance_clock(self, seconds: int) -> int:
        return self._run(lambda s: s.clock.advance(int(seconds)))

    def reset(self) -> None:
        with self.store.lock:
            self.store.reset()
        self.webhooks.clear()
        self.requests.clear()

    def get(self, object_id: str) -> dict:
        with self.store.lock:
            obj = self.store.find(object_id)
            if obj is None:
                raise StripeError(f"No such object: '{object_id}'", status=404,
                                  code="resource_missing")
            return copy.deepcopy(obj)

    # -- webhooks ----------------------------------------------------------------------------
    def events_for(self, object_id: str | None = None, type: str | None = None) -> list[dict]:
        """Events (oldest first) whose data.object has this id and/or of this type."""
        with self.store.lock:
            events = reversed(self.store.all("event"))
            return [copy.deepcopy(e) for e in events
                    if (object_id is None or e["data"]["object"].get("id") == object_id)
                    and (type is None or e["type"] == type)]

    def signed_delivery(self, event: dict | str, timestamp: int | None = None
                        ) -> tuple[str, str]:
        """(raw JSON body, Stripe-Signature header) exactly as a delivery would send them."""
        if isinstance(event, str):
            event = self.get(event)
        return self.webhooks.signed(event, timestamp)

    def deliver_pending(self, shuffle: bool = False, duplicate_ratio: float = 0.0,
                        seed: int | None = None) -> list[dict]:
        return self.webhooks.deliver_pending(shuffle, duplicate_ratio, seed)

    def retry_failed(self) -> list[dict]:
        return self.webhooks.retry_failed()

    def wait_for_webhooks(self, timeout: float = 10.0) -> bool:
        return self.webhooks.wait_idle(timeout)

    @property
    def deliveries(self) -> list[dict]:
        with self.webhooks.lock:
            return list(self.webhooks.attempts)
