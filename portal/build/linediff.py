"""A re-exported file read as what changed in it: its lines compared with a copy of it as last indexed.

Staff who export the whole ledger each billing run rewrite a file that holds every customer, most
of it as it was. Comparing its lines with the copy the last build kept (bytes against bytes, a
million lines in ~0.03 s) finds the few that changed without hashing and filing every line
(scan.py, ~2.4 s at a million rows). Only rows that stay on their line are handled here: a file
whose line count changed, whose header changed, with a record over several lines, a lone CR, or
a changed line that is blank or names a customer customers.csv lacks goes to the scan instead.

The copies live in the state folder under copies/, each named by the sha256 of its bytes (the
digest the build's head records for the file), so a copy is the file as indexed by construction.
"""
from __future__ import annotations

import csv
import os
from array import array
from collections.abc import Container
from dataclasses import dataclass, field
from itertools import accumulate, compress, count, repeat
from operator import add, ne, sub
from pathlib import Path

from . import state as st
from .publish import write_atomic
from .rows import rowhash

MAX_CHANGED_SHARE = 0.05  # more lines changed than this: the scan on every core is as quick


@dataclass
class Diff:
    """What a rewritten file's new version changes in the row index."""

    moved: dict[str, bytes] = field(default_factory=dict)  # customer -> all their rows now, packed
    digests: dict[str, int] = field(default_factory=dict)  # those customers' rows digests (st.rows_digest)


def copies_dir(state_dir: Path) -> Path:
    return state_dir / "copies"


def copy_of(state_dir: Path, digest: str) -> Path:
    return copies_dir(state_dir) / f"{digest}.csv"


def keep_copies(state_dir: Path, files: dict[str, tuple], names: dict[str, Path], read: dict[str, bytes]) -> None:
    """After a build: a copy of each entry file as indexed (its head sig's digest), from the bytes
    this build read (`read`) or read again when size and time still match the sig; others removed."""
    folder = copies_dir(state_dir)
    wanted = set()
    for name, path in names.items():
        sig = files.get(name)
        if not sig:
            continue
        target = copy_of(state_dir, sig[2])
        wanted.add(target.name)
        if target.exists():
            continue
        data = read.get(name)
        if data is None:
            try:
                stat = path.stat()
                if (stat.st_size, stat.st_mtime_ns) != (sig[0], sig[1]):
                    continue  # changed since it was indexed: no copy, the next build scans it
                data = path.read_bytes()
            except OSError:
                continue
        if len(data) != sig[0]:
            continue
        folder.mkdir(parents=True, exist_ok=True)
        write_atomic(target, data, durable=False)
    if folder.is_dir():
        for old in folder.iterdir():
            if old.name not in wanted:
                old.unlink(missing_ok=True)


def line_offsets_of(lines: list[bytes]) -> array:
    """Where each of a file's lines (split at \\n, the \\n dropped) starts, in bytes."""
    return array("Q", map(add, accumulate(map(len, lines), initial=0), count()))


def diff(old: bytes, new: bytes, fno: int, cols_customer: int, body_lines: dict[str, bytes],
         known: Container[str]) -> Diff | None:
    """The index as it is after `old` became `new` (file number `fno`), or None to scan instead."""
    for data in (old, new):  # a lone CR ends a line for the reader: its lines would not be split's
        if b"\r" in data and data.count(b"\r") != data.count(b"\r\n"):
            return None
    before, after = old.split(b"\n"), new.split(b"\n")
    if len(before) != len(after) or before[0] != after[0]:
        return None
    if (b'"' in old or b'"' in new) and not (_one_line_records(before) and _one_line_records(after)):
        return None
    changed = list(compress(count(), map(ne, before, after)))
    if len(changed) > MAX_CHANGED_SHARE * len(after):
        return None
    top = fno << 32
    new_off = line_offsets_of(after)
    out = Diff()
    removed: dict[str, set[int]] = {}  # customer -> lines of theirs that changed
    added: dict[str, list[int]] = {}  # customer -> their rows on changed lines now
    for i in changed:
        was, now = _customer_of(before[i], cols_customer), _customer_of(after[i], cols_customer)
        if was is None or now is None or now not in known:
            return None  # a blank or unreadable row, a customer customers.csv lacks: the scan says why
        try:
            text = after[i].decode("utf-8")
        except UnicodeDecodeError:
            return None
        if was:
            removed.setdefault(was, set()).add(top | i)
        added.setdefault(now, []).extend((top | i, new_off[i], rowhash(text)))
    shifted = any(len(before[i]) != len(after[i]) for i in changed)  # moves the lines after it
    touched = removed.keys() | added.keys()
    for cid in body_lines if shifted else touched & body_lines.keys():
        packed = body_lines[cid]
        rows = array("Q")
        rows.frombytes(packed)
        if shifted:
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


def _one_line_records(lines: list[bytes]) -> bool:
    """Whether no record runs over a line break (every line holds an even number of quotes)."""
    return all(line.count(b'"') % 2 == 0 for line in lines if b'"' in line)


def read_copy(state_dir: Path, digest: str) -> bytes | None:
    """The copy of a file as indexed under this digest, or None."""
    try:
        with open(copy_of(state_dir, digest), "rb") as f:
            return f.read()
    except OSError:
        return None


def read_current(path: Path, sig: tuple) -> bytes | None:
    """A file's bytes now, if they are what change detection described (size and time unchanged)."""
    try:
        with open(path, "rb") as f:
            stat = os.fstat(f.fileno())
            if (stat.st_size, stat.st_mtime_ns) != (sig[0], sig[1]):
                return None
            data = f.read()
    except OSError:
        return None
    return data if len(data) == sig[0] else None
