"""The fake's HTTP side: the API routes, the hosted Checkout page, test controls and webhook delivery."""
from __future__ import annotations

import hashlib
import html
import json
import queue
import random
import threading
import time
from urllib import request as urlrequest

import stripe
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from .store import ZERO_DECIMAL, Store, public
from .wire import StripeError, created_filter, json_response, page, parse_params

SESSION_PARAMS = set(getattr(stripe.params.checkout, "SessionCreateParams").__annotations__)
REFUND_PARAMS = set(getattr(stripe.params, "RefundCreateParams").__annotations__)
EXPANDABLE = {"payment_intent", "latest_charge", "charge", "source"}


class FakeStripe:
    """A Stripe-compatible server on 127.0.0.1, with test controls. See the package docstring."""

    def __init__(self, webhook_url: str | None = None, webhook_secret: str = "whsec_fake_secret",
                 delivery: str = "async", port: int = 0):
        self.webhook_url, self.webhook_secret, self.delivery = webhook_url, webhook_secret, delivery
        self.store = Store(self._queue_event)
        self.pending: list[dict] = []  # delivery="manual": events waiting for deliver_pending()
        self.delivered: list[tuple[str, int]] = []  # (event id, status) of each delivery attempt
        self.requests: list[tuple[str, str, dict]] = []  # (method, path, params) the fake received
        self._idem: dict[str, tuple[str, Response]] = {}
        self._outbox: queue.Queue = queue.Queue()
        self._port = port
        self._server = None
        self.base = ""
        self.urls = Map([
            Rule("/v1/checkout/sessions", methods=["POST"], endpoint="session_create"),
            Rule("/v1/checkout/sessions", methods=["GET"], endpoint="session_list"),
            Rule("/v1/checkout/sessions/<sid>", methods=["GET"], endpoint="session_get"),
            Rule("/v1/checkout/sessions/<sid>/expire", methods=["POST"], endpoint="session_expire"),
            Rule("/v1/payment_intents/<oid>", methods=["GET"], endpoint="pi_get"),
            Rule("/v1/charges/<oid>", methods=["GET"], endpoint="charge_get"),
            Rule("/v1/refunds", methods=["POST"], endpoint="refund_create"),
            Rule("/v1/refunds", methods=["GET"], endpoint="refund_list"),
            Rule("/v1/refunds/<oid>", methods=["GET"], endpoint="refund_get"),
            Rule("/v1/disputes", methods=["GET"], endpoint="dispute_list"),
            Rule("/v1/disputes/<oid>", methods=["GET"], endpoint="dispute_get"),
            Rule("/v1/events", methods=["GET"], endpoint="event_list"),
            Rule("/v1/events/<oid>", methods=["GET"], endpoint="event_get"),
            Rule("/checkout/<sid>", methods=["GET"], endpoint="hosted"),
            Rule("/checkout/<sid>", methods=["POST"], endpoint="hosted_pay"),
            Rule("/_fake/payment_intents/<oid>/<action>", methods=["POST"], endpoint="fake_pi"),
            Rule("/_fake/charges/<oid>/dispute", methods=["POST"], endpoint="fake_dispute"),
            Rule("/_fake/disputes/<oid>/close", methods=["POST"], endpoint="fake_close"),
            Rule("/_fake/refunds/<oid>/<action>", methods=["POST"], endpoint="fake_refund"),
            Rule("/_fake/checkout/sessions/<sid>/expire", methods=["POST"], endpoint="session_expire"),
            Rule("/_fake/deliver", methods=["POST"], endpoint="fake_deliver"),
        ])

    # --- lifecycle --------------------------------------------------------------------------------

    def start(self) -> str:
        self._server = make_server("127.0.0.1", self._port, self.wsgi, threaded=True, request_handler=_Quiet)
        self.base = f"http://127.0.0.1:{self._server.server_port}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        threading.Thread(target=self._sender, daemon=True).start()
        return self.base

    def stop(self) -> None:
        if self._server:
            self._outbox.put(None)
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    # --- Python test controls ---------------------------------------------------------------------

    def pay_session(self, sid: str, method: str = "card", card: str = "4242424242424242") -> str:
        with self.store.lock:
            s = self.store.get(sid, "checkout.session")
            if method == "bank":
                self.store.pay_bank(s)
                return "processing"
            return self.store.pay_card(s, card)

    def settle(self, pid: str) -> None:
        with self.store.lock:
            self.store.settle(pid)

    def fail(self, pid: str) -> None:
        with self.store.lock:
            self.store.fail(pid)

    def dispute(self, charge_id: str) -> dict:
        with self.store.lock:
            return public(self.store.dispute(charge_id))

    def close_dispute(self, did: str, status: str) -> None:
        with self.store.lock:
            self.store.close_dispute(did, status)

    def expire(self, sid: str) -> None:
        with self.store.lock:
            self.store.expire(sid)

    def object(self, oid: str) -> dict:
        with self.store.lock:
            return public(self.store.objects[oid])

    def signed(self, event: dict) -> tuple[str, str]:
        """(body, Stripe-Signature header) for an event, as Stripe would send it."""
        body = json.dumps(event)
        return body, stripe.WebhookSignature.generate_signature_header(body, self.webhook_secret)

    def deliver_pending(self, shuffle: bool = True, duplicate_ratio: float = 0.3, seed: int = 1) -> int:
        """Send the queued events (delivery="manual"), shuffled and some duplicated, as Stripe may."""
        rnd = random.Random(seed)
        with self.store.lock:
            batch, self.pending = self.pending, []
        batch = batch + [e for e in batch if rnd.random() < duplicate_ratio]
        if shuffle:
            rnd.shuffle(batch)
        for ev in batch:
            self._send(ev)
        return len(batch)

    def wait_delivered(self, timeout: float = 10.0) -> None:
        """Block until the async sender has nothing queued."""
        deadline = time.time() + timeout
        while time.time() < deadline and (self._outbox.unfinished_tasks or False):
            time.sleep(0.02)

    # --- webhooks ---------------------------------------------------------------------------------

    def _queue_event(self, ev: dict) -> None:
        if not self.webhook_url:
            return
        if self.delivery == "manual":
            self.pending.append(ev)
        else:
            self._outbox.put(ev)

    def _sender(self) -> None:
        while True:
            ev = self._outbox.get()
            try:
                if ev is None:
                    return
                self._send(ev)
            finally:
                self._outbox.task_done()

    def _send(self, ev: dict, attempts: int = 5) -> int:
        status = 0
        for n in range(attempts):  # at least once: retried until a 2xx, with a short backoff here
            body, header = self.signed(ev)
            req = urlrequest.Request(self.webhook_url, data=body.encode(), method="POST",
                                     headers={"Content-Type": "application/json; charset=utf-8",
                                              "Stripe-Signature": header, "User-Agent": "Stripe/1.0 (fake)"})
            try:
                with urlrequest.urlopen(req, timeout=30) as resp:
                    status = resp.status
            except Exception as e:  # noqa: BLE001 — HTTP errors and refused connections are both retried
                status = getattr(e, "code", 0)
            self.delivered.append((ev["id"], status))
            if 200 <= status < 300:
                return status
            time.sleep(0.05 * (n + 1))
        return status

    # --- HTTP -------------------------------------------------------------------------------------

    def wsgi(self, environ, start_response):
        req = Request(environ)
        try:
            endpoint, args = self.urls.bind_to_environ(environ).match()
            if endpoint.startswith(("session", "pi_", "charge", "refund", "dispute", "event")):
                resp = self._api(req, endpoint, args)
            else:
                with self.store.lock:
                    resp = getattr(self, "on_" + endpoint)(req, **args)
        except StripeError as e:
            resp = e.response()
        except NotFound:
            resp = StripeError(404, f"Unrecognized request URL ({req.method}: {req.path}).").response()
        except HTTPException as e:
            resp = e
        return resp(environ, start_response)

    def _api(self, req: Request, endpoint: str, args: dict) -> Response:
        auth = req.headers.get("Authorization", "")
        if not auth.startswith("Bearer sk_"):
            raise StripeError(401, "You did not provide a valid API key.", "invalid_request_error")
        params = parse_params(req.form.items(multi=True) if req.method == "POST" else req.args.items(multi=True))
        self.requests.append((req.method, req.path, params))
        key = req.headers.get("Idempotency-Key")
        if req.method == "POST" and key:
            digest = hashlib.sha256(json.dumps([req.path, params], sort_keys=True).encode()).hexdigest()
            with self.store.lock:
                seen = self._idem.get(key)
            if seen is not None:
                if seen[0] != digest:
                    raise StripeError(400, "Keys for idempotent requests can only be used with the same parameters "
                                           "they were first used with.", "idempotency_error")
                return json_response(json.loads(seen[1].get_data()), seen[1].status_code)
        with self.store.lock:
            resp = getattr(self, "on_" + endpoint)(req, params, **args)
            if req.method == "POST" and key:
                self._idem[key] = (digest, resp)
        return resp

    def _out(self, obj: dict, params: dict) -> dict:
        out = public(obj)
        for path in params.get("expand") or []:
            _expand(out, path.split("."), self.store)
        return out

    def on_session_create(self, req, p):
        unknown = sorted(set(p) - SESSION_PARAMS)
        if unknown:
            raise StripeError(400, f"Received unknown parameter: {unknown[0]}", code="parameter_unknown",
                              param=unknown[0])
        return json_response(self._out(self.store.create_session(p, self.base), p))

    def on_session_get(self, req, p, sid):
        return json_response(self._out(self.store.get(sid, "checkout.session"), p))

    def on_session_list(self, req, p):
        items = [public(s) for s in self.store.of("checkout.session")
                 if not p.get("payment_intent") or s["payment_intent"] == p["payment_intent"]]
        return json_response(page(items, p, "/v1/checkout/sessions"))

    def on_session_expire(self, req, p=None, sid=""):
        self.store.expire(sid)
        return json_response(public(self.store.objects[sid]))

    def on_pi_get(self, req, p, oid):
        return json_response(self._out(self.store.get(oid, "payment_intent"), p))

    def on_charge_get(self, req, p, oid):
        return json_response(self._out(self.store.get(oid, "charge"), p))

    def on_refund_create(self, req, p):
        unknown = sorted(set(p) - REFUND_PARAMS)
        if unknown:
            raise StripeError(400, f"Received unknown parameter: {unknown[0]}", code="parameter_unknown",
                              param=unknown[0])
        return json_response(public(self.store.refund(p)))

    def on_refund_get(self, req, p, oid):
        return json_response(self._out(self.store.get(oid, "refund"), p))

    def on_refund_list(self, req, p):
        items = [public(r) for r in self.store.of("refund")
                 if (not p.get("payment_intent") or r["payment_intent"] == p["payment_intent"])
                 and (not p.get("charge") or r["charge"] == p["charge"])]
        return json_response(page(items, p, "/v1/refunds"))

    def on_dispute_get(self, req, p, oid):
        return json_response(self._out(self.store.get(oid, "dispute"), p))

    def on_dispute_list(self, req, p):
        items = [public(d) for d in self.store.of("dispute")
                 if not p.get("payment_intent") or d["payment_intent"] == p["payment_intent"]]
        return json_response(page(items, p, "/v1/disputes"))

    def on_event_list(self, req, p):
        when = created_filter(p)
        types = set(p.get("types") or []) | ({p["type"]} if p.get("type") else set())
        items = [e for e in self.store.events if when(e) and (not types or e["type"] in types)]
        return json_response(page(items, p, "/v1/events"))

    def on_event_get(self, req, p, oid):
        ev = next((e for e in self.store.events if e["id"] == oid), None)
        if ev is None:
            raise StripeError(404, f"No such event: '{oid}'", code="resource_missing", param="id")
        return json_response(ev)

    # --- the hosted Checkout page -----------------------------------------------------------------

    def on_hosted(self, req, sid):
        s = self.store.get(sid, "checkout.session")
        return _html(_checkout_page(s))

    def on_hosted_pay(self, req, sid):
        s = self.store.get(sid, "checkout.session")
        try:
            if req.form.get("action") == "cancel":
                return _redirect(s["cancel_url"])
            if req.form.get("method") == "bank":
                self.store.pay_bank(s)
                return _redirect(s["success_url"])
            if req.form.get("authenticate") in ("complete", "fail"):
                result = self.store.authenticate(s, req.form["authenticate"] == "complete")
            else:
                result = self.store.pay_card(s, req.form.get("cardNumber", "").replace(" ", ""))
        except StripeError as e:
            return _html(_checkout_page(s, e.message), 402)
        if result == "paid":
            return _redirect(s["success_url"])
        if result == "3ds":
            return _html(_three_ds_page(s))
        return _html(_checkout_page(s, "Your card was declined."), 402)

    def on_fake_pi(self, req, oid, action):
        {"settle": self.store.settle, "fail": self.store.fail}[action](oid)
        return json_response(public(self.store.objects[oid]))

    def on_fake_dispute(self, req, oid):
        return json_response(public(self.store.dispute(oid)))

    def on_fake_close(self, req, oid):
        self.store.close_dispute(oid, req.args.get("status", ""))
        return json_response(public(self.store.objects[oid]))

    def on_fake_refund(self, req, oid, action):
        self.store.finish_refund(oid, action == "succeed")
        return json_response(public(self.store.objects[oid]))

    def on_fake_deliver(self, req):
        threading.Thread(target=self.deliver_pending, daemon=True).start()
        return json_response({"queued": len(self.pending)})


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args, **kwargs):  # tests read what the fake received from `requests`
        pass


def _expand(obj: dict, path: list[str], store: Store) -> None:
    if not path or not isinstance(obj, dict):
        return
    head, rest = path[0], path[1:]
    if head == "data" and isinstance(obj.get("data"), list):
        for item in obj["data"]:
            _expand(item, rest, store)
        return
    value = obj.get(head)
    if isinstance(value, str) and head in EXPANDABLE and value in store.objects:
        obj[head] = value = public(store.objects[value])
    _expand(value, rest, store)


def _html(body: str, status: int = 200) -> Response:
    return Response(body, status=status, mimetype="text/html")


def _redirect(url: str) -> Response:
    return Response("", status=303, headers={"Location": url})


def _amount(s: dict) -> str:
    cur = s["currency"]
    if cur in ZERO_DECIMAL:
        return f"{s['amount_total']:,} {cur.upper()}"
    return f"{s['amount_total'] / 100:,.2f} {cur.upper()}"  # display only


def _checkout_page(s: dict, error: str = "") -> str:
    esc = html.escape
    if s["status"] != "open":
        return f"<!doctype html><title>Checkout</title><h1 id='closed'>This Checkout Session is {esc(s['status'])}.</h1>"
    bank = ""
    if "us_bank_account" in s["payment_method_types"]:
        bank = ('<form method="post"><input type="hidden" name="method" value="bank">'
                '<p>US bank account (test routing 110000000, account 000123456789)</p>'
                '<button id="pay-bank" type="submit">Pay with US bank account</button></form>')
    err = f'<p id="error" role="alert">{esc(error)}</p>' if error else ""
    return (f"<!doctype html><html><head><title>Checkout (test)</title></head><body>"
            f"<h1>Pay {esc(_amount(s))}</h1><p id='items'>{esc('; '.join(s['line_items_summary']))}</p>{err}"
            f'<form method="post"><label for="cardNumber">Card number</label>'
            f'<input id="cardNumber" name="cardNumber" autocomplete="off" value="">'
            f'<button id="submit" type="submit">Pay</button></form>{bank}'
            f'<form method="post"><input type="hidden" name="action" value="cancel">'
            f'<button id="cancel" type="submit">Cancel</button></form></body></html>')


def _three_ds_page(s: dict) -> str:
    return ("<!doctype html><title>3-D Secure (test)</title><h1>Authenticate this payment</h1>"
            '<form method="post"><button id="authenticate-complete" name="authenticate" value="complete">'
            'Complete</button><button id="authenticate-fail" name="authenticate" value="fail">Fail</button></form>')
