"""The fake account's state: objects, ids, the clock, events and idempotent results.

One re-entrant lock guards everything; the HTTP handlers and the Python API hold it for a whole
operation, collect the events it emitted (``drain_outbox``) and deliver webhooks only after
releasing it, so a webhook receiver may call back into the API.
"""
from __future__ import annotations

import copy
import itertools
import secrets
import string
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from .fees import Fees
from .wire import StripeError, missing

API_VERSION = "2026-10-28.endive"
_ALPHABET = string.ascii_letters + string.digits

# object name → (id prefix, how "No such ..." names it)
KINDS = {
    "checkout.session": "checkout.session",
    "payment_intent": "payment_intent",
    "charge": "charge",
    "refund": "refund",
    "dispute": "dispute",
    "event": "event",
    "balance_transaction": "balance_transaction",
    "payout": "payout",
}


class Clock:
    """Wall-clock time plus an offset that tests move forward (``set``/``advance``)."""

    def __init__(self) -> None:
        self.offset = 0

    def now(self) -> int:
        return int(time.time()) + self.offset

    def set(self, now: int) -> int:
        if now < self.now():
            raise StripeError(f"The clock only moves forward: {now} is before {self.now()}",
                              param="now")
        self.offset = now - int(time.time())
        return self.now()

    def advance(self, seconds: int) -> int:
        if seconds < 0:
            raise StripeError("The clock only moves forward", param="advance")
        self.offset += seconds
        return self.now()


@dataclass
class Config:
    fees: Fees = field(default_factory=Fees)
    settlement_days: int = 2                 # card funds become available after this many days
    enabled_payment_method_types: tuple[str, ...] = ("card", "us_bank_account", "sepa_debit", "bacs_debit")
    webhook_endpoints: int = 0               # events' pending_webhooks


@dataclass
class RequestContext:
    request_id: str | None = None
    idempotency_key: str | None = None


class Store:
    def __init__(self, config: Config | None = None, clock: Clock | None = None):
        self.lock = threading.RLock()
        self.config = config or Config()
        self.clock = clock or Clock()
        self._ids = itertools.count(1)
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.objects: dict[str, dict] = {}
            self.tables: dict[str, list[str]] = defaultdict(list)
            self.order: dict[str, int] = {}
            self.outbox: list[dict] = []
            self.idempotent: dict[tuple[str, str], dict] = {}
            self.context = RequestContext()
            self.extras: dict[str, Any] = {}         # per-object private state (e.g. line items)
            self._seq = itertools.count(1)
            self.clock.offset = 0

    # -- ids and objects ---------------------------------------------------------------------
    def new_id(self, prefix: str) -> str:
        suffix = "".join(secrets.choice(_ALPHABET) for _ in range(14))
        return f"{prefix}_{next(self._ids):06d}{suffix}"

    def now(self) -> int:
        return self.clock.now()

    def add(self, obj: dict, extra: Any = None) -> dict:
        self.objects[obj["id"]] = obj
        self.tables[obj["object"]].append(obj["id"])
        self.order[obj["id"]] = next(self._seq)
        if extra is not None:
            self.extras[obj["id"]] = extra
        return obj

    def get(self, kind: str, object_id: str | None, param: str = "id") -> dict:
        obj = self.objects.get(object_id or "")
        if obj is None or obj["object"] != kind:
            raise missing(KINDS.get(kind, kind), object_id or "", param)
        return obj

    def find(self, object_id: str | None) -> dict | None:
        return self.objects.get(object_id or "")

    def sort_key(self, object_id: str) -> tuple[int, int] | None:
        obj = self.objects.get(object_id)
        return None if obj is None else (obj.get("created", 0), self.order[object_id])

    def all(self, kind: str) -> list[dict]:
        """Objects of one kind, newest first."""
        ids = sorted(self.tables.get(kind, ()), key=self.sort_key, reverse=True)
        return [self.objects[i] for i in ids]

    # -- events ------------------------------------------------------------------------------
    def emit(self, type_: str, obj: dict, previous_attributes: dict | None = None) -> dict:
        """Record the event Stripe would send, with a snapshot of ``obj`` as it is now."""
        data: dict[str, Any] = {"object": copy.deepcopy(obj)}
        if previous_attributes:
            data["previous_attributes"] = copy.deepcopy(previous_attributes)
        event = {
            "id": self.new_id("evt"),
            "object": "event",
            "api_version": API_VERSION,
            "created": self.now(),
            "data": data,
            "livemode": False,
            "pending_webhooks": self.config.webhook_endpoints,
            "request": {"id": self.context.request_id,
                        "idempotency_key": self.context.idempotency_key},
            "type": type_,
        }
        self.add(event)
        self.outbox.append(event)
        return event

    def drain_outbox(self) -> list[dict]:
        with self.lock:
            events, self.outbox = self.outbox, []
            return events

    def delivered(self, event_id: str) -> None:
        with self.lock:
            event = self.objects.get(event_id)
            if event is not None and event["pending_webhooks"] > 0:
                event["pending_webhooks"] -= 1
