"""Immutable ledger records, each carrying the file and line it came from, and the problems found in them."""
from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import date
from decimal import Decimal
from itertools import groupby
from typing import NamedTuple, Protocol, Self

from .errors import PortalError

ENTRY_TYPES = ("invoice", "credit", "payment", "refund", "adjustment", "writeoff")


# The fields of a record that say where it came from, not what it says.
LOCATION = ("path", "line")


class Customer(NamedTuple):
    """One row of customers.csv."""

    id: str
    name: str
    email: str
    currency: str
    terms_days: int | None
    contact: str
    phone: str
    address: str
    link_version: int
    paused: bool
    path: str
    line: int


class Entry(NamedTuple):
    """One ledger row: an invoice, credit note, payment, refund, adjustment or write-off.

    `status` is empty for settled money, "processing" for a bank payment that has been
    submitted but not yet cleared, and "failed" for one the bank returned, which counts for
    nothing (both recorded by the payment service).
    """

    date: date
    customer_id: str
    type: str
    ref: str
    amount: Decimal
    currency: str
    due_date: datetime.date | None  # spelled out: in this class `date` is the field above
    applies_to: str
    memo: str
    path: str
    line: int
    status: str = ""


class Problem(NamedTuple):
    """One thing wrong with the input, located as `path:line`."""

    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}" if self.line else f"{self.path}: {self.message}"


class Found(Protocol):
    """Where a check puts the problems it finds: a plain list, or Problems (which caps and counts).

    Code that may be handed a Problems takes this, never `list[Problem]`: a compiled module (see
    portal/native.py) calls a list's own append and len on a value typed as a list, past the
    overrides that count and cap them, and the problems would go unsaid (tests/test_native.py)."""

    def append(self, problem: Problem, /) -> None: ...

    def __len__(self) -> int: ...


CAP = 50  # problems kept of each file; the rest are counted by kind
KINDS = 20  # kinds counted of each file; past that, "of other kinds"

# What a message names rather than says: quoted values, and words with a digit or a capital (ids,
# refs, dates, amounts). Replaced by "…", what is left is the kind of problem.
_VALUES = re.compile(r"""'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|[^\s,;:()']*[0-9A-Z][^\s,;:()']*""")


def kind(message: str) -> str:
    """A problem's kind: its message without the values it names, up to its explanation in parentheses."""
    return _VALUES.sub("…", message).split(" (", 1)[0]


class Problems(list[Problem]):
    """Problems as they are found, capped: the first CAP of each file (by line) are kept, the rest
    only counted by kind. A junk file of a million rows costs a few kilobytes, not gigabytes, and
    prints a screenful.

    A list, so code that appends to it or adds a list to it needs no change. len() counts every
    problem found, kept or not: a check that compares len(problems) before and after sees its own.
    Which problems are kept does not depend on the order they come in, so the build's workers each
    keep their own and the parent merges them (`+=`) to what one process would have kept.
    """

    def __init__(self, found: Iterable[Problem] = ()) -> None:
        super().__init__()
        self.found = 0  # every problem appended or merged, kept or not
        self.seen: set[Problem] = set()  # the kept ones
        self.kept: dict[str, int] = {}  # path -> how many of its problems are kept
        self.last: dict[str, Problem] = {}  # path -> its last kept problem by line, once CAP are kept
        self.more: dict[str, dict[str, int]] = {}  # path -> kind -> problems not kept
        self.extend(found)

    def __len__(self) -> int:
        return self.found

    def __reduce__(self) -> tuple[Callable[..., Problems], tuple[list[Problem], int, dict[str, dict[str, int]]]]:
        return _problems, (self.copy(), self.found, self.more)

    def append(self, p: Problem) -> None:
        self.found += 1
        if p in self.seen:  # the same problem found twice (a whole-file one, by two readers)
            return
        path = p.path
        n = self.kept.get(path, 0)
        if n < CAP:
            self._keep(p)
            self.kept[path] = n + 1
            if n + 1 == CAP:
                self.last[path] = max(self._of(path), key=_order)
            return
        last = self.last[path]
        if _order(p) >= _order(last):
            self._count(path, kind(p.message))
            return
        self.seen.discard(last)  # an earlier line than the last kept: keep it instead
        list.remove(self, last)
        self._count(path, kind(last.message))
        self._keep(p)
        self.last[path] = max(self._of(path), key=_order)

    def extend(self, found: Iterable[Problem]) -> None:
        if isinstance(found, Problems):
            for p in list.__iter__(found):
                self.append(p)
            for path, kinds in found.more.items():
                for k, n in kinds.items():
                    self._count(path, k, n)
                    self.found += n
        else:
            for p in found:
                self.append(p)

    # `+=` takes any iterable where `+` takes a list, as typeshed's own list.__iadd__ (ignored there too)
    def __iadd__(self, found: Iterable[Problem]) -> Self:  # type: ignore[override, misc]
        self.extend(found)
        return self

    def report(self) -> list[Problem]:
        """The kept problems by file and line, each file's followed by one line per kind not kept."""
        out: list[Problem] = []
        for path, kept in groupby(sorted(self.seen, key=lambda p: (p.path, p.line, p.message)), key=lambda p: p.path):
            out += kept
            kinds = sorted(self.more.get(path, {}).items(), key=lambda x: (-x[1], x[0]))
            out += [Problem(path, 0, f"and {n:,} more problem{'s' if n != 1 else ''} "
                                     + (f'like "{k}"' if k else "of other kinds")) for k, n in kinds]
        return out

    def total(self) -> int:
        """How many different problems were found, kept or not."""
        return len(self.seen) + sum(n for kinds in self.more.values() for n in kinds.values())

    def _keep(self, p: Problem) -> None:
        list.append(self, p)
        self.seen.add(p)

    def _of(self, path: str) -> Iterator[Problem]:
        return (p for p in list.__iter__(self) if p.path == path)

    def _count(self, path: str, k: str, n: int = 1) -> None:
        kinds = self.more.setdefault(path, {})
        if k not in kinds and len(kinds) >= KINDS:
            k = ""  # of other kinds
        kinds[k] = kinds.get(k, 0) + n


def _order(p: Problem) -> tuple[int, str]:
    return p.line, p.message


def _problems(kept: list[Problem], found: int, more: dict[str, dict[str, int]]) -> Problems:
    """A Problems unpickled (in the parent, from a build worker)."""
    p = Problems(kept)
    p.found, p.more = found, more
    return p


class InputError(PortalError):
    """Every problem found in the input, reported together (at most CAP of each file, then a line per kind)."""

    exit_code = 1

    def __init__(self, problems: list[Problem]):
        found = problems if isinstance(problems, Problems) else Problems(problems)
        self.problems = found.report()
        self.count = found.total()  # every one found, kept or not
        super().__init__("\n".join(map(str, self.problems)))
