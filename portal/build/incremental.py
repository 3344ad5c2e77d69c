"""The incremental build: rewrite the pages of customers whose rows changed, whatever file they are in.

Each customer's rows are known by the sum of their hashes (`state.rows_digest`). A changed file
(a new billing run, a whole ledger re-exported, rows reordered or moved to another file) is
scanned: each record's hash and place, no parsing of amounts or dates. A customer's new digest is
their old one less the rows they had in the files that changed, plus the rows found there now;
only the customers whose digest moved (or whose customers.csv row changed) are read, checked and
rendered, their other rows read at their byte offsets. Everyone else's page stays as it is,
their index updated to where their rows are now. Pages are published through publish.py.
"""
from __future__ import annotations

import io
from array import array

from ..core.records import InputError, Problem, Problems
from ..core.timing import phase
from ..ledger import checks
from ..ledger import online as online_payments
from ..ledger import reading as ledger
from . import linediff
from . import state as st
from .changes import Changes
from .context import Context
from .page import customer_digest, render_customer
from .render import SiteRenderer
from .rows import bom, read_indexed_rows, record_at_offset
from .scan import FileScan, Scanned, scan_files

# Above this share of customers changed, a full build (parallel workers) is the faster way.
FULL_FROM = 0.25


class TooManyChanged(Exception):
    """So many pages would be rendered again that a full build is faster (run.py does one)."""


def incremental(ctx: Context, stored: st.Stored, totals: dict, changes: Changes):
    """Bring the published site up to date with the ledger. Returns (body, pages written, totals,
    what it changed in the body: a state.Touched, for saving only that).
    What is wrong with rows the payment service recorded goes to `ctx.warnings`, never refuses the
    build. `stored` is the last build's state: its row index first, its page records loaded while a
    big changed file is scanned; `ctx.workers` 1 scans in this process (the payment service never forks)."""
    settings, warnings = ctx.settings, ctx.warnings
    problems = Problems()
    index = stored.index
    customers, customer_lines, found = _read_customers(settings, index, changes)
    problems += found
    reader = ledger.EntryReader(settings, customers)
    # The payment service's file exactly as its recorded size says (the service may be appending).
    reader.limits = {name: changes.sigs[name][0] for name in changes.changed if name == reader.payments_file}
    # Each file's date order as the last build decided it; a changed file's is decided again from
    # all its dates when it is opened, so a grown staff file is read whole, not only its new rows.
    reader.orders = {n: f for n, f in index.date_orders.items() if n not in changes.changed}
    grown = {n: size for n, size in changes.grown.items() if not reader.date_groups or n == reader.payments_file}
    files = list(index.files)
    fno = {name: i for i, name in enumerate(files) if name is not None}
    for name in changes.changed:
        if name not in fno:
            fno[name] = len(files)
            files.append(name)
    # Files whose old rows are no longer where the index says: rewritten (not just grown) or gone.
    stale = {fno[n] for n in changes.changed + changes.removed if n in fno and fno[n] < len(index.files)
             and n not in grown}
    for name in changes.removed:
        files[fno[name]] = None
    known = customers if changes.customers else index.customer_lines
    with phase("incremental: compare lines with the copy as last indexed"):
        diffed = _line_diff(ctx, stored, changes, reader, fno, grown, known)
    changes.data.clear()  # the scan reads the files as text; ctx.read keeps what was compared
    if diffed is not None:
        stale -= {fno[name] for name in changes.changed}
    with phase("incremental: scan changed files (and load the page records)"):
        scanned, jobs = Scanned(), []
        for name in changes.changed if diffed is None else ():
            job, found = _opened(changes.names[name], name, fno[name], grown.get(name), reader)
            scanned.problems += found
            if job is not None:
                jobs.append(job)
        scanned.merge(scan_files(jobs, known, stored.load_pages, ctx.workers))
        body = stored.body()
        problems += scanned.problems
        cols: dict[str, ledger.Columns] = {}
        for (name, line, fields) in _strays(scanned, files):  # rows of customers customers.csv lacks: say why
            if name not in cols:
                found_cols = reader.open(changes.names[name], name)[1]
                # A stray was scanned in it, so it decoded (a grown file's older part did in the last build).
                assert found_cols is not None
                cols[name] = found_cols
            reader.entry(fields, cols[name], name, line + 1, problems)
    forced, gone = _changed_customers(body, customers, changes)
    with phase("incremental: compare digests"):
        moved, changed = _compare(body, scanned, stale, forced)
        if diffed is not None:  # the files that changed: their rows as the lines compared say
            moved.update(diffed.moved)
            changed |= {cid for cid, digest in diffed.digests.items()
                        if cid not in body.pages or body.pages[cid][st.ROWS_DIGEST] != digest}
        changed -= gone
    if len(changed) > FULL_FROM * max(len(body.pages), 1) and len(changed) > 1000:
        raise TooManyChanged(f"{len(changed)} of {len(body.pages)} customers changed")
    _say_removed_customers_paid(settings, body, files, fno, gone, warnings)

    with phase("incremental: read changed customers' rows"):
        view = _Index({cid: moved[cid] if cid in moved else body.lines.get(cid, b"")
                       for cid in changed})
        entries: dict[str, list] = {}
        for cid, got in read_indexed_rows(view, files, changes.names, reader, sorted(changed),
                                          problems=problems).items():
            got.sort(key=lambda x: (x[1].file, x[1].line))
            es = [e for e, _ in got]
            if any(e.path == reader.payments_file for e in es):
                es = online_payments.collapse(es, warnings)
            entries[cid] = es
    problems += reader.unchecked_problems() + ledger.unknown_types_summary(reader.unknown_types)
    warnings += reader.warnings + reader.rounding_warnings()
    entries = {cid: es for cid, es in entries.items() if cid in customers}
    refs = _check(body, _Index(_Current(moved, body.lines)), files, changes.names, reader, entries, gone, problems)
    if problems:
        raise InputError(problems)

    replaced = [body.pages[cid] for cid in sorted(entries) if cid in body.pages] + [body.pages[cid] for cid in gone]
    with phase("incremental: render and publish the changed pages"):
        written = _publish(ctx, body, customers, entries, refs, view, gone)
    with phase("incremental: index"):
        for cid, rows in moved.items():  # everyone whose rows moved: where they are now
            if cid not in gone:
                body.lines[cid] = rows
    touched = st.Touched(pages=set(entries) | gone, lines=set(moved) | gone,
                         whole_index=customer_lines is not body.customer_lines or files[:len(body.files)] != body.files)
    body.files, body.customer_lines = files, customer_lines
    body.date_orders = {n: f for n, f in reader.orders.items() if n in fno and files[fno[n]] is not None}
    totals = st.adjust_totals(totals, replaced, [body.pages[cid] for cid in sorted(entries)])
    return body, written, totals, touched


def _line_diff(ctx: Context, stored: st.Stored, changes: Changes, reader, fno: dict, grown: dict, known):
    """linediff.Diff for a build where staff files were rewritten (one re-exported ledger, or every
    monthly file re-exported), none removed, customers.csv unchanged, and the last build kept a copy
    of each; None when the scan must read them. Files are compared one after the other, each on the
    index as the ones before it left it."""
    if not changes.changed or changes.removed or changes.customers or reader.date_groups or ctx.publisher is None:
        return None
    lines = stored.index.lines
    out = linediff.Diff()
    read: dict[str, bytes] = {}
    for name in changes.changed:
        old_sig = stored.head.files.get(name)
        if name == reader.payments_file or name in grown or old_sig is None or fno[name] >= len(stored.index.files):
            return None
        old = linediff.read_copy(ctx.settings.state_dir, old_sig[2])
        new = changes.data.get(name)  # the bytes its digest names (a copy is kept under that digest)
        if old is None or new is None:
            return None
        cols = reader.columns(record_at_offset(new, 3 if new[:3] == b"\xef\xbb\xbf" else 0), name)
        found = linediff.diff(old, new, fno[name], cols.customer_id, lines, known)
        if found is None:
            return None
        if found.moved:  # the next file's comparison starts from these rows (the stored index is left as it was)
            lines = dict(lines) if lines is stored.index.lines else lines
            lines.update(found.moved)
        out.moved.update(found.moved)
        out.digests.update(found.digests)  # computed from all of a customer's rows as they now are
        read[name] = new
    ctx.read.update(read)
    if ctx.copies is not None:  # the next build compares with these: written while this one renders
        ctx.copies.start({changes.sigs[name][2]: data for name, data in read.items()})
    return out


def _read_customers(settings, index: st.RowIndex, changes: Changes):
    """(customers, their lines in customers.csv, problems): read lazily when customers.csv is as the
    last build read it, else read whole (its problems reported with the entries', as a full build does)."""
    if not changes.customers:
        return ledger.CustomerIndex(settings, index.customer_lines), index.customer_lines, []
    customers, customer_lines, _, found = ledger.read_customers(settings)
    return customers, customer_lines, found


def _changed_customers(body: st.Body, customers, changes: Changes) -> tuple[set[str], set[str]]:
    """(customers to render whatever their rows, customers gone from customers.csv). A customer whose
    customers.csv row is refused is read as changed, for its entries to be counted."""
    if not changes.customers:
        return set(), set()
    rejected = customers.rejected.keys() & body.pages.keys()
    gone = body.pages.keys() - customers.keys() - rejected
    forced = rejected | {cid for cid, c in customers.items()
                         if cid not in body.pages or body.pages[cid][st.CUSTOMER_DIGEST] != customer_digest(c)}
    return forced, gone


def _strays(scanned: Scanned, files: list):
    """(file name, line index, fields) of each record the scan could not file under a customer."""
    for line, fields in scanned.strays:
        yield files[line >> 32], line & 0xFFFFFFFF, fields


def _opened(path, name: str, fno: int, grown_from: int | None, reader) -> tuple[FileScan | None, list[Problem]]:
    """(a changed file, or what was appended to a grown one, read and ready to scan, or None; the
    problems that kept it from being read: not UTF-8, its header)."""
    if grown_from is None:
        lines, cols, probs = reader.open(path, name)
        if probs:
            return None, list(probs)
        return FileScan(lines, bom(path), cols, fno, name), []
    tail = _Tail(path, name, grown_from, reader, reader.limits.get(name))
    lines, problem = tail.lines()
    if problem is not None:
        return None, [problem]
    return FileScan(lines, grown_from, tail.cols, fno, name, tail.first_line, first=0), []


class _Tail:
    """What was appended to a file after byte `start`."""

    def __init__(self, path, name: str, start: int, reader, limit: int | None):
        self.data = path.read_bytes()[:limit]
        self.cols = reader.columns(record_at_offset(self.data, 3 if self.data[:3] == b"\xef\xbb\xbf" else 0), name)
        self.name, self.start = name, start
        self.first_line = self.data.count(b"\n", 0, start)  # index of the first appended line

    def lines(self) -> tuple[list[str], Problem | None]:
        """The appended lines (a last one without its newline is an append in progress: left out)."""
        data, start, name = self.data, self.start, self.name
        try:
            text = data[start:].decode("utf-8")
        except UnicodeDecodeError as e:
            return [], Problem(name, self.first_line + data.count(b"\n", start, start + e.start) + 1,
                               "not UTF-8 text (export the file as UTF-8 CSV)")
        lines = list(io.StringIO(text, newline=""))
        if name.endswith(online_payments.FILE) and lines and not lines[-1].endswith(("\n", "\r")):
            lines.pop()
        return lines, None


def _compare(body: st.Body, found: Scanned, stale: set[int], forced: set[str]):
    """({customer: their rows now, packed} for everyone whose rows moved, the customers whose rows
    changed: whose rows' digest is not the one their page was made from)."""
    lines = body.lines
    if stale and stale >= {i for i, name in enumerate(body.files) if name is not None}:
        return _compare_all_rewritten(body, found, forced)  # one whole-ledger file re-exported, say
    touched = set(found.rows)
    if stale:  # who had rows in a file rewritten or removed?
        for cid, packed in lines.items():
            if cid not in touched:
                a = array("Q")
                a.frombytes(packed)
                if any(x >> 32 in stale for x in a[::3]):
                    touched.add(cid)
    index: dict[str, bytes] = {}
    changed = set(forced)
    mask, digest_at = st.ROW_HASH_MASK, st.ROWS_DIGEST
    pages = body.pages
    for cid in touched:
        rows = array("Q")
        rows.frombytes(lines.get(cid, b""))
        if stale and rows:
            in_files = {x >> 32 for x in rows[::3]}
            if in_files <= stale:
                rows = array("Q")
            elif in_files & stale:
                rows = array("Q", [x for j in range(0, len(rows), 3) if rows[j] >> 32 not in stale
                                   for x in rows[j:j + 3]])
        packed = rows.tobytes() + found.rows.get(cid, b"")
        index[cid] = packed
        record = pages.get(cid)
        if record is None or record[digest_at] != (sum(rows[2::3]) + found.sums.get(cid, 0)) & mask:
            changed.add(cid)
    return index, changed


def _compare_all_rewritten(body: st.Body, found: Scanned, forced: set[str]):
    """_compare when every file the last build read was rewritten or removed: everyone's rows are
    what the scan found (the usual case of a ledger exported whole each time)."""
    changed = set(forced)
    mask, digest_at = st.ROW_HASH_MASK, st.ROWS_DIGEST
    rows, sums = found.rows, found.sums
    moved = {}
    for cid, record in body.pages.items():
        moved[cid] = rows.get(cid, b"")
        if record[digest_at] != sums.get(cid, 0) & mask:
            changed.add(cid)
    for cid in rows.keys() - body.pages.keys():  # new customers
        moved[cid] = rows[cid]
        changed.add(cid)
    return moved, changed


def _say_removed_customers_paid(settings, body, files, fno, gone, warnings) -> None:
    """A customer removed from customers.csv who paid online: say so (their rows stay, on no page)."""
    payments = fno.get(ledger.rel(settings.ledger_dir / online_payments.FILE, settings))
    for cid in sorted(gone):
        paid = sum(1 for r in st.unpack_rows(body.lines.get(cid, b"")) if r.file == payments)
        if paid:
            warnings.append(Problem(files[payments], 0, f"customer {cid}, no longer in customers.csv, has {paid} "
                                    "row(s) the payment service recorded: they are on no statement until the "
                                    "customer is back"))


def _check(body, current, files, names, reader, entries, gone, problems) -> dict[str, tuple]:
    """Each changed customer's own checks, then what only the whole ledger shows: an invoice number
    another customer has, a payment naming another customer's invoice. Returns their invoice refs."""
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
    for cid in entries:  # a number new to one changed customer that another changed customer has
        for ref in refs[cid]:
            for other, e in added.get(ref, ()):
                if other != cid and ref not in clashed:
                    clashed.add(ref)
                    mine = next(x for x in entries[cid] if x.type == "invoice" and x.ref == ref)
                    problems.append(checks.duplicate_invoice(ref, (mine.path, mine.line), (e.path, e.line)))
    added = {ref: found[0] for ref, found in added.items() if ref not in clashed}
    if added or unresolved:  # only then is the whole ledger's list of invoice numbers needed
        untouched = entries.keys() | gone
        elsewhere = st.invoice_refs_of_all(body.pages, skip=untouched)
        for ref, (_, e) in added.items():
            if ref in elsewhere:
                other = st.owner_of(body.pages, ref, skip=untouched)
                assert other is not None  # in `elsewhere`: a record outside `untouched` lists it
                problems.append(checks.duplicate_invoice(ref, _locate(current, files, names, reader, other, ref),
                                                         (e.path, e.line)))
        located = {ref: (st.owner_of(body.pages, ref, skip=untouched), "", 0)
                   for _, _, ref, _, _ in unresolved if ref in elsewhere}
        located.update({ref: (cid, e.path, e.line) for ref, (cid, e) in added.items()})
        for cid in entries:
            for ref in refs[cid]:
                located.setdefault(ref, (cid, "", 0))
        problems += checks.resolve(unresolved, located)
    return refs


def _publish(ctx: Context, body, customers, entries, refs, view, gone) -> int:
    """Render the changed customers' pages and publish them; returns the pages written or removed."""
    publisher = ctx.publisher
    assert publisher is not None  # run.py always publishes an incremental build
    publisher.begin()
    try:
        renderer = SiteRenderer(ctx.settings, ctx.pages)
        written: list[tuple[str, str, int]] = []  # (staged file, its place in the site, its inode)
        deleted: list[str] = []
        for cid in sorted(entries):
            prev = body.pages.get(cid)
            record, html = render_customer(ctx, renderer, customers[cid], entries[cid], refs[cid],
                                           st.rows_digest(view.lines[cid]), prev)
            body.pages[cid] = record
            if html is None:
                continue
            staged = f"{len(written)}.html"
            inode = publisher.stage_page(staged, html.encode())
            written.append((staged, f"s/{record[st.TOKEN]}/index.html", inode))
            if prev is not None and prev[st.TOKEN] != record[st.TOKEN]:  # link_version raised: the old link dies
                deleted.append(f"s/{prev[st.TOKEN]}/index.html")
        for cid in gone:
            deleted.append(f"s/{body.pages.pop(cid)[st.TOKEN]}/index.html")
            body.lines.pop(cid, None)
        publisher.commit(written, deleted)
    except BaseException:
        publisher.abort()
        raise
    return len(written) + len(gone)


class _Index:
    """Customers' packed rows, where read_indexed_rows expects a state body."""

    def __init__(self, lines):
        self.lines = lines


class _Current:
    """Where each customer's rows are now: the new index for those whose rows moved, else the old one."""

    def __init__(self, moved: dict[str, bytes], old: dict[str, bytes]):
        self.moved, self.old = moved, old

    def get(self, cid: str, default: bytes = b"") -> bytes:
        rows = self.moved.get(cid)
        return rows if rows is not None else self.old.get(cid, default)


def _locate(current, files: list, names: dict, reader, cid: str, ref: str) -> tuple[str, int]:
    """(path, line) of a customer's invoice (only for error messages)."""
    gone = {i for i, n in enumerate(files) if n is None or n not in names}
    for e, _ in read_indexed_rows(current, files, names, reader, [cid], gone)[cid]:
        if e.type == "invoice" and e.ref == ref:
            return e.path, e.line
    return f"customer {cid}", 0
