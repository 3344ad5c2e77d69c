"""What changed in the ledger since the last build, from file sizes, times and content digests."""
from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..ledger import reading as ledger
from . import state as st


@dataclass
class Changes:
    """The ledger folder against the last build's record of it."""

    sigs: dict  # rel path -> (size, mtime_ns, sha256) of customers.csv and every entry file now
    names: dict[str, Path]  # entry file rel path -> its path, for every entry file now
    changed: list[str] = field(default_factory=list)  # entry files new or different (grown ones too)
    removed: list[str] = field(default_factory=list)  # entry files the last build read that are gone
    customers: bool = False  # customers.csv changed
    grown: dict[str, int] = field(default_factory=dict)  # changed file -> its old size: only appended to
    # changed entry file -> the bytes its digest was taken from (what linediff compares with the copy)
    data: dict[str, bytes] = field(default_factory=dict)

    @property
    def any(self) -> bool:
        return bool(self.changed or self.removed or self.customers)

    def described(self) -> list[str]:
        """The files that changed, for a message."""
        return self.changed + self.removed + (["customers.csv"] if self.customers else [])


def changed_inputs(settings, head: st.Head, meanwhile: Callable[[], object] | None = None) -> Changes:
    """What changed since the last build (content hashes; a file only touched has not changed).

    When a file must be hashed (its size or time moved), `meanwhile()` runs while it is, in another
    thread: reading and sha256 release the GIL, so a re-exported ledger's ~0.1 s of hashing runs on
    another core beside what the caller loads then (run.py: the last build's state)."""
    cpath = ledger.customers_path(settings)
    cname = ledger.rel(cpath, settings)
    names = {ledger.rel(p, settings): p for p in ledger.entry_files(settings)}
    hashed: dict[Path, bytes] = {}
    sigs: dict = {}

    def sign() -> None:
        sigs.update({name: st.file_sig(p, head.files.get(name), hashed) for name, p in names.items()})
        sigs[cname] = st.file_sig(cpath, head.files.get(cname))

    if meanwhile is None or not _moved(head, {**names, cname: cpath}):
        sign()
    else:
        failed: list[BaseException] = []

        def hashing() -> None:
            try:
                sign()
            except BaseException as e:  # said in the caller's thread
                failed.append(e)

        thread = threading.Thread(target=hashing, name="portal-hash")
        thread.start()
        try:
            meanwhile()
        finally:
            thread.join()
        if failed:
            raise failed[0]
    found = Changes(sigs, names)
    found.changed = sorted(n for n in names if head.files.get(n, (0, 0, ""))[2] != sigs[n][2])
    found.data = {n: hashed[names[n]] for n in found.changed if names[n] in hashed}
    # (a customers.csv is none of them: the ledger folder's, or the one imported when there is none)
    found.removed = sorted(n for n in head.files if n.rsplit("/", 1)[-1] != ledger.CUSTOMERS and n not in names)
    found.customers = head.files.get(cname, (0, 0, ""))[2] != sigs[cname][2]
    for n in found.changed:
        old = head.files.get(n)
        if old and sigs[n][0] > old[0] > 0:
            with open(names[n], "rb") as f:
                prefix = f.read(old[0])
            if prefix.endswith(b"\n") and hashlib.sha256(prefix).hexdigest() == old[2]:
                found.grown[n] = old[0]  # only appended to: the rows before are where they were
    return found


def _moved(head: st.Head, paths: dict[str, Path]) -> bool:
    """Whether any file's size or time differs from the last build's record (or it is new or gone)."""
    for name, path in paths.items():
        try:
            if not ledger.sig_holds(head.files.get(name), path.stat()):
                return True
        except OSError:
            return True
    return False
