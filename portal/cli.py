"""The `portal` command: build, check, link, serve."""
from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
from dataclasses import replace
from datetime import UTC, date
from pathlib import Path
from typing import NoReturn

from .core.errors import PortalError
from .core.records import InputError


def entry(argv: list[str] | None = None) -> NoReturn:
    """The command's process: main, then out without freeing the heap object by object (a build of
    100,000 customers holds ~10^6 objects: ~0.05 s of teardown at exit, for nothing). Output and
    logs are flushed first; with another thread still running (the payment service's), the
    ordinary exit, which waits for what should be waited for."""
    status = main(argv)
    if threading.active_count() > 1:
        sys.exit(status)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    parser = argparse.ArgumentParser(prog="portal", description="AR statement portal")
    parser.add_argument("--root", default=".", help="project folder holding content/ (default: .)")
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build the statement site from the ledger")
    b.add_argument("--as-of", type=_date, help="statement date, YYYY-MM-DD (default: today)")
    b.add_argument("--full", action="store_true", help="rebuild every page")
    b.add_argument("--out", type=Path, help="public site folder (default: site/)")
    b.add_argument("--workers", type=int, help="worker processes (default: one per core)")
    b.add_argument("-q", "--quiet", action="store_true", help="no progress, summary only")
    c = sub.add_parser("check", help="validate the ledger and settings; write nothing")
    c.add_argument("--as-of", type=_date)
    im = sub.add_parser("import", help="read the exports in content/exports/ into content/imported/ (a build does too)")
    im.add_argument("--detect", metavar="FILE", type=Path, help="only say which export FILE is and how it is read")
    ln = sub.add_parser("link", help="print a customer's statement URL")
    ln.add_argument("customer_id")
    no = sub.add_parser("note", help="log a call, note or promise to pay in contacts.csv")
    no.add_argument("customer_id")
    no.add_argument("text")
    no.add_argument("--channel", default="note", choices=["note", "call", "email", "letter"])
    no.add_argument("--promise-date", type=_date, help="the day the customer promised to pay by")
    no.add_argument("--promise-amount", help="how much they promised (in their currency)")
    rp = sub.add_parser("report", help="write the aging report (staff/aging.html and .csv) without rebuilding the site")
    rp.add_argument("--as-of", type=_date, help="as of this day (default: today); writes aging-<date>.html/.csv")
    rm = sub.add_parser("remind", help="reminder emails for overdue accounts: preview in staff/outbox/, or --send")
    rm.add_argument("--as-of", type=_date, help="which items are overdue as of this day (default: today)")
    rm.add_argument("--send", action="store_true", help="send through [smtp] and log each in contacts.csv")
    rm.add_argument("--only", nargs="+", metavar="CUSTOMER", help="only these customers")
    sy = sub.add_parser("sync", help="apply Stripe events that webhooks missed (events are kept 30 days)")
    sy.add_argument("--since", type=_date, help="from this day (default: 3 days ago)")
    rc = sub.add_parser("reconcile", help="reconcile Stripe payouts with the ledger; write staff/reconcile-*.html/.csv")
    rc.add_argument("--since", type=_date, help="payouts arriving from this day (default: 30 days before --until)")
    rc.add_argument("--until", type=_date, help="payouts arriving up to this day (default: today)")
    s = sub.add_parser("serve", help="serve the site (and payment routes) locally")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        return COMMANDS[args.command](args)
    except InputError as e:
        for p in e.problems:
            print(p, file=sys.stderr)
        n = e.count  # the lines above may end a file's list with "and 1,234 more problems like …"
        print(f"{n:,} problem{'s' if n != 1 else ''} found; nothing was written.", file=sys.stderr)
        return e.exit_code
    except PortalError as e:  # configuration, a stale build state, Stripe unreachable, a run in progress
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code


def _settings(args):
    from .ledger import settings
    s = settings.load(args.root)
    if getattr(args, "out", None):
        s = replace(s, out=Path(args.out).resolve())
    return s


def cmd_build(args) -> int:
    from .build.run import build
    from .core.money import fmt
    s = _settings(args)
    progress = None if args.quiet or not sys.stderr.isatty() else _progress
    r = build(s, args.as_of, full_build=args.full, workers=args.workers, progress=progress)
    if progress:
        print(file=sys.stderr)
    if r.rolled_forward:
        print("Finished publishing an interrupted build first.")
    _warn(r.warnings)
    print(f"{r.customers} customers · {r.written} page{'s' if r.written != 1 else ''} written · "
          f"{r.unchanged} unchanged · {r.mode} build in {r.seconds:.2f} s")
    for cur, (bal, overdue) in r.receivables.items():
        print(f"  receivables {cur}: {fmt(bal, cur)} (overdue {fmt(overdue, cur)})")
    print(f"Site: {_show(s.out)}   Staff links: {_show(s.staff_dir / 'links.csv')}")
    return 0


def cmd_check(args) -> int:
    from .build.run import check
    warnings: list = []
    n = check(_settings(args), args.as_of, warnings=warnings)
    _warn(warnings)
    print(f"ledger OK: {n} customers, no problems")
    return 0


def cmd_import(args) -> int:
    from .imports import run as imports
    from .imports.profile import FIELDS
    s = _settings(args)
    if args.detect:
        records, problems = imports.read_export(args.detect, str(args.detect))
        if problems:
            raise InputError(problems)
        found = imports.detect(records)
        if not found:
            print(f"{args.detect}: not an export this portal knows (see the README, 'Importing exports')")
            return 1
        p = found[0]
        print(f"{args.detect}: {p.title} (preset {p.name!r}; made in the product at: {p.how})")
        print(f"  detected without settings; to name it, or to change a key, in content/settings.toml:\n"
              f"  [import]\n  preset = \"{p.name}\"\n  date_format = \"{p.date_format}\"")
        for ours, theirs in p.columns.items():
            print(f"  {theirs!r} -> {ours}: {FIELDS[ours]}")
        owed = f"; not owed: {', '.join(sorted(p.not_owed))}" if p.not_owed else ""
        print(f"  dates read as {p.date_format}{owed}")
        for note in p.notes:
            print(f"  - {note}")
        return 0
    result = imports.bring_up_to_date(s)
    _warn(result.warnings)
    for name, preset in sorted(result.presets.items()):
        print(f"imported content/exports/{name} as {imports.PRESETS[preset].title}")
    if not result.changed:
        print("no export changed since the last import")
    return 0


def _warn(warnings: list) -> None:
    """What the statements were made despite: rows the payment service recorded that they cannot use
    as they are, amounts [ledger] round_amounts rounded. Said, never fatal."""
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)
    if warnings:
        print(f"{len(warnings)} warning{'s' if len(warnings) != 1 else ''} (they never stop a build; see the README, "
              "'Warnings')", file=sys.stderr)


def _customer(s, customer_id: str):
    """A customer from customers.csv, or InputError naming what is wrong."""
    from .core.records import Problem
    from .ledger import reading as ledger
    customers, _, _, problems = ledger.read_customers(s)
    if problems:
        raise InputError(problems)
    c = customers.get(customer_id)
    if c is None:
        raise InputError([Problem(ledger.rel(ledger.customers_path(s), s), 0, f"no customer {customer_id!r}")])
    return c


def cmd_link(args) -> int:
    from .core.signing import Signer, load_keys, statement_url
    s = _settings(args)
    c = _customer(s, args.customer_id)
    print(statement_url(s.base_url, Signer(load_keys(s.state_dir)).link_token(c.id, c.link_version)))
    return 0


def cmd_serve(args) -> int:
    from .web.app import create_app
    app = create_app({"PORTAL_ROOT": args.root})
    print(f"Serving {_show(app.extensions['portal.settings'].out)} at http://{args.host}:{args.port}/ (Ctrl-C stops)")
    app.run(host=args.host, port=args.port, debug=False)
    return 0


def _gateway(s):
    """The Stripe gateway from the environment, or None after saying what to set."""
    import os

    from .core.clock import zone
    from .pay.gateway import Gateway
    key = os.environ.get("STRIPE_SECRET_KEY", "")
    if not key:
        print("error: set STRIPE_SECRET_KEY (and STRIPE_API_BASE for a local Stripe-compatible server)",
              file=sys.stderr)
        return None
    return Gateway(key, "", os.environ.get("STRIPE_API_BASE") or None, zone(s.timezone))


def cmd_sync(args) -> int:
    from datetime import datetime, timedelta

    from .build.run import build
    from .pay.fulfil import HANDLED, fulfiller_for
    s = _settings(args)
    gateway = _gateway(s)
    if gateway is None:
        return 2
    since = args.since or (date.today() - timedelta(days=3))
    start = int(datetime(since.year, since.month, since.day, tzinfo=UTC).timestamp())
    fulfiller = fulfiller_for(s, gateway, lambda: None)
    events = gateway.events_since(start, list(HANDLED))
    recorded = []
    for event in events:
        recorded += fulfiller.event(event.object_type, event.object_id)
    if recorded:
        build(s)
    print(f"{len(events)} events since {since}; {len(recorded)} ledger rows recorded that webhooks had missed")
    for row in recorded:
        print(f"  {row.customer_id} {row.type} {row.ref} {row.amount} {row.currency} {row.status}")
    return 0


def cmd_note(args) -> int:
    from .core.money import MoneyError, parse_amount
    from .core.records import Problem
    from .ledger import contacts
    s = _settings(args)
    c = _customer(s, args.customer_id)
    if bool(args.promise_date) != bool(args.promise_amount):
        raise InputError([Problem("portal note", 0, "a promise needs both --promise-date and --promise-amount")])
    amount = None
    if args.promise_amount:
        try:
            amount = parse_amount(args.promise_amount, c.currency)
        except MoneyError as e:
            raise InputError([Problem("portal note", 0, f"--promise-amount: {e} (expected e.g. 250.00)")]) from None
        if amount <= 0:
            raise InputError([Problem("portal note", 0, "--promise-amount must be positive")])
    entry = contacts.Contact(date.today(), c.id, args.channel, args.text, promise_date=args.promise_date,
                             promise_amount=amount, currency=c.currency if amount is not None else "")
    contacts.append(s.ledger_dir, [entry])
    promise = f"; promise of {amount} {c.currency} by {args.promise_date}" if amount is not None else ""
    print(f"logged {args.channel} for {c.id} ({c.name}){promise}")
    return 0


def cmd_report(args) -> int:
    from .build.run import write_report
    from .core import aging
    from .core.money import fmt
    s = _settings(args)
    html_path, csv_path, totals = write_report(s, args.as_of)
    for cur, v in totals.items():
        dso = aging.countback_dso(v[aging.BALANCE], v[aging.SALES:], args.as_of or date.today())
        print(f"  {cur}: receivables {fmt(v[aging.BALANCE], cur)}, overdue {fmt(v[aging.OVERDUE], cur)}, "
              f"over 90 days {fmt(v[aging.BUCKET['90+']], cur)}, "
              f"DSO {'over 12 months' if dso is None else f'{dso} days'}")
    print(f"Report: {_show(html_path)}   CSV: {_show(csv_path)}")
    return 0


def cmd_reconcile(args) -> int:
    from .pay.gateway import GatewayError
    from .staff.reconcile import summary
    from .staff.reconcile_io import default_range, run
    s = _settings(args)
    gateway = _gateway(s)
    if gateway is None:
        return 2
    since, until = default_range(args.since, args.until, date.today())
    if since > until:
        print(f"error: --since {since} is after --until {until}", file=sys.stderr)
        return 2
    try:
        report, out = run(s, gateway, since, until)
    except GatewayError as e:
        raise GatewayError(f"{e}; nothing was written") from e
    for line in summary(report):
        print(line)
    print(f"Report: {_show(out.html)}   CSV: {_show(out.csv)}   Journal: {_show(out.journal)}")
    if out.earlier:
        print(f"The earlier report of this range is kept as {out.earlier.html.name} (with its CSV and journal).")
    problems = report.problems()
    if problems:
        n = len(problems)
        print(f"{n} problem{'s' if n != 1 else ''}: take the numbered steps at the top in order, then reconcile again",
              file=sys.stderr)
        return 1
    return 0


def cmd_remind(args) -> int:
    from .staff.dunning import remind, summary
    s = _settings(args)
    report = remind(s, args.as_of or date.today(), send=args.send, only=args.only or ())
    for line in summary(report, s):
        print(line, file=sys.stderr if line.startswith(("error:", "refused:")) else sys.stdout)
    return 0 if report.ok else 1


COMMANDS = {"build": cmd_build, "check": cmd_check, "link": cmd_link, "serve": cmd_serve, "sync": cmd_sync,
            "note": cmd_note, "report": cmd_report, "reconcile": cmd_reconcile, "remind": cmd_remind,
            "import": cmd_import}


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (expected YYYY-MM-DD)") from None


def _progress(done: int, total: int) -> None:
    print(f"\r  rendering statements: {done:,}/{total:,}", end="", file=sys.stderr, flush=True)


def _show(p: Path) -> str:
    try:
        return str(p.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(p)
