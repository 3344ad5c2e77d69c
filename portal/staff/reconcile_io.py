"""`portal reconcile`'s reading and writing: Stripe and the ledger in, three staff files out.

Everything is read and checked before anything is written; the HTML page, the CSV of balance
transactions and the accounting journal are then each replaced atomically in the staff folder
(never inside the public site). A report made earlier for the same range is kept, renamed with
the time it was made. The ledger, and the payments the payment service set aside beside it, are
only read.
"""
from __future__ import annotations

import csv
import io
import os
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from ..build.publish import write_atomic
from ..build.render import environment
from ..core.cells import safe_cell
from ..core.money import fmt, plain
from ..core.records import InputError, Problem
from ..ledger import reading as ledger
from ..ledger.online import FILE, SET_ASIDE_FILE, SetAside, read_set_aside
from ..ledger.settings import Settings
from ..pay.gateway import Gateway
from .reconcile import (
    NOT_PAID_OUT,
    Posting,
    Recorded,
    Report,
    awaiting_payout,
    journal,
    left_out,
    reconcile,
    recorded,
    steps,
)

TEMPLATE = "staff/reconcile.html"
CSV_COLUMNS = ("payout", "arrival_date", "balance_transaction", "type", "reporting_category", "source",
               "payment_intent", "customer_id", "customer_name", "currency", "gross", "fee", "net",
               "ledger_status", "ledger_amount", "ledger_row", "note")
JOURNAL_COLUMNS = ("date", "journal", "account", "debit", "credit", "currency", "memo")
# A ref in a staff file that names a Stripe PaymentIntent, refund or dispute (`pi_…/INV-1` too).
STRIPE_ID = re.compile(r"(pi|re|pyr|dp|du)_[A-Za-z0-9]+(/.*)?")


@dataclass(frozen=True)
class Written:
    html: Path
    csv: Path
    journal: Path
    earlier: Written | None = None  # the same range's earlier report, kept under the time it was made


def read_recorded(settings: Settings) -> tuple[dict[str, Recorded], dict[str, str]]:
    """(the ledger's online payments and reversals by Stripe id, customer names); InputError if unreadable.

    Every entry file is read: besides the payment service's own file, staff may have recorded a
    payment by hand under its PaymentIntent id (when Stripe no longer has the event to sync).
    """
    customers, _, _, problems = ledger.read_customers(settings)
    entries = []
    if not problems:
        reader = ledger.EntryReader(settings, customers)
        for path in ledger.entry_files(settings):
            if path.name == SET_ASIDE_FILE:
                continue  # not ledger entries: read_set_aside reads it
            name = ledger.rel(path, settings)
            lines, cols, found = reader.open(path, name)
            problems += found
            if found or cols is None:  # no columns without a problem found
                continue
            ours = path.name == FILE
            for i, fields in ledger.records(lines, 1, name, problems):
                e = reader.entry(fields, cols, name, i + 1, problems)
                if e is not None and (ours or STRIPE_ID.fullmatch(e.ref)):
                    entries.append(e)
        problems += reader.warnings  # a row the payment service recorded that cannot be read: say so
    if problems:
        raise InputError(problems)
    return recorded(entries), {cid: c.name for cid, c in customers.items()}


def fetch(gateway: Gateway, since: date, page_size: int = 100) -> list:
    """Payouts arriving from `since` on (later ones too: what they carried is not "waiting"), with
    their transactions; None for a manual payout, whose transactions Stripe does not list."""
    return [(p, gateway.payout_lines(p.id, page_size) if p.automatic else None)
            for p in gateway.payouts(_midnight(since), page_size=page_size)]


def run(settings: Settings, gateway: Gateway, since: date, until: date,
        page_size: int = 100) -> tuple[Report, Written]:
    """Reconcile payouts arriving in [since, until] and write the three staff files (keeping the
    files of an earlier run over the same range, see `keep_earlier`)."""
    problems: list[Problem] = []
    recs: dict[str, Recorded] = {}
    names: dict[str, str] = {}
    aside: dict[str, SetAside] = {}
    try:
        recs, names = read_recorded(settings)
    except InputError as e:
        problems += e.problems
    try:
        aside = read_set_aside(settings.ledger_dir, settings.root)
    except InputError as e:
        problems += e.problems
    if problems:
        raise InputError(problems)
    payouts = fetch(gateway, since, page_size)
    waiting = awaiting_payout(payouts, recs, since, until)
    funds = {r.stripe_id: gateway.funds(r.stripe_id) for r in waiting if r.kind == "payment"}
    report = reconcile(payouts, recs, since, until, funds, aside)
    stem = f"{since.isoformat()}-{until.isoformat()}"
    out = _names(settings.staff_dir, stem)
    postings = journal(report)
    texts = {out.html: render_html(settings, report, postings, names, out),
             out.csv: render_csv(report, names), out.journal: render_journal(postings)}
    out = Written(out.html, out.csv, out.journal, keep_earlier(settings.staff_dir, stem))
    for path, text in texts.items():
        write_atomic(path, text)
    return report, out


def _names(folder: Path, stem: str, made: str = "") -> Written:
    tail = f".made-{made}" if made else ""
    return Written(folder / f"reconcile-{stem}{tail}.html", folder / f"reconcile-{stem}{tail}.csv",
                   folder / f"reconcile-journal-{stem}{tail}.csv")


def keep_earlier(folder: Path, stem: str) -> Written | None:
    """Rename an earlier run's files for the same range with the time it was made (UTC, as its page
    says), e.g. `reconcile-<since>-<until>.made-20261125-140312.html`, its page's links following.

    Reconciling again is the usual next step (after `portal sync`, after a correction), so it is
    never refused; and the earlier run is what staff saw and what an accountant may already have
    imported, so it is never overwritten.
    """
    out = _names(folder, stem)
    present = [p for p in (out.html, out.csv, out.journal) if p.exists()]
    if not present:
        return None
    made = datetime.fromtimestamp(present[0].stat().st_mtime, UTC).strftime("%Y%m%d-%H%M%S")
    kept, n = _names(folder, stem, made), 1
    while any(p.exists() for p in (kept.html, kept.csv, kept.journal)):
        n += 1
        kept = _names(folder, stem, f"{made}-{n}")
    if out.html.exists():
        page = out.html.read_text(encoding="utf-8")
        page = page.replace(out.journal.name, kept.journal.name).replace(out.csv.name, kept.csv.name)
        write_atomic(kept.html, page)
    for old, new in ((out.csv, kept.csv), (out.journal, kept.journal)):
        if old.exists():
            os.replace(old, new)
    return kept


def render_csv(report: Report, names: dict[str, str]) -> str:
    """One row per balance transaction of each payout, then one per recorded payment not yet paid out."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for pr in report.payouts:
        p = pr.payout
        for ln in pr.lines:
            t, rec = ln.txn, ln.ledger
            w.writerow([safe_cell(p.id), p.arrival.isoformat(), safe_cell(t.id), safe_cell(t.type),
                        safe_cell(t.category), safe_cell(t.source_id), safe_cell(t.payment_intent),
                        safe_cell(ln.customer_id), safe_cell(names.get(ln.customer_id, "")), t.currency,
                        plain(t.amount, t.currency), plain(t.fee, t.currency), plain(t.net, t.currency),
                        ln.status, plain(rec.amount, rec.currency) if rec else "", safe_cell(rec.where) if rec else "",
                        safe_cell(ln.note)])
    for u in report.unpaid:
        r = u.rec
        w.writerow(["", "", "", safe_cell(r.kind), "", safe_cell(r.stripe_id),
                    safe_cell(r.stripe_id) if r.kind == "payment" else "", safe_cell(r.customer_id),
                    safe_cell(names.get(r.customer_id, "")), r.currency, "", "", "", NOT_PAID_OUT,
                    plain(r.amount, r.currency), safe_cell(r.where), safe_cell(u.note)])
    return buf.getvalue()


def render_journal(postings: list[Posting]) -> str:
    """The accounting journal: one balanced entry per payout, for an accountant to import."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(JOURNAL_COLUMNS)
    for j in postings:
        w.writerow([j.day.isoformat(), safe_cell(j.payout), safe_cell(j.account),
                    plain(j.debit, j.currency) if j.debit else "", plain(j.credit, j.currency) if j.credit else "",
                    j.currency, safe_cell(j.memo)])
    return buf.getvalue()


def render_html(settings: Settings, report: Report, postings: list[Posting], names: dict[str, str],
                out: Written) -> str:
    template = environment(settings).get_template(TEMPLATE)
    # Each step as its parts, a command (between backquotes) at every odd index.
    todo = [re.split(r"`([^`]*)`", step) for step in steps(report)]
    return template.render(r=report, postings=postings, names=names, fmt=fmt, problems=report.problems(),
                           steps=todo, left_out=left_out(report),
                           company=settings.company.get("name", ""), csv_name=out.csv.name,
                           journal_name=out.journal.name,
                           made=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"))


def _midnight(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


def default_range(since: date | None, until: date | None, today: date) -> tuple[date, date]:
    """--until defaults to today, --since to 30 days before --until."""
    until = until or today
    return since or until - timedelta(days=30), until
