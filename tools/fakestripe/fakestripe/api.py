"""The ``/v1`` endpoints: one table row per route, with the SDK params class that checks it.

Handlers take ``(store, params, base_url, **url_args)`` and return a stored object or a list
envelope; ``respond`` copies it, applies ``expand`` and leaves the store untouched.
"""
from __future__ import annotations

import copy
import fnmatch
from collections.abc import Callable
from dataclasses import dataclass

from . import balance, checkout, refunds
from .params import only
from .store import Store
from .wire import StripeError, in_range, paginate

EXPANDABLE = {
    "checkout.session": {"payment_intent", "line_items"},
    "payment_intent": {"latest_charge"},
    "charge": {"balance_transaction", "payment_intent"},
    "refund": {"charge", "payment_intent", "balance_transaction", "failure_balance_transaction"},
    "dispute": {"charge", "payment_intent"},
    "balance_transaction": {"source"},
    "payout": {"balance_transaction", "failure_balance_transaction"},
}
PAGING = {"limit", "starting_after", "ending_before", "expand", "created"}


def _expand(store: Store, obj: dict, parts: list[str], path: str) -> None:
    field, rest = parts[0], parts[1:]
    if obj.get("object") == "list":
        if field != "data" or not rest:
            raise StripeError(f"This property cannot be expanded ({path}). You may want to try "
                              f"expanding 'data.{path}' instead.", param="expand")
        for item in obj["data"]:
            _expand(store, item, rest, path)
        return
    if field not in EXPANDABLE.get(obj.get("object"), ()):
        raise StripeError(f"This property cannot be expanded ({path}).", param="expand")
    value = obj.get(field)
    if field == "line_items" and obj["object"] == "checkout.session":
        value = line_items(store, {}, "", obj["id"])
    elif isinstance(value, str) and store.find(value) is not None:
        value = copy.deepcopy(store.find(value))
    obj[field] = copy.deepcopy(value)
    if rest and isinstance(obj[field], dict):
        _expand(store, obj[field], rest, path)


def expand(store: Store, result: dict, paths: list[str] | None) -> dict:
    result = copy.deepcopy(result)
    for path in paths or ():
        if path.count(".") > 3:
            raise StripeError(f"You cannot expand more than 4 levels of a property ({path}).",
                              param="expand")
        _expand(store, result, path.split("."), path)
    return result


def _listing(store: Store, kind: str, params: dict, url: str,
             keep: Callable[[dict], bool] = lambda o: True) -> dict:
    items = [o for o in store.all(kind)
             if in_range(o.get("created"), params.get("created")) and keep(o)]
    return paginate(items, params, url, store.sort_key, kind)


def _equal(params: dict, *fields: str) -> Callable[[dict], bool]:
    wanted = {f: params[f] for f in fields if params.get(f) is not None}
    return lambda o: all(o.get(f) == v for f, v in wanted.items())


# -- checkout sessions ----------------------------------------------------------------------
def create_session(store, params, base_url):
    return checkout.create_session(store, params, base_url)


def list_sessions(store, params, base_url):
    only(params, PAGING | {"payment_intent", "status"})
    return _listing(store, "checkout.session", params, "/v1/checkout/sessions",
                    _equal(params, "payment_intent", "status"))


def retrieve_session(store, params, base_url, id):
    return store.get("checkout.session", id)


def expire_session(store, params, base_url, id):
    return checkout.expire(store, id)


def line_items(store, params, base_url, id):
    store.get("checkout.session", id)
    items = store.extras[id]["line_items"]
    return paginate(items, params, f"/v1/checkout/sessions/{id}/line_items",
                    lambda i: next(((0, -n) for n, x in enumerate(items) if x["id"] == i), None),
                    "line_item")


# -- payments -------------------------------------------------------------------------------
def list_payment_intents(store, params, base_url):
    only(params, PAGING)
    return _listing(store, "payment_intent", params, "/v1/payment_intents")


def retrieve_payment_intent(store, params, base_url, id):
    pi = store.get("payment_intent", id)
    if params.get("client_secret") not in (None, pi["client_secret"]):
        raise StripeError("The client_secret provided does not match the client_secret "
                          "associated with the PaymentIntent.", param="client_secret")
    return pi


def list_charges(store, params, base_url):
    only(params, PAGING | {"payment_intent"})
    return _listing(store, "charge", params, "/v1/charges", _equal(params, "payment_intent"))


def retrieve(kind: str):
    return lambda store, params, base_url, id: store.get(kind, id)


def create_refund(store, params, base_url):
    return refunds.create_refund(store, params)


def list_refunds(store, params, base_url):
    only(params, PAGING | {"payment_intent", "charge"})
    return _listing(store, "refund", params, "/v1/refunds",
                    _equal(params, "payment_intent", "charge"))


def list_disputes(store, params, base_url):
    only(params, PAGING | {"payment_intent", "charge"})
    return _listing(store, "dispute", params, "/v1/disputes",
                    _equal(params, "payment_intent", "charge"))


# -- events ---------------------------------------------------------------------------------
def list_events(store, params, base_url):
    only(params, PAGING | {"type", "types", "delivery_success"})
    if params.get("type") and params.get("types"):
        raise StripeError("You may only specify one of these parameters: type, types.",
                          param="types")
    types = params.get("types") or ([params["type"]] if params.get("type") else None)
    if types and len(types) > 20:
        raise StripeError("You may pass at most 20 types.", param="types")
    delivered = params.get("delivery_success")

    def keep(event: dict) -> bool:
        if types and not any(fnmatch.fnmatchcase(event["type"], t) for t in types):
            return False
        return delivered is None or (event["pending_webhooks"] == 0) == delivered
    return _listing(store, "event", params, "/v1/events", keep)


# -- money ----------------------------------------------------------------------------------
def list_balance_transactions(store, params, base_url):
    only(params, PAGING | {"payout", "type", "currency", "source"})
    payout = params.get("payout")
    if payout:
        store.get("payout", payout, "payout")
    same = _equal(params, "type", "currency", "source")

    def keep(txn: dict) -> bool:
        return same(txn) and (not payout or balance.payout_of(store, txn["id"]) == payout)
    return _listing(store, "balance_transaction", params, "/v1/balance_transactions", keep)


def list_payouts(store, params, base_url):
    only(params, PAGING | {"status", "arrival_date"})
    arrival = params.get("arrival_date")
    return _listing(store, "payout", params, "/v1/payouts",
                    lambda p: _equal(params, "status")(p) and in_range(p["arrival_date"], arrival))


def retrieve_balance(store, params, base_url):
    return balance.balance(store)


@dataclass(frozen=True)
class Route:
    method: str
    rule: str
    params: str                    # the SDK's TypedDict, e.g. "checkout.SessionCreateParams"
    handler: Callable


ROUTES = [
    Route("POST", "/v1/checkout/sessions", "checkout.SessionCreateParams", create_session),
    Route("GET", "/v1/checkout/sessions", "checkout.SessionListParams", list_sessions),
    Route("GET", "/v1/checkout/sessions/<id>", "checkout.SessionRetrieveParams",
          retrieve_session),
    Route("POST", "/v1/checkout/sessions/<id>/expire", "checkout.SessionExpireParams",
          expire_session),
    Route("GET", "/v1/checkout/sessions/<id>/line_items", "checkout.SessionListLineItemsParams",
          line_items),
    Route("GET", "/v1/payment_intents", "PaymentIntentListParams", list_payment_intents),
    Route("GET", "/v1/payment_intents/<id>", "PaymentIntentRetrieveParams",
          retrieve_payment_intent),
    Route("GET", "/v1/charges", "ChargeListParams", list_charges),
    Route("GET", "/v1/charges/<id>", "ChargeRetrieveParams", retrieve("charge")),
    Route("POST", "/v1/refunds", "RefundCreateParams", create_refund),
    Route("GET", "/v1/refunds", "RefundListParams", list_refunds),
    Route("GET", "/v1/refunds/<id>", "RefundRetrieveParams", retrieve("refund")),
    Route("GET", "/v1/disputes", "DisputeListParams", list_disputes),
    Route("GET", "/v1/disputes/<id>", "DisputeRetrieveParams", retrieve("dispute")),
    Route("GET", "/v1/events", "EventListParams", list_events),
    Route("GET", "/v1/events/<id>", "EventRetrieveParams", retrieve("event")),
    Route("GET", "/v1/balance_transactions", "BalanceTransactionListParams",
          list_balance_transactions),
    Route("GET", "/v1/balance_transactions/<id>", "BalanceTransactionRetrieveParams",
          retrieve("balance_transaction")),
    Route("GET", "/v1/payouts", "PayoutListParams", list_payouts),
    Route("GET", "/v1/payouts/<id>", "PayoutRetrieveParams", retrieve("payout")),
    Route("GET", "/v1/balance", "BalanceRetrieveParams", retrieve_balance),
]
