"""Webhook signing and delivery, as Stripe does it.

Each event is POSTed to the endpoint as a raw JSON body with
``Stripe-Signature: t=<unix>,v1=<hex>``, the hex being HMAC-SHA256 keyed with the whole
``whsec_...`` secret over ``f"{t}.{body}"`` (``stripe.Webhook.construct_event`` verifies it).
Delivery is at least once: a non-2xx answer or a connection error is retried (bounded, with a
doubling backoff), and events that still fail are kept in ``failed`` for ``retry_failed()``.

Modes: ``"sync"`` delivers before the API call (or hosted-page POST) that caused the event
returns; ``"async"`` from a background thread (``wait_idle()`` waits for it); ``"manual"`` queues
events until ``deliver_pending(shuffle=..., duplicate_ratio=..., seed=...)``, which can shuffle
and duplicate deliveries to test out-of-order, at-least-once handling.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import queue
import random
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable

MODES = ("sync", "async", "manual")
USER_AGENT = "Stripe/1.0 (+https://stripe.com/docs/webhooks)"


def signature_header(body: str, secret: str, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else int(timestamp)
    mac = hmac.new(secret.encode("utf-8"), f"{t}.{body}".encode(), hashlib.sha256)
    return f"t={t},v1={mac.hexdigest()}"


def event_body(event: dict) -> str:
    return json.dumps(event, indent=2)


class Deliverer:
    def __init__(self, url: str | None, secret: str, mode: str = "sync", *,
                 serialize: Callable[[dict], str] = event_body,
                 on_success: Callable[[str], None] = lambda event_id: None,
                 retries: int = 3, backoff: float = 0.05, timeout: float = 10.0):
        if mode not in MODES:
            raise ValueError(f"deliver must be one of {MODES}, not {mode!r}")
        self.url, self.secret, self.mode = url, secret, mode
        self.serialize, self.on_success = serialize, on_success
        self.retries, self.backoff, self.timeout = retries, backoff, timeout
        self.lock = threading.Lock()
        self.pending: list[dict] = []          # manual mode queue
        self.failed: list[dict] = []           # gave up after retries
        self.attempts: list[dict] = []         # every POST made: event, attempt, status, ok
        self._succeeded: set[str] = set()
        self._queue: queue.Queue = queue.Queue()
        self._worker: threading.Thread | None = None

    # -- signing -----------------------------------------------------------------------------
    def signed(self, event: dict, timestamp: int | None = None) -> tuple[str, str]:
        body = self.serialize(event)
        return body, signature_header(body, self.secret, timestamp)

    # -- dispatch ----------------------------------------------------------------------------
    def dispatch(self, events: list[dict]) -> None:
        if not self.url or not events:
            return
        if self.mode == "sync":
            for event in events:
                self.deliver(event)
        elif self.mode == "async":
            self._ensure_worker()
            for event in events:
                self._queue.put(event)
        else:
            with self.lock:
                self.pending.extend(events)

    def deliver(self, event: dict) -> bool:
        """POST one event, retrying non-2xx answers; True once the endpoint accepted it."""
        for attempt in range(1, self.retries + 2):
            body, header = self.signed(event)
            status, error = self._post(body, header)
            ok = status is not None and 200 <= status < 300
            with self.lock:
                self.attempts.append({"event": event["id"], "type": event["type"],
                                      "attempt": attempt, "status": status, "error": error,
                                      "ok": ok})
                first = ok and event["id"] not in self._succeeded
                if ok:
                    self._succeeded.add(event["id"])
            if ok:
                if first:
                    self.on_success(event["id"])
                return True
            if attempt <= self.retries:
                time.sleep(self.backoff * 2 ** (attempt - 1))
        with self.lock:
            self.failed.append(event)
        return False

    def _post(self, body: str, header: str) -> tuple[int | None, str | None]:
        request = urllib.request.Request(self.url, data=body.encode("utf-8"), method="POST",
                                         headers={"Content-Type": "application/json; "
                                                  "charset=utf-8", "Stripe-Signature": header,
                                                  "User-Agent": USER_AGENT})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                response.read()
                return response.status, None
        except urllib.error.HTTPError as exc:
            exc.read()
            return exc.code, None
        except (urllib.error.URLError, OSError) as exc:
            return None, str(getattr(exc, "reason", exc))

    # -- manual and failed -------------------------------------------------------------------
    def deliver_pending(self, shuffle: bool = False, duplicate_ratio: float = 0.0,
                        seed: int | None = None) -> list[dict]:
        """Deliver the queued events, optionally shuffled, some of them twice; returns
        ``[{"event": id, "type": ..., "ok": bool}, ...]`` in delivery order."""
        with self.lock:
            batch, self.pending = self.pending, []
        rng = random.Random(seed)
        batch = list(batch)
        duplicates = [e for e in batch if rng.random() < duplicate_ratio]
        batch.extend(duplicates)
        if shuffle:
            rng.shuffle(batch)
        return [{"event": e["id"], "type": e["type"], "ok": self.deliver(e)} for e in batch]

    def retry_failed(self) -> list[dict]:
        with self.lock:
            batch, self.failed = self.failed, []
        return [{"event": e["id"], "type": e["type"], "ok": self.deliver(e)} for e in batch]

    # -- async -------------------------------------------------------------------------------
    def _ensure_worker(self) -> None:
        with self.lock:
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._run, name="fakestripe-webhooks",
                                                daemon=True)
                self._worker.start()

    def _run(self) -> None:
        while True:
            event = self._queue.get()
            try:
                if event is None:
                    return
                self.deliver(event)
            finally:
                self._queue.task_done()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until the async queue is drained; False on timeout."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def close(self) -> None:
        if self._worker is not None and self._worker.is_alive():
            self._queue.put(None)
            self._worker.join(timeout=5)
        self._worker = None

    def clear(self) -> None:
        with self.lock:
            self.pending, self.failed, self.attempts = [], [], []
            self._succeeded.clear()
