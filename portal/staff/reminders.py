"""Dunning, pure: the reminder stages, which stage a customer is at, what it names, and whether to send it.

A stage is a Markdown file in content/reminders/ with a small front matter block (stage, days,
subject). A customer gets the one highest stage whose `days` their most overdue item has reached;
a reminder's identity is (customer, stage, the refs of the items it names), so the log in
contacts.csv keeps anyone from getting the same stage twice for the same items.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from email.errors import HeaderParseError
from email.headerregistry import Address

from ..core.accounts import Account, OpenItem
from ..core.records import Customer, Problem
from ..ledger.contacts import Contact, held, open_promise

KEYS = ("stage", "days", "subject")
# What a subject or body may name; {items} (the table of items) only in the body.
PLACEHOLDERS = ("company", "customer", "contact", "amount", "balance", "days_overdue", "as_of", "pay_link",
                "ar_email", "ar_phone", "items")
PLACEHOLDER = re.compile(r"\{([A-Za-z_]+)\}")
SLUG = re.compile(r"[a-z0-9][a-z0-9-]*")
REASONS = {  # why a customer gets no reminder, in the order the rules are applied
    "paused": "paused",
    "nothing-overdue": "nothing overdue",
    "processing": "a payment is processing",
    "promise": "promised to pay",
    "message": "sent us a message we have not answered",
    "no-email": "no usable email address",
    "already-sent": "already sent",
}


@dataclass(frozen=True)
class Stage:
    """One dunning stage: applies once the most overdue item is `days` past due (negative: before due)."""

    slug: str
    days: int
    subject: str
    body: str  # Markdown with placeholders
    path: str
    line: int  # where the body starts, for messages


@dataclass(frozen=True)
class Decision:
    """What to do about one customer: a stage and the items it names, or a reason to skip."""

    customer: Customer
    accounts: tuple[Account, ...]
    stage: Stage | None = None
    items: tuple[tuple[str, OpenItem], ...] = ()  # (currency, item), most overdue first
    skip: str = ""  # a key of REASONS
    detail: str = ""

    @property
    def keys(self) -> tuple[str, ...]:
        """The items' refs: with the customer and stage, the reminder's identity."""
        return tuple(sorted({item_key(i) for _, i in self.items}))


def parse_stage(text: str, path: str) -> tuple[Stage | None, list[Problem]]:
    """A stage from its file's text, or the problems with it, each at its line."""
    lines = text.splitlines()
    expected = "(expected a '---' line, then stage, days and subject as 'key: value', then '---')"
    if not lines or lines[0].strip() != "---":
        return None, [Problem(path, 1, f"no front matter {expected}")]
    end = next((n for n in range(1, len(lines)) if lines[n].strip() == "---"), None)
    if end is None:
        return None, [Problem(path, 1, f"front matter is not closed {expected}")]
    problems: list[Problem] = []
    meta: dict[str, tuple[str, int]] = {}
    for n in range(1, end):
        raw = lines[n].strip()
        if not raw or raw.startswith("#"):
            continue
        key, sep, value = raw.partition(":")
        key, value = key.strip().lower(), value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        if not sep:
            problems.append(Problem(path, n + 1, f"{raw!r} is not 'key: value'"))
        elif key not in KEYS:
            problems.append(Problem(path, n + 1, f"unknown key {key!r} (expected one of {', '.join(KEYS)})"))
        elif key in meta:
            problems.append(Problem(path, n + 1, f"{key!r} given twice (first at line {meta[key][1]})"))
        else:
            meta[key] = (value, n + 1)
    default_slug = re.sub(r"^[0-9]+[-_]?", "", path.rsplit("/", 1)[-1].removesuffix(".md")).lower()
    slug, slug_line = meta.get("stage", (default_slug, 1))
    if not SLUG.fullmatch(slug):
        problems.append(Problem(path, slug_line, f"stage {slug!r} is not a name of lower-case letters, digits "
                                                 "and dashes (expected e.g. overdue-30)"))
    days_text, days_line = meta.get("days", ("", 1))
    days = None
    if not re.fullmatch(r"[-+]?[0-9]+", days_text):
        problems.append(Problem(path, days_line, f"days {days_text!r} is not a whole number (expected the days past "
                                                 "due the stage starts at; negative = before due)" if days_text else
                                "'days' missing (expected the days past due the stage starts at, e.g. days: 30)"))
    else:
        days = int(days_text)
    subject, subject_line = meta.get("subject", ("", 1))
    if not subject:
        problems.append(Problem(path, subject_line, "'subject' missing or empty (expected e.g. subject: "
                                                    "Overdue: {amount} to {company})"))
    problems += _placeholders(subject, path, subject_line, allowed=PLACEHOLDERS[:-1])
    body = "\n".join(lines[end + 1:]).strip("\n") + "\n"
    for n, line in enumerate(lines[end + 1:], end + 2):
        problems += _placeholders(line, path, n, allowed=PLACEHOLDERS)
    if "{items}" not in body:
        problems.append(Problem(path, end + 1, "the body has no {items} (expected it where the table of items goes)"))
    if problems or days is None:  # no days without a problem found
        return None, problems
    return Stage(slug, days, subject, body, path, end + 2), []


def _placeholders(text: str, path: str, line: int, allowed) -> list[Problem]:
    return [Problem(path, line, f"unknown placeholder {{{name}}} (expected one of "
                                f"{', '.join('{' + a + '}' for a in allowed)})")
            for name in PLACEHOLDER.findall(text) if name not in allowed]


def check_stages(stages: list[Stage], folder: str) -> list[Problem]:
    """Problems between stages: none at all, or two with the same name or the same days."""
    if not stages:
        return [Problem(folder, 0, "no reminder stages (expected *.md files with front matter, see README)")]
    problems = []
    for attr in ("slug", "days"):
        first: dict = {}
        for s in stages:
            other = first.setdefault(getattr(s, attr), s)
            if other is not s:
                problems.append(Problem(s.path, 1, f"{'stage name' if attr == 'slug' else 'days'} "
                                                   f"{getattr(s, attr)!r} is also used by {other.path}"))
    return problems


def days_past_due(item: OpenItem, as_of: date) -> int:
    """Signed: negative while the item is not yet due (accounts clamp theirs at 0)."""
    return (as_of - item.due).days


def item_key(item: OpenItem) -> str:
    """A stable name for an open item: its ref, or for a debit without one its type and date."""
    e = item.entry
    return e.ref or f"{e.type}@{e.date.isoformat()}"


def choose(stages: list[Stage], accounts: list[Account], as_of: date,
           held_refs: frozenset[str] = frozenset()) -> tuple[Stage | None, list]:
    """The single highest stage that applies, and the (currency, item) pairs it names.

    An overdue stage names every overdue item; a stage at or before the due date also names the
    items falling due within its reach (a courtesy note lists what is about to be due). Items the
    customer asked about (`held_refs`) are left out, as if they were not due.
    """
    items = [(a.currency, i) for a in accounts for i in a.items if i.open > 0 and i.entry.ref not in held_refs]
    if not items:
        return None, []
    worst = max(days_past_due(i, as_of) for _, i in items)
    reached = [s for s in stages if s.days <= worst]
    if not reached:
        return None, []
    stage = max(reached, key=lambda s: s.days)
    floor = min(stage.days, 1)
    named = [(c, i) for c, i in items if days_past_due(i, as_of) >= floor]
    named.sort(key=lambda ci: (-days_past_due(ci[1], as_of), ci[0], item_key(ci[1])))
    return stage, named


def usable_email(address: str) -> bool:
    """One plain address we can put in a To header."""
    try:
        parsed = Address(addr_spec=address)
    except (HeaderParseError, ValueError, IndexError):
        return False
    return bool(parsed.username and parsed.domain)


def sent_before(log: list[Contact], customer_id: str, stage: str, keys) -> bool:
    """True when every one of these items already had this stage (in one reminder or several)."""
    had: set[str] = set()
    for c in log:
        if c.customer_id == customer_id and c.channel == "email" and c.stage == stage:
            had.update(c.items)
    return set(keys) <= had


def decide(customer: Customer, accounts: list[Account], stages: list[Stage], log: list[Contact],
           as_of: date) -> Decision:
    """The reminder a customer is due, or why they get none (rules in the order of REASONS)."""
    base = Decision(customer, tuple(accounts))
    if customer.paused:
        return _skip(base, "paused")
    waiting = held(log, customer.id, as_of)
    refs = frozenset(r for m in waiting for r in m.items)
    stage, items = choose(stages, accounts, as_of, refs)
    if stage is None:
        if refs and choose(stages, accounts, as_of)[0] is not None:  # due but for what they asked about
            return _skip(base, "message", _about(waiting))
        return _skip(base, "nothing-overdue")
    processing = [a for a in accounts if a.processing > 0]
    if processing:
        return _skip(base, "processing")
    promise = open_promise(log, customer.id, as_of)
    if promise is not None:
        return _skip(base, "promise", f"until {promise.promise_date}")  # a date, as ISO text
    whole = [m for m in waiting if not m.items]
    if whole:
        return _skip(base, "message", _about(whole))
    if not usable_email(customer.email):
        return _skip(base, "no-email", repr(customer.email))
    decision = Decision(customer, tuple(accounts), stage, tuple(items))
    if sent_before(log, customer.id, stage.slug, decision.keys):
        return _skip(decision, "already-sent", stage.slug)
    return decision


def _about(waiting: list[Contact]) -> str:
    """The messages reminders wait for, in a few words: "question of 2026-12-06 on INV-1"."""
    return "; ".join(f"{m.stage} of {m.date.isoformat()}" + (f" on {', '.join(m.items)}" if m.items else "")
                     for m in waiting)


def _skip(d: Decision, reason: str, detail: str = "") -> Decision:
    return Decision(d.customer, d.accounts, d.stage, d.items, reason, detail)
