"""A re-exported file read as what changed in it: its lines compared with a copy of it as last indexed.

Staff who export the whole ledger each billing run rewrite a file that holds every customer, most
of it as it was. Comparing the new bytes with the copy the last build kept, a stretch at a time
(memcmp, no line split: ~0.05 s for a million lines), finds the few lines that changed without
hashing and filing every line (scan.py, ~2.4 s at a million rows). Only rows that stay on their
line are handled here: a file whose line count changed, whose header changed, a changed line that
is blank, names a customer customers.csv lacks, opens a record running over several lines or holds
a lone CR goes to the scan instead.

The copies live in the state folder under copies/, each named by the sha256 of its bytes (the
digest the build's head records for the file), so a copy is the file as indexed by construction.
A copy is kept only of a file whose records are each one line with no lone CR ("one-line"): then
an unchanged line of the new file is a whole record too, and only the changed ones need a look.
"""
from __future__ import annotations

import csv
import mmap
import os
import re
import shutil
import threading
from array import array
from collections.abc import Container
from dataclasses import dataclass, field
from itertools import accumulate, count, repeat
from operator import add, sub
from pathlib import Path
from typing import NamedTuple

from ..ledger import reading as ledger
from . import state as st
from .publish import write_atomic
from .rows import rowhash

MAX_CHANGED_SHARE = 0.05  # more lines changed than this: the scan on every core is as quick
RUN_OF_CHANGES = 64  # this many lines in a row changed: a line inserted or removed above, most likely
_FIRST_STEP, _LONGEST_STEP = 4096, 1 << 20  # bytes compared at once: doubled while they agree


@dataclass
class Diff:
    """What a rewritten file's new version changes in the row index."""

    moved: dict[str, bytes] = field(default_factory=dict)  # customer -> all their rows now, packed
    digests: dict[str, int] = field(default_factory=dict)  # those customers' rows digests (st.rows_digest)


class Changed(NamedTuple):
    """A line of the new file that differs from the copy's line at the same index."""

    line: int  # 0-based; the header is line 0
    was: bytes  # the copy's line, without its \n
    now: bytes  # the new file's line, without its \n
    start: int  # where the new line starts in the new file, in bytes


def copies_dir(state_dir: Path) -> Path:
    return state_dir / "copies"


def copy_of(state_dir: Path, digest: str) -> Path:
    """Where the copy of a file with this sha256 is: ".lines" says its records are one line each
    (copies kept before that was checked, "<digest>.csv", are not used and are removed)."""
    return copies_dir(state_dir) / f"{digest}.lines"


def keep_copies(state_dir: Path, files: dict[str, tuple], names: dict[str, Path], read: dict[str, bytes],
                prune: bool = True, hashed: dict[Path, bytes] | None = None) -> None:
    """After a build: a copy of each entry file as indexed (its head sig's digest), from the bytes
    this build read (`read`: files read by comparing lines, one-line by construction) or read again
    when size and time still match the sig and its records are one line each; others removed
    (unless not `prune`: a full build makes its copies while its workers work, and removes the last
    build's only once its own state is saved). `hashed`: files' bytes as the build read them for their
    signatures, by path, looked at instead of reading the files again."""
    folder = copies_dir(state_dir)
    wanted = set()
    for name, path in names.items():
        sig = files.get(name)
        if not sig:
            continue
        target = copy_of(state_dir, sig[2])
        if target.exists():
            wanted.add(target.name)
            continue
        data = read.get(name)
        if data is not None:
            if len(data) != sig[0]:
                continue
            write_atomic(target, data, durable=False)  # (it makes the folder)
            wanted.add(target.name)
            continue
        try:
            if not ledger.sig_holds(sig, path.stat()):
                continue  # changed since it was indexed: no copy, the next build scans it
            data = (hashed or {}).get(path) or path.read_bytes()
            if len(data) != sig[0] or not one_line_records(data):
                continue  # (records over several lines: the scan reads it next time)
            if _copy_unchanged(path, target, sig):
                wanted.add(target.name)
        except OSError:
            continue
    if prune and folder.is_dir():
        for old in folder.iterdir():
            if old.name not in wanted:
                old.unlink(missing_ok=True)


class CopyWriter:
    """Writes the copies of the files an incremental build compared while it goes on rendering:
    writing releases the GIL, so a 60 MB ledger's ~0.2 s of writing runs on another core. keep_copies
    then finds them written. join() before the process forks (run.py) or the state is saved."""

    def __init__(self, state_dir: Path):
        self.state_dir = state_dir
        self.thread: threading.Thread | None = None

    def start(self, copies: dict[str, bytes]) -> None:
        """Write each copy (sha256 -> the bytes it names) under its name, in a thread."""
        self.join()

        def write() -> None:
            for digest, data in copies.items():
                try:
                    write_atomic(copy_of(self.state_dir, digest), data, durable=False)
                except OSError:
                    return  # keep_copies writes it again, and says what stops it

        self.thread = threading.Thread(target=write, name="portal-copies")
        self.thread.start()

    def join(self) -> None:
        if self.thread is not None:
            self.thread.join()
            self.thread = None


def _copy_unchanged(path: Path, target: Path, sig: tuple) -> bool:
    """Copy a file to `target` (temp file, rename) if it is still as its sig says when copied: the
    kernel copies it (shutil.copyfile; 0.02-0.05 s for 82 MB, writing the bytes read took 0.16-0.25)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    shutil.copyfile(path, tmp)
    if os.stat(tmp).st_size != sig[0] or not ledger.sig_holds(sig, path.stat()):
        tmp.unlink()  # written to meanwhile: the next build scans it
        return False
    os.replace(tmp, target)
    return True


_LONE_CR = re.compile(rb"\r(?!\n)")


def one_line_records(data: bytes) -> bool:
    """Whether every record of a file is one line (no quoted line break) and no line ends at a lone CR."""
    if b"\r" in data and _LONE_CR.search(data):  # (one pass: counting CRs and CRLFs took two, 0.11 s at 82 MB)
        return False
    if b'"' not in data:
        return True
    return not any(n & 1 for n in map(bytes.count, data.split(b"\n"), repeat(b'"')))


def line_offsets_of(lines: list[bytes]) -> array:
    """Where each of a file's lines (split at \\n, the \\n dropped) starts, in bytes."""
    return array("Q", map(add, accumulate(map(len, lines), initial=0), count()))


def changed_lines(old: bytes | mmap.mmap, new: bytes) -> tuple[list[Changed], int] | None:
    """(the lines of `new` that differ from `old`'s line at the same index, the number of lines as
    split at \\n), or None when the two do not pair up line for line: a line inserted or removed (one
    file runs out of lines first, or RUN_OF_CHANGES lines in a row differ, as every line after an
    insertion does). `old` may be a map of the copy: it is only compared, searched and sliced."""
    out: list[Changed] = []
    view = memoryview(old)
    size_old, size_new = len(old), len(new)
    po = pn = line = 0  # the start of line `line` in each file; all before it compared
    run = 0
    while True:
        same = _common_prefix(new, view, pn, po)
        a, b = po + same, pn + same  # the first byte that differs (or the end of one)
        if a == size_old and b == size_new:
            return out, line + new.count(b"\n", pn) + 1
        start_new = new.rfind(b"\n", pn, b) + 1 or pn  # the line the difference is on
        line += new.count(b"\n", pn, start_new)  # (the stretch before it is the same in both)
        start = po + (start_new - pn)
        end_old, end_new = old.find(b"\n", a), new.find(b"\n", b)
        if (end_old < 0) != (end_new < 0):
            return None  # one of them has more lines
        end_old, end_new = (size_old, size_new) if end_old < 0 else (end_old, end_new)
        run = run + 1 if out and out[-1].line == line - 1 else 1
        if run >= RUN_OF_CHANGES:
            return None
        out.append(Changed(line, old[start:end_old], new[start_new:end_new], start_new))
        if end_old == size_old:
            return out, line + 1
        po, pn, line = end_old + 1, end_new + 1, line + 1


def _common_prefix(new: bytes, old: memoryview, pn: int, po: int) -> int:
    """How many bytes of new[pn:] and the viewed old[po:] agree (memcmp a stretch at a time)."""
    limit = min(len(new) - pn, len(old) - po)
    done, step = 0, _FIRST_STEP
    while done < limit:
        k = min(step, limit - done)
        if new.startswith(old[po + done:po + done + k], pn + done):
            done += k
            step = min(step * 2, _LONGEST_STEP)
            continue
        low, high = 0, k  # the first `low` bytes agree, the first `high` do not
        while high - low > 1:
            mid = (low + high) // 2
            if new.startswith(old[po + done + low:po + done + mid], pn + done + low):
                low = mid
            else:
                high = mid
        return done + low
    return limit


def diff(old: bytes | mmap.mmap, new: bytes, fno: int, cols_customer: int, body_lines: dict[str, bytes],
         known: Container[str]) -> Diff | None:
    """The index as it is after `old` (a one-line copy: see keep_copies) became `new` (file number
    `fno`), or None to scan instead."""
    found = changed_lines(old, new)
    if found is None:
        return None
    changed, lines = found
    if len(changed) > MAX_CHANGED_SHARE * lines or (changed and changed[0].line == 0):
        return None  # many changes, or the header: the scan
    last = lines - 1
    top = fno << 32
    out = Diff()
    removed: dict[str, set[int]] = {}  # customer -> lines of theirs that changed
    added: dict[str, list[int]] = {}  # customer -> their rows on changed lines now
    for c in changed:
        body = c.now if c.line == last else c.now[:-1]  # a CR before the \n ends the line; elsewhere, a lone one
        if b"\r" in body or c.now.count(b'"') & 1:
            return None  # a lone CR, or a record going on over the next line: the scan reads them
        was, now = _customer_of(c.was, cols_customer), _customer_of(c.now, cols_customer)
        if was is None or now is None or now not in known:
            return None  # a blank or unreadable row, a customer customers.csv lacks: the scan says why
        try:
            text = c.now.decode("utf-8")
        except UnicodeDecodeError:
            return None
        if was:
            removed.setdefault(was, set()).add(top | c.line)
        added.setdefault(now, []).extend((top | c.line, c.start, rowhash(text)))
    shifted = any(len(c.was) != len(c.now) for c in changed)  # moves the lines after it
    new_off = line_offsets_of(new.split(b"\n")) if shifted else None
    touched = removed.keys() | added.keys()
    for cid in body_lines if shifted else touched & body_lines.keys():
        packed = body_lines[cid]
        rows = array("Q")
        rows.frombytes(packed)
        if new_off is not None:
            _move_offsets(rows, fno, new_off)
        if cid in touched:
            rows = _replace(rows, removed.get(cid, set()), added.get(cid, []))
            out.digests[cid] = st.rows_digest(rows.tobytes())
        now_packed = rows.tobytes()
        if now_packed != packed:
            out.moved[cid] = now_packed
    for cid in added.keys() - body_lines.keys():  # a customer's first rows, on a changed line
        out.moved[cid] = _replace(array("Q"), set(), added[cid]).tobytes()
        out.digests[cid] = st.rows_digest(out.moved[cid])
    return out


def _move_offsets(rows: array, fno: int, new_off: array) -> None:
    """Each of these rows (file << 32 | line, offset, hash, flat) in file `fno` to its line's offset now."""
    ids, top = rows[0::3], fno << 32
    if all(x >> 32 == fno for x in ids):  # all in this file: a whole-ledger file, the usual case
        rows[1::3] = array("Q", map(new_off.__getitem__, map(sub, ids, repeat(top))))
        return
    for j, x in enumerate(ids):
        if x >> 32 == fno:
            rows[3 * j + 1] = new_off[x - top]


def _replace(rows: array, gone: set[int], new: list[int]) -> array:
    """Rows without those on the lines in `gone`, with the `new` ones (flat triples), in (file, line) order."""
    kept = [tuple(rows[k:k + 3]) for k in range(0, len(rows), 3) if rows[k] not in gone]
    kept += [tuple(new[k:k + 3]) for k in range(0, len(new), 3)]
    kept.sort()
    return array("Q", [x for row in kept for x in row])


def _customer_of(line: bytes, ci: int) -> str | None:
    """The customer id a one-line record names ("" for none), None for a blank or unreadable line."""
    try:
        text = line.decode("utf-8").lstrip("\ufeff")
    except UnicodeDecodeError:
        return None
    if not text.replace(",", "").strip():
        return None
    fields = next(csv.reader([text.rstrip("\r")]), [])
    return fields[ci].strip() if ci < len(fields) else ""


def read_copy(state_dir: Path, digest: str) -> bytes | mmap.mmap | None:
    """The copy of a file as indexed under this digest (a read-only map of it: only the lines that
    changed are read out of it), or None."""
    try:
        with open(copy_of(state_dir, digest), "rb") as f:
            if os.fstat(f.fileno()).st_size == 0:
                return b""
            return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError):
        return None
