"""`portal remind`: decide who is due a reminder, then preview their emails in the outbox or send them.

Candidates come from the last build's page records (only a positive balance can need a
reminder), so a large book is not recomputed; their rows are then read where the build indexed
them, a chunk of customers at a time.
"""
from __future__ import annotations

import fcntl
import os
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from ..build import lookup, state
from ..core.errors import Busy, ConfigError
from ..core.records import InputError, Problem
from ..core.signing import Signer, load_keys
from ..ledger import contacts
from ..ledger.reading import customers_path, rel
from ..ledger.settings import Settings
from . import mailer
from .reminders import REASONS, Stage, check_stages, decide, parse_stage

CHUNK = 5000  # customers whose rows are read together: bounds memory on a large book
PASSWORD_ENV = "PORTAL_SMTP_PASSWORD"


@dataclass
class Report:
    """What a run did, for the summary."""

    sent: bool = False
    letters: list[tuple[str, str]] = field(default_factory=list)  # (customer, stage) previewed or sent
    stages: list[str] = field(default_factory=list)  # stage names, earliest first
    skipped: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # reason -> [(customer, detail)]
    owing_nothing: int = 0
    outbox: Path | None = None
    refused: list[tuple[str, str, str]] = field(default_factory=list)  # (customer, recipient, why)
    failure: str = ""

    @property
    def ok(self) -> bool:
        return not (self.failure or self.refused)


def load_stages(settings: Settings) -> list[Stage]:
    """Every stage in content/reminders/, or InputError naming each problem's file and line."""
    folder = settings.content_dir / "reminders"
    stages, problems = [], []
    for path in sorted(folder.glob("*.md")):
        name = rel(path, settings)
        try:
            text = path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError:
            problems.append(Problem(name, 0, "not UTF-8 text"))
            continue
        stage, found = parse_stage(text, name)
        problems += found
        if stage is not None:
            stages.append(stage)
    if not problems:
        problems = check_stages(stages, rel(folder, settings))
    if problems:
        raise InputError(problems)
    return stages


def remind(settings: Settings, as_of: date, send: bool = False, only=(), environ=os.environ) -> Report:
    """Preview (write the outbox, log nothing) or send (log each message as the server takes it)."""
    stages = load_stages(settings)
    password = ""
    if send:
        if settings.smtp is None:
            raise ConfigError("no [smtp] section in the settings (host, port, starttls, user: see README, Reminders)")
        password = environ.get(PASSWORD_ENV, "")
        if settings.smtp.user and not password:
            raise ConfigError(f"[smtp] user is {settings.smtp.user!r}: set {PASSWORD_ENV} to its password")
    # One run at a time: two would both read the log before either sent, and send the same reminders.
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    with open(settings.state_dir / "remind.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Busy("another `portal remind` is running in this project: let it finish") from None
        return _run(settings, as_of, send, only, stages, password)


def _run(settings: Settings, as_of: date, send: bool, only, stages: list[Stage], password: str) -> Report:
    body = lookup.current_state(settings)
    if only:
        unknown = [cid for cid in only if cid not in body.customer_lines]
        if unknown:
            raise InputError([Problem(rel(customers_path(settings), settings), 0, f"no customer {cid!r}")
                              for cid in unknown])
        ids = sorted(set(only))
    else:
        built = state.load_head(settings.state_dir)
        # The build's records show balances as of its own date: for a later date, an invoice dated
        # after the build can make someone owe who owed nothing then, so everyone is a candidate.
        later = built is None or as_of.isoformat() > built.as_of
        ids = sorted(body.customer_lines if later else lookup.owing(body))
    composer = mailer.Composer(settings, Signer(load_keys(settings.state_dir)))
    log = contacts.read(settings.ledger_dir)
    report = Report(sent=send, stages=[st.slug for st in sorted(stages, key=lambda st: st.days)],
                    owing_nothing=0 if only else len(body.customer_lines) - len(ids))
    now = datetime.now().astimezone()

    def letters():
        for d in _decisions(settings, body, ids, stages, log, as_of):
            if d.skip:
                report.skipped.setdefault(d.skip, []).append((d.customer.id, d.detail))
            else:
                yield composer.letter(d, as_of, now)

    if not send:
        report.outbox, report.letters = mailer.write_outbox(settings.staff_dir, letters())
        return report

    def logged(letter: mailer.Letter) -> None:
        contacts.append(settings.ledger_dir, [contacts.Contact(
            date.today(), letter.customer_id, "email", letter.subject, stage=letter.stage,
            recipient=letter.recipient, items=letter.keys)])

    if settings.smtp is None:  # remind() refuses to send without it before it gets here
        raise ConfigError("no [smtp] section in the settings")
    delivery = mailer.send(settings.smtp, password, letters(), logged)
    report.letters, report.refused = delivery.sent, delivery.refused
    report.failure = delivery.failure
    return report


def _decisions(settings, body, ids, stages, log, as_of):
    """Each customer's decision, from their own contacts: the log grouped once, not read whole per
    customer (100,000 customers and as many logged reminders would be 10^10 comparisons)."""
    theirs: dict[str, list] = {}
    for c in log:
        theirs.setdefault(c.customer_id, []).append(c)
    for start in range(0, len(ids), CHUNK):
        found = lookup.accounts_of(settings, body, ids[start:start + CHUNK], as_of)
        for cid in ids[start:start + CHUNK]:
            customer, accounts = found[cid]
            yield decide(customer, accounts, stages, theirs.get(cid, []), as_of)


def summary(report: Report, settings: Settings, show: int = 20) -> list[str]:
    """The lines `portal remind` prints: what went out (or would), who was skipped and why."""
    lines = []
    by_stage: dict[str, list[str]] = {}
    for cid, stage in report.letters:
        by_stage.setdefault(stage, []).append(cid)
    n = len(report.letters)
    if report.sent:
        logged = f", each logged in {rel(settings.ledger_dir / contacts.FILE, settings)}" if n else ""
        lines.append(f"sent {n} reminder{'s' if n != 1 else ''}{logged}")
    else:
        lines.append(f"{n} reminder{'s' if n != 1 else ''} previewed in {_show(report.outbox)} "
                     "(nothing sent or logged; --send sends them)")
    for stage in report.stages:
        if stage in by_stage:
            lines.append(f"  {stage}: {_ids(by_stage[stage], show)}")
    for cid, recipient, why in report.refused:
        lines.append(f"refused: {cid} <{recipient}>: {why}")
    skipped = sum(len(v) for v in report.skipped.values())
    if skipped:
        lines.append(f"skipped {skipped} customer{'s' if skipped != 1 else ''}:")
        for reason in REASONS:
            who = report.skipped.get(reason)
            if who:
                lines.append(f"  {REASONS[reason]}: {_ids([f'{c} ({d})' if d else c for c, d in who], show)}")
    if report.owing_nothing:
        lines.append(f"{report.owing_nothing} customer{'s owe' if report.owing_nothing != 1 else ' owes'} nothing")
    if report.failure:
        lines.append(f"error: {report.failure}; {n} sent before it stopped, run again to send the rest")
    return lines


def _ids(ids: list[str], show: int) -> str:
    more = f" … and {len(ids) - show:,} more" if len(ids) > show else ""
    return ", ".join(ids[:show]) + more


def _show(p: Path | None) -> str:
    if p is None:
        return ""
    try:
        return str(p.resolve().relative_to(Path.cwd())) + "/"
    except ValueError:
        return str(p) + "/"
