"""Sending the payment service's emails (receipts, customers' messages) in the background: a webhook
or a form is answered as soon as its effect is recorded, and an SMTP server that is slow or down
never holds it up."""
from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)


class Mailer:
    """Hands each job (a batch of newly recorded rows, a letter) to `send` in one background thread,
    in order; `wanted(job)` says which jobs are worth queueing (default: all)."""

    def __init__(self, send: Callable[[Any], object], wanted: Callable[[Any], bool] | None = None):
        self._send, self._wanted = send, wanted
        self._queue: queue.Queue[Any] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def request(self, job: Any) -> None:
        if self._wanted is not None and not self._wanted(job):
            return
        self._queue.put(job)
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
            job = self._queue.get()
            try:
                self._send(job)
            except Exception:  # a mail that could not be made or sent must not stop the next ones
                log.exception("emails in the background failed")
            finally:
                self._queue.task_done()
