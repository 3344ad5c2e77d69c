"""Checkout Sessions (mode=payment only): create with Stripe's validation rules, and expiry
(by the API, by the control endpoint, or when the fake clock passes ``expires_at``). Paying one
is in ``confirm``."""
from __future__ import annotations

from urllib.parse import urlsplit

from . import payments
from .fees import MAXIMUM_AMOUNT, format_amount, minimum_charge
from .params import check_metadata, not_implemented, only
from .store import Store
from .wire import StripeError

KNOWN_METHODS = ("card", *payments.BANK_DEBITS)
SESSION_KEYS = {"mode", "line_items", "allowed_payment_method_types", "customer_email",
                "client_reference_id", "metadata", "payment_intent_data", "success_url",
                "cancel_url", "expires_at", "expand", "ui_mode", "currency"}
IGNORED_KEYS = frozenset({"locale", "submit_type", "billing_address_collection", "custom_text",
                          "phone_number_collection"})
PI_DATA_KEYS = {"metadata", "description", "receipt_email", "statement_descriptor",
                "statement_descriptor_suffix", "capture_method"}
def _url(value: str | None, param: str) -> str | None:
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise StripeError(f"Not a valid URL: {value}", param=param, code="url_invalid")
    return value


def _line_items(items: list[dict] | None) -> tuple[list[dict], str]:
    if not items:
        raise StripeError("Missing required param: line_items.", param="line_items",
                          code="parameter_missing")
    if len(items) > 100:
        raise StripeError("Too many line items: at most 100 are allowed in payment mode.",
                          param="line_items")
    out, currency = [], None
    for i, item in enumerate(items):
        at = f"line_items[{i}]"
        only(item, {"price_data", "quantity", "price"}, prefix=at)
        if "price" in item:
            raise StripeError(f"No such price: '{item['price']}'", param=f"{at}[price]",
                              code="resource_missing")
        data = item.get("price_data")
        if not data:
            raise StripeError(f"You must specify either `price` or `price_data` in {at}.",
                              param=f"{at}[price_data]", code="parameter_missing")
        only(data, {"currency", "unit_amount", "unit_amount_decimal", "product_data"},
             frozenset({"tax_behavior"}), f"{at}[price_data]")
        if "product_data" not in data:
            raise StripeError(f"Missing required param: {at}[price_data][product_data].",
                              param=f"{at}[price_data][product_data]", code="parameter_missing")
        only(data["product_data"], {"name", "description", "metadata"}, frozenset({"images"}),
             f"{at}[price_data][product_data]")
        amount = data.get("unit_amount")
        if amount is None and data.get("unit_amount_decimal") is not None:
            decimal = data["unit_amount_decimal"]
            if decimal != decimal.to_integral_value():
                raise not_implemented(f"{at}[price_data][unit_amount_decimal] (fractional)")
            amount = int(decimal)
        if amount is None:
            raise StripeError(f"Missing required param: {at}[price_data][unit_amount].",
                              param=f"{at}[price_data][unit_amount]", code="parameter_missing")
        if amount < 0:
            raise StripeError("This value must be greater than or equal to 0.",
                              param=f"{at}[price_data][unit_amount]")
        quantity = item.get("quantity")
        if quantity is None:
            raise StripeError(f"Missing required param: {at}[quantity].",
                              param=f"{at}[quantity]", code="parameter_missing")
        if quantity < 1:
            raise StripeError("This value must be greater than or equal to 1.",
                              param=f"{at}[quantity]")
        cur = data["currency"].lower()
        if currency not in (None, cur):
            raise StripeError("Checkout does not support line items in different currencies "
                              f"({currency} and {cur}).", param=f"{at}[price_data][currency]")
        currency = cur
        out.append({"name": data["product_data"]["name"], "unit_amount": amount,
                    "quantity": quantity, "currency": cur})
    return out, currency


def _methods(store: Store, requested: list[str] | None, currency: str) -> list[str]:
    enabled = list(store.config.enabled_payment_method_types)
    if requested is None:
        return [m for m in enabled if payments.BANK_DEBITS.get(m, currency) == currency]
    for i, method in enumerate(requested):
        if method not in KNOWN_METHODS:
            raise not_implemented(f"allowed_payment_method_types[{i}]={method}")
    for method in requested:
        only_in = payments.BANK_DEBITS.get(method, currency)
        if only_in != currency:
            raise StripeError(
                f"The currency provided ({currency}) is invalid for one or more payment method types "
                f"on this Checkout Session. The payment method `{method}` supports only the "
                f"following currencies: {only_in}.", param="allowed_payment_method_types")
    methods = [m for m in enabled if m in requested]
    if not methods:
        raise StripeError("None of the payment method types in allowed_payment_method_types "
                          f"({', '.join(requested)}) are enabled on this account.",
                          param="allowed_payment_method_types")
    return methods


def create_session(store: Store, params: dict, base_url: str) -> dict:
    only(params, SESSION_KEYS, IGNORED_KEYS)
    mode = params.get("mode")
    if mode is None:
        raise StripeError("Missing required param: mode.", param="mode", code="parameter_missing")
    if mode != "payment":
        raise not_implemented(f"mode={mode}")
    if params.get("ui_mode") not in (None, "hosted"):
        raise not_implemented(f"ui_mode={params['ui_mode']}")
    items, currency = _line_items(params.get("line_items"))
    if params.get("currency") not in (None, currency):
        raise StripeError("currency does not match the line items' currency", param="currency")
    total = sum(i["unit_amount"] * i["quantity"] for i in items)
    least = minimum_charge(currency)
    if least is not None and total < least:
        raise StripeError("The Checkout Session's total amount due must add up to at least "
                          f"{format_amount(least, currency)}.", param="line_items",
                          code="amount_too_small")
    if total > MAXIMUM_AMOUNT:
        raise StripeError(f"Amount must be no more than {MAXIMUM_AMOUNT}.", param="line_items",
                          code="amount_too_large")
    methods = _methods(store, params.get("allowed_payment_method_types"), currency)
    pi_data = params.get("payment_intent_data") or {}
    only(pi_data, PI_DATA_KEYS, prefix="payment_intent_data")
    if pi_data.get("capture_method") not in (None, "automatic", "automatic_async"):
        raise not_implemented(f"payment_intent_data[capture_method]={pi_data['capture_method']}")
    if "statement_descriptor" in pi_data and "card" in methods:
        raise StripeError("The `payment_intent_data[statement_descriptor]` parameter is not "
                          "supported for the `card` payment method type. Use "
                          "`payment_intent_data[statement_descriptor_suffix]` instead.",
                          param="payment_intent_data[statement_descriptor]")
    if len(pi_data.get("statement_descriptor_suffix") or "") > 22:
        raise StripeError("The statement descriptor suffix must be at most 22 characters.",
                          param="payment_intent_data[statement_descriptor_suffix]")
    pi_data["metadata"] = check_metadata(pi_data.get("metadata"),
                                         "payment_intent_data[metadata]")
    email = params.get("customer_email")
    if email is not None and ("@" not in email or len(email) > 800):
        raise StripeError(f"Invalid email address: {email}", param="customer_email",
                          code="email_invalid")
    if len(params.get("client_reference_id") or "") > 200:
        raise StripeError("client_reference_id must be at most 200 characters.",
                          param="client_reference_id")
    now = store.now()
    expires_at = params.get("expires_at") or now + 24 * 3600
    if expires_at > now + 24 * 3600:
        raise StripeError("The `expires_at` timestamp must be less than 24 hours from Checkout "
                          "Session creation.", param="expires_at")
    if expires_at < now + 30 * 60:
        raise StripeError("The `expires_at` timestamp must be at least 30 minutes from Checkout "
                          "Session creation.", param="expires_at")
    session_id = store.new_id("cs_test")
    session = {
        "id": session_id, "object": "checkout.session", "after_expiration": None,
        "allow_promotion_codes": None, "amount_subtotal": total, "amount_total": total,
        "billing_address_collection": None,
        "cancel_url": _url(params.get("cancel_url"), "cancel_url"),
        "client_reference_id": params.get("client_reference_id"), "client_secret": None,
        "created": now, "currency": currency, "customer": None,
        "customer_creation": "if_required", "customer_details": None, "customer_email": email,
        "expires_at": expires_at, "livemode": False, "locale": None,
        "metadata": check_metadata(params.get("metadata")), "mode": "payment",
        "payment_intent": None, "payment_method_types": methods, "payment_status": "unpaid",
        "status": "open", "submit_type": None,
        "success_url": _url(params.get("success_url"), "success_url"),
        "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
        "ui_mode": "hosted", "url": f"{base_url}/c/pay/{session_id}",
    }
    line_items = [{"id": store.new_id("li"), "object": "item", "amount_discount": 0,
                   "amount_subtotal": i["unit_amount"] * i["quantity"], "amount_tax": 0,
                   "amount_total": i["unit_amount"] * i["quantity"], "currency": currency,
                   "description": i["name"], "quantity": i["quantity"],
                   "price": {"id": store.new_id("price"), "object": "price", "active": False,
                             "currency": currency, "product": store.new_id("prod"),
                             "type": "one_time", "unit_amount": i["unit_amount"]}}
                  for i in items]
    store.add(session, {"line_items": line_items, "pi_data": pi_data, "card": None})
    return session


def expire(store: Store, session_id: str) -> dict:
    session = store.get("checkout.session", session_id)
    if session["status"] != "open":
        raise StripeError('Only Checkout Sessions with a status in ["open"] can be expired.',
                          param="session")
    pi = store.find(session["payment_intent"])
    if pi is not None and pi["status"] not in ("succeeded", "canceled", "processing"):
        payments.cancel(store, pi, "abandoned")
    session.update(status="expired", url=None)
    store.emit("checkout.session.expired", session)
    return session


def expire_due(store: Store) -> None:
    now = store.now()
    for session in store.all("checkout.session"):
        if session["status"] == "open" and session["expires_at"] <= now:
            expire(store, session["id"])
