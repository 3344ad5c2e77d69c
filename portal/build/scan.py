"""Scanning a changed entry file: each record's customer, place and hash, on every core.

What the incremental build needs of a file that changed (a re-exported ledger of a million rows,
say) is, per customer, where their rows are now and the hash of each (rows.rowhash): no date or
amount is parsed. A file whose records are each one line is cut into one line range per core,
each scanned by a forked process; the parent meanwhile loads the build state. Records that are
not CSV, and rows of customers customers.csv does not have, go back to the caller to be reported.
"""
from __future__ import annotations

import csv
import multiprocessing
import os
from array import array
from collections.abc import Callable, Container, Sequence
from dataclasses import dataclass, field

from ..ledger import reading as ledger
from .rows import ROW_HASH, LinesFrom, line_offsets

PARALLEL_FROM_LINES = 200_000  # below this a process of its own costs more than it saves


@dataclass
class Scanned:
    """What a scan found: {customer: their rows, packed as state.pack_rows packs them} and the sum
    of those rows' hashes (their part of state.rows_digest, not yet masked), the records it could
    not file under a known customer, and the problems of records that are not CSV."""

    rows: dict[str, bytes] = field(default_factory=dict)
    sums: dict[str, int] = field(default_factory=dict)
    strays: list[tuple[int, list[str]]] = field(default_factory=list)  # (file << 32 | line, fields)
    problems: list = field(default_factory=list)

    def merge(self, other: Scanned) -> None:
        rows, sums = self.rows, self.sums
        for cid, packed in other.rows.items():
            mine = rows.get(cid)
            if mine is None:
                rows[cid], sums[cid] = packed, other.sums[cid]
            else:
                rows[cid], sums[cid] = mine + packed, sums[cid] + other.sums[cid]
        self.strays += other.strays
        self.problems += other.problems

    def add_groups(self, groups: dict[str, list[int]]) -> None:
        """Add rows collected as {customer: [IndexRow fields, flat]}: packed in one pass, not an
        array per customer (at a million rows that was a third of a worker's time)."""
        words = array("Q")
        for group in groups.values():
            words.fromlist(group)
        data, at = words.tobytes(), 0
        found = Scanned()
        rows, sums = found.rows, found.sums
        for cid, group in groups.items():
            end = at + 8 * len(group)
            rows[cid], sums[cid] = data[at:end], sum(group[2::3])
            at = end
        self.merge(found)

    def __getstate__(self) -> dict:
        """Sent from a worker as flat sequences, not 100,000 small objects (7x less to pickle)."""
        cids = list(self.rows)
        sizes = array("I", map(len, self.rows.values()))
        return {"cids": cids, "sizes": sizes, "data": b"".join(self.rows.values()),
                "sums": [self.sums[cid] for cid in cids], "strays": self.strays, "problems": self.problems}

    def __setstate__(self, state: dict) -> None:
        rows, data, at = {}, state["data"], 0
        for cid, n in zip(state["cids"], state["sizes"], strict=True):
            rows[cid] = data[at:at + n]
            at += n
        self.rows, self.sums = rows, dict(zip(state["cids"], state["sums"], strict=True))
        self.strays, self.problems = state["strays"], state["problems"]


def scan_lines(lines: list[str], first: int, stop: int, offsets: Sequence[int], cols, fno: int,
               known: Container[str], name: str, line_base: int = 0,
               groups: dict[str, list[int]] | None = None) -> Scanned:
    """Scan lines[first:stop] (whole records: each starts a line). A line with no quote is its own
    record, and only its customer id is cut from it; a record with quotes goes through the csv
    module (it may run over several lines); one the module refuses sends the range through
    ledger.records, which says why. Rows go to `groups` (customer -> flat ints) when given, for the
    caller to pack once after several ranges; else into the result."""
    out = Scanned()
    ci, top = cols.customer_id, fno << 32
    packing = groups is None
    groups = {} if groups is None else groups
    mark = {cid: len(g) for cid, g in groups.items()} if not packing else {}
    new_hash, to_int, reader = ROW_HASH.copy, int.from_bytes, csv.reader
    longest = csv.field_size_limit()  # a line longer may hold a field the csv module refuses
    at = LinesFrom(lines, stop)  # where the csv module reads from: no copy of the rest of the lines per record
    i = first
    try:
        while i < stop:
            i = _plain_lines(lines, i, stop, offsets, ci, top | line_base, known, groups, out.strays)
            if i >= stop:
                break
            line = lines[i]
            if len(line) > longest:
                raise csv.Error("a line longer than a field may be")
            quote = line.find('"')
            head = line if quote < 0 else line[:quote]
            if quote < 0 or (head.count(",") > ci and not line.count('"') & 1):
                # One line, its customer id before any quote (a quoted memo, say): cut it out.
                n, parts = 1, head.split(",", ci + 1)
                cid = parts[ci].strip() if ci < len(parts) else ""
                text = line
                if not cid and quote < 0 and not line.replace(",", "").strip():
                    i += 1
                    continue  # a blank line, or a row of empty fields
            else:
                at.i = i
                fields = next(reader(at))
                n = at.i - i
                if n > 1 and i + n == len(lines) and ledger.quote_left_open(lines, i, name):
                    raise csv.Error("a quote never closed")
                text = line if n == 1 else "".join(lines[i:i + n])
                if not fields or not (fields[0].strip() or any(f.strip() for f in fields)):
                    i += n
                    continue
                cid = fields[ci].strip() if ci < len(fields) else ""
            hasher = new_hash()  # rows.rowhash, inlined
            hasher.update(text.rstrip("\r\n").encode())
            h = to_int(hasher.digest(), "little")
            if cid in known:
                group = groups.get(cid)
                if group is None:
                    group = groups[cid] = []
                group += (top | (line_base + i), offsets[i], h)
            else:
                out.strays.append((top | (line_base + i), next(reader([text]))))
            i += n
    except csv.Error:
        for cid in list(groups):  # undo this range's rows: the careful path reads it again
            if cid in mark:
                del groups[cid][mark[cid]:]
            elif not packing:
                del groups[cid]
        return _careful(lines, first, stop, offsets, cols, fno, known, name, line_base)
    if packing:
        out.add_groups(groups)
    return out


def _plain_lines(lines: list[str], i: int, stop: int, offsets: Sequence[int], ci: int, base: int,
                 known: Container[str], groups: dict[str, list[int]], strays: list) -> int:
    """scan_lines' loop for the lines most ledgers are made of, each a record with no quote in it:
    runs from lines[i] up to the first line that is not (returned; `stop` if none). Measured at a
    million rows: half the time of the general loop, which works out where a record ends."""
    new_hash, to_int, longest = ROW_HASH.copy, int.from_bytes, csv.field_size_limit()
    get, cut = groups.get, ci + 1
    for i in range(i, stop):  # noqa: B020 - the position reached is what is returned
        line = lines[i]
        if '"' in line or len(line) > longest:
            return i
        parts = line.split(",", cut)
        cid = parts[ci].strip() if ci < len(parts) else ""
        group = get(cid)
        if group is None:
            if cid not in known:
                if cid or line.replace(",", "").strip():  # not a blank line, or a row of empty fields
                    strays.append((base + i, next(csv.reader([line]))))
                continue
            group = groups[cid] = []
        hasher = new_hash()  # rows.rowhash, inlined
        hasher.update(line.rstrip("\r\n").encode())
        group += (base + i, offsets[i], to_int(hasher.digest(), "little"))
    return stop


def _careful(lines, first, stop, offsets, cols, fno, known, name, line_base) -> Scanned:
    """scan_lines through ledger.records: every record that is not CSV is a problem, at its line."""
    from .rows import record_text, rowhash
    out = Scanned()
    top = fno << 32
    part = lines[first:stop]
    groups: dict[str, list[int]] = {}
    for i, fields in ledger.records(part, 0, name, out.problems):
        cid = fields[cols.customer_id].strip() if cols.customer_id < len(fields) else ""
        h = rowhash(record_text(part, i, ledger.scan(part, i)[0]))
        if cid in known:
            groups.setdefault(cid, []).extend((top | (line_base + first + i), offsets[first + i], h))
        else:
            out.strays.append((top | (line_base + first + i), fields))
    out.add_groups(groups)
    out.problems = [p._replace(line=p.line + line_base + first) for p in out.problems]
    return out


def one_line_records(lines: list[str]) -> bool:
    """Whether every record is one line (no quoted line break): then the file may be cut anywhere."""
    return not any(line.count('"') & 1 for line in lines) if any('"' in line for line in lines) else True


@dataclass
class FileScan:
    """One changed file (or the part of it appended since the last build) to scan."""

    lines: list[str]
    start: int  # byte offset of lines[0] (its BOM, or where the appended part begins)
    cols: object  # ledger.Columns
    fno: int
    name: str
    line_base: int = 0  # line number of lines[0]
    first: int = 1  # the first line to scan (1 skips a file's header)


def scan_files(files: list[FileScan], known: Container[str], meanwhile: Callable[[], object] | None = None,
               workers: int | None = None) -> Scanned:
    """Scan changed files. When there are many lines, files of one-line records are cut into line
    ranges and every piece is scanned by one of a forked process per core (a file whose records
    span lines is one piece), while `meanwhile()` runs here; otherwise here, after it."""
    pieces = []  # (lines to scan, file, first, stop, offsets)
    for f in files:
        offsets = line_offsets(f.lines, f.start)
        n = len(f.lines) - f.first
        cut = max(1, min(workers or os.cpu_count() or 1, n // (PARALLEL_FROM_LINES // 2) or 1))
        if cut > 1 and not one_line_records(f.lines):
            cut = 1
        bounds = [f.first + n * k // cut for k in range(cut + 1)]
        pieces += [(bounds[k + 1] - bounds[k], f, bounds[k], bounds[k + 1], offsets) for k in range(cut)]
    total = sum(p[0] for p in pieces)
    workers = min(workers or os.cpu_count() or 1, len(pieces))
    if workers < 2 or total < PARALLEL_FROM_LINES:
        if meanwhile is not None:
            meanwhile()
        return _scan_pieces(pieces, known)
    shares: list[list] = [[] for _ in range(workers)]
    loads = [0] * workers
    for piece in sorted(pieces, key=lambda p: -p[0]):  # the biggest first, each to the least loaded
        k = loads.index(min(loads))
        shares[k].append(piece)
        loads[k] += piece[0]
    ctx = multiprocessing.get_context("fork")
    pipes, procs = [], []
    for k in range(workers):
        receive, send = ctx.Pipe(duplex=False)
        p = ctx.Process(target=_worker, args=(send, shares[k], known), name=f"portal-scan-{k}", daemon=True)
        p.start()
        send.close()
        pipes.append(receive)
        procs.append(p)
    try:
        if meanwhile is not None:
            meanwhile()
        out = Scanned()
        for k, receive in enumerate(pipes):
            try:
                ok, value = receive.recv()
            except EOFError:
                raise RuntimeError(f"scan worker {k} died (exit code {procs[k].exitcode})") from None
            if not ok:
                raise value
            out.merge(value)
        return out
    finally:
        for p in procs:
            if p.is_alive():  # a sibling failed, or it is on its way out having sent its result
                p.kill()
            p.join()


def scan_file(lines: list[str], start: int, cols, fno: int, known: Container[str], name: str,
              meanwhile: Callable[[], object] | None = None, workers: int | None = None,
              line_base: int = 0, first: int = 1) -> Scanned:
    """scan_files for one file."""
    return scan_files([FileScan(lines, start, cols, fno, name, line_base, first)], known, meanwhile, workers)


def _scan_pieces(pieces: list, known: Container[str]) -> Scanned:
    out = Scanned()
    groups: dict[str, list[int]] = {}
    for _, f, first, stop, offsets in pieces:
        out.merge(scan_lines(f.lines, first, stop, offsets, f.cols, f.fno, known, f.name, f.line_base, groups))
    out.add_groups(groups)  # after the rows of any careful pass
    return out


def _worker(send, pieces: list, known: Container[str]) -> None:
    result: tuple[bool, object]
    try:
        result = (True, _scan_pieces(pieces, known))
    except BaseException as e:  # handed to the parent, which raises it
        result = (False, e)
    send.send(result)
    send.close()
