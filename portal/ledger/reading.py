"""Reading the ledger folder: CSV text to Customer and Entry records, with every problem located.

The ledger folder holds `customers.csv` and any number of entry files (every other `*.csv`).
Staff files are only ever read here; the payment service's own file is appended by `journal`.
"""
from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import os
import re
from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import accumulate
from pathlib import Path
from typing import Any, Literal

from ..core.errors import StaleState
from ..core.money import EXPONENT, ExtraDecimals, MoneyError, is_currency, parse_amount
from ..core.records import ENTRY_TYPES, Customer, Entry, Found, InputError, Problem, Problems
from . import dates
from .settings import CUSTOMER_COLUMNS, LEDGER_COLUMNS, Settings

CUSTOMERS = "customers.csv"
NOT_LEDGER = {CUSTOMERS, "contacts.csv", "payments-set-aside.csv"}  # files in the folder that are not entries
# The payment service's own entry file (see journal). Its rows were recorded from Stripe and are
# never a reason to refuse a build: what is wrong with one is a warning (EntryReader.warnings),
# and a last line without its newline is an append in progress, not a row.
PAYMENTS_FILE = "online-payments.csv"
TYPE_ALIASES = {
    "inv": "invoice", "bill": "invoice", "credit note": "credit", "credit memo": "credit",
    "creditnote": "credit", "pmt": "payment", "receipt": "payment", "write-off": "writeoff",
    "write off": "writeoff", "adj": "adjustment",
}
STATUS_COLUMN = "status"  # only in the payment service's own file


def entry_files(settings: Settings) -> list[Path]:
    """The entry files: the ledger folder's, then those imported from exports (portal.imports), in name order."""
    own = sorted(p for p in settings.ledger_dir.glob("*.csv") if p.name not in NOT_LEDGER)
    return own + sorted(p for p in imported_dir(settings).glob("*.csv") if p.name != CUSTOMERS)


def sig_holds(sig: Sequence[Any] | None, stat: os.stat_result) -> bool:
    """Whether a recorded file signature (size, mtime_ns, …) still describes a file as stat() sees
    it: then its digest is taken as it was, unhashed (as git does)."""
    return sig is not None and len(sig) >= 2 and sig[0] == stat.st_size and sig[1] == stat.st_mtime_ns


def file_sig(path: Path, old: Sequence[Any] | None, keep: dict[Path, bytes] | None = None) -> tuple[int, int, str]:
    """(size, mtime_ns, sha256) of a file, hashing only when size or mtime moved (as git does).
    The size is that of the bytes hashed: a file appended to meanwhile is described as it was read.
    The bytes hashed go into `keep`, if given: exactly those the digest names."""
    st = path.stat()
    if old is not None and sig_holds(old, st):
        return (int(old[0]), int(old[1]), str(old[2]))
    data = path.read_bytes()
    if keep is not None:
        keep[path] = data
    return sig_of(data, st.st_mtime_ns)


def sig_of(data: bytes, mtime_ns: int) -> tuple[int, int, str]:
    """The signature of a file's bytes as read, and its mtime as stat() gave it before the read."""
    return (len(data), mtime_ns, hashlib.sha256(data).hexdigest())


def imported_dir(settings: Settings) -> Path:
    """Where portal.imports writes the ledger files it makes from exports: the program's, not staff's."""
    return settings.content_dir / "imported"


def exports_dir(settings: Settings) -> Path:
    """Where staff put their accounting product's exports, for portal.imports to read."""
    return settings.content_dir / "exports"


def has_exports(settings: Settings) -> bool:
    """Whether there are exports to import, or rows imported from exports since removed."""
    return exports_dir(settings).is_dir() or imported_dir(settings).exists()


def customers_path(settings: Settings) -> Path:
    """customers.csv: the ledger folder's (staff's, which wins), else the one imported from exports."""
    own = settings.ledger_dir / CUSTOMERS
    if own.exists():
        return own
    imported = imported_dir(settings) / CUSTOMERS
    return imported if imported.exists() else own


def rel(path: Path, settings: Settings) -> str:
    """A path as errors print it: relative to the project root when inside it."""
    try:
        return str(path.relative_to(settings.root))
    except ValueError:
        return str(path)


# Where str.splitlines() breaks a line and a CSV reader does not (both break at \n, \r\n and \r).
_OTHER_BREAKS = "\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"


def read_lines(path: Path, name: str, limit: int | None = None, data: bytes | None = None
               ) -> tuple[list[str], list[Problem]]:
    """The file's physical lines (ends kept), decoded as UTF-8 with or without BOM; only its first
    `limit` bytes when given (a file appended to while a build reads it: the part it recorded).
    `data`: the file's bytes as already read (a full build's, as it hashed them), else read here."""
    if data is None:
        data = path.read_bytes()
    if limit is not None and len(data) > limit:
        data = data[:limit]
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        at = e.start + (3 if data.startswith(codecs.BOM_UTF8) else 0)  # e.start counts from after a BOM
        line = data.count(b"\n", 0, at) + 1
        return [], [Problem(name, line, f"not UTF-8 text (byte 0x{data[at]:02x}; export the file as UTF-8 CSV)")]
    if not any(ch in text for ch in _OTHER_BREAKS):
        return text.splitlines(keepends=True), []  # the same lines, in a third of the time
    return list(io.StringIO(text, newline="")), []


def records(lines: list[str], first: int = 1, name: str = "",
            problems: Found | None = None) -> Iterator[tuple[int, list[str]]]:
    """Yield (line_index, fields) for each non-blank CSV record from lines[first:].

    A record that is not CSV (see `unreadable`, `quote_left_open`) is not yielded: its problem
    goes to `problems` (without a list, an InputError is raised once every good record is out).
    """
    own: list[Problem] = []  # raised once every good record is out, when no `problems` was given
    found: Found = own if problems is None else problems
    base, stop = first, len(lines)
    while base < stop:
        reader = csv.reader(iter(lines[base:]) if base else iter(lines))
        last, prev = stop - base, 0
        try:
            for fields in reader:
                start, prev = base + prev, reader.line_num
                if prev == last:  # the last record: a quote in it may never close
                    problem = quote_left_open(lines, start, name)
                    if problem is not None:
                        found.append(problem)
                        break
                if fields and (fields[0].strip() or any(f.strip() for f in fields)):  # ',,,,' is blank too
                    yield start, fields
            break
        except csv.Error as e:
            problem, base = unreadable(lines, base + prev, name, e)
            found.append(problem)
    if own:
        raise InputError(own)


def scan(lines: list[str], index: int) -> tuple[int, tuple[int, int] | None]:
    """Where the CSV record at lines[index] ends, read as csv.reader reads it: (the index of the line
    after it, and the (line index, column) of a quote that opens a field and never closes, or None).

    It builds no fields, so it reads on where csv.reader stops (a field over its size limit) and
    says why. A quote is special only at the start of a field; inside a quoted field "" is a quote
    and " ends the quoting. A test checks it against csv.reader.
    """
    opened = None
    for i in range(index, len(lines)):
        line, pos = lines[i], 0
        while True:
            if opened is not None:  # inside a quoted field
                end = line.find('"', pos)
                if end < 0:
                    break  # the field goes on over the line break
                if line.startswith('"', end + 1):
                    pos = end + 2
                    continue
                opened, pos = None, end + 1  # closed: the rest of the field is taken as it is
            elif line.startswith('"', pos):  # a field that starts with a quote
                opened, pos = (i, pos), pos + 1
                continue
            comma = line.find(",", pos)
            if comma < 0:
                return i + 1, None
            pos = comma + 1
    return len(lines), opened


def quote_left_open(lines: list[str], index: int, name: str) -> Problem | None:
    """The problem of the record at lines[index] (a file's last) when a quote in it never closes."""
    _, opened = scan(lines, index)
    return None if opened is None else _left_open(lines, opened[0], name)


def _left_open(lines: list[str], at: int, name: str) -> Problem:
    swallowed = "every later line was read into it; " if at + 1 < len(lines) else ""
    return Problem(name, at + 1,
                   f"a quoted field opens here and is never closed ({swallowed}close the quote or remove it)")


def unreadable(lines: list[str], index: int, name: str, error: csv.Error) -> tuple[Problem, int]:
    """What csv.reader's error on the record at lines[index] is, and the index of the line after that
    record, where reading goes on (the end of the file after a quote that never closes)."""
    end, opened = scan(lines, index)
    if opened is not None:  # the rest of the file in one field, past the csv module's limit
        return _left_open(lines, opened[0], name), end
    if "field limit" in str(error):
        return Problem(name, index + 1, f"a field longer than {csv.field_size_limit():,} characters "
                                        "(the most a field may hold: shorten it)"), end
    return Problem(name, index + 1, f"not readable as CSV: {error}"), max(end, index + 1)


NO_OFFSET = 0xFFFFFFFF  # a row whose byte offset is unknown (file not ASCII, or over 4 GiB)


def byte_offsets(path: Path, lines: list[str]) -> list[int] | None:
    """Where each line starts in the file, in bytes, when that is cheap to know: for ASCII text
    (characters are bytes) under 4 GiB. None otherwise; readers then go by line index."""
    with open(path, "rb") as f:
        bom = 3 if f.read(3) == b"\xef\xbb\xbf" else 0
    if not all(map(str.isascii, lines)):
        return None
    offsets = list(accumulate(map(len, lines), initial=bom))
    return offsets if offsets[-1] < NO_OFFSET else None


def record_at_offset(data: bytes, offset: int) -> list[str]:
    """The CSV record starting at a byte offset of an ASCII file's bytes."""
    return next(csv.reader(_lines_at(data, offset)))  # the reader takes as many lines as the record has


def _lines_at(data: bytes, offset: int) -> Iterator[str]:
    """An ASCII file's lines from a byte offset on, broken where read_lines breaks them (\n, \r\n, \r)."""
    n = len(data)
    while offset < n:
        nl = data.find(b"\n", offset)
        end = n if nl < 0 else nl + 1
        cr = data.find(b"\r", offset, end)
        if cr >= 0 and cr + 1 != nl:  # a line ending at a lone \r (an old Mac file)
            end = cr + 1
        yield data[offset:end].decode("ascii")
        offset = end


def record_at(lines: list[str], index: int) -> list[str]:
    """The CSV record starting at lines[index] (it may run over several physical lines)."""
    return next(csv.reader(_from(lines, index)))


def _from(lines: list[str], index: int) -> Iterator[str]:
    for i in range(index, len(lines)):
        yield lines[i]


def header(lines: list[str], name: str, ours: tuple[str, ...], required: tuple[str, ...],
           mapping: dict[str, str]) -> tuple[dict[str, int], int, list[Problem]]:
    """Map our column names to field positions from the header row (any case, mapped names)."""
    if not lines:
        return {}, 0, [Problem(name, 1, f"empty file (expected a header row: {','.join(required)})")]
    try:
        fields = record_at(lines, 0)
    except csv.Error as e:
        return {}, 0, [unreadable(lines, 0, name, e)[0]]
    problem = quote_left_open(lines, 0, name)
    if problem is not None:
        return {}, 0, [problem]
    return header_of(fields, name, ours, required, mapping)


def header_of(fields: list[str], name: str, ours: tuple[str, ...], required: tuple[str, ...],
              mapping: dict[str, str]) -> tuple[dict[str, int], int, list[Problem]]:
    """header(), from the header record already read.

    Two headers that name one of our columns (the same name twice, names equal but for case and
    spaces, or two the settings' mapping names) are a problem: which one holds the column? A header
    the settings name wins over one that merely has our name, as an export often has both (a
    QuickBooks export's Amount beside the Open Balance mapped to amount): the settings said which.
    """
    cols: dict[str, int] = {}
    mapped: dict[str, int] = {}
    problems = []
    for i, h in enumerate(fields):
        key = h.strip().lower()
        if key in mapping:
            found, col = mapped, mapping[key]
        else:
            found, col = cols, key.replace(" ", "_")
            if col not in ours:
                continue
        first = found.setdefault(col, i)
        if first != i:
            problems.append(Problem(name, 1, f"two columns are {col}: {fields[first].strip()!r} (column {first + 1}) "
                                             f"and {h.strip()!r} (column {i + 1}) "
                                             "(expected one: remove or rename the other)"))
    cols.update(mapped)
    missing = [c for c in required if c not in cols]
    if missing:
        problems.append(Problem(name, 1, f"missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
                                         f"(header has: {','.join(f.strip() for f in fields)})"))
    return cols, len(fields), problems


class DateReader:
    """Parses dates in the settings' formats, ISO first (fast path)."""

    def __init__(self, formats: tuple[str, ...]) -> None:
        self.formats = formats
        self.iso = "%Y-%m-%d" in formats

    def __call__(self, text: str) -> date:
        s = text.strip()
        if self.iso:
            try:
                return date.fromisoformat(s)
            except ValueError:
                pass
        for f in self.formats:
            try:
                return datetime.strptime(s, f).date()
            except ValueError:
                continue
        raise ValueError(f"{s!r} is not a date (expected {' or '.join(self.formats)})")


class Customers(dict[str, Customer]):
    """customers.csv's customers by id, and in `rejected` the id and line of each row refused for its
    problems: those customers' entries are counted, not checked (see EntryReader)."""

    def __init__(self) -> None:
        super().__init__()
        self.rejected: dict[str, int] = {}


def read_customers(settings: Settings, keep: Callable[[str], bool] | None = None, whole_file: bool = True,
                   data: bytes | None = None) -> tuple[Customers, dict[str, int], list[str], Problems]:
    """customers.csv → (Customers, {id: line index}, lines, problems).

    With `keep` (a predicate on a row's customer_id cell), only the rows it accepts are read and
    checked: a build worker reads its own shard of the customers, and the other rows are another
    worker's to check. Problems of the file as a whole (missing, not UTF-8, its header, a record
    that is not CSV) are reported only `whole_file`: by one worker of a build, not by each.
    `data`: the file's bytes as already read (read_lines).
    """
    path = customers_path(settings)
    name = rel(path, settings)
    customers = Customers()
    if not path.exists():
        problem = Problem(name, 0, "customers file not found (expected customer_id,name,email,...)")
        return customers, {}, [], Problems([problem] if whole_file else [])
    lines, problems = read_lines(path, name, data=data)
    del data  # (its lines are made: the bytes go now, not with this function)
    if problems:
        return customers, {}, lines, Problems(problems if whole_file else [])
    cols, width, problems = header(lines, name, CUSTOMER_COLUMNS, ("customer_id", "name"),
                                   settings.customer_columns)
    if problems:
        return customers, {}, lines, Problems(problems if whole_file else [])
    problems = Problems()
    where: dict[str, int] = {}
    rejected = customers.rejected
    ci = cols["customer_id"]
    for index, fields in records(lines, 1, name, problems if whole_file else []):
        cid = fields[ci].strip() if ci < len(fields) else ""
        if keep is not None and not keep(cid):
            continue
        c = customer_from(fields, cols, width, settings, name, index + 1, problems)
        if c is None:
            if cid:
                rejected.setdefault(cid, index + 1)
            continue
        if c.id in where:
            problems.append(Problem(name, c.line, f"duplicate customer_id {c.id} (first on line {where[c.id] + 1})"))
            continue
        where[c.id] = index
        customers[c.id] = c
    for cid in customers.keys() & rejected.keys():  # another row of theirs was fine
        del rejected[cid]
    return customers, where, lines, problems


def customer_from(fields: list[str], cols: dict[str, int], width: int, settings: Settings, name: str, line: int,
                  problems: Found) -> Customer | None:
    """One customers.csv record to a Customer, or None with problems appended."""
    def get(col: str) -> str:
        i = cols.get(col)
        return fields[i].strip() if i is not None and i < len(fields) else ""

    before = len(problems)
    if len(fields) > width:
        problems.append(Problem(name, line,
                                f"{len(fields)} fields but the header has {width} (a comma inside an unquoted field?)"))
    cid, cname, email = get("customer_id"), get("name"), get("email")
    if not cid:
        problems.append(Problem(name, line, "empty customer_id (expected the customer's account id)"))
    if not cname:
        problems.append(Problem(name, line, "empty name (expected the customer's name)"))
    if email and ("@" not in email or " " in email):  # none is fine: reminders skip and list the customer
        problems.append(Problem(name, line, f"email {email!r} is not an email address (expected name@domain, "
                                            "or nothing)"))
    currency = get("currency").upper() or settings.currency
    if not is_currency(currency):
        problems.append(Problem(name, line, f"unknown currency {currency!r} (expected an ISO 4217 code such as USD)"))
    terms = version = None
    try:
        terms = _whole(get("terms_days"), 0)
    except NotWhole:
        problems.append(Problem(name, line, f"terms_days {get('terms_days')!r} is not a whole number of days"))
    try:
        version = _whole(get("link_version"), 1)
    except NotWhole:
        problems.append(Problem(name, line, f"link_version {get('link_version')!r} is not a whole number ≥ 1"))
    paused = get("paused").lower()
    if paused not in ("", "0", "no", "false", "1", "yes", "true", "y"):
        problems.append(Problem(name, line, f"paused {get('paused')!r} is not yes/no"))
    if len(problems) > before:
        return None
    return _record(Customer, (cid, cname, email, currency, terms, get("contact"), get("phone"), get("address"),
                               1 if version is None else version, paused in ("1", "yes", "true", "y"), name, line))


def _whole(text: str, minimum: int) -> int | None:
    """A whole number ≥ minimum from a cell, None when it is empty; NotWhole when it is not one.

    (Not a `False` beside the int: compiled, portal/native.py, a union of int and bool is an int,
    and False came back as 0.)"""
    if not text:
        return None
    try:
        value = int(text)
    except ValueError:
        raise NotWhole(text) from None
    if value < minimum:
        raise NotWhole(text)
    return value


class NotWhole(ValueError):
    """A cell that should hold a whole number (of at least some minimum) and does not."""


# An amount in its plainest form, digits and exactly the currency's decimals ('1234.50', JPY '184000'):
# it is already rounded, so Decimal(text) is what parse_amount would return. Anything else goes there.
_PLAIN_AMOUNT = {cur: re.compile(r"[0-9]{1,15}" + (rf"\.[0-9]{{{e}}}" if e else "")).fullmatch
                 for cur, e in EXPONENT.items()}
_record = tuple.__new__  # Entry(...), Customer(...) without their Python-level __new__: ~1M rows a build


class EntryReader:
    """Turns entry-file records into Entry records, checking each field.

    Cross-record checks (duplicates, applies_to) are in `validate`, which sees a customer's
    entries together.
    """

    def __init__(self, settings: Settings, customers: dict[str, Customer] | CustomerIndex) -> None:
        self.settings = settings
        self.customers = customers  # all of them parsed (a build), or parsed as asked for (CustomerIndex)
        self.dates = DateReader(settings.date_formats)
        self.date_cache: dict[str, date] = {}
        self.strings: dict[str, str] = {}  # one copy of each repeated memo and currency
        self.terms: dict[int, timedelta] = {}  # payment terms in days, as timedeltas
        # An alias to something that is not a type would reach the statements as one: leave it out.
        self.types = {**{t: t for t in ENTRY_TYPES}, **TYPE_ALIASES,
                      **{k: v for k, v in settings.type_aliases.items() if v in ENTRY_TYPES}}
        # Customers whose customers.csv row was refused: their entries are counted, not checked,
        # and said once a file (unchecked_problems) rather than as an unknown customer each.
        self.rejected: dict[str, int] = getattr(customers, "rejected", {})
        self.customers_file = rel(customers_path(settings), settings)
        self.unchecked: dict[tuple[str, str], list[int]] = {}  # (file, customer) -> [first line, entries]
        self.payments_file = rel(settings.ledger_dir / PAYMENTS_FILE, settings)
        # How much of a file to read, by name: the payment service may append to its file while a
        # build reads it, and a build reads exactly the bytes whose size and digest it records.
        self.limits: dict[str, int] = {}
        self.warnings: list[Problem] = []  # what is wrong with rows of the payment service's file
        self.rounded: dict[str, list[int]] = {}  # file -> [first line, amounts rounded] (round_amounts)
        self.unknown_types: dict[str, dict[str, list[int]]] = {}  # file -> type -> [first line, rows]
        # Formats that read one text as two dates (day-first and month-first): each file's order is
        # decided from its dates when it is opened (dates.decide), or given from the build state.
        self.date_groups = dates.conflicting(settings.date_formats)
        self.orders: dict[str, tuple[str, ...]] = {}  # file -> the formats its dates are read with
        self._file: str | None = None  # the file whose date formats are in use
        self._date_readers: dict[tuple[str, ...], tuple[DateReader, dict[str, date]]] = {
            settings.date_formats: (self.dates, self.date_cache)}

    def open(self, path: Path, name: str, data: bytes | None = None) -> tuple[list[str], Columns | None, list[Problem]]:
        """Read a file's lines and header: (lines, cols, problems); cols is a Columns. `data`: its
        bytes as already read (read_lines)."""
        lines, problems = read_lines(path, name, self.limits.get(name), data)
        if problems:
            return lines, None, problems
        if name == self.payments_file and lines and not lines[-1].endswith(("\n", "\r")):
            lines.pop()  # an append in progress (its newline is written with it): not a row yet
        cols, width, problems = header(lines, name, self._ours(name), ("date", "customer_id", "type", "amount"),
                                       self.settings.columns)
        columns = Columns(cols, width)
        if not problems and self.date_groups and name != self.payments_file:
            problems = self.decide_dates(lines, columns, name)
        return lines, columns, problems

    def decide_dates(self, lines: list[str], cols: Columns, name: str) -> list[Problem]:
        """Decide the order of day and month of a file from all its dates (dates.decide): kept in
        `orders` for its rows; a problem when its dates are in two orders or none settles it."""
        texts: dict[str, int] = {}
        at = (cols.date, cols.due_date)
        for i, fields in records(lines, 1, name, []):  # a record that is not CSV is reported by its reader
            for col in at:
                text = fields[col].strip() if col < len(fields) else ""
                if text and text not in texts:
                    texts[text] = i + 1
        formats, problems = dates.decide(name, texts, self.settings.date_formats, self.date_groups)
        if not problems:
            self.orders[name] = formats
            if self._file == name:
                self._file = None  # read its rows with these formats from now on
        return problems

    def _ours(self, name: str) -> tuple[str, ...]:
        """Our columns in a file: `status` only in the payment service's own file. An export's own
        Status column (Draft, Paid, Void: Xero and most invoicing products have one) is not ours."""
        return LEDGER_COLUMNS + (STATUS_COLUMN,) if name == self.payments_file else LEDGER_COLUMNS

    def columns(self, header_fields: list[str], name: str) -> Columns:
        """Columns of an entry file whose header was valid when it was indexed."""
        cols, width, problems = header_of(header_fields, name, self._ours(name),
                                          ("date", "customer_id", "type", "amount"), self.settings.columns)
        if problems:
            raise StaleState(f"{name}: its header changed since the last build indexed it (run `portal build`)")
        return Columns(cols, width)

    def entry(self, fields: list[str], cols: Columns, name: str, line: int, problems: Found,
              customer: Customer | None = None) -> Entry | None:
        """One record to an Entry, or None with its problems appended (all of them); for a row of
        the payment service's file, to `warnings` instead. `customer`: the customer the record's
        customer_id names, when the caller has already looked it up (the full build's parse: a
        lookup in a table of 50,000 customers is a third of a row's cost, mostly waiting on memory)."""
        if name == self.payments_file:
            problems = self.warnings
        if name != self._file:
            self._use(name)
        n = len(fields)
        if n != cols.width:
            if n > cols.width:
                problems.append(Problem(name, line, f"{n} fields but the header has {cols.width} "
                                        "(a comma inside an unquoted field?)"))
                return None
            fields = fields + [""] * (cols.width - n)
        fields.append("")  # what absent optional columns read
        raw_type = fields[cols.type].strip()
        etype = self.types.get(raw_type) or self.types.get(raw_type.lower())
        if customer is None:
            customer = self.customers.get(fields[cols.customer_id].strip())
        text = fields[cols.date]
        when = self.date_cache.get(text) or self._date(text)
        currency = fields[cols.currency].strip().upper() or (customer.currency if customer else self.settings.currency)
        text = fields[cols.amount]
        plain = _PLAIN_AMOUNT.get(currency)
        if plain is not None and plain(text):
            amount = Decimal(text)  # what parse_amount returns for this form, at a third of the cost
        else:
            try:
                amount = self.amount(text, currency, name, line)
            except (MoneyError, KeyError):
                amount = None
        ref = fields[cols.ref].strip()
        due_text = fields[cols.due_date].strip()
        applies = fields[cols.applies_to].strip()
        status = fields[cols.status].strip()
        due: date | Literal[False] | None = None  # False: unreadable
        if due_text:
            due = self.date_cache.get(due_text) or self._date(due_text) or False
        elif etype == "invoice" and when is not None and customer is not None and customer.terms_days is not None:
            terms = self.terms.get(customer.terms_days)
            if terms is None:
                terms = self.terms[customer.terms_days] = timedelta(days=customer.terms_days)
            due = when + terms
        if (customer is None or etype is None or when is None or amount is None or due is False or status
                or (amount <= 0 and (etype != "adjustment" or not amount))
                or (etype == "invoice" and (not ref or due is None))
                or (etype == "credit" and not ref) or (applies and etype in ("invoice", "adjustment"))
                or (due is not None and etype == "invoice" and due < when)):
            return self._slow(fields, cols, name, line, problems, customer, etype)
        memo = fields[cols.memo].strip()
        return _record(Entry, (when, customer.id, etype, ref, amount, self.strings.setdefault(currency, currency),
                              due if etype == "invoice" else None, applies, self.strings.setdefault(memo, memo),
                              name, line, ""))

    def _use(self, name: str) -> None:
        """Read dates with the formats decided for this file (the settings' own for most files)."""
        formats = self.orders.get(name, self.settings.date_formats)
        found = self._date_readers.get(formats)
        if found is None:
            found = self._date_readers[formats] = (DateReader(formats), {})
        self.dates, self.date_cache = found
        self._file = name

    def amount(self, text: str, currency: str, name: str, line: int) -> Decimal:
        """A row's amount, exactly as written: more decimals than the currency has are a MoneyError,
        or with [ledger] round_amounts rounded half up and counted for a warning (rounding_warnings)."""
        try:
            return parse_amount(text, currency, exact=True)
        except ExtraDecimals as e:
            if not self.settings.round_amounts:
                raise
            seen = self.rounded.setdefault(name, [line, 0])
            seen[0], seen[1] = min(seen[0], line), seen[1] + 1
            return e.rounded

    def rounding_warnings(self) -> list[Problem]:
        """One warning per file whose amounts round_amounts rounded; then forgets them."""
        out = [rounding_warning(name, line, n) for name, (line, n) in sorted(self.rounded.items())]
        self.rounded = {}
        return out

    def _date(self, text: str) -> date | None:
        """A cached date parse (a ledger has few distinct dates); None if unreadable."""
        d = self.date_cache.get(text)
        if d is None:
            try:
                d = self.dates(text)
            except ValueError:
                return None
            if len(self.date_cache) < 100_000:
                self.date_cache[text] = d
        return d

    def _slow(self, fields: list[str], cols: Columns, name: str, line: int, problems: Found,
              customer: Customer | None, etype: str | None) -> Entry | None:
        """The careful path: says everything wrong with a record, or builds the unusual ones."""
        def get(col: str) -> str:
            i: int = getattr(cols, col)
            return fields[i].strip()

        if not any(f.strip() for f in fields):
            return None  # a row of empty fields, as spreadsheets export blank rows
        before = len(problems)
        cid = get("customer_id")
        if customer is None and cid in self.rejected:
            seen = self.unchecked.setdefault((name, cid), [line, 0])
            seen[0], seen[1] = min(seen[0], line), seen[1] + 1
            return None
        if customer is None:
            problems.append(Problem(name, line, f"unknown customer {cid!r} (expected a customer_id from customers.csv)"
                                    if cid else "empty customer_id (expected a customer_id from customers.csv)"))
        if etype is None:
            problems.append(Problem(name, line,
                                    unknown_type(get("type"))))
            seen = self.unknown_types.setdefault(name, {}).setdefault(get("type"), [line, 0])
            seen[0], seen[1] = min(seen[0], line), seen[1] + 1
        try:
            when = self.dates(get("date"))
        except ValueError as e:
            problems.append(Problem(name, line, f"date {e}"))
            when = None
        currency = get("currency").upper() or (customer.currency if customer else self.settings.currency)
        amount = None
        if not is_currency(currency):
            problems.append(Problem(name, line,
                                    f"unknown currency {currency!r} (expected an ISO 4217 code such as USD)"))
        else:
            try:
                amount = self.amount(get("amount"), currency, name, line)
            except ExtraDecimals as e:
                problems.append(Problem(name, line, f"amount {e}"))
            except MoneyError as e:
                problems.append(Problem(name, line, f"amount {e} (expected a decimal such as 1234.50)"))
        if amount is not None and etype is not None:
            if etype == "adjustment":
                if not amount:
                    problems.append(Problem(name, line, "adjustment of zero (expected a non-zero amount)"))
            elif amount <= 0:
                problems.append(Problem(name, line, f"{etype} amount {get('amount')} must be positive "
                                        "(only an adjustment may be negative)"))
        ref = get("ref")
        if etype in ("invoice", "credit") and not ref:
            problems.append(Problem(name, line, f"{etype} without a ref (expected its number, e.g. INV-1001)"))
        due = None
        if get("due_date"):
            try:
                due = self.dates(get("due_date"))
            except ValueError as e:
                problems.append(Problem(name, line, f"due_date {e}"))
        elif etype == "invoice" and customer is not None and when is not None:
            if customer.terms_days is None:
                problems.append(Problem(name, line, f"invoice {ref} has no due_date and customer {cid} has no "
                                        "terms_days (expected one or the other)"))
            else:
                due = when + timedelta(days=customer.terms_days)
        if due is not None and when is not None and due < when and etype == "invoice":
            problems.append(Problem(name, line, f"due_date {due} is before the invoice date {when}"))
        applies = get("applies_to")
        if applies and etype in ("invoice", "adjustment"):
            problems.append(Problem(name, line, f"{etype} cannot apply to another entry "
                                    "(applies_to is for payments, credits, write-offs and refunds)"))
        status = get("status").lower()
        if status not in ("", "processing", "succeeded", "failed"):
            problems.append(Problem(name, line, f"status {status!r} (expected empty, processing, succeeded or failed)"))
        if len(problems) > before or when is None or amount is None or etype is None:  # each None said above
            return None
        return Entry(when, cid, etype, ref, amount, currency, due if etype == "invoice" else None,
                     applies, get("memo"), name, line, status if status in ("processing", "failed") else "")

    def unchecked_problems(self) -> list[Problem]:
        """One problem per file and rejected customer for the entries not checked so far; then forgets them."""
        out = []
        for (name, cid), (line, n) in self.unchecked.items():
            out.append(Problem(name, line, f"customer {cid}'s row in customers.csv was rejected "
                                           f"(see {self.customers_file}:{self.rejected[cid]}); "
                                           f"its {n} entr{'ies' if n != 1 else 'y'} in this "
                                           f"file {'were' if n != 1 else 'was'} not checked"))
        self.unchecked = {}
        return out


def unknown_type(text: str) -> str:
    """The problem of a type that is neither ours nor mapped to ours: it says how to map it."""
    example = json.dumps(text if text.strip() else "Sales Receipt")
    return (f"unknown type {text!r} (expected one of {', '.join(ENTRY_TYPES)}; an export's own name for one of "
            f"these is mapped under [ledger.types] in content/settings.toml, in the form {example} = \"payment\")")


def unknown_types_summary(found: dict[str, dict[str, list[int]]]) -> list[Problem]:
    """A line per file with more than one row of a type that is not ours: every such type it holds
    and how many rows (the rows themselves are listed only up to the cap of problems a file)."""
    out = []
    for name, types in sorted(found.items()):
        rows = sum(n for _, n in types.values())
        if rows < 2:
            continue
        listed = ", ".join(f"{t!r} ({n:,})" for t, (_, n) in sorted(types.items(), key=lambda kv: (-kv[1][1], kv[0])))
        out.append(Problem(name, min(line for line, _ in types.values()),
                           f"{rows:,} rows of this file have a type that is not ours: {listed} (map each under "
                           "[ledger.types] in content/settings.toml, or correct the rows)"))
    return out


def merge_counts(into: dict[str, dict[str, list[int]]], found: dict[str, dict[str, list[int]]]) -> None:
    """Counts of the form {file: {key: [first line, n]}} from another reader (a build worker's) added in."""
    for name, keyed in found.items():
        mine = into.setdefault(name, {})
        for key, (line, n) in keyed.items():
            seen = mine.setdefault(key, [line, 0])
            seen[0], seen[1] = min(seen[0], line), seen[1] + n


def rounding_warning(name: str, line: int, count: int) -> Problem:
    """What staff are told of amounts [ledger] round_amounts rounded in a file (the first at `line`)."""
    amounts = f"{count} amounts" if count != 1 else "1 amount"
    return Problem(name, line, f"{amounts} with more decimals than the currency has rounded half up "
                               "([ledger] round_amounts = true), the first on this line")


class Columns:
    """Where each of our columns is in a file's records; absent ones point past the end (empty)."""

    __slots__ = LEDGER_COLUMNS + (STATUS_COLUMN, "width")
    # the same names, for the type checker (annotations only: no class attributes to clash with the slots)
    date: int
    customer_id: int
    type: int
    ref: int
    amount: int
    currency: int
    due_date: int
    applies_to: int
    memo: int
    status: int
    width: int

    def __init__(self, cols: dict[str, int], width: int) -> None:
        self.width = width
        for c in LEDGER_COLUMNS + (STATUS_COLUMN,):
            setattr(self, c, cols.get(c, width))


class CustomerIndex:
    """customers.csv read lazily: parses a customer's row only when asked (incremental builds)."""

    def __init__(self, settings: Settings, where: dict[str, int]) -> None:
        path = customers_path(settings)
        self.name = rel(path, settings)
        self.settings = settings
        self.lines, problems = read_lines(path, self.name)
        self.cols, self.width, more = header(self.lines, self.name, CUSTOMER_COLUMNS,
                                             ("customer_id", "name"), settings.customer_columns)
        if problems or more:
            raise StaleState("customers.csv changed since the last build indexed it (run `portal build`)")
        self.where = where
        self.cache: dict[str, Customer] = {}

    def get(self, cid: str, default: Customer | None = None) -> Customer | None:
        c = self.cache.get(cid)
        if c is None and cid in self.where:
            problems: list[Problem] = []
            i = self.where[cid]
            c = customer_from(record_at(self.lines, i), self.cols, self.width, self.settings, self.name, i + 1,
                              problems)
            if c is None or c.id != cid:
                raise StaleState(f"customers.csv line {i + 1} is not {cid} any more (run `portal build`)")
            self.cache[cid] = c
        return c if c is not None else default

    def __getitem__(self, cid: str) -> Customer:
        c = self.get(cid)
        if c is None:
            raise KeyError(cid)
        return c

    def __contains__(self, cid: str) -> bool:
        return cid in self.where
