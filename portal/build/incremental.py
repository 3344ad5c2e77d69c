"""The incremental build: re-read only changed ledger files and the rows of the customers they touch.

The last build's state records where each customer's rows are (file and line). A new
billing-run file, or an edited one, is parsed whole; every other file is read only at the
recorded lines of the customers those files touch. Pages whose inputs did not change are not
rewritten; the changed ones are published through the journal (see publish.py).
"""
from __future__ import annotations

import io
from collections import defaultdict
from itertools import accumulate

from ..core.records import InputError, Problem, Problems
from ..core.timing import phase
from ..ledger import checks
from ..ledger import online as online_payments
from ..ledger import reading as ledger
from . import state as st
from .page import Job, customer_digest, render_customer
from .publish import write_file
from .render import SiteRenderer
from .rows import read_indexed_rows


def incremental(settings, as_of, gdigest, signer, pages, publisher, body: st.Body, totals: dict, names, changed,
                removed, customers_changed, grown=None, warnings: list | None = None):
    """Bring the published site up to date with the ledger. Returns (body, pages written, totals).
    What is wrong with rows the payment service recorded goes to `warnings`, never refuses the build."""
    warnings = [] if warnings is None else warnings
    problems = Problems()
    affected: set[str] = set()
    gone: set[str] = set()
    if customers_changed:
        # Problems in customers.csv are reported with the entries', as a full build does; a
        # customer whose row is refused is read as touched, for its entries to be counted.
        customers, customer_lines, _, problems = ledger.read_customers(settings)
        rejected = customers.rejected.keys() & body.pages.keys()
        gone = body.pages.keys() - customers.keys() - rejected
        affected = rejected | {cid for cid, c in customers.items()
                               if cid not in body.pages or body.pages[cid][st.CUSTOMER_DIGEST] != customer_digest(c)}
    else:
        customers, customer_lines = ledger.CustomerIndex(settings, body.customer_lines), body.customer_lines
    reader = ledger.EntryReader(settings, customers)
    fno = {name: i for i, name in enumerate(body.files) if name is not None}
    files = list(body.files)
    for name in changed:
        if name not in fno:
            fno[name] = len(files)
            files.append(name)
    grown = grown or {}
    stale = {fno[n] for n in changed + removed if n in fno and fno[n] < len(body.files) and n not in grown}
    with phase("incremental: find touched customers"):
        if stale:  # an existing file was edited or removed: who had rows in it?
            for cid, packed in body.lines.items():
                if any(f in stale for f, _, _ in st.unpack_lines(packed)):
                    affected.add(cid)
        fresh: dict[str, dict[str, list]] = {}
        for name in changed:
            if name in grown:  # appended to (the payment journal, a growing export): read the new rows only
                per = _read_tail(names[name], name, grown[name], reader, problems)
            else:
                lines, cols, probs = reader.open(names[name], name)
                problems += probs
                per = defaultdict(list)
                if not probs:
                    at = ledger.byte_offsets(names[name], lines)
                    for i, fields in ledger.records(lines, 1, name, problems):
                        e = reader.entry(fields, cols, name, i + 1, problems)
                        if e is not None:
                            per[e.customer_id].append((e, at[i] if at else ledger.NO_OFFSET))
            affected |= per.keys()
            fresh[name] = per
    for name in removed:
        files[fno[name]] = None
    affected -= gone
    payments = fno.get(ledger.rel(settings.ledger_dir / online_payments.FILE, settings))
    for cid in sorted(gone):  # a customer removed from customers.csv who paid online: say so
        paid = sum(1 for f, _, _ in st.unpack_lines(body.lines.get(cid, b"")) if f == payments)
        if paid:
            warnings.append(Problem(files[payments], 0, f"customer {cid}, no longer in customers.csv, has {paid} "
                                    "row(s) the payment service recorded: they are on no statement until the "
                                    "customer is back"))

    with phase("incremental: read touched rows"):
        entries: dict[str, list] = {cid: [] for cid in affected}  # (entry, byte offset) until sorted
        rows: dict[str, list] = {}  # customer -> (file number, line index, byte offset) of every row
        for cid, found in read_indexed_rows(body, files, names, reader, affected, stale, problems).items():
            entries[cid] += found
        for per in fresh.values():
            for cid, es in per.items():
                if cid in entries:
                    entries[cid] += es
        online = ledger.rel(settings.ledger_dir / online_payments.FILE, settings)
        for cid, es in entries.items():
            es.sort(key=lambda x: (x[0].path, x[0].line))
            entries[cid] = [e for e, _ in es]
            rows[cid] = [(fno[e.path], e.line - 1, off) for e, off in es]  # every row, collapsed or not
            if any(e.path == online for e in entries[cid]):
                entries[cid] = online_payments.collapse(entries[cid], warnings)

    problems += reader.unchecked_problems()
    warnings += reader.warnings
    unresolved: list = []
    refs: dict[str, tuple] = {}
    added: dict = {}  # invoice ref -> [(customer, entry)], for refs new to their customer
    for cid in sorted(entries):
        own = checks.validate(cid, entries[cid], problems, unresolved)
        refs[cid] = tuple(own)
        before = set(st.invoice_refs(body.pages[cid])) if cid in body.pages else set()
        for ref, e in own.items():
            if ref not in before:
                added.setdefault(ref, []).append((cid, e))
    clashed = set()
    for cid in entries:  # a number new to one touched customer that another touched customer has
        for ref in refs[cid]:
            for other, e in added.get(ref, ()):
                if other != cid and ref not in clashed:
                    clashed.add(ref)
                    problems.append(Problem(e.path, e.line, f"duplicate invoice ref {ref} (also customer {cid}'s)"))
    added = {ref: found[0] for ref, found in added.items() if ref not in clashed}
    if added or unresolved:  # only then is the whole ledger's list of invoice numbers needed
        untouched = affected | gone
        elsewhere = st.invoice_refs_of_all(body.pages, skip=untouched)
        for ref, (cid, e) in added.items():
            if ref in elsewhere:
                other = st.owner_of(body.pages, ref, skip=untouched)
                a, b = sorted((_locate(body, files, names, reader, other, ref), (e.path, e.line)))
                problems.append(Problem(b[0], b[1], f"duplicate invoice ref {ref} (first at {a[0]}:{a[1]})"))
        located = {ref: (st.owner_of(body.pages, ref, skip=untouched), "", 0)
                   for _, _, ref, _, _ in unresolved if ref in elsewhere}
        located.update({ref: (cid, e.path, e.line) for ref, (cid, e) in added.items()})
        for cid in entries:
            for ref in refs[cid]:
                located.setdefault(ref, (cid, "", 0))
        problems += checks.resolve(unresolved, located)
    if problems:
        raise InputError(problems)

    replaced = [body.pages[cid] for cid in sorted(entries) if cid in body.pages] + [body.pages[cid] for cid in gone]
    staging = publisher.begin()
    try:
        job = Job(settings, 1, [], as_of, gdigest, staging, signer, pages)
        renderer = SiteRenderer(settings, pages)
        written, deleted = [], []
        for cid in sorted(entries):
            prev = body.pages.get(cid)
            record, html = render_customer(job, renderer, customers[cid], entries[cid], refs[cid], prev)
            body.pages[cid] = record
            body.lines[cid] = st.pack_lines(rows[cid])
            if html is None:
                continue
            staged = f"{len(written)}.html"
            write_file(staging, staged, html)
            written.append((staged, f"s/{record[st.TOKEN]}/index.html"))
            if prev is not None and prev[st.TOKEN] != record[st.TOKEN]:  # link_version raised: the old link dies
                deleted.append(f"s/{prev[st.TOKEN]}/index.html")
        for cid in gone:
            deleted.append(f"s/{body.pages.pop(cid)[st.TOKEN]}/index.html")
            body.lines.pop(cid, None)
        publisher.commit(written, deleted)
    except BaseException:
        publisher.abort()
        raise
    body.files, body.customer_lines = files, customer_lines
    totals = st.adjust_totals(totals, replaced, [body.pages[cid] for cid in sorted(entries)])
    return body, len(written) + len(gone), totals


def _read_tail(path, name: str, start: int, reader, problems) -> dict[str, list]:
    """The rows appended to a file after byte `start`: {customer: [(entry, byte offset)]}."""
    data = path.read_bytes()
    cols = reader.columns(ledger.record_at_offset(data, 3 if data[:3] == b"\xef\xbb\xbf" else 0), name)
    first_line = data.count(b"\n", 0, start)  # index of the first appended line
    per: dict[str, list] = defaultdict(list)
    try:
        text = data[start:].decode("utf-8")
    except UnicodeDecodeError as e:
        problems.append(Problem(name, first_line + data.count(b"\n", start, start + e.start) + 1,
                                       "not UTF-8 text (export the file as UTF-8 CSV)"))
        return per
    lines = list(io.StringIO(text, newline=""))
    at = list(accumulate(map(len, lines), initial=start)) if text.isascii() else None
    not_csv: list[Problem] = []  # located in the new lines: moved to the file's
    for i, fields in ledger.records(lines, 0, name, not_csv):
        e = reader.entry(fields, cols, name, first_line + i + 1, problems)
        if e is not None:
            per[e.customer_id].append((e, at[i] if at else ledger.NO_OFFSET))
    problems += [Problem(p.path, first_line + p.line, p.message) for p in not_csv]
    return per


def _locate(body: st.Body, files: list, names: dict, reader, cid: str, ref: str) -> tuple[str, int]:
    """(path, line) of a customer's invoice (only for error messages)."""
    for f, i, _ in st.unpack_lines(body.lines.get(cid, b"")):
        name = files[f]
        if name is None or name not in names:
            continue
        lines, cols, _ = reader.open(names[name], name)
        e = reader.entry(ledger.record_at(lines, i), cols, name, i + 1, [])
        if e is not None and e.type == "invoice" and e.ref == ref:
            return name, i + 1
    return f"customer {cid}", 0
