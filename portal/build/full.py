"""The full build: one worker process per core, each parsing, checking and rendering a shard.

Every worker reads every entry file but parses only its own customers' rows, so the parse is
spread over the cores as well as the rendering. Cross-customer checks (an invoice number used
twice, a payment applied to another customer's invoice) are settled by the parent afterwards.
"""
from __future__ import annotations

import csv
import gc
import marshal
import multiprocessing
import multiprocessing.connection
import os
import secrets
import time
import zlib
from array import array
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, NamedTuple, cast

from ..core import aging
from ..core.records import Customer, Entry, InputError, Problem, Problems
from ..core.timing import note, phase, report_memory
from ..ledger import checks
from ..ledger import online as online_payments
from ..ledger import reading as ledger
from ..ledger.settings import Settings
from . import state as st
from .context import Context
from .page import Job, render_customer
from .placement import PageWriter, finish, make_pages_folder
from .publish import write_file
from .render import SiteRenderer
from .rows import LinesFrom, bom, line_offsets, rowhash

PARALLEL_FROM_BYTES = 200_000  # customers.csv size (~2,000 customers): below, one process is faster
# Pages are written this many at a time: the kernel's work for each file, between two pages,
# left rendering with cold caches (measured on tmpfs, 20,000 pages: rendering and writing
# 3.0-3.3 s + 0.61-0.63 s a page at a time, 2.8-3.2 s + 0.45-0.47 s in batches of 200-256).
WRITE_BATCH = 256


# The build under way and its progress counter, for _shard: set by _run, inherited by forked workers.
_JOB: Job | None = None
_PROGRESS: _Counter | None = None


def full(ctx: Context, progress=None, figures_only: bool = False,
         meanwhile: Callable[[dict, dict], object] | None = None):
    """Read, check and render everything; publish unless `ctx.publisher` is None (check only, or
    with `figures_only` the page records without pages, for a report as of another date).
    `meanwhile(file signatures, the bytes they were made from by path)` runs here while the workers
    work (or after one process's work, the bytes then given up).

    Returns (state body, file signatures, pages written, totals for the head). What is wrong with
    rows the payment service recorded is added to `ctx.warnings` (never a reason to refuse the build).
    """
    settings, publisher, workers = ctx.settings, ctx.publisher, ctx.workers
    cpath = ledger.customers_path(settings)
    size = cpath.stat().st_size if cpath.exists() else 0
    files = ledger.entry_files(settings)
    cpus = os.cpu_count() or 1
    shards = max(1, workers or cpus) if (size >= PARALLEL_FROM_BYTES or workers) else 1
    # The parent parses no customers itself: each worker parses customers.csv and keeps only its
    # shard, so no objects are shared copy-on-write and then copied by refcount updates (the files'
    # bytes, read here, are one object each, which the workers only read).
    staging = publisher.begin() if publisher else None
    spreads = make_pages_folder(staging) if staging is not None else False
    # The files as they are now, read once: their signatures are of exactly the bytes every worker
    # parses (inherited through fork, each worker's copy dropped once it has its lines; the payment
    # service may append to its file meanwhile: the next build reads the rest). With workers, the
    # bytes are hashed here once they have started (this process is idle then; measured: 0.05 s of
    # SHA-256 a 1M-row ledger, off the build's serial start).
    read: dict[Path, bytes] = {}
    mtimes: dict[str, tuple[Path, int]] = {}  # rel name -> (path, mtime before the read, as file_sig takes it)
    for p in [cpath, *files]:
        if p.exists():
            mtimes[ledger.rel(p, settings)] = p, p.stat().st_mtime_ns
            read[p] = p.read_bytes()
    sigs: dict[str, tuple[int, int, str]] = {}

    def sign() -> None:
        if not sigs:
            sigs.update({name: ledger.sig_of(read[p], mtime) for name, (p, mtime) in mtimes.items()})

    def sign_then_meanwhile() -> None:
        sign()
        if meanwhile is not None:
            meanwhile(sigs, job.data)

    estimate = read[cpath].count(b"\n") if cpath in read else 0
    job = Job(ctx, shards, files, staging, estimate=estimate, figures_only=figures_only, data=read,
              limits={name: len(read[p]) for name, (p, _) in mtimes.items() if name.endswith(online_payments.FILE)},
              spares=publisher.spares_wanted(estimate) if staging is not None and publisher else 0,
              tag=secrets.token_hex(4), spreads=spreads)
    if shards == 1:  # the one process drops the bytes as it parses them: hashed first
        sign()
    problems = Problems()
    try:
        with phase("workers"):
            results = _run(job, progress, sign_then_meanwhile)
        unknown_types: dict = {}
        for r in results:  # each worker's problems, capped, merged to what one process would keep
            problems += r["problems"]
            ledger.merge_counts(unknown_types, r["unknown_types"])
        problems += _across_shards(results)
        problems += ledger.unknown_types_summary(unknown_types)
        # rows the payment service recorded: said, never fatal
        rounded: dict[str, list[int]] = {}  # file -> [first line, count] over the workers
        for r in results:
            for name, (line, n) in r["rounded"].items():
                seen = rounded.setdefault(name, [line, 0])
                seen[0], seen[1] = min(seen[0], line), seen[1] + n
        found = {p for r in results for p in r["warnings"]} | {
            ledger.rounding_warning(name, line, n) for name, (line, n) in rounded.items()}
        ctx.warnings += sorted(found, key=lambda p: (p.path, p.line, p.message))
        if problems:
            raise InputError(problems)
        with phase("merge"):
            # every worker decides each file's date order from all of it: worker 0's are all of them
            body = st.Body(files=[ledger.rel(p, settings) for p in files], date_orders=results[0]["date_orders"])
            totals: dict = {}
            for r in results:
                for cur, v in r["totals"].items():
                    aging.add(totals, {cur: v})
                body.pages.update(r["pages"])
                body.lines.update(r["lines"])
                body.customer_lines.update(r["customer_lines"])
            totals = st.text_totals(totals)
        if publisher is None:
            return body, sigs, 0, totals
        assert staging is not None  # publisher.begin() gave it
        with phase("publish"):
            finish(staging)
            stage_shared(settings, ctx.pages, staging)
            publisher.swap()
    except BaseException:
        if publisher:
            publisher.abort()
        raise
    return body, sigs, len(body.pages), totals


class Invoices(NamedTuple):
    """A shard's invoice numbers and where each is, in parallel sequences (cheap to pickle)."""

    refs: list
    customers: list
    paths: list
    lines: array


def _across_shards(results: list[dict]) -> list[Problem]:
    """What only the whole ledger shows: one invoice number in two shards, and applies_to naming
    another shard's invoice (or none)."""
    unresolved = [u for r in results for u in r["unresolved"]]
    owner: dict[str, int] = {}  # invoice number -> the first shard that has it
    clashes = []
    for w, r in enumerate(results):
        refs = r["invoices"].refs
        clashes += [(ref, w) for ref in owner.keys() & refs]
        if w + 1 < len(results) or unresolved:
            owner = {**dict.fromkeys(refs, w), **owner}
    if not clashes and not unresolved:
        return []
    index: dict[int, dict] = {}

    def where(ref: str, w: int) -> tuple:
        inv = results[w]["invoices"]
        if w not in index:
            index[w] = {r: i for i, r in enumerate(inv.refs)}
        i = index[w][ref]
        return inv.customers[i], inv.paths[i], inv.lines[i]

    problems = []
    for ref, w in clashes:
        a, b = where(ref, owner[ref]), where(ref, w)
        problems.append(checks.duplicate_invoice(ref, (a[1], a[2]), (b[1], b[2])))
    named = {u[2] for u in unresolved}
    return problems + checks.resolve(unresolved, {ref: where(ref, w) for ref, w in owner.items() if ref in named})


def _run(job: Job, progress, meanwhile: Callable[[], object] | None = None) -> list[dict]:
    global _JOB, _PROGRESS
    _JOB = job
    try:
        if job.shards == 1:
            _PROGRESS = _Counter(callback=progress, total=job.estimate) if progress else None
            done = [_shard(0)]
            if meanwhile is not None:
                meanwhile()
            return done
        ctx = multiprocessing.get_context("fork")
        counter = ctx.Value("i", 0)
        _PROGRESS = _Counter(shared=counter)
        # A process per shard that exits as soon as its result is read, rather than a pool whose
        # idle workers (their parsed ledger, ~400 MB each at 100k customers) outlive the results
        # the parent unpickles next to them.
        workers, processes = {}, []
        for w in range(job.shards):
            receive, send = ctx.Pipe(duplex=False)
            p = ctx.Process(target=_worker, args=(w, send), name=f"portal-build-{w}", daemon=True)
            p.start()
            send.close()
            workers[receive] = (w, p)
            processes.append(p)
        results: list = [None] * job.shards
        if meanwhile is not None:  # in this process, idle until the results come
            meanwhile()
        job.data.clear()  # the workers have theirs
        try:
            while workers:
                # The cast: wait() returns some of the objects it was given, here all Connections (its
                # stub's type allows sockets and file descriptors too).
                ready = cast("list[multiprocessing.connection.Connection]",
                             multiprocessing.connection.wait(list(workers), timeout=0.5))
                for conn in ready:
                    w, p = workers.pop(conn)
                    try:
                        with phase(f"shard {w} result received"):
                            ok, value = conn.recv()
                            bulk = conn.recv_bytes() if ok else b""
                    except EOFError:
                        p.join()
                        raise RuntimeError(f"build worker {w} died (exit code {p.exitcode})") from None
                    if not ok:
                        raise value
                    with phase(f"shard {w} result unpacked"):
                        results[w] = _unpack(value, bulk)
                    del bulk
                if progress:
                    progress(counter.value, job.estimate)
        finally:
            for _, p in workers.values():  # a worker still running when another failed
                p.kill()
            for p in processes:
                p.join()
        return results
    finally:
        _JOB = _PROGRESS = None


def _worker(w: int, conn) -> None:
    """A worker process: its shard's result, or the exception that stopped it, to the parent."""
    result: tuple[Literal[True], dict] | tuple[Literal[False], BaseException]
    bulk = b""
    try:
        out = _shard(w)
        bulk = _pack(out)
        result = (True, out)
    except BaseException as e:
        result = (False, e)
    try:
        with phase(f"shard {w} result sent"):
            conn.send(result)
            if result[0]:
                conn.send_bytes(bulk)  # as it is: no pickled copy of it
    except Exception as e:  # an exception that does not pickle
        conn.send((False, RuntimeError(f"build worker {w}: {result[1]!r} ({e})")))
    conn.close()


def _pack(out: dict) -> bytes:
    """Take the bulk of a worker's result out of it (page records, row places, invoice numbers:
    builtin types, ~45 MB at 50,000 customers), as marshal data: written 3x faster than pickle
    writes it (measured: 0.04 s against 0.15 for the page records and row places)."""
    inv = out.pop("invoices")
    return marshal.dumps((out.pop("pages"), out.pop("lines"), out.pop("customer_lines"), inv.refs, inv.customers,
                          inv.paths, inv.lines.tobytes()))


def _unpack(out: dict, bulk: bytes) -> dict:
    """The worker's result as _shard made it: the rest of it and _pack's bulk."""
    pages, lines, customer_lines, refs, customers, paths, places = marshal.loads(bulk)
    numbers = array("I")
    numbers.frombytes(places)
    return {**out, "pages": pages, "lines": lines, "customer_lines": customer_lines,
            "invoices": Invoices(refs, customers, paths, numbers)}


def _shard(w: int) -> dict:
    """A worker: parse, check and (unless only checking) render one shard of the customers."""
    job = _JOB
    assert job is not None  # _run sets it before a shard runs (a forked worker inherits it)
    settings = job.ctx.settings
    shards = job.shards
    problems = Problems()
    # The parsed ledger is ~10^6 long-lived objects with no reference cycles: left to the cyclic
    # GC, every full collection walks all of them (measured: rendering 2.6x slower). Collect
    # nothing while parsing, then freeze what was parsed out of the collector's sight.
    gc.disable()
    try:
        with phase(f"shard {w} customers"):
            customers, where, _, customer_problems = ledger.read_customers(
                settings, keep=None if shards == 1 else (lambda cid: shard_of(cid, shards) == w), whole_file=w == 0,
                data=job.data.pop(ledger.customers_path(settings), None))
            # Each worker checks its own rows; a problem with the whole file (its header, its
            # encoding, a record that is not CSV) is worker 0's to report.
            problems += customer_problems
        reader = ledger.EntryReader(settings, customers)
        reader.limits = job.limits
        with phase(f"shard {w} parse"):
            slots, online = _parse_shard(w, job, reader, problems)
        with phase(f"shard {w} validate"):
            warnings = reader.warnings
            for cid in online:  # each online payment at its latest state
                slots[cid].entries[:] = online_payments.collapse(slots[cid].entries, warnings)
            unresolved, invoices, refs = _validate_shard(slots, problems)
        gc.freeze()
    finally:
        gc.enable()
    out: dict[str, Any] = {
        "problems": problems, "unresolved": unresolved, "invoices": invoices, "pages": {}, "lines": {},
        "customer_lines": {cid: where[cid] for cid in customers}, "totals": {}, "warnings": warnings,
        "rounded": reader.rounded, "date_orders": reader.orders, "unknown_types": reader.unknown_types}
    if problems or customer_problems or unresolved or (job.staging is None and not job.figures_only):
        return out
    with phase(f"shard {w} render+write"):
        staging = job.staging
        renderer = SiteRenderer(settings, job.ctx.pages) if staging is not None else None
        pages, lines, totals = out["pages"], out["lines"], out["totals"]
        clock = time.perf_counter
        rendering = 0.0
        writer = PageWriter(staging, job.spreads) if staging is not None else None
        writing = 0.0
        batch: list[tuple[str, str]] = []
        try:
            for n, (slot, own) in enumerate(zip(slots.values(), refs, strict=True), 1):
                t = clock()
                c, packed = slot.customer, slot.rows
                record, html = render_customer(job.ctx, renderer, c, slot.entries, own, sum(packed[2::3]) & MASK,
                                               totals=totals)
                t2 = clock()
                rendering += t2 - t
                if html is not None:
                    batch.append((record[st.TOKEN], html))
                    if len(batch) == WRITE_BATCH:
                        assert writer is not None  # pages are rendered only into a staging folder
                        writer.write(batch)
                    writing += clock() - t2
                pages[c.id] = record
                lines[c.id] = packed.tobytes()
                if n % 500 == 0 and _PROGRESS is not None:
                    _PROGRESS.add(500)
            if writer is not None:
                t = clock()
                writer.write(batch)
                writing += clock() - t
                if job.spares and job.ctx.publisher is not None:
                    with phase(f"shard {w} spares"):  # for the next incremental build (publish.py)
                        job.ctx.publisher.make_spares(job.spares // shards + (job.spares % shards if w == 0 else 0),
                                                      f"{job.tag}-{w}", writer.make_files)
        finally:
            if writer is not None:
                writer.close()
    moved = f" (moved {writer.moves} times: the disk was slow)" if writer is not None and writer.moves else ""
    note(f"shard {w} of that, rendering: {rendering:.3f} s, writing: {writing:.3f} s for {len(slots)} pages{moved}")
    report_memory(f"shard {w}")
    return out


class Slot(NamedTuple):
    """One of a worker's customers and their rows as parsed: the entries in file order, and where
    each row is (IndexRows packed as state.pack_rows packs them, in the same order)."""

    customer: Customer
    entries: list[Entry]
    rows: array


def _parse_shard(w, job, reader, problems) -> tuple[dict[str, Slot], set[str]]:
    """Parse this worker's customers' rows: ({customer id: Slot}, in customers.csv's order, and the
    ids of those with online payments).

    Every worker splits every row and parses only those of its shard: its customers'
    (reader.customers), and the rows naming a customer id of its shard that customers.csv does not
    have (or has with problems), to report them. What is wrong with a file as a whole (its header,
    a record that is not CSV) worker 0 reports.
    """
    shards = job.shards
    settings = job.ctx.settings
    journal_name = ledger.rel(settings.ledger_dir / online_payments.FILE, settings)
    online: set[str] = set()
    # This worker's customers only: an id of another worker's is not found and its shard worked
    # out again each row (measured at a million rows: a table of both shards' ids, the others
    # marked, waited on memory 0.2-0.27 s longer a worker than this table half its size and crc32).
    # The slot's customer is handed to reader.entry, which need not look them up again.
    customers = reader.customers
    assert isinstance(customers, dict)  # _shard parsed them all (a CustomerIndex is an incremental build's)
    slots = {cid: Slot(c, [], array("Q")) for cid, c in customers.items()}
    for fno, path in enumerate(job.files):
        name = ledger.rel(path, settings)
        lines, cols, probs = reader.open(path, name, job.data.pop(path, None))
        if probs:
            if w == 0:
                problems += probs
            continue
        ci = cols.customer_id
        entry = reader.entry
        offsets = line_offsets(lines, bom(path))
        top = fno << 32
        at, longest = LinesFrom(lines, len(lines)), csv.field_size_limit()
        i, stop = 1, len(lines)
        while i < stop:  # records(), inlined: every worker walks every row
            line, start = lines[i], i
            if '"' not in line and len(line) <= longest:  # most rows: what csv reads, at a third of the cost
                fields = line.rstrip("\r\n").split(",")
                i += 1
            else:
                at.i = i
                try:
                    fields = next(csv.reader(at))
                except csv.Error as error:
                    problem, i = ledger.unreadable(lines, start, name, error)
                    if w == 0:
                        problems.append(problem)
                    continue
                i = at.i
                if i == stop:  # the last record: a quote in it may never close
                    left_open = ledger.quote_left_open(lines, start, name)
                    if left_open is not None:
                        if w == 0:
                            problems.append(left_open)
                        break
            if ci < len(fields):
                cid = fields[ci].strip()
            elif not fields or (len(fields) == 1 and not fields[0].strip()):
                continue  # blank line
            else:
                cid = ""
            slot = slots.get(cid)
            if slot is None:
                if shard_of(cid, shards) == w:
                    entry(fields, cols, name, start + 1, problems)  # no such customer: says so
                continue
            h = rowhash(line if i == start + 1 else "".join(lines[start:i]))
            # The slot's fields by place in this loop of a million rows (customer, entries, rows):
            # a tuple's item, where a NamedTuple's name is a descriptor call.
            e = entry(fields, cols, name, start + 1, problems, slot[0])
            if e is not None:
                slot[1].append(e)
                slot[2].extend((top | start, offsets[start], h))
        if reader.unchecked:
            problems += reader.unchecked_problems()
        if name == journal_name:
            online.update(cid for cid, slot in slots.items() if slot.entries and slot.entries[-1].path == name)
    return slots, online


MASK = st.ROW_HASH_MASK


def shard_of(customer_id: str, shards: int) -> int:
    """The worker a customer's rows belong to."""
    return zlib.crc32(customer_id.encode()) % shards if shards > 1 else 0


def _validate_shard(slots: dict[str, Slot], problems) -> tuple[list, Invoices, list[tuple]]:
    """Each customer's checks (checks.validate) and an invoice number twice in this shard: (the
    applies_to left to settle across shards, the shard's invoices, each slot's invoice numbers)."""
    unresolved: list = []
    refs: list[tuple] = []  # each slot's invoice numbers, in the slots' order
    # The shard's invoices as Invoices wants them, gathered while each customer's are at hand (in
    # the processor's cache); a number found twice is looked for once at the end, in C (measured:
    # a table of the numbers kept up to date customer by customer waited on memory at each).
    numbers: list[str] = []
    owners: list[str] = []
    paths: list[str] = []
    lines = array("I")
    for c, entries, _ in slots.values():
        own = checks.validate(c.id, entries, problems, unresolved)
        refs.append(tuple(own))
        if own:
            numbers += own
            owners += [c.id] * len(own)
            for e in own.values():
                paths.append(e.path)
                lines.append(e.line)
    if len(set(numbers)) == len(numbers):
        return unresolved, Invoices(numbers, owners, paths, lines), refs
    first: dict[str, int] = {}  # each invoice number's earliest place (by file and line) in the lists
    for i, ref in enumerate(numbers):
        j = first.setdefault(ref, i)
        if j != i:
            problems.append(checks.duplicate_invoice(ref, (paths[j], lines[j]), (paths[i], lines[i])))
            if (paths[i], lines[i]) < (paths[j], lines[j]):
                first[ref] = i
    kept = first.values()
    return unresolved, Invoices(list(first), [owners[i] for i in kept], [paths[i] for i in kept],
                                array("I", [lines[i] for i in kept])), refs


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


def stage_shared(settings: Settings, pages: list, staging: Path) -> None:
    """Stage the landing page, content pages, stylesheet, robots.txt: the site's pages that are no customer's."""
    for rel, text in SiteRenderer(settings, pages).shared_pages().items():
        write_file(staging, rel, text)
