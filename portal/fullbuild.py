"""The full build: one worker process per core, each parsing, checking and rendering a shard.

Every worker reads every entry file but parses only its own customers' rows, so the parse is
spread over the cores as well as the rendering. Cross-customer checks (an invoice number used
twice, a payment applied to another customer's invoice) are settled by the parent afterwards.
"""
from __future__ import annotations

import hashlib
import multiprocessing
import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from . import accounts as acc
from . import ledger, state as st
from .model import Customer, Entry, InputError, Problem
from .publish import Publisher, write_file
from .settings import Settings
from .signing import Signer
from .site import SiteRenderer, entries_digest

PARALLEL_FROM = 2000  # customers; below this one process is faster than starting workers


@dataclass
class Job:
    """Everything a worker needs, inherited through fork."""

    settings: Settings
    customers: dict
    shard_of: dict
    shards: int
    files: list
    as_of: date
    global_digest: str
    staging: Path | None
    signer: Signer
    pages: list


_JOB: Job | None = None
_PROGRESS = None


def full(settings: Settings, as_of: date, gdigest: str, signer: Signer, pages: list,
         publisher: Publisher | None, workers: int | None = None, progress=None):
    """Read, check and render everything; publish unless `publisher` is None (check only).

    Returns (new state, pages written, pages deleted).
    """
    customers, customer_lines, _, problems = ledger.read_customers(settings)
    files = ledger.entry_files(settings)
    cpus = os.cpu_count() or 1
    shards = max(1, min(workers or cpus, cpus)) if (len(customers) >= PARALLEL_FROM or workers) else 1
    if problems:
        shards = 1  # still check the entry files against the customers that did parse
    shard_of = {cid: i % shards for i, cid in enumerate(customers)}
    staging = publisher.begin() if publisher and not problems else None
    job = Job(settings, customers, shard_of, shards, files, as_of, gdigest, staging, signer, pages)
    try:
        results = _run(job, progress)
        problems += [p for r in results for p in r["problems"]]
        owner: dict = {}
        for r in results:
            for ref, where in r["invoices"].items():
                first = owner.get(ref)
                if first is None:
                    owner[ref] = where
                else:  # the same invoice number under two customers in different shards
                    a, b = sorted((first, where), key=lambda w: (w[1], w[2]))
                    problems.append(Problem(b[1], b[2], f"duplicate invoice ref {ref} (first at {a[1]}:{a[2]})"))
                    owner[ref] = a
        problems += ledger.resolve([u for r in results for u in r["unresolved"]], owner)
        if problems:
            raise InputError(problems)
        new = st.State(global_digest=gdigest, out=str(settings.out), customer_lines=customer_lines, invoices=owner)
        for r in results:
            new.pages.update(r["pages"])
            for name, idx in r["index"].items():
                new.index.setdefault(name, {}).update(idx)
        for p in [settings.ledger_dir / ledger.CUSTOMERS, *files]:
            new.files[ledger.rel(p, settings)] = st.file_sig(p, None)
        if publisher is None:
            return new, 0, 0
        written = [f"s/{p.token}/index.html" for p in new.pages.values()]
        shared, new.shared = stage_shared(settings, pages, staging, {})
        deleted = stale_pages(settings.out, new.pages)
        publisher.commit(written + shared, deleted)
    except BaseException:
        if publisher:
            publisher.abort()
        raise
    return new, len(written), len(deleted)


def _run(job: Job, progress) -> list[dict]:
    global _JOB, _PROGRESS
    _JOB = job
    try:
        if job.shards == 1:
            _PROGRESS = _Counter(callback=progress, total=len(job.customers)) if progress else None
            return [_shard(0)]
        ctx = multiprocessing.get_context("fork")
        counter = ctx.Value("i", 0)
        _PROGRESS = _Counter(shared=counter)
        with ctx.Pool(job.shards) as pool:
            pending = pool.map_async(_shard, range(job.shards))
            while not pending.ready():
                pending.wait(0.5)
                if progress:
                    progress(counter.value, len(job.customers))
            return pending.get()
    finally:
        _JOB = _PROGRESS = None


def _shard(w: int) -> dict:
    """A worker: parse, check and (unless only checking) render one shard of the customers."""
    job = _JOB
    settings = job.settings
    reader = ledger.EntryReader(settings, job.customers)
    problems: list[Problem] = []
    by_customer: dict[str, list[Entry]] = {}
    index: dict[str, dict[str, list[int]]] = {}
    shard_of, shards = job.shard_of, job.shards
    for path in job.files:
        name = ledger.rel(path, settings)
        lines, cols, width, probs = reader.open(path, name)
        if probs:
            if w == 0:
                problems += probs
            continue
        ci = cols["customer_id"]
        idx = index[name] = {}
        entry = reader.entry
        for i, fields in ledger.records(lines):
            cid = fields[ci].strip() if ci < len(fields) else ""
            if shards > 1 and shard_of.get(cid, 0) != w:
                continue
            e = entry(fields, cols, width, name, i + 1, problems)
            if e is not None:
                idx.setdefault(cid, []).append(i)
                by_customer.setdefault(cid, []).append(e)
    mine = [c for c in job.customers.values() if shards == 1 or shard_of[c.id] == w]
    unresolved: list = []
    invoices: dict[str, tuple] = {}
    refs: dict[str, tuple] = {}
    for c in mine:
        own = ledger.validate(c.id, by_customer.get(c.id, ()), problems, unresolved)
        refs[c.id] = tuple(own)
        for ref, e in own.items():
            first = invoices.get(ref)
            if first is not None:
                problems.append(Problem(e.path, e.line, f"duplicate invoice ref {ref} (first at {first[1]}:{first[2]})"))
            else:
                invoices[ref] = (c.id, e.path, e.line)
    out = {"problems": problems, "unresolved": unresolved, "invoices": invoices, "index": index, "pages": {}}
    if problems or unresolved or job.staging is None:
        return out
    renderer = SiteRenderer(settings, job.pages)
    for n, c in enumerate(mine, 1):
        page, html = render_customer(job, renderer, c, by_customer.get(c.id, []), refs[c.id])
        write_file(job.staging, f"s/{page.token}/index.html", html)
        out["pages"][c.id] = page
        if n % 500 == 0 and _PROGRESS is not None:
            _PROGRESS.add(500)
    return out


class _Counter:
    """Pages rendered so far: a shared integer across workers, or a callback in one process."""

    def __init__(self, shared=None, callback=None, total=0):
        self.shared, self.callback, self.total, self.done = shared, callback, total, 0

    def add(self, n: int) -> None:
        if self.shared is not None:
            with self.shared.get_lock():
                self.shared.value += n
        else:
            self.done += n
            self.callback(self.done, self.total)


def render_customer(job: Job, renderer: SiteRenderer, c: Customer, entries: list[Entry], refs: tuple,
                    previous: st.Page | None = None):
    """One customer's statement: (Page, html); html is None when `previous` is still current."""
    digest = entries_digest(entries)
    cdigest = customer_digest(c)
    page_digest = hashlib.sha256(f"{job.global_digest}|{cdigest}|{digest[0]}".encode()).hexdigest()
    token = job.signer.link_token(c.id, c.link_version)
    if previous is not None and previous.digest == page_digest and previous.token == token:
        return previous, None
    accts = acc.accounts(entries, job.as_of, job.settings.recent_days)
    html = renderer.statement_html(c, accts, job.as_of, job.signer.pay_token(c.id, c.link_version, job.as_of), digest)
    balances = {a.currency: (a.balance, a.overdue) for a in accts}
    return st.Page(page_digest, token, balances, refs, cdigest, c.name, c.email), html


def customer_digest(c: Customer) -> str:
    """A digest of what a customer's row says (not where it is)."""
    return hashlib.sha256("\x1f".join(map(str, c[:10])).encode()).hexdigest()


def stage_shared(settings: Settings, pages: list, staging: Path, old: dict) -> tuple[list[str], dict]:
    """Stage the landing page, content pages, stylesheet… that differ from what is published."""
    written, digests = [], {}
    for rel, text in SiteRenderer(settings, pages).shared_pages().items():
        digest = hashlib.sha256(text.encode()).hexdigest()
        digests[rel] = digest
        if old.get(rel) != digest or not (settings.out / rel).exists():
            write_file(staging, rel, text)
            written.append(rel)
    return written, digests


def stale_pages(out: Path, pages: dict) -> list[str]:
    """Statement pages in the published site that no current customer token owns."""
    sdir = out / "s"
    if not sdir.is_dir():
        return []
    live = {p.token for p in pages.values()}
    return [f"s/{d.name}/index.html" for d in os.scandir(sdir) if d.is_dir() and d.name not in live]
