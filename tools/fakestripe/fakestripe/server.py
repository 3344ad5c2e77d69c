"""The HTTP app (werkzeug): ``/v1`` API with Stripe's auth, idempotency and envelopes; the hosted
Checkout page under ``/c/pay/``; test controls under ``/_fake/``."""
from __future__ import annotations

import base64
import json
import secrets
from typing import TYPE_CHECKING

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from . import checkout_page, control
from .api import ROUTES, expand
from .params import validate
from .store import API_VERSION, RequestContext
from .wire import StripeError, decode_form, dumps

if TYPE_CHECKING:
    from .fake import FakeStripe

TEST_KEY_PREFIXES = ("sk_test_", "rk_test_")
NO_KEY = ("You did not provide an API key. You need to provide your API key in the "
          "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
          "YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we "
          "can help at https://support.stripe.com/.")


def _redact(key: str) -> str:
    return key[:8] + "*" * max(len(key) - 12, 0) + key[-4:] if len(key) > 12 else "****"


def api_key(request: Request) -> str:
    header = request.headers.get("Authorization", "")
    key = ""
    if header[:7].lower() == "bearer ":
        key = header[7:].strip()
    elif header[:6].lower() == "basic ":
        try:
            key = base64.b64decode(header[6:]).decode("utf-8").partition(":")[0]
        except ValueError:
            key = ""
    if not key:
        raise StripeError(NO_KEY, status=401)
    if not key.startswith(TEST_KEY_PREFIXES):
        raise StripeError(f"Invalid API Key provided: {_redact(key)}", status=401)
    return key


def json_response(body: dict, status: int = 200, headers: dict | None = None) -> Response:
    response = Response(dumps(body), status=status, mimetype="application/json")
    response.headers["Cache-Control"] = "no-cache, no-store"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


class App:
    def __init__(self, fake: FakeStripe):
        self.fake = fake
        self.routes = {f"{r.method} {r.rule}": r for r in ROUTES}
        self.url_map = Map([Rule(r.rule, endpoint=key, methods=[r.method])
                            for key, r in self.routes.items()], strict_slashes=False)

    def __call__(self, environ, start_response):
        request = Request(environ)
        path = request.path
        if path.startswith("/v1/"):
            response = self.api(request)
        elif path.startswith("/c/pay/"):
            response = checkout_page.handle(self.fake, request)
        elif path.startswith("/_fake/") or path == "/_fake":
            response = control.handle(self.fake, request)
        elif path == "/":
            response = json_response({"fakestripe": True, "api_version": API_VERSION,
                                      "docs": "python -c 'import fakestripe as f; "
                                              "help(f)'"})
        else:
            response = json_response(StripeError(f"Unrecognized request URL ({request.method}: "
                                                 f"{path}).", status=404).envelope(), 404)
        return response(environ, start_response)

    def api(self, request: Request) -> Response:
        request_id = "req_" + secrets.token_hex(7)
        headers = {"Request-Id": request_id,
                   "Stripe-Version": request.headers.get("Stripe-Version", API_VERSION)}
        idempotency_key = request.headers.get("Idempotency-Key") if request.method == "POST" \
            else None
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        events: list[dict] = []
        store = self.fake.store
        try:
            key = api_key(request)
            try:
                endpoint, args = self.url_map.bind_to_environ(request.environ).match()
            except (NotFound, MethodNotAllowed):
                raise StripeError(f"Unrecognized request URL ({request.method}: "
                                  f"{request.path}). Please see https://stripe.com/docs or we "
                                  "can help at https://support.stripe.com/.", status=404) from None
            route = self.routes[endpoint]
            raw = decode_form(request.get_data() if request.method == "POST"
                              else request.query_string)
            self.fake.requests.append((request.method, request.path, raw))   # as sent, for tests
            if idempotency_key and len(idempotency_key) > 255:
                raise StripeError("Idempotency keys must be at most 255 characters long.",
                                  type="idempotency_error")
            fingerprint = json.dumps([request.method, request.path, raw], sort_keys=True)
            with store.lock:
                if idempotency_key:
                    saved = store.idempotent.get((key, idempotency_key))
                    if saved is not None:
                        if saved["fingerprint"] != fingerprint:
                            raise StripeError(
                                "Keys for idempotent requests can only be used with the same "
                                "parameters they were first used with. Try using a key other "
                                f"than '{idempotency_key}' if you meant to execute a different "
                                "request.", type="idempotency_error")
                        return json_response(saved["body"], saved["status"],
                                             {**headers, "Idempotent-Replayed": "true",
                                              "Original-Request": saved["request_id"]})
                params = validate(raw, route.params)
                try:
                    self.fake.tick()
                    store.context = RequestContext(request_id, idempotency_key)
                    result = route.handler(store, params, self.fake.base_url, **args)
                    body = expand(store, result, params.get("expand"))
                finally:
                    store.context = RequestContext()
                    events = store.drain_outbox()
                if idempotency_key:
                    store.idempotent[(key, idempotency_key)] = {
                        "fingerprint": fingerprint, "status": 200, "body": body,
                        "request_id": request_id}
            return json_response(body, 200, headers)
        except StripeError as exc:
            headers["Stripe-Should-Retry"] = "false"
            return json_response(exc.envelope(), exc.status, headers)
        finally:
            self.fake.webhooks.dispatch(events)
