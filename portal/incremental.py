"""The incremental build: re-read only changed ledger files and the rows of the customers they touch.

The last build's state records, for every entry file, the line of each customer's rows. A new
billing-run file, or an edited one, is parsed whole; every other file is read only at the
recorded lines of the customers that file touches. Pages whose inputs did not change are not
rewritten.
"""
from __future__ import annotations

from . import ledger, state as st
from .fullbuild import Job, customer_digest, render_customer
from .model import InputError, Problem
from .publish import write_file
from .site import SiteRenderer


def incremental(settings, as_of, gdigest, signer, pages, publisher, old: st.State):
    """Bring the published site up to date with the ledger. Returns (state, written, deleted)."""
    cpath = settings.ledger_dir / ledger.CUSTOMERS
    cname = ledger.rel(cpath, settings)
    if not cpath.exists() or cname not in old.files:
        return None
    names = {ledger.rel(p, settings): p for p in ledger.entry_files(settings)}
    sigs = {name: st.file_sig(p, old.files.get(name)) for name, p in names.items()}
    sigs[cname] = st.file_sig(cpath, old.files.get(cname))
    changed = sorted(n for n in names if old.files.get(n, (0, 0, ""))[2] != sigs[n][2])
    removed = sorted(n for n in old.index if n not in names)
    customers_changed = old.files[cname][2] != sigs[cname][2]
    if not changed and not removed and not customers_changed:
        if sigs != old.files:  # touched but identical: remember the new times, rewrite nothing
            old.files = sigs
            return old, 0, 0, True
        return old, 0, 0, False

    problems: list[Problem] = []
    affected: set[str] = set()
    gone: set[str] = set()
    if customers_changed:
        customers, customer_lines, _, problems = ledger.read_customers(settings)
        if problems:
            raise InputError(problems)
        gone = old.pages.keys() - customers.keys()
        affected = {cid for cid, c in customers.items()
                    if cid not in old.pages or old.pages[cid].customer_digest != customer_digest(c)}
    else:
        customers, customer_lines = ledger.CustomerIndex(settings, old.customer_lines), old.customer_lines
    reader = ledger.EntryReader(settings, customers)
    index = dict(old.index)
    fresh: dict[str, dict] = {}
    for name in changed:
        lines, cols, width, probs = reader.open(names[name], name)
        problems += probs
        idx: dict[str, list[int]] = {}
        per: dict[str, list] = {}
        if not probs:
            for i, fields in ledger.records(lines):
                e = reader.entry(fields, cols, width, name, i + 1, problems)
                if e is not None:
                    idx.setdefault(e.customer_id, []).append(i)
                    per.setdefault(e.customer_id, []).append(e)
        affected |= per.keys() | old.index.get(name, {}).keys()
        index[name], fresh[name] = idx, per
    for name in removed:
        affected |= old.index[name].keys()
        del index[name]
    affected -= gone
    entries: dict[str, list] = {cid: [] for cid in affected}
    for name in sorted(index):
        if name in fresh:
            per = fresh[name]
            for cid, es in entries.items():
                es += per.get(cid, ())
            continue
        idx = index[name]
        needed = sorted((i, cid) for cid in entries for i in idx.get(cid, ()))
        if not needed:
            continue
        lines, cols, width, probs = reader.open(names[name], name)
        problems += probs
        for i, cid in needed:
            e = reader.entry(ledger.record_at(lines, i), cols, width, name, i + 1, problems)
            if e is not None:
                entries[cid].append(e)

    invoices = dict(old.invoices)
    for cid in affected | gone:
        page = old.pages.get(cid)
        for ref in page.invoices if page else ():
            if invoices.get(ref, ("",))[0] == cid:
                del invoices[ref]
    unresolved: list = []
    refs: dict[str, tuple] = {}
    for cid in sorted(entries):
        own = ledger.validate(cid, entries[cid], problems, unresolved)
        refs[cid] = tuple(own)
        for ref, e in own.items():
            first = invoices.get(ref)
            if first is not None and first[0] != cid:
                problems.append(Problem(e.path, e.line, f"duplicate invoice ref {ref} (first at {first[1]}:{first[2]})"))
            else:
                invoices[ref] = (cid, e.path, e.line)
    problems += ledger.resolve(unresolved, invoices)
    if problems:
        raise InputError(problems)

    staging = publisher.begin()
    try:
        job = Job(settings, customers, {}, 1, [], as_of, gdigest, staging, signer, pages)
        renderer = SiteRenderer(settings, pages)
        new_pages = dict(old.pages)
        written, deleted = [], []
        for cid in sorted(entries):
            prev = old.pages.get(cid)
            page, html = render_customer(job, renderer, customers[cid], entries[cid], refs[cid], prev)
            new_pages[cid] = page
            if html is None:
                continue
            path = f"s/{page.token}/index.html"
            write_file(staging, path, html)
            written.append(path)
            if prev is not None and prev.token != page.token:  # link_version raised: the old link dies
                deleted.append(f"s/{prev.token}/index.html")
        for cid in gone:
            deleted.append(f"s/{new_pages.pop(cid).token}/index.html")
        publisher.commit(written, deleted)
    except BaseException:
        publisher.abort()
        raise
    new = st.State(global_digest=gdigest, out=old.out, files=sigs, index=index, customer_lines=customer_lines,
                   pages=new_pages, invoices=invoices, shared=old.shared)
    return new, len(written), len(deleted), True
