"""The build, start to end: settings → ledger → statements → the published site and staff files."""
from __future__ import annotations

import fcntl
import gc
import hashlib
import logging
import os
import sys
import threading
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from .. import native
from ..core import aging
from ..core.signing import Signer, load_keys
from ..core.timing import note, phase, report_memory
from ..ledger import online as online_payments
from ..ledger import reading as ledger
from ..ledger.settings import Settings
from . import aging_report as report
from . import linediff
from . import state as st
from .changes import changed_inputs
from .context import Context
from .full import full
from .incremental import TooManyChanged, incremental
from .links import write_links
from .publish import Publisher
from .render import compile_templates, content_pages, input_files

log = logging.getLogger(__name__)
PACKAGE = Path(__file__).resolve().parent.parent  # the portal package: its code is part of every page's inputs


@dataclass
class Result:
    """What a build did, for the summary."""

    mode: str = "full"
    customers: int = 0
    written: int = 0  # statement pages written or removed
    receivables: dict = field(default_factory=dict)  # currency -> (balance, overdue)
    seconds: float = 0.0
    rolled_forward: bool = False
    # What is wrong with rows the payment service recorded (a customer since removed from
    # customers.csv, say): said, never a reason to refuse the build.
    warnings: list = field(default_factory=list)
    # Rewritten files read by comparing their lines with the copy as last indexed (linediff), not scanned.
    compared: list = field(default_factory=list)

    @property
    def unchanged(self) -> int:
        return self.customers - self.written if self.mode != "full" else 0


def build(settings: Settings, as_of: date | None = None, full_build: bool = False, workers: int | None = None,
          progress=None) -> Result:
    """Build or bring up to date the public site and staff files. Raises InputError on bad input.

    One build at a time per project: staff builds and the payment service's rebuilds take turns.
    """
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    with open(settings.state_dir / "build.lock", "w") as lock, _no_cycle_collection():
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _build(settings, as_of, full_build, workers, progress)


@contextmanager
def _no_cycle_collection():
    """The cyclic garbage collector off for a build: its state is ~10^6 objects without cycles,
    which each full collection walks (measured at 100,000 customers: 0.07 s of a 1.4 s incremental
    build, in 266 collections). What few cycles a build makes are collected once it is on again."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _build(settings, as_of, full_build, workers, progress) -> Result:
    started = time.perf_counter()
    note(f"hot modules: {native.running()}")
    as_of = as_of or date.today()
    publisher = Publisher(settings.out)
    result = Result(rolled_forward=publisher.recover())
    with phase("import exports"):  # content/exports/ -> content/imported/, when an export changed
        imported = import_exports(settings)
    result.warnings += imported
    signer = Signer(load_keys(settings.state_dir))
    gdigest = global_digest(settings, as_of, signer)
    copy_writer = linediff.CopyWriter(settings.state_dir)
    pages = content_pages(settings, kept_as=gdigest, fresh=full_build)
    ctx = Context(settings, as_of, signer, gdigest, pages, publisher, workers, result.warnings, copies=copy_writer)
    head = None if full_build else st.load_head(settings.state_dir)
    if head and (head.global_digest != gdigest or head.out != str(settings.out) or not settings.out.is_dir()
                 or head.refreshed_as_of):  # some pages are as of a later day than the others: all again
        head = None
    body = stored = deltas = None
    if head is not None:
        last = head
        loaded: list[st.Stored | None] = []

        def load_state() -> None:  # while a changed file is hashed: it is wanted unless nothing changed
            with phase("load state"):
                loaded.append(st.Stored.load(settings.state_dir, last))
                if loaded[0] is not None:
                    try:
                        loaded[0].load_pages()
                    except st.Incomplete:
                        pass  # incremental() asks again and does a full build
        changes = changed_inputs(settings, head, load_state)
        sigs = changes.sigs
        if not changes.any:
            contacts = report.inputs_signature(settings)
            if contacts != head.contacts or not report.report_path(settings.staff_dir, None)[0].exists():
                with phase("aging report"):
                    unchanged = st.load_body(settings.state_dir, head)
                    # st.save writes the body before its head; one lost since (the state is only a cache)
                    # stops the build here.
                    assert unchanged is not None
                    report.write(settings, as_of, head.totals, unchanged)
            if sigs != head.files or contacts != head.contacts:  # touched but identical: remember the new times
                head.files, head.contacts = sigs, contacts
                st.save(settings.state_dir, head, None)  # the body stays valid: see load_body
            return _done(result, head, started, "no change")
        if not loaded:
            load_state()
        stored = loaded[0]
    if stored is not None:
        assert head is not None  # stored is the state this head was written with
        result.mode = "incremental"
        try:
            body, result.written, totals, touched = incremental(ctx, stored, head.totals, changes)
            deltas = stored.deltas(body, touched)
            result.compared = sorted(ctx.read)
        except (TooManyChanged, st.Incomplete):  # most pages change (or the state lacks a part): in full
            body, result.mode, result.warnings[:] = None, "full", imported
        finally:
            copy_writer.join()  # no thread may run when the save forks
    names = {ledger.rel(p, settings): p for p in ledger.entry_files(settings)}
    if body is None:
        def while_workers_work(files: dict, hashed: dict) -> None:  # the copies are pruned with the state
            with phase("copies of the entry files, while the workers work"):
                linediff.keep_copies(settings.state_dir, files, names, ctx.read, prune=False, hashed=hashed)
            with phase("templates compiled, while the workers work"):
                compile_templates(settings)
        body, sigs, result.written, totals = full(ctx, progress, meanwhile=while_workers_work)
    head = st.Head(global_digest=gdigest, out=str(settings.out), files=sigs, totals=totals,
                   customers=len(body.pages), as_of=as_of.isoformat(), contacts=report.inputs_signature(settings))

    ids = sorted(body.pages)

    def copies():
        with phase("copies of the entry files (for the next build's line comparison)"):
            linediff.keep_copies(settings.state_dir, head.files, names, ctx.read)

    found = report.contacts(settings, as_of, body)

    def links():
        with phase("links.csv"):
            write_links(settings, body.pages, st.LINK_ROWS, ids)

    def aging_csv():
        with phase("aging.csv"):
            report.write_csv(settings, as_of, body, found, ids=ids)

    def report_page_and_more():
        with phase("aging report"):
            report.write_html(settings, as_of, totals, body, found)
        if deltas is None:
            copies()
            aging_csv()
        else:
            links()

    def state_and_more():
        st.save(settings.state_dir, head, body, deltas)
        # A state saved as deltas takes ~0.03 s, and an incremental build's copies were written
        # while it rendered (linediff.CopyWriter): then aging.csv and the copies go to this half.
        if deltas is None:
            links()
        else:
            aging_csv()
            copies()

    # Two halves of a similar time: after a full build at 100,000 customers, the aging report's
    # page (0.13 s), the copies (0.12 s) and aging.csv (0.19 s) beside the state (0.3 s) and
    # links.csv (0.04 s); after an incremental one, the page and links.csv beside the rest.
    with phase("save state and staff files"):
        _side_by_side(report_page_and_more, state_and_more)
    report_memory("build")
    return _done(result, head, started)


def refresh(settings: Settings, today: date) -> Result | None:
    """The payment service's page refresh: the pages of customers whose online payments were
    recorded since the last build, and nothing else. Never a full build, never a fork.

    A page refreshed on a later day than the build's statement date is rendered as of `today`
    (the payment is dated today and must show); the other pages keep the build's date until the
    next staff build, which then renders them all. When anything else changed since the build
    (a staff file, the settings, templates or code) nothing is refreshed: that is the staff
    build's job, and a refresh must not publish half of it. Returns None when nothing was done.
    """
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    with open(settings.state_dir / "build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _refresh(settings, today)


def _refresh(settings: Settings, today: date) -> Result | None:
    started = time.perf_counter()
    head = st.load_head(settings.state_dir)
    if head is None or not settings.out.is_dir():
        log.warning("pages not refreshed: no build yet (run `portal build`)")
        return None
    publisher = Publisher(settings.out)
    publisher.recover()
    signer = Signer(load_keys(settings.state_dir))
    built_on = date.fromisoformat(head.as_of)
    if head.global_digest != global_digest(settings, built_on, signer) or head.out != str(settings.out):
        log.warning("pages not refreshed: the settings, templates or code changed since the last build "
                    "(run `portal build`)")
        return None
    changes = changed_inputs(settings, head)
    payments = ledger.rel(settings.ledger_dir / online_payments.FILE, settings)
    if payments not in changes.changed:
        return None
    staff = [n for n in changes.described() if n != payments]
    if staff:
        log.warning("pages not refreshed after a payment: %s changed since the last build (run `portal build`)",
                    ", ".join(staff))
        return None
    stored = st.Stored.load(settings.state_dir, head)
    if stored is None:
        log.warning("pages not refreshed: the build state is incomplete (run `portal build`)")
        return None
    as_of = max(today, built_on)
    result = Result(mode="refresh")
    ctx = Context(settings, as_of, signer, global_digest(settings, as_of, signer), content_pages(settings),
                  publisher, workers=1, warnings=result.warnings)  # the payment service never forks
    try:
        body, result.written, totals, touched = incremental(ctx, stored, head.totals, changes)
    except (TooManyChanged, st.Incomplete) as e:  # the payment file rewritten, say: the staff build's job
        log.warning("pages not refreshed after a payment: %s (run `portal build`)", e)
        return None
    for w in result.warnings:
        log.warning("%s", w)
    head.files, head.totals, head.customers = changes.sigs, totals, len(body.pages)
    if as_of != built_on:
        head.refreshed_as_of = as_of.isoformat()

    ids = sorted(body.pages)

    deltas = stored.deltas(body, touched)

    def state_and_links():
        st.save(settings.state_dir, head, body, deltas)
        write_links(settings, body.pages, st.LINK_ROWS, ids)

    _side_by_side(lambda: report.write(settings, built_on, totals, body, ids=ids), state_and_links, fork=False)
    return _done(result, head, started)


def _side_by_side(child, parent, fork: bool | None = None) -> None:
    """Run `child` in a forked process while this one runs `parent`; raise if either fails.

    The staff files and the build state are written from the same finished data: split in two
    halves of a similar time, side by side on two cores, a build waits for one half instead of both.
    Only in a single-threaded process (the CLI): forking one with other threads (the payment
    service's) could copy a lock another thread holds.
    """
    if fork is None:
        fork = threading.active_count() == 1 and hasattr(os, "fork")
    if not fork:
        parent()
        child()
        return
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: never returns into the caller's code
        status = 1
        try:
            child()
            status = 0
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(status)
    try:
        parent()
    finally:
        _, status = os.waitpid(pid, 0)
    if status != 0:
        raise RuntimeError("writing the aging report failed: see the error above")


def _done(result: Result, head: st.Head, started: float, mode: str | None = None) -> Result:
    result.mode = mode or result.mode
    result.customers = head.customers
    result.receivables = {c: (v[aging.BALANCE], v[aging.OVERDUE]) for c, v in st.read_totals(head.totals).items()}
    result.seconds = time.perf_counter() - started
    return result


def check(settings: Settings, as_of: date | None = None, workers: int | None = None,
          warnings: list | None = None) -> int:
    """Read and validate everything, publish nothing (exports that changed are imported, as a build
    imports them: content/imported/ is what the ledger is read from). Returns the number of customers."""
    found = import_exports(settings)
    if warnings is not None:
        warnings += found
    signer = Signer(load_keys(settings.state_dir))
    body, _, _, _ = full(Context(settings, as_of or date.today(), signer, workers=workers,
                                 warnings=[] if warnings is None else warnings))
    return len(body.customer_lines)


def import_exports(settings: Settings) -> list:
    """Bring content/imported/ up to date with content/exports/; its warnings. The import code is
    loaded only where there are exports (or were): most projects keep their ledger as CSV."""
    if not ledger.has_exports(settings):
        return []
    from ..imports import run as imports
    return imports.bring_up_to_date(settings).warnings


def global_digest(settings: Settings, as_of: date, signer: Signer) -> str:
    """A digest of everything every page depends on besides its own rows."""
    h = hashlib.sha256()
    h.update(f"{as_of}|{settings.out}|{settings.checkout_origin}|{signer.link_token('', 0)}\n".encode())
    h.update(settings.raw.encode())
    for p in code_files():
        h.update(str(p.relative_to(PACKAGE)).encode())
        h.update(p.read_bytes())
    for p in input_files(settings):
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def code_files() -> list[Path]:
    """Every module of the package, in a stable order: a change to any of them renders every page
    again (no hand-kept list that a new module could be missing from)."""
    return sorted(PACKAGE.rglob("*.py"))


def write_report(settings: Settings, as_of: date | None = None) -> tuple[Path, Path, dict]:
    """The aging report as of a date, without touching the site: from the last build's state when it
    is current for that date, otherwise from a read of the whole ledger. With no date: today's,
    replacing the build's aging.html/.csv; with one, aging-<date>.html/.csv beside them.

    Returns (html path, csv path, {currency: figures vector}).
    """
    day = as_of or date.today()
    signer = Signer(load_keys(settings.state_dir))
    head = st.load_head(settings.state_dir)
    body = None
    if (head is not None and head.as_of == day.isoformat()
            and head.global_digest == global_digest(settings, day, signer) and not changed_inputs(settings, head).any):
        body, totals = st.load_body(settings.state_dir, head), head.totals
    if body is None:
        body, _, _, totals = full(Context(settings, day, signer), figures_only=True)
    html_path, csv_path = report.write(settings, day, totals, body, dated=as_of is not None)
    return html_path, csv_path, st.read_totals(totals)
