"""Phase timings for profiling builds: set PORTAL_TIMING=1 to print them to stderr."""
from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def phase(name: str) -> Iterator[None]:
    """Time a block, wall and this process's CPU; prints only when PORTAL_TIMING is set.

    CPU time is what to compare variants by: on a shared machine wall time also counts the others.
    """
    if not os.environ.get("PORTAL_TIMING"):
        yield
        return
    t, cpu = time.perf_counter(), time.process_time()
    try:
        yield
    finally:
        print(f"[timing] {name}: {time.perf_counter() - t:.3f} s, cpu {time.process_time() - cpu:.3f} s "
              f"(pid {os.getpid()})", file=sys.stderr)


def note(text: str) -> None:
    """Print a measurement when PORTAL_TIMING is set."""
    if os.environ.get("PORTAL_TIMING"):
        print(f"[timing] {text}", file=sys.stderr)


def report_memory(who: str) -> None:
    """Print this process's peak RSS when PORTAL_TIMING is set."""
    if os.environ.get("PORTAL_TIMING"):
        import resource
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"[timing] {who} peak RSS: {peak:.0f} MiB (pid {os.getpid()})", file=sys.stderr)
