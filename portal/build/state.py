"""What the last build knew, so the next one redoes only what changed.

Two pickles, each replaced atomically: a small head (input digests, file signatures, totals) that
a no-change rebuild reads alone, and a body with a record per customer. The body holds only
primitives (no dataclasses, no Decimals) because loading and saving it is on the path of every
incremental build: at 100k customers that keeps each way to a fraction of a second.
"""
from __future__ import annotations

import hashlib
import pickle
import time
from array import array
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from ..core import aging
from .publish import write_atomic

FORMAT = 9

# A customer's page record: a plain tuple, fields by position. FIGURES is the customer's aging
# figures (aging.encode); REPORT_ROWS their aging-report CSV rows but the contact columns; RANK
# the days past due of their oldest unpaid item, to order the report without decoding figures.
DIGEST, TOKEN, FIGURES, INVOICES, CUSTOMER_DIGEST, LINK_ROWS, REPORT_ROWS, RANK = range(8)


def page(digest: str, token: str, figures: dict, invoices, customer_digest: str, link_rows: str,
         report_rows: str, rank: int) -> tuple:
    """A page record. figures: {currency: aging figures vector}; stored as text."""
    return (digest, token, aging.encode(figures), "\x1f".join(invoices), customer_digest, link_rows,
            report_rows, rank)


def figures(record: tuple) -> dict:
    """{currency: aging figures vector} of a page record."""
    return aging.decode(record[FIGURES])


def balances(record: tuple) -> dict:
    """{currency: (balance, overdue)} of a page record, as Decimals."""
    return {cur: (v[aging.BALANCE], v[aging.OVERDUE]) for cur, v in figures(record).items()}


def invoice_refs(record: tuple) -> list[str]:
    return record[INVOICES].split("\x1f") if record[INVOICES] else []


def pack_lines(rows) -> bytes:
    """A customer's rows as (file number, line index, byte offset) triples, packed."""
    a = array("I")
    for row in rows:
        a.extend(row)
    return a.tobytes()


def unpack_lines(data: bytes) -> list[tuple[int, int, int]]:
    """(file number, line index, byte offset) of each of a customer's rows."""
    a = array("I")
    a.frombytes(data)
    return list(zip(a[::3], a[1::3], a[2::3]))


@dataclass
class Head:
    """Enough to know that nothing changed, and to print the summary."""

    format: int = FORMAT
    global_digest: str = ""
    out: str = ""
    files: dict = field(default_factory=dict)  # rel path -> (size, mtime_ns, sha256)
    totals: dict = field(default_factory=dict)  # currency -> aging figures summed over customers, as text
    as_of: str = ""  # the statement date the pages were built for
    contacts: tuple = ()  # contacts.csv's signature when the report was last written
    customers: int = 0
    # A later statement date some pages were brought to by the payment service (after a payment
    # on a day after `as_of`); the next staff build renders every page again.
    refreshed_as_of: str = ""


@dataclass
class Body:
    """Per customer: the page record, where its rows are, and who owns each invoice number."""

    pages: dict = field(default_factory=dict)  # customer_id -> page record tuple
    lines: dict = field(default_factory=dict)  # customer_id -> packed (file number, line index) pairs
    files: list = field(default_factory=list)  # file number -> entry file rel path (None once removed)
    customer_lines: dict = field(default_factory=dict)  # customer_id -> line index in customers.csv


@dataclass(frozen=True)
class RowIndex:
    """Where each customer's rows are: what the payment service reads to find one customer's
    ledger (a fifth of the body's size: it loads in ~70 ms at 100,000 customers, the body in ~350)."""

    files: list  # file number -> entry file rel path (None once removed)
    lines: dict  # customer_id -> packed (file number, line index, byte offset) triples
    customer_lines: dict  # customer_id -> line index in customers.csv


def paths(state_dir: Path) -> tuple[Path, Path]:
    return state_dir / "build-head.pickle", state_dir / "build-body.pickle"


def index_path(state_dir: Path) -> Path:
    return state_dir / "build-index.pickle"


def load_head(state_dir: Path) -> Head | None:
    """The last build's head, or None when there is none usable."""
    return _load(paths(state_dir)[0], Head)


def _tag(head: Head) -> str:
    """Which inputs a body was built from (content hashes, not times: a touch keeps it valid)."""
    return head.global_digest + "".join(f"{n}={s[2]};" for n, s in sorted(head.files.items()))


def load_body(state_dir: Path, head: Head) -> Body | None:
    """The last build's body, if it was written together with this head."""
    body = _load(paths(state_dir)[1], tuple)
    if body is None or body[0] != _tag(head):
        return None  # written by another build than the head: do a full build
    return body[1]


def load_index(state_dir: Path, head: Head) -> RowIndex | None:
    """The row index written with this head, or None."""
    found = _load(index_path(state_dir), tuple)
    if found is None or found[0] != _tag(head) or not isinstance(found[1], RowIndex):
        return None
    return found[1]


def load_head_and_index(state_dir: Path, tries: int = 50) -> tuple[Head | None, RowIndex | None]:
    """A head and the row index written with it (a build may be saving: retry, as load_both does)."""
    for _ in range(tries):
        head = load_head(state_dir)
        if head is None:
            return None, None
        index = load_index(state_dir, head)
        if index is not None:
            return head, index
        time.sleep(0.02)
    return head, None


def load_both(state_dir: Path, tries: int = 50) -> tuple[Head | None, Body | None]:
    """A head and the body written with it, for a reader while builds may be saving (they write
    the body, then the head: a reader between the two retries)."""
    for _ in range(tries):
        head = load_head(state_dir)
        if head is None:
            return None, None
        body = load_body(state_dir, head)
        if body is not None:
            return head, body
        time.sleep(0.02)
    return head, None


def save(state_dir: Path, head: Head, body: Body | None) -> None:
    """Body first, then head: a head is only ever read with the body it was written with.

    Not fsynced: the state is a cache. If a crash loses it, the next build is a full one.
    """
    h, b = paths(state_dir)
    if body is not None:
        write_atomic(b, pickle.dumps((_tag(head), body), protocol=pickle.HIGHEST_PROTOCOL), durable=False)
        index = RowIndex(body.files, body.lines, body.customer_lines)
        write_atomic(index_path(state_dir), pickle.dumps((_tag(head), index), protocol=pickle.HIGHEST_PROTOCOL),
                     durable=False)
    write_atomic(h, pickle.dumps(head, protocol=pickle.HIGHEST_PROTOCOL), durable=False)


def invoice_refs_of_all(pages: dict, skip=()) -> set[str]:
    """Every invoice number on the page records but those in `skip` (one join and split: fast)."""
    return set("\x1f".join([rec[INVOICES] for cid, rec in pages.items() if cid not in skip]).split("\x1f"))


def owner_of(pages: dict, ref: str, skip=()) -> str | None:
    """The customer whose page record lists invoice `ref` (a scan; for error messages)."""
    for cid, rec in pages.items():
        if cid not in skip and ref in rec[INVOICES].split("\x1f"):
            return cid
    return None


def adjust_totals(totals: dict, removed: list[tuple], added: list[tuple]) -> dict:
    """Totals after replacing some page records by others (an incremental build)."""
    out = read_totals(totals)
    for sign, records in ((-1, removed), (1, added)):
        for rec in records:
            aging.add(out, figures(rec), sign)
    return {cur: v for cur, v in text_totals(out).items() if any(v) or cur in totals}


def read_totals(totals: dict) -> dict:
    """Head totals as {currency: figures vector of Decimals}."""
    return {cur: [Decimal(x) if x else aging.ZERO for x in v] for cur, v in totals.items()}


def text_totals(totals: dict) -> dict:
    """Totals for the head: {currency: tuple of text}, zeros empty."""
    return {cur: tuple(str(x) if x else "" for x in v) for cur, v in sorted(totals.items())}


def file_sig(path: Path, old: tuple | None) -> tuple:
    """(size, mtime_ns, sha256) of a file, hashing only when size or mtime moved (as git does)."""
    st = path.stat()
    if old and old[0] == st.st_size and old[1] == st.st_mtime_ns:
        return old
    return (st.st_size, st.st_mtime_ns, hashlib.sha256(path.read_bytes()).hexdigest())


def _load(path: Path, kind):
    try:
        with open(path, "rb") as f:
            obj = pickle.load(f)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
        return None
    if not isinstance(obj, kind):
        return None
    if isinstance(obj, Head) and obj.format != FORMAT:
        return None
    return obj
