"""What the last build knew, so the next one can redo only what changed (pickled, replaced atomically)."""
from __future__ import annotations

import hashlib
import pickle
from dataclasses import dataclass, field
from pathlib import Path

from .publish import write_atomic

FORMAT = 3


@dataclass
class Page:
    """One customer's published statement: its inputs' digest, address and balances."""

    digest: str
    token: str
    balances: dict  # currency -> (balance, overdue) as Decimal
    invoices: tuple  # this customer's invoice refs
    customer_digest: str
    name: str
    email: str


@dataclass
class State:
    """The manifest of the last successful build."""

    format: int = FORMAT
    global_digest: str = ""
    out: str = ""
    files: dict = field(default_factory=dict)  # rel path -> (size, mtime_ns, sha256)
    index: dict = field(default_factory=dict)  # entry file rel -> {customer_id: [line index, ...]}
    customer_lines: dict = field(default_factory=dict)  # customer_id -> line index in customers.csv
    pages: dict = field(default_factory=dict)  # customer_id -> Page
    invoices: dict = field(default_factory=dict)  # invoice ref -> (customer_id, path, line)
    shared: dict = field(default_factory=dict)  # site path -> sha256 of the shared pages


def load(path: Path) -> State | None:
    """The last build's state, or None when there is none usable."""
    try:
        with open(path, "rb") as f:
            state = pickle.load(f)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError):
        return None
    return state if isinstance(state, State) and state.format == FORMAT else None


def save(path: Path, state: State) -> None:
    """Replace the state file whole."""
    write_atomic(path, pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL))


def file_sig(path: Path, old: tuple | None) -> tuple:
    """(size, mtime_ns, sha256) of a file, hashing only when size or mtime moved (as git does)."""
    st = path.stat()
    if old and old[0] == st.st_size and old[1] == st.st_mtime_ns:
        return old
    return (st.st_size, st.st_mtime_ns, hashlib.sha256(path.read_bytes()).hexdigest())
