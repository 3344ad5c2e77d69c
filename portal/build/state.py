"""What the last build knew, so the next one redoes only what changed.

Three files, each replaced atomically: a small head (input digests, file signatures, totals) that
a no-change rebuild reads alone; the row index (where each customer's rows are, `IndexRow`: what
the payment service reads, and what an incremental build needs first); and the page records
(`PageRecord`, one per customer). The body (index and records) holds only builtin types, stored
with `marshal` (4x faster to write than pickle, as fast to read), because loading and saving it
is on the path of every incremental build: at 100,000 customers that keeps each way to a fraction
of a second. Records are plain tuples in storage; `PageRecord` and `IndexRow` name their fields.

An incremental build that changed few customers writes only what it changed, as a delta beside
each body file (`<file>.delta`: the customers changed since that file was written whole, with the
tag of the whole file it applies to); loading applies it. Once a delta holds more than DELTA_MOST
of the customers the files are written whole again. Measured at 100,000 customers, 1,000 changed:
writing the body whole took 0.3 s of CPU, the deltas ~0.03 s.
"""
from __future__ import annotations

import marshal
import pickle
import time
from array import array
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple

from ..core import aging
from ..ledger.reading import file_sig  # noqa: F401 - the build's name for it (st.file_sig)
from .publish import write_atomic

FORMAT = 12
DELTA_MOST = 0.1  # a delta for more than this share of the customers: the body is written whole
ROW_HASH_BITS = 64
ROW_HASH_MASK = (1 << ROW_HASH_BITS) - 1


class PageRecord(NamedTuple):
    """A customer's statement as the last build made it. Stored as a plain tuple (see `record`)."""

    digest: str  # of everything the page was made from: global inputs, customer row, rows digest
    token: str  # the link token: the page's address is s/<token>/
    figures: str  # the customer's aging figures, aging.encode()d
    invoices: str  # the customer's invoice numbers, "\x1f"-joined
    customer_digest: str  # of the customer's row in customers.csv (customer_digest)
    link_rows: str  # their links.csv rows
    report_rows: str  # their aging-report CSV rows, less the contact columns
    rank: int  # days past due of their oldest unpaid item: orders the report without decoding figures
    rows_digest: int  # the sum of their rows' hashes (mod 2**64): their rows, whatever file or order


# Positions in a stored record, from its definition: for loops over 100,000 records that must not
# build a PageRecord each (a NamedTuple pickles and builds 3-4x slower than a tuple).
DIGEST, TOKEN, FIGURES, INVOICES, CUSTOMER_DIGEST, LINK_ROWS, REPORT_ROWS, RANK, ROWS_DIGEST = (
    PageRecord._fields.index(f) for f in PageRecord._fields)


def page(digest: str, token: str, figures: dict, invoices, customer_digest: str, link_rows: str,
         report_rows: str, rank: int, rows_digest: int) -> tuple:
    """A page record to store. figures: {currency: aging figures vector}; stored as text."""
    return tuple(PageRecord(digest, token, aging.encode(figures), "\x1f".join(invoices), customer_digest, link_rows,
                            report_rows, rank, rows_digest))


def record(stored: tuple) -> PageRecord:
    """A stored page record with its fields named."""
    return PageRecord._make(stored)


def figures(record: tuple) -> dict:
    """{currency: aging figures vector} of a page record."""
    return aging.decode(record[FIGURES])


def balances(record: tuple) -> dict:
    """{currency: (balance, overdue)} of a page record, as Decimals."""
    return {cur: (v[aging.BALANCE], v[aging.OVERDUE]) for cur, v in figures(record).items()}


def invoice_refs(record: tuple) -> list[str]:
    return record[INVOICES].split("\x1f") if record[INVOICES] else []


class IndexRow(NamedTuple):
    """Where one of a customer's rows is, and its hash (rows.rowhash of its text)."""

    file: int  # number in Body.files
    line: int  # index of its first physical line in the file
    offset: int  # byte offset of that line
    hash: int  # 64-bit hash of its fields


def pack_rows(rows) -> bytes:
    """A customer's IndexRows, packed: three unsigned 64-bit words a row (file and line share one)."""
    a = array("Q")
    for f, line, offset, h in rows:
        a.extend((f << 32 | line, offset, h))
    return a.tobytes()


def unpack_rows(data: bytes) -> list[IndexRow]:
    """The IndexRows of a customer's packed rows."""
    a = array("Q")
    a.frombytes(data)
    return [IndexRow(fl >> 32, fl & 0xFFFFFFFF, off, h) for fl, off, h in zip(a[::3], a[1::3], a[2::3], strict=True)]


def rows_digest(packed: bytes) -> int:
    """The sum of a customer's row hashes, mod 2**64, from their packed rows (without unpacking)."""
    a = array("Q")
    a.frombytes(packed)
    return sum(a[2::3]) & ROW_HASH_MASK


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
    """Per customer: the page record and where their rows are."""

    pages: dict = field(default_factory=dict)  # customer_id -> page record (a tuple, see PageRecord)
    lines: dict = field(default_factory=dict)  # customer_id -> their IndexRows, packed (pack_rows)
    files: list = field(default_factory=list)  # file number -> entry file rel path (None once removed)
    customer_lines: dict = field(default_factory=dict)  # customer_id -> line index in customers.csv
    # entry file rel path -> the date formats its rows were read with, when the settings have formats
    # that read one text as two dates (ledger.dates: the order decided from the whole file)
    date_orders: dict = field(default_factory=dict)


@dataclass(frozen=True)
class RowIndex:
    """Where each customer's rows are: what the payment service reads to find one customer's
    ledger (a fifth of the body's size: it loads in ~70 ms at 100,000 customers, the body in ~350)."""

    files: list  # file number -> entry file rel path (None once removed)
    lines: dict  # customer_id -> their IndexRows, packed (pack_rows)
    customer_lines: dict  # customer_id -> line index in customers.csv
    date_orders: dict  # file -> date formats (Body.date_orders)


def paths(state_dir: Path) -> tuple[Path, Path]:
    """The head and the page records."""
    return state_dir / "build-head.pickle", state_dir / "build-pages.marshal"


def index_path(state_dir: Path) -> Path:
    return state_dir / "build-index.marshal"


def load_head(state_dir: Path) -> Head | None:
    """The last build's head, or None when there is none usable."""
    return _load(paths(state_dir)[0], Head)


def _tag(head: Head) -> str:
    """Which inputs a body was built from (content hashes, not times: a touch keeps it valid)."""
    return head.global_digest + "".join(f"{n}={s[2]};" for n, s in sorted(head.files.items()))


def load_body(state_dir: Path, head: Head, index: RowIndex | None = None) -> Body | None:
    """The last build's body (its row index, unless given, and page records), if written with this
    head; None otherwise (written by another build: do a full build)."""
    if index is None:
        index = load_index(state_dir, head)
        if index is None:
            return None
    pages = load_pages(state_dir, head)
    if pages is None:
        return None
    return Body(pages, index.lines, index.files, index.customer_lines, index.date_orders)


def load_index(state_dir: Path, head: Head, layers: Layers | None = None) -> RowIndex | None:
    """The row index written with this head, or None. `layers`, if given, learns how it was stored."""
    found = _load_marshal(index_path(state_dir), head, _apply_index, layers)
    return None if found is None else RowIndex(*found)


def load_pages(state_dir: Path, head: Head, layers: Layers | None = None) -> dict | None:
    """The last build's page records, if written with this head."""
    return _load_marshal(paths(state_dir)[1], head, _apply_pages, layers)


@dataclass
class Layers:
    """How a body file was loaded: the tag of the file written whole, and the delta applied to it
    (customer -> value, None for removed; for the index, its lines), for the next delta to extend."""

    base_tag: str = ""
    delta: dict = field(default_factory=dict)


@dataclass
class Touched:
    """The customers an incremental build changed in the body it loaded (their page records, their
    rows' places), and whether the index's other parts changed: what a delta must hold."""

    pages: set = field(default_factory=set)
    lines: set = field(default_factory=set)
    whole_index: bool = False  # customers.csv's lines or the file list changed: the index whole


class Incomplete(Exception):
    """The last build's state lacks a part (a crash between its files, or another build's): build in full."""


class Stored:
    """The last build's state as an incremental build wants it: the row index now, the page records
    when first asked for (they load while a big changed file is scanned on the other cores)."""

    def __init__(self, state_dir: Path, head: Head, index: RowIndex, index_layers: Layers | None = None):
        self.state_dir, self.head, self.index = state_dir, head, index
        self._pages: dict | None = None
        self.index_layers, self.pages_layers = index_layers or Layers(), Layers()

    @classmethod
    def load(cls, state_dir: Path, head: Head) -> Stored | None:
        layers = Layers()
        index = load_index(state_dir, head, layers)
        return None if index is None or not paths(state_dir)[1].exists() else cls(state_dir, head, index, layers)

    def load_pages(self) -> None:
        if self._pages is None:
            self._pages = load_pages(self.state_dir, self.head, self.pages_layers)
            if self._pages is None:
                raise Incomplete("the page records were not written with this state's head")

    def deltas(self, body: Body, touched: Touched) -> Deltas | None:
        """What to save instead of the whole body after an incremental build that changed `touched`
        (None: save it whole: the index's other parts changed, or the deltas grew past DELTA_MOST)."""
        if touched.whole_index or self._pages is None:
            return None
        pages = {**self.pages_layers.delta, **{cid: body.pages.get(cid) for cid in touched.pages}}
        lines = {**self.index_layers.delta, **{cid: body.lines.get(cid) for cid in touched.lines}}
        if max(len(pages), len(lines)) > DELTA_MOST * max(len(body.pages), 1):
            return None
        return Deltas(self.pages_layers.base_tag, pages, self.index_layers.base_tag, lines)

    def body(self) -> Body:
        self.load_pages()
        assert self._pages is not None
        return Body(self._pages, self.index.lines, self.index.files, self.index.customer_lines,
                    self.index.date_orders)


@dataclass
class Deltas:
    """Body files as deltas on the files last written whole (see the module's docstring)."""

    pages_base: str
    pages: dict
    index_base: str
    lines: dict


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


def save(state_dir: Path, head: Head, body: Body | None, deltas: Deltas | None = None) -> None:
    """Body first, then head: a head is only ever read with the body it was written with. With
    `deltas` (Stored.deltas), the body files stay as they are and only deltas on them are written.

    Not fsynced: the state is a cache. If a crash loses it, the next build is a full one.
    """
    h, b = paths(state_dir)
    if body is not None:
        tag = _tag(head)
        index = RowIndex(body.files, body.lines, body.customer_lines, body.date_orders)
        if deltas is not None:
            write_atomic(_delta_path(b), marshal.dumps((FORMAT, tag, deltas.pages_base, deltas.pages)),
                         durable=False)
            small = (body.files, deltas.lines, body.date_orders)  # customer_lines: as in the whole file
            write_atomic(_delta_path(index_path(state_dir)), marshal.dumps((FORMAT, tag, deltas.index_base, small)),
                         durable=False)
        else:
            write_atomic(b, marshal.dumps((FORMAT, tag, body.pages)), durable=False)
            write_atomic(index_path(state_dir), marshal.dumps((FORMAT, tag, astuple_shallow(index))), durable=False)
            for path in (b, index_path(state_dir)):
                _delta_path(path).unlink(missing_ok=True)
    write_atomic(h, pickle.dumps(head, protocol=pickle.HIGHEST_PROTOCOL), durable=False)


def astuple_shallow(obj) -> tuple:
    """A dataclass's fields as a tuple, the values themselves (dataclasses.astuple copies them deeply)."""
    return tuple(getattr(obj, f) for f in obj.__dataclass_fields__)


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


def _load_marshal(path: Path, head: Head, apply, layers: Layers | None = None) -> Any:
    """What is stored in a body file as of this head (the page records' dict, the row index's
    fields): the file itself when it was written whole with this head, else the file with the delta
    beside it applied when that delta was written with this head, on that file; or None. Any:
    marshal gives back what it was given, and the tag vouches for it."""
    tag = _tag(head)
    whole = _read_marshal(path, 3)
    if whole is None:
        return None
    if whole[1] == tag:
        if layers is not None:
            layers.base_tag, layers.delta = whole[1], {}
        return whole[2]
    delta = _read_marshal(_delta_path(path), 4)
    if delta is None or delta[1] != tag or delta[2] != whole[1]:
        return None
    if layers is not None:
        layers.base_tag = whole[1]
        layers.delta = delta[3] if apply is _apply_pages else delta[3][1]
    return apply(whole[2], delta[3])


def _read_marshal(path: Path, size: int) -> tuple | None:
    try:
        with open(path, "rb") as f:
            found = marshal.loads(f.read())  # marshal.load(f) reads in small pieces: 4x slower
    except (OSError, EOFError, ValueError, TypeError):
        return None
    if not (isinstance(found, tuple) and len(found) == size and found[0] == FORMAT):
        return None
    return found


def _apply_pages(pages: dict, delta: dict) -> dict:
    for cid, record in delta.items():
        if record is None:
            pages.pop(cid, None)
        else:
            pages[cid] = record
    return pages


def _apply_index(whole: tuple, delta: tuple) -> tuple:
    files, lines, date_orders = delta
    _apply_pages(whole[1], lines)
    return files, whole[1], whole[2], date_orders


def _delta_path(path: Path) -> Path:
    return path.with_name(path.name + ".delta")


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
