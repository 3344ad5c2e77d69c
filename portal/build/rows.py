"""A ledger row's identity and its place: its hash, where its line starts, reading it back there.

A customer's rows are known by the sum of their hashes (`state.rows_digest`): the same rows give
the same sum whatever file they are in and in whatever order, so a re-exported, reordered or
re-cut ledger rewrites only the pages of customers whose rows changed. The build records where
each row starts (file, line, byte offset); the incremental build and the payment service read a
few customers' rows there, from a map of the file, without reading the rest of it.
"""
from __future__ import annotations

import csv
import mmap
from array import array
from collections import defaultdict
from hashlib import blake2b
from itertools import accumulate

from ..core.records import Entry
from ..ledger import reading as ledger
from . import state as st


def rowhash(text: str) -> int:
    """A 64-bit hash of a record's text (its physical line, or lines, without the line break it
    ends with): its BLAKE2b-64, little-endian. Equal rows, equal hashes, however the file ended its
    lines. A row written with other quoting hashes differently: its page is made again, the same page."""
    h = ROW_HASH.copy()
    h.update(text.rstrip("\r\n").encode())
    return int.from_bytes(h.digest(), "little")


# An empty BLAKE2b-64, copied for each row: the same digest as blake2b(text, digest_size=8), ~200 ns
# less a row than a new object with its parameters parsed (a million rows a full build or a scan).
ROW_HASH = blake2b(digest_size=8)


def record_text(lines: list[str], start: int, stop: int) -> str:
    """The text of the record in lines[start:stop] (one line, as most are, or several)."""
    return lines[start] if stop - start == 1 else "".join(lines[start:stop])


def line_offsets(lines: list[str], bom: int) -> array:
    """The byte offset where each line starts (after a BOM of `bom` bytes), and the file's end: an
    array of 8 bytes a line, not a list of int objects (36 a line: 28 MB more a worker at 1M lines)."""
    if all(map(str.isascii, lines)):
        return array("Q", accumulate(map(len, lines), initial=bom))  # characters are bytes
    return array("Q", accumulate((len(line.encode()) for line in lines), initial=bom))


def record_at_offset(data, offset: int) -> list[str]:
    """The CSV record starting at a byte offset of a file's bytes (or a map of them)."""
    return next(csv.reader(_lines_at(data, offset)))  # the reader takes as many lines as the record has


class LinesFrom:
    """The lines from a position (`i`) on, for a csv reader to take as many as a record needs (it
    leaves `i` after them): no copy of the rest of the lines per record."""

    __slots__ = ("i", "lines", "stop")

    def __init__(self, lines: list[str], stop: int):
        self.lines, self.stop, self.i = lines, stop, 0

    def __iter__(self) -> LinesFrom:
        return self

    def __next__(self) -> str:
        i = self.i
        if i >= self.stop:
            raise StopIteration
        self.i = i + 1
        return self.lines[i]


def _lines_at(data, offset: int):
    """A file's lines from a byte offset on, broken where ledger.read_lines breaks them (\n, \r\n, \r)."""
    n = len(data)
    while offset < n:
        nl = data.find(b"\n", offset)
        end = n if nl < 0 else nl + 1
        cr = data.find(b"\r", offset, end)
        if cr >= 0 and cr + 1 != nl:  # a line ending at a lone \r (an old Mac file)
            end = cr + 1
        yield data[offset:end].decode("utf-8")
        offset = end


def read_indexed_rows(body, files: list, names: dict, reader, customers, skip_files=(),
                      problems=None) -> dict[str, list[tuple[Entry, st.IndexRow]]]:
    """Customers' rows, read where the state's index says they are: {customer: [(entry, index row)]}.

    `body` has the index (`lines`: customer -> packed rows); files in `skip_files` (by number) are
    left out: their index is stale. Each file is mapped, not read: a customer's ten rows cost ten
    short reads whatever the size of the file.
    """
    problems = [] if problems is None else problems
    found: dict[str, list] = {cid: [] for cid in customers}
    wanted: dict[int, list] = defaultdict(list)
    for cid in customers:
        for row in st.unpack_rows(body.lines.get(cid, b"")):
            if row.file not in skip_files:
                wanted[row.file].append((row, cid))
    for f, needed in wanted.items():
        name = files[f]
        with open(names[name], "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            cols = reader.columns(record_at_offset(data, 3 if data[:3] == b"\xef\xbb\xbf" else 0), name)
            for row, cid in sorted(needed):
                e = reader.entry(record_at_offset(data, row.offset), cols, name, row.line + 1, problems)
                if e is not None:
                    found[cid].append((e, row))
    return found


def scan(lines: list[str], first: int, name: str, start: int, problems: list, first_line: int = 0):
    """(fields, line index, byte offset, hash) of each record of a file's lines from lines[first:]
    (a file's own first=1 skips its header), the lines starting at byte `start` (its BOM, or where
    an appended part begins) and line number `first_line`: what the incremental build needs of a
    changed file, without parsing any field."""
    offsets = line_offsets(lines, start)
    for i, fields in ledger.records(lines, first, name, problems):
        yield fields, first_line + i, offsets[i], rowhash(record_text(lines, i, ledger.scan(lines, i)[0]))


def bom(path) -> int:
    """3 when the file starts with a UTF-8 byte order mark, else 0 (byte offsets count it)."""
    with open(path, "rb") as f:
        return 3 if f.read(3) == b"\xef\xbb\xbf" else 0
