"""A small in-process rate limiter (per client address, sliding window)."""
from __future__ import annotations

import threading
import time
from collections import defaultdict, deque


class RateLimit:
    """At most `limit` calls per `seconds` per key; per process (each gunicorn worker has its own)."""

    def __init__(self, limit: int, seconds: float, clock=time.monotonic):
        self.limit, self.seconds, self.clock = limit, seconds, clock
        self.calls: dict[str, deque] = defaultdict(deque)
        self.lock = threading.Lock()

    def allow(self, key: str) -> bool:
        now = self.clock()
        with self.lock:
            q = self.calls[key]
            while q and q[0] <= now - self.seconds:
                q.popleft()
            if len(q) >= self.limit:
                return False
            q.append(now)
            if len(self.calls) > 10_000:  # forget idle clients
                for k in [k for k, v in self.calls.items() if not v]:
                    del self.calls[k]
            return True
