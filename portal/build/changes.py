"""What changed in the ledger since the last build, from file sizes, times and content digests."""
from __future__ import annotations

import hashlib

from ..ledger import reading as ledger
from . import state as st


def changed_inputs(settings, head: st.Head):
    """What changed since the last build: (file signatures, entry files by name, changed entry files,
    removed entry files, whether customers.csv changed, {grown file: its old size})."""
    cpath = settings.ledger_dir / ledger.CUSTOMERS
    cname = ledger.rel(cpath, settings)
    names = {ledger.rel(p, settings): p for p in ledger.entry_files(settings)}
    sigs = {name: st.file_sig(p, head.files.get(name)) for name, p in names.items()}
    sigs[cname] = st.file_sig(cpath, head.files.get(cname))
    changed = sorted(n for n in names if head.files.get(n, (0, 0, ""))[2] != sigs[n][2])
    removed = sorted(n for n in head.files if n != cname and n not in names)
    grown = {}
    for n in changed:
        old = head.files.get(n)
        if old and sigs[n][0] > old[0] > 0:
            with open(names[n], "rb") as f:
                prefix = f.read(old[0])
            if prefix.endswith(b"\n") and hashlib.sha256(prefix).hexdigest() == old[2]:
                grown[n] = old[0]  # only appended to: the rows before are where they were
    return sigs, names, changed, removed, head.files.get(cname, (0, 0, ""))[2] != sigs[cname][2], grown
