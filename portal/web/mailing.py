"""Sending the payment service's emails (receipts) in the background: a webhook is answered as soon
as its effect is recorded, and an SMTP server that is slow or down never holds it up."""
from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class Mailer:
    """Hands each batch of newly recorded rows to `send` in one background thread, in order."""

    def __init__(self, send: Callable[[list], object]):
        self._send = send
        self._queue: queue.Queue[list] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def request(self, rows: list) -> None:
        if not any(r.type == "payment" for r in rows):
            return
        self._queue.put(list(rows))
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="portal-mail", daemon=True)
                self._thread.start()

    def wait(self, timeout: float = 30.0) -> bool:
        """Block until every batch asked for so far is handled; False on timeout (tests, shutdown)."""
        end = time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if time.monotonic() > end:
                return False
            time.sleep(0.02)
        return True

    def _run(self) -> None:
        while True:
            rows = self._queue.get()
            try:
                self._send(rows)
            except Exception:  # a mail that could not be made or sent must not stop the next ones
                log.exception("receipt emails failed")
            finally:
                self._queue.task_done()
