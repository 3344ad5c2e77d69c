"""Phase timings for profiling builds: set PORTAL_TIMING=1 to print them to stderr."""
from __future__ import annotations

import os
import sys
import time
from contextlib import contextmanager


@contextmanager
def phase(name: str):
    """Time a block; prints only when PORTAL_TIMING is set."""
    if not os.environ.get("PORTAL_TIMING"):
        yield
        return
    t = time.perf_counter()
    try:
        yield
    finally:
        print(f"[timing] {name}: {time.perf_counter() - t:.3f} s (pid {os.getpid()})", file=sys.stderr)


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
