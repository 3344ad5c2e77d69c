"""Background rebuilds: requests during a build fold into one more build; wait() sees them done."""
from __future__ import annotations

import threading
import time

from portal.web.refresher import Rebuilder


def test_a_burst_of_requests_costs_few_builds_and_wait_sees_the_last_one():
    builds = []
    gate = threading.Event()

    def build():
        builds.append(time.monotonic())
        gate.wait(5)

    r = Rebuilder(build)
    first = r.request()
    deadline = time.monotonic() + 5
    while not builds and time.monotonic() < deadline:  # the first build is running (held at the gate)
        time.sleep(0.001)
    tickets = [r.request() for _ in range(50)]  # all arrive while the first build runs
    gate.set()
    assert r.wait(first) and r.wait(tickets[-1])
    assert len(builds) == 2  # the running one, then one covering all 50


def test_a_failing_build_is_logged_and_the_next_request_builds_again(caplog):
    calls = []

    def build():
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("disk full")

    r = Rebuilder(build)
    assert r.wait(r.request())
    assert r.wait(r.request())
    assert len(calls) == 2 and "rebuild failed" in caplog.text


def test_wait_times_out_when_the_build_hangs():
    gate = threading.Event()
    r = Rebuilder(lambda: gate.wait(5))
    assert r.wait(r.request(), timeout=0.1) is False
    gate.set()
