"""Customers' rows read where the last build's index says they are: the incremental build's and the
payment service's way of reading a few customers without reading the ledger."""
from __future__ import annotations

import mmap
from collections import defaultdict

from ..ledger import reading as ledger
from . import state as st


def read_indexed_rows(body: st.Body, files: list, names: dict, reader, customers, skip_files=(),
                      problems=None) -> dict[str, list]:
    """Customers' rows, read where the state's index says they are: {customer: [(entry, byte offset)]}.

    Files in `skip_files` (by number) are left out: their index is stale.
    """
    problems = [] if problems is None else problems
    found: dict[str, list] = {cid: [] for cid in customers}
    wanted: dict[int, list] = defaultdict(list)
    for cid in customers:
        for f, i, offset in st.unpack_lines(body.lines.get(cid, b"")):
            if f not in skip_files:
                wanted[f].append((i, offset, cid))
    for f, needed in wanted.items():
        name = files[f]
        if all(offset != ledger.NO_OFFSET for _, offset, _ in needed):
            # Unchanged since it was indexed: read the rows at their offsets in a map of the file,
            # no reading, decoding or splitting of the whole of it (a 100 MB export for one
            # customer's ten rows when the payment service asks).
            with open(names[name], "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
                cols = reader.columns(ledger.record_at_offset(data, 3 if data[:3] == b"\xef\xbb\xbf" else 0), name)
                for i, offset, cid in sorted(needed):
                    e = reader.entry(ledger.record_at_offset(data, offset), cols, name, i + 1, problems)
                    if e is not None:
                        found[cid].append((e, offset))
            continue
        lines, cols, probs = reader.open(names[name], name)
        problems += probs
        for i, _, cid in sorted(needed):
            e = reader.entry(ledger.record_at(lines, i), cols, name, i + 1, problems)
            if e is not None:
                found[cid].append((e, ledger.NO_OFFSET))
    return found
