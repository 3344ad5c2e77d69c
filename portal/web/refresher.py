"""Rebuilding pages after payments are recorded: in the background, many requests coalesced into one build.

A webhook is answered as soon as its effect is durably recorded; the pages follow a moment later.
Requests that arrive while a build runs are folded into the next one, so a burst of deliveries
costs a few builds, not one per event. `wait()` blocks until every change recorded before the
call is on the pages (the return page uses it, so the customer sees their payment).
"""
from __future__ import annotations

import logging
import threading
import time

log = logging.getLogger(__name__)


class Rebuilder:
    """Runs `build` in a background thread whenever asked, coalescing requests."""

    def __init__(self, build, delay: float = 0.0):
        self._build = build
        self._delay = delay  # seconds to gather more requests before building (a burst → one build)
        self._cond = threading.Condition()
        self._asked = 0  # requests so far
        self._done = 0  # requests covered by a finished build
        self._thread: threading.Thread | None = None

    def request(self) -> int:
        """Ask for a build; returns a ticket for wait()."""
        with self._cond:
            self._asked += 1
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="portal-rebuild", daemon=True)
                self._thread.start()
            self._cond.notify_all()
            return self._asked

    def wait(self, ticket: int, timeout: float = 30.0) -> bool:
        """Block until the build covering `ticket` has finished; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: self._done >= ticket, timeout)

    def _run(self) -> None:
        while True:
            if self._delay:
                time.sleep(self._delay)
            with self._cond:
                if self._done >= self._asked:
                    self._thread = None
                    return
                covering = self._asked
            try:
                self._build()
            except Exception:
                log.exception("rebuild failed")
            with self._cond:
                self._done = max(self._done, covering)
                self._cond.notify_all()
