"""The only module that talks to Stripe (through the official SDK). Stripe objects become ours here.

Everything the rest of the portal learns from Stripe comes back as the small records below, read
from the API as it is now: webhook events only say *which* object to look at, never what to
record, so the order events arrive in does not matter.
"""
from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal
from typing import TYPE_CHECKING

import stripe

from ..core.clock import day_of
from ..core.errors import PortalError
from ..core.methods import METHODS, is_bank_debit, payment_methods
from ..core.money import from_minor, to_minor

if TYPE_CHECKING:  # the SDK's request shapes, for the checker only
    from stripe.params import BalanceTransactionListParams, PayoutListParams
    from stripe.params.checkout import SessionCreateParams

IDEMPOTENCY_WINDOW = 600  # seconds: a double-submitted pay form gets the same Checkout session


class SignatureError(PortalError):
    """A webhook whose signature or timestamp does not verify."""


class GatewayError(PortalError):
    """Stripe refused or could not be reached; the message is safe to log."""


@dataclass(frozen=True)
class Checkout:
    id: str
    url: str


@dataclass(frozen=True)
class Payment:
    """A PaymentIntent as it is now."""

    id: str
    customer_id: str
    status: str  # processing, succeeded, failed, or open (not paid yet)
    amount: Decimal
    currency: str
    invoices: tuple[str, ...]
    method: str  # card, us_bank_account, sepa_debit, bacs_debit (core.methods)
    day: date  # the business's day it was created
    allocations: tuple[tuple[str, Decimal], ...] = ()  # (invoice ref, amount) the customer chose to pay
    allocations_text: str = ""  # metadata.allocations as the portal wrote it
    mark: str = ""  # metadata.portal_mark: the portal's signature on a payment it started
    # for a receipt: "Visa ending 4242", "STRIPE TEST BANK account ending 6789",
    # "SEPA Direct Debit, account ending 3000"
    method_detail: str = ""

    @property
    def minor(self) -> int:
        return to_minor(self.amount, self.currency)


@dataclass(frozen=True)
class Reversal:
    """Money that went back: a refund, or a dispute lost (a bank debit's return arrives as one)."""

    id: str
    kind: str  # refund, dispute
    payment_id: str
    customer_id: str
    amount: Decimal
    currency: str
    status: str  # refund: succeeded, pending, failed; dispute: needs_response, won, lost, ...
    method: str
    day: date


@dataclass(frozen=True)
class Event:
    id: str
    type: str
    object_id: str
    object_type: str
    created: int
    payment: Payment | None = None  # a PaymentIntent event's own copy of the intent, when complete


@dataclass(frozen=True)
class Payout:
    """A payout to the bank: what arrived (or should have) on `arrival`."""

    id: str
    amount: Decimal
    currency: str
    arrival: date
    status: str  # paid, in_transit, pending, failed, canceled
    automatic: bool  # Stripe lists what a payout paid out only for automatic payouts
    reconciled: bool = True  # reconciliation_status "completed": its transaction list is final


@dataclass(frozen=True)
class BalanceLine:
    """One balance transaction, with what its source (charge, refund, dispute) says."""

    id: str
    type: str  # charge, payment (ACH), refund, adjustment, payout, ...
    category: str  # reporting_category: charge, refund, dispute, dispute_reversal, refund_failure, ...
    amount: Decimal  # gross, signed: money in is positive
    fee: Decimal
    net: Decimal
    currency: str
    day: date
    source_id: str
    source_type: str  # charge, refund, dispute, payout, ... ("" when there is none)
    payment_intent: str  # "" when the source has none
    source_status: str  # a refund's or dispute's status
    method: str  # the charge's or dispute's payment method type, when it says
    customer_id: str  # a charge's metadata.customer_id (set by the portal), else ""
    portal_mark: str = ""  # a charge's metadata.portal_mark: the portal's signature on payments it started


@dataclass(frozen=True)
class Funds:
    """Where a PaymentIntent's money is: its status, and its charge's funds (pending until `available_on`)."""

    id: str
    status: str  # the PaymentIntent's own status (succeeded, processing, requires_payment_method, ...)
    amount: Decimal
    currency: str
    balance_status: str  # pending, available, or "" before the money has moved
    available_on: date | None


class Gateway:
    """Stripe through one StripeClient."""

    def __init__(self, secret_key: str, webhook_secret: str, api_base: str | None = None, tz: tzinfo | None = None):
        self.webhook_secret = webhook_secret
        self.tz = tz  # the business's zone: payments are dated by its calendar
        self.client = stripe.StripeClient(secret_key, base_addresses={"api": api_base} if api_base else None,
                                          max_network_retries=2)

    def create_checkout(self, *, customer_id: str, email: str, currency: str, amount: Decimal,
                        invoices: tuple[str, ...], allocations_text: str, description: str, mark: str,
                        success_url: str, cancel_url: str, enabled: frozenset[str] = frozenset()) -> Checkout:
        """A Checkout Session for this exact charge; the same request within 10 minutes returns the same one.
        `enabled`: the optional payment methods the settings switch on (core.methods)."""
        minor = to_minor(amount, currency)
        meta = {"customer_id": customer_id, "invoices": ",".join(invoices)[:500], "source": "ar-portal",
                "allocations": allocations_text, "portal_mark": mark}
        params: SessionCreateParams = {
            "mode": "payment",
            "line_items": [{"quantity": 1, "price_data": {
                "currency": currency.lower(), "unit_amount": minor,
                "product_data": {"name": f"Account {customer_id}: {description}"[:250]}}}],
            "allowed_payment_method_types": payment_methods(currency, enabled),
            "customer_email": email,
            "client_reference_id": customer_id,
            "metadata": meta,
            "payment_intent_data": {"metadata": meta, "description": f"Account {customer_id}: {description}"[:1000]},
            "success_url": success_url,
            "cancel_url": cancel_url,
        }
        try:
            s = self.client.v1.checkout.sessions.create(params, {"idempotency_key": idempotency_key(params)})
        except stripe.StripeError as e:
            why = e.user_message or e.code or type(e).__name__
            raise GatewayError(f"Stripe refused the Checkout Session: {why}") from e
        if s.url is None:  # a hosted session always has one
            raise GatewayError(f"Stripe sent Checkout Session {s.id} without its URL")
        return Checkout(s.id, s.url)

    def session_payment(self, session_id: str) -> tuple[str | None, Payment | None]:
        """(session status, its payment) of a Checkout Session."""
        try:
            s = self.client.v1.checkout.sessions.retrieve(session_id, {"expand": ["payment_intent.latest_charge"]})
        except stripe.StripeError as e:
            raise GatewayError(f"cannot read Checkout Session: {e.code or type(e).__name__}") from e
        pi = s.payment_intent
        return s.status, (_payment(pi, self.tz) if pi is not None and not isinstance(pi, str) else
                          self.payment(pi) if isinstance(pi, str) else None)

    def payment(self, intent_id: str) -> Payment:
        """A PaymentIntent as it is now."""
        try:
            pi = self.client.v1.payment_intents.retrieve(intent_id, {"expand": ["latest_charge"]})
        except stripe.StripeError as e:
            raise GatewayError(f"cannot read PaymentIntent: {e.code or type(e).__name__}") from e
        return _payment(pi, self.tz)

    def reversals(self, intent_id: str, kind: str) -> list[Reversal]:
        """A payment's refunds (kind "refund") or disputes (kind "dispute"), as they are now."""
        payment = self.payment(intent_id)
        api: stripe.RefundService | stripe.DisputeService = (self.client.v1.refunds if kind == "refund"
                                                             else self.client.v1.disputes)
        try:
            found: list[stripe.Refund | stripe.Dispute] = list(
                api.list({"payment_intent": intent_id, "limit": 100}).auto_paging_iter())
        except stripe.StripeError as e:
            raise GatewayError(f"cannot list {kind}s: {e.code or type(e).__name__}") from e
        # (a refund's status may be null in the API: it reads as empty)
        return [Reversal(x.id, kind, intent_id, payment.customer_id, from_minor(x.amount, x.currency.upper()),
                         x.currency.upper(), x.status or "", payment.method, day_of(x.created, self.tz))
                for x in found]

    def intent_of(self, object_type: str, object_id: str) -> str | None:
        """The PaymentIntent a charge, refund or dispute belongs to."""
        apis: dict[str, stripe.ChargeService | stripe.RefundService | stripe.DisputeService] = {
            "charge": self.client.v1.charges, "refund": self.client.v1.refunds, "dispute": self.client.v1.disputes}
        api = apis.get(object_type)
        if api is None:
            return None
        try:
            obj = api.retrieve(object_id)
        except stripe.StripeError as e:
            raise GatewayError(f"cannot read {object_type}: {e.code or type(e).__name__}") from e
        pi = obj.payment_intent
        return pi if isinstance(pi, str) or pi is None else pi.id

    def event(self, payload: bytes, signature: str | None) -> Event:
        """Verify a webhook's signature on the raw body (300 s tolerance) and say what it is about."""
        try:
            e = self.client.construct_event(payload, signature or "", self.webhook_secret)
        except (stripe.SignatureVerificationError, ValueError) as err:
            raise SignatureError(str(err)) from err
        return _event(e, self.tz)

    def events_since(self, created: int, types: list[str]):
        """Events from Stripe's API (kept 30 days), oldest first, for backfilling missed webhooks."""
        page = self.client.v1.events.list({"created": {"gte": created}, "types": types, "limit": 100})
        events = [_event(e, self.tz) for e in page.auto_paging_iter()]
        return sorted(events, key=lambda e: (e.created, e.id))

    def payouts(self, since: int, until: int | None = None, page_size: int = 100) -> list[Payout]:
        """Payouts arriving from `since` (and before `until`), oldest first; every page is read."""
        params: PayoutListParams = {"arrival_date": {"gte": since} if until is None else {"gte": since, "lt": until},
                                    "limit": page_size}
        try:
            found = list(self.client.v1.payouts.list(params).auto_paging_iter())
            return sorted((Payout(p.id, _amount(p.amount, p.currency), p.currency.upper(), _day(p.arrival_date),
                                  p.status, bool(_field(p, "automatic", True)),
                                  _field(p, "reconciliation_status", "completed") == "completed") for p in found),
                          key=lambda p: (p.arrival, p.id))
        except stripe.StripeError as e:
            raise GatewayError(f"cannot list payouts: {e.user_message or e.code or type(e).__name__}") from e

    def payout_lines(self, payout_id: str, page_size: int = 100) -> list[BalanceLine]:
        """The balance transactions a payout paid out (its own `payout` transaction included), oldest first."""
        params: BalanceTransactionListParams = {"payout": payout_id, "expand": ["data.source"], "limit": page_size}
        try:
            found = list(self.client.v1.balance_transactions.list(params).auto_paging_iter())
        except stripe.StripeError as e:
            raise GatewayError(f"cannot list the balance transactions of {payout_id}: "
                               f"{e.user_message or e.code or type(e).__name__}") from e
        return sorted((_balance_line(t) for t in found), key=lambda t: (t.day, t.id))

    def funds(self, intent_id: str) -> Funds | None:
        """A PaymentIntent's status and where its money is; None if Stripe has no such payment."""
        try:
            pi = self.client.v1.payment_intents.retrieve(intent_id, {"expand": ["latest_charge.balance_transaction"]})
        except stripe.InvalidRequestError as e:
            if e.http_status == 404:
                return None
            raise GatewayError(f"cannot read PaymentIntent: {e.code or type(e).__name__}") from e
        except stripe.StripeError as e:
            raise GatewayError(f"cannot read PaymentIntent: {e.code or type(e).__name__}") from e
        charge = _field(pi, "latest_charge")
        txn = _field(charge, "balance_transaction") if charge is not None and not isinstance(charge, str) else None
        if txn is None or isinstance(txn, str):
            return Funds(pi.id, pi.status, _amount(pi.amount, pi.currency), pi.currency.upper(), "", None)
        return Funds(pi.id, pi.status, _amount(pi.amount, pi.currency), pi.currency.upper(), txn.status,
                     _day(txn.available_on))


def idempotency_key(params: Mapping[str, object], now: float | None = None) -> str:
    """The same key for the same parameters within a 10-minute window (a double-submitted form gets
    one session), derived from every parameter sent: Stripe refuses a reused key whose parameters
    differ, so a customer who changes their mind must get a new one."""
    window = int(time.time() if now is None else now) // IDEMPOTENCY_WINDOW
    text = json.dumps(params, sort_keys=True, separators=(",", ":"), default=str)
    return "checkout-" + hashlib.sha256(f"{window}|{text}".encode()).hexdigest()


def _payment(pi, tz: tzinfo | None) -> Payment:
    """A PaymentIntent (from the API or an event) as a Payment."""
    meta = pi.metadata.to_dict() if _field(pi, "metadata") is not None else {}
    status = {"processing": "processing", "succeeded": "succeeded", "canceled": "failed"}.get(pi.status, "open")
    if pi.status == "requires_payment_method" and _field(pi, "last_payment_error") is not None:
        status = "failed"  # a declined card or a failed bank debit
    method = (_field(pi, "payment_method_types") or ["card"])[0]
    charge = _field(pi, "latest_charge")
    details = _field(charge, "payment_method_details") if charge is not None and not isinstance(charge, str) else None
    detail = ""
    if details is not None:
        method = details.type
        detail = _method_detail(details)
    currency = pi.currency.upper()
    allocations = []
    text = meta.get("allocations", "") or ""
    for part in text.split(";"):
        ref, _, amt = part.rpartition("=")
        if ref:
            try:
                allocations.append((ref, Decimal(amt)))
            except ArithmeticError:
                allocations = []  # not the portal's writing: the mark will not match either
                break
    return Payment(pi.id, meta.get("customer_id", "") or "", status, _amount(pi.amount, currency), currency,
                   tuple(i for i in (meta.get("invoices", "") or "").split(",") if i), method, day_of(pi.created, tz),
                   tuple(allocations), text, meta.get("portal_mark", "") or "", detail)


def _method_detail(details) -> str:
    """How the customer paid, as a receipt says it: the card's brand and last four digits, or the bank
    account's; "" when Stripe does not say."""
    kind = _field(details, "type")
    found = _field(details, kind) if kind else None
    last4 = _field(found, "last4") if found is not None else None
    if not last4:
        return ""
    if kind == "card":
        brand = str(_field(found, "brand") or "card")
        return f"{brand.replace('_', ' ').title() if brand != 'amex' else 'American Express'} ending {last4}"
    if kind == "us_bank_account":
        return f"{_field(found, 'bank_name') or 'Bank'} account ending {last4}"
    if is_bank_debit(kind):  # sepa_debit, bacs_debit: the account's last four, the bank's name not given
        return f"{METHODS[kind].name}, account ending {last4}"
    return f"{kind.replace('_', ' ')} ending {last4}"


def _field(obj, key: str, default=None):
    """A field that an API version or a Stripe-compatible server may leave out."""
    return obj[key] if key in obj else default  # noqa: SIM401 (a StripeObject has `in` and [] but no .get)


def _amount(minor: int, currency: str) -> Decimal:
    """Stripe's integer minor units to Decimal, refusing a currency whose exponent we do not know."""
    try:
        return from_minor(minor, currency.upper())
    except KeyError:
        raise GatewayError(f"Stripe sent an amount in {currency.upper()}, "
                           "a currency this portal does not know") from None


def _balance_line(t) -> BalanceLine:
    src = _field(t, "source")
    kind = "" if src is None else _field(src, "object", "") if not isinstance(src, str) else ""
    pi = _field(src, "payment_intent") if kind else None
    pi = pi if isinstance(pi, str) or pi is None else pi.id
    details = _field(src, "payment_method_details") if kind in ("charge", "dispute") else None
    meta = _field(src, "metadata") if kind == "charge" else None
    return BalanceLine(
        t.id, t.type, _field(t, "reporting_category", t.type), _amount(t.amount, t.currency),
        _amount(t.fee, t.currency), _amount(t.net, t.currency), t.currency.upper(), _day(t.created),
        src if isinstance(src, str) else "" if src is None else src.id, kind, pi or "",
        _field(src, "status", "") if kind in ("refund", "dispute") else "",
        _field(details, "type", "") if details is not None else "",
        (_field(meta, "customer_id", "") or "") if meta is not None else "",
        (_field(meta, "portal_mark", "") or "") if meta is not None else "")


def _event(e, tz: tzinfo | None) -> Event:
    obj = e.data.object
    payment = None
    needs = ("status", "amount", "currency", "metadata", "created")
    if obj.object == "payment_intent" and all(k in obj for k in needs):
        payment = _payment(obj, tz)
    return Event(e.id, e.type, obj.id, obj.object, e.created, payment)


def _day(ts: int) -> date:
    """A payout's or balance transaction's date: Stripe's own (UTC) calendar."""
    return datetime.fromtimestamp(ts, tz=UTC).date()
