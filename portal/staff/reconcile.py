"""Payout reconciliation: Stripe's payouts and what they paid out, against the ledger's record.

Pure: the caller reads Stripe (stripe_gateway) and the ledger's online-payments file; this module
joins each balance transaction to the ledger by Stripe id (a charge by its PaymentIntent, a refund
or dispute by its own id, as fulfil records them), checks that every payout ties out to the cent
(gross - fees = net = the bank deposit) and says what is missing, different, or recorded but not
yet paid out. Figures stay per currency: a payout has one currency and nothing is ever summed
across currencies.

A charge the payment service set aside (not the portal's, or of a customer the ledger does not
know) is a problem until staff record it by hand; a charge with neither the portal's mark nor a
customer id is another application's, with no ledger effect. A payout goes into the accounting
journal only when nothing about it is in doubt (`PayoutReport.clean`); `steps` says what to do
first, in order, for the rest.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from ..core.money import ZERO, fmt
from ..core.records import Entry
from ..ledger.online import RANK, SetAside
from ..pay.gateway import BalanceLine, Funds, Payout

MATCHED = "matched"
MISSING = "missing from ledger"
DIFFERS = "amount differs"
STALE = "ledger status differs"
NO_EFFECT = "no ledger effect"
NOT_PAID_OUT = "not yet paid out"
SET_ASIDE = "set aside"
NOT_FROM_PORTAL = "not from the portal"
HELD = (MISSING, SET_ASIDE, DIFFERS, STALE)  # the statuses that are problems, in the order they are named
BANK, FEES, AR, OTHER = "Bank", "Stripe fees", "Accounts receivable", "Stripe adjustments"
OTHER_RECEIPTS = "Other Stripe receipts"  # another application's money on the same Stripe account
ACCOUNTS = (AR, OTHER_RECEIPTS, OTHER)  # the order of a journal entry's lines after bank and fees
# Kinds of step, in the order they are taken: `portal sync` first (an entry made by hand before it
# would be recorded twice), then entries by hand, ledger rows to correct, Stripe's side, and last
# what only time settles.
SYNC, HAND, CORRECT, STRIPE, LATER = "sync", "by hand", "correct", "stripe", "later"
# What each reporting category does to the books besides the bank and the fees.
POSTING = {
    "charge": (AR, "online payments received"),
    "refund": (AR, "refunds paid to customers"),
    "refund_failure": (AR, "failed refunds returned"),
    "dispute": (AR, "disputed payments withdrawn"),
    "dispute_reversal": (AR, "won disputes reinstated"),
}


@dataclass(frozen=True)
class Recorded:
    """What the ledger recorded for one Stripe object: a payment (all its invoice rows) or a reversal."""

    stripe_id: str  # PaymentIntent id for a payment; refund or dispute id for a reversal
    kind: str  # payment, refund (a lost dispute is recorded as a refund)
    customer_id: str
    amount: Decimal
    currency: str
    status: str  # payments: processing, succeeded, failed; reversals: succeeded
    day: date
    where: str  # path:line of its first row


@dataclass(frozen=True)
class Todo:
    """What to do about one problem. SYNC steps merge into one `portal sync` (see `steps`)."""

    kind: str  # SYNC, HAND, CORRECT, STRIPE, LATER
    text: str  # the step; for SYNC what it records: payment, refund, dispute, status change
    day: date | None = None  # SYNC: the day to sync from


@dataclass(frozen=True)
class Issue:
    """Something wrong with a payout as a whole."""

    label: str  # a few words, for why the payout is left out of the journal
    message: str
    todo: Todo


@dataclass(frozen=True)
class Line:
    """A balance transaction of a payout, joined to the ledger."""

    txn: BalanceLine
    customer_id: str
    status: str
    note: str
    problem: bool
    ledger: Recorded | None = None
    todo: Todo | None = None


@dataclass(frozen=True)
class PayoutReport:
    payout: Payout
    lines: tuple[Line, ...]
    gross: Decimal
    fees: Decimal
    net: Decimal
    issues: tuple[Issue, ...]  # about the payout as a whole

    @property
    def problems(self) -> tuple[str, ...]:
        return tuple(i.message for i in self.issues)

    @property
    def ties_out(self) -> bool:
        return not self.issues

    @property
    def clean(self) -> bool:
        """Whether it goes into the journal: it ties out and each transaction is matched, has no
        ledger effect or is not the portal's (nothing missing, set aside, differing or stale)."""
        return not self.held()

    def held(self) -> list[str]:
        """Why it is left out of the journal, in a few words each ([] when it is not)."""
        out = list(dict.fromkeys(i.label for i in self.issues))
        out += [f"{self.count(s)} {s}" for s in HELD if self.count(s)]
        return out or ([] if self.lines else ["no transactions"])

    def count(self, status: str) -> int:
        return sum(1 for ln in self.lines if ln.status == status)

    def by_category(self) -> dict[str, Decimal]:
        sums: dict[str, Decimal] = {}
        for ln in self.lines:
            sums[ln.txn.category] = sums.get(ln.txn.category, ZERO) + ln.txn.amount
        return sums


@dataclass(frozen=True)
class Unpaid:
    """A payment or refund the ledger recorded that no payout has carried yet."""

    rec: Recorded
    note: str
    problem: bool
    todo: Todo | None = None


@dataclass(frozen=True)
class Posting:
    """One line of the accounting journal."""

    day: date
    payout: str
    account: str
    debit: Decimal
    credit: Decimal
    currency: str
    memo: str


@dataclass(frozen=True)
class Report:
    since: date
    until: date
    payouts: tuple[PayoutReport, ...]
    unpaid: tuple[Unpaid, ...]

    def problems(self) -> list[str]:
        """Every problem, one line each, naming the payout and the Stripe and ledger ids."""
        out = []
        for pr in self.payouts:
            out += [f"{pr.payout.id}: {p}" for p in pr.problems]
            out += [f"{pr.payout.id} {_what(ln)}: {ln.note}" for ln in pr.lines if ln.problem]
        out += [f"{u.rec.stripe_id} ({u.rec.customer_id}, {fmt(u.rec.amount, u.rec.currency)}, {u.rec.where}): "
                f"{u.note}" for u in self.unpaid if u.problem]
        return out

    def totals(self) -> dict[str, tuple[int, Decimal, Decimal, Decimal]]:
        """Per currency: (payouts, gross, fees, net) of the payouts that reached the bank."""
        out: dict[str, tuple[int, Decimal, Decimal, Decimal]] = {}
        for pr in self.payouts:
            if pr.payout.status in ("failed", "canceled"):
                continue
            n, g, f, t = out.get(pr.payout.currency, (0, ZERO, ZERO, ZERO))
            out[pr.payout.currency] = (n + 1, g + pr.gross, f + pr.fees, t + pr.net)
        return dict(sorted(out.items()))


def recorded(entries: list[Entry]) -> dict[str, Recorded]:
    """The ledger's online payments and reversals by Stripe id, each payment at its latest state.

    A payment the customer split over invoices is several rows (`pi_…/INV-1`, `pi_…/INV-2`); they
    are one PaymentIntent and one charge, so their amounts are summed.
    """
    latest: dict[str, Entry] = {}
    for e in entries:
        if e.type == "payment":
            prev = latest.get(e.ref)
            if prev is None or RANK.get(e.status or "succeeded", 2) > RANK.get(prev.status or "succeeded", 2):
                latest[e.ref] = e
        elif e.type == "refund" and e.ref:
            latest.setdefault(e.ref, e)
    parts: dict[str, list] = {}
    for ref, e in latest.items():
        parts.setdefault(ref.split("/")[0] if e.type == "payment" else ref, []).append(e)
    out = {}
    for sid, rows in parts.items():
        rows.sort(key=lambda e: (e.path, e.line))
        statuses = {e.status or "succeeded" for e in rows}
        status = next(s for s in ("processing", "succeeded", "failed") if s in statuses)
        counted = [e for e in rows if (e.status or "succeeded") != "failed"] or rows
        first = rows[0]
        out[sid] = Recorded(sid, first.type, first.customer_id, sum((e.amount for e in counted), ZERO),
                            first.currency, status, first.date, f"{first.path}:{first.line}")
    return out


def paid_out_ids(payouts: list[tuple[Payout, list[BalanceLine] | None]]) -> set[str]:
    """The Stripe ids (PaymentIntents, refunds, disputes) some payout has carried."""
    ids = set()
    for _, lines in payouts:
        for t in lines or ():
            ids.add(t.payment_intent if t.category == "charge" else t.source_id)
    return ids


def awaiting_payout(payouts: list[tuple[Payout, list[BalanceLine] | None]], ledger: dict[str, Recorded],
                    since: date, until: date) -> list[Recorded]:
    """Ledger payments and reversals dated in the range that no payout (up to now) has carried."""
    done = paid_out_ids(payouts)
    return sorted((r for r in ledger.values() if since <= r.day <= until and r.stripe_id not in done
                   and r.status != "failed"), key=lambda r: (r.day, r.stripe_id))


def reconcile(payouts: list[tuple[Payout, list[BalanceLine] | None]], ledger: dict[str, Recorded],
              since: date, until: date, funds: dict[str, Funds | None] | None = None,
              set_aside: dict[str, SetAside] | None = None) -> Report:
    """The report for payouts arriving in [since, until].

    `payouts` may include later ones (a payment recorded in the range and paid out after it is
    not "waiting"); `lines` is None for a payout whose transactions Stripe cannot list. `funds`
    holds what Stripe says now about the payments awaiting a payout (None: no such payment);
    `set_aside` the payments the payment service set aside, by PaymentIntent.
    """
    # Each charge by PaymentIntent, so a refund or dispute can be told apart by its payment's metadata.
    charges = {t.payment_intent: t for _, lines in payouts for t in lines or ()
               if t.category == "charge" and t.payment_intent}
    aside = set_aside or {}
    reports = tuple(_payout(p, lines, ledger, aside, charges) for p, lines in payouts if since <= p.arrival <= until)
    funds = funds or {}
    unpaid = tuple(_unpaid(r, r.stripe_id in funds, funds.get(r.stripe_id))
                   for r in awaiting_payout(payouts, ledger, since, until))
    return Report(since, until, reports, unpaid)


def _payout(p: Payout, lines: list[BalanceLine] | None, ledger: dict[str, Recorded], aside: dict[str, SetAside],
            charges: dict[str, BalanceLine]) -> PayoutReport:
    issues = []
    if p.status in ("failed", "canceled"):
        issues.append(Issue(f"payout {p.status}", f"payout {p.status}: no bank deposit (Stripe returns the money "
                            "to the balance)", Todo(STRIPE, f"Check the bank account in the Stripe Dashboard: "
                                                f"payout {p.id} {p.status} and no money reached the bank.")))
    if lines is None:
        todo = Todo(STRIPE, f"Reconcile manual payout {p.id} by hand: "
                            "Stripe does not list what a manual payout carried.")
        issues.append(Issue("manual payout", "a manual payout: Stripe lists what it paid out only for automatic "
                            "payouts; reconcile it by hand", todo))
        return PayoutReport(p, (), ZERO, ZERO, ZERO, tuple(issues))
    if not p.reconciled:
        issues.append(Issue("Stripe still reconciling it", "Stripe has not finished reconciling this payout: run "
                            "this again later", Todo(LATER, f"Run `portal reconcile` again later: Stripe has not "
                                                     f"finished reconciling payout {p.id}.")))
    money = [t for t in lines if t.type != "payout"]
    own = [t for t in lines if t.type == "payout"]
    gross = sum((t.amount for t in money), ZERO)
    fees = sum((t.fee for t in money), ZERO)
    net = sum((t.net for t in money), ZERO)
    wrong = []
    for t in lines:
        if t.currency != p.currency:
            wrong.append(f"{t.id} is in {t.currency}, the payout in {p.currency}")
        elif t.amount - t.fee != t.net:
            wrong.append(f"{t.id}: gross {fmt(t.amount, t.currency)} - fee {fmt(t.fee, t.currency)} "
                         f"is not its net {fmt(t.net, t.currency)}")
    if gross - fees != net or net != p.amount:
        wrong.append(f"does not tie out: transactions net {fmt(net, p.currency)} but the bank deposit is "
                     f"{fmt(p.amount, p.currency)} (difference {fmt(net - p.amount, p.currency)})")
    for t in own:
        if t.net != -p.amount:
            wrong.append(f"its own transaction {t.id} moves {fmt(-t.net, p.currency)}, not {fmt(p.amount, p.currency)}")
    issues += [Issue("does not tie out", w, Todo(STRIPE, f"Ask Stripe support about payout {p.id}: {w}."))
               for w in wrong]
    joined = tuple(_join(t, ledger, aside, charges) for t in money)
    return PayoutReport(p, joined, gross, fees, net, tuple(issues))


def _join(t: BalanceLine, ledger: dict[str, Recorded], aside: dict[str, SetAside],
          charges: dict[str, BalanceLine]) -> Line:
    """One transaction against the ledger (and, for what it lacks, the set-aside payments)."""
    owner = ledger.get(t.payment_intent)
    held = aside.get(t.payment_intent) if t.payment_intent else None
    origin = t if t.category == "charge" else charges.get(t.payment_intent)  # the payment's charge, if seen
    customer = (owner.customer_id if owner else t.customer_id or (origin.customer_id if origin else "")
                or (held.customer_id if held else ""))
    if owner is None and held is None and _foreign(origin):
        note = "" if t.category == "charge" else f"{t.category.replace('_', ' ')} of {t.payment_intent}: "
        return Line(t, customer, NOT_FROM_PORTAL, f"{note}another application's payment on this Stripe account "
                    "(no portal mark, no customer id): not receivables", False)
    if t.category == "charge":
        if owner is None:
            return _unrecorded(t, customer, t.payment_intent, False, held, origin)
        if owner.status != "succeeded":
            return Line(t, customer, STALE, f"the ledger has it {owner.status} at {owner.where}, Stripe paid it "
                        f"out: run `portal sync --since {owner.day}`", True, owner,
                        Todo(SYNC, "status change", owner.day))
        return _compare(t, customer, owner, t.amount)
    if t.category in ("refund", "dispute", "refund_failure"):
        rec = ledger.get(t.source_id)
        expected = (t.category == "refund" and t.source_status == "succeeded") or (
            t.category == "dispute" and (t.source_status == "lost" or t.method == "us_bank_account"))
        if expected:
            if rec is None:
                return _unrecorded(t, customer, t.source_id, owner is not None, held, origin)
            return _compare(t, customer, rec, -t.amount)
        if rec is not None:
            return Line(t, customer, STALE, f"the ledger records {t.source_id} at {rec.where}, but Stripe says "
                        f"the {t.source_type} is {t.source_status}: correct the ledger", True, rec,
                        Todo(CORRECT, f"Correct the ledger row {rec.where}: Stripe says the {t.source_type} "
                             f"{t.source_id} is {t.source_status}."))
        return Line(t, customer, NO_EFFECT, _why_no_effect(t), False)
    if t.category == "dispute_reversal":
        return Line(t, customer, NO_EFFECT, "dispute won: the disputed money and fee came back", False)
    return Line(t, customer, NO_EFFECT, f"{t.category} ({t.type}): Stripe's own, not a customer's", False)


def _foreign(origin: BalanceLine | None) -> bool:
    """Whether a payment's charge is another application's: neither the portal's mark nor a customer id."""
    return origin is not None and not origin.portal_mark and not origin.customer_id


def _unrecorded(t: BalanceLine, customer: str, ref: str, payment_recorded: bool, held: SetAside | None,
                origin: BalanceLine | None) -> Line:
    """A charge, refund or lost dispute that moved money the ledger does not have, and who records
    it: `portal sync` records only what the portal started and the payment service did not set aside."""
    charge = t.category == "charge"
    pi = t.payment_intent
    what = "payment" if charge else t.source_type
    amount = fmt(abs(t.amount), t.currency)
    if held is not None and not payment_recorded:
        if charge:
            note = (f"in Stripe, set aside by the payment service: {held.reason}; record it by hand in a ledger "
                    f"file with ref {pi} once you know whose it is")
            step = (f"Find out whose payment {pi} is ({amount}, paid {t.day}; the payment service set it aside: "
                    f"{held.reason}) and record it by hand in a ledger file with ref {pi}.")
        else:
            note = (f"{t.source_status} {what} of {pi}, a payment the payment service set aside ({held.reason}): "
                    f"record it by hand with ref {ref} once that payment is recorded")
            step = (f"Record {what} {ref} ({amount}, {t.day}) by hand in a ledger file with ref {ref} "
                    f"once payment {pi} is.")
        return Line(t, customer, SET_ASIDE, note, True, None, Todo(HAND, step))
    who = f"{customer}, " if customer else ""
    if charge and not pi:
        return Line(t, customer, MISSING, "a charge without a PaymentIntent (not taken through the portal): "
                    "record it in the ledger by hand", True, None,
                    Todo(HAND, f"Record charge {t.source_id} ({who}{amount}, paid {t.day}) by hand in a ledger file."))
    if held is not None or (origin is not None and not origin.portal_mark):
        why = ("its payment was set aside by the payment service" if held is not None else
               f"{'it' if charge else 'its payment'} carries no portal mark (the portal did not start it)")
        return Line(t, customer, MISSING, f"in Stripe but not in the ledger; {why}, so record it by hand in a ledger "
                    f"file with ref {ref}", True, None,
                    Todo(HAND, f"Record {what} {ref} ({who}{amount}, {'paid ' if charge else ''}{t.day}) by hand in a "
                         f"ledger file with ref {ref}: {why}, so only an entry by hand records it."))
    sync = f"a lost webhook: run `portal sync --since {t.day}`"
    note = (f"in Stripe but not in the ledger ({sync})" if charge
            else f"{t.source_status} {what} not in the ledger ({sync})")
    return Line(t, customer, MISSING, note, True, None, Todo(SYNC, what, t.day))


def _compare(t: BalanceLine, customer: str, rec: Recorded, stripe_amount: Decimal) -> Line:
    if rec.currency != t.currency:
        return Line(t, customer, DIFFERS, f"the ledger has it in {rec.currency} at {rec.where}, Stripe in "
                    f"{t.currency}", True, rec, Todo(CORRECT, f"Correct the ledger row {rec.where} (currency: the "
                                                     f"ledger has {rec.currency}, Stripe {t.currency})."))
    if rec.amount != stripe_amount:
        return Line(t, customer, DIFFERS, f"the ledger has {fmt(rec.amount, rec.currency)} at {rec.where}, Stripe "
                    f"{fmt(stripe_amount, t.currency)} (difference {fmt(rec.amount - stripe_amount, t.currency)})",
                    True, rec, _correct_amount(rec, stripe_amount))
    return Line(t, customer, MATCHED, f"ledger {rec.where}", False, rec)


def _why_no_effect(t: BalanceLine) -> str:
    if t.category == "refund_failure":
        return "refund failed: the money came back to the balance"
    if t.category == "refund":
        return f"refund {t.source_status}: the ledger records it when it succeeds"
    return f"dispute {t.source_status.replace('_', ' ')}: the ledger records it only if lost"


def _correct_amount(rec: Recorded, stripe_amount: Decimal) -> Todo:
    return Todo(CORRECT, f"Correct the ledger row {rec.where} (amount differs by "
                f"{fmt(abs(rec.amount - stripe_amount), rec.currency)}: "
                f"the ledger has {fmt(rec.amount, rec.currency)}, Stripe {fmt(stripe_amount, rec.currency)}).")


def _unpaid(r: Recorded, looked_up: bool, f: Funds | None) -> Unpaid:
    if r.kind != "payment" or not looked_up:
        return Unpaid(r, f"{r.kind} recorded; no payout has carried it yet", False)
    sync = Todo(SYNC, "status change", r.day)
    if f is None:
        return Unpaid(r, "the ledger records a payment Stripe does not have: correct the ledger", True,
                      Todo(CORRECT, f"Correct the ledger row {r.where}: Stripe has no payment {r.stripe_id}."))
    if f.currency != r.currency:
        return Unpaid(r, f"the ledger has {fmt(r.amount, r.currency)}, Stripe {fmt(f.amount, f.currency)}", True,
                      Todo(CORRECT, f"Correct the ledger row {r.where} (currency: the ledger has {r.currency}, "
                           f"Stripe {f.currency})."))
    if f.amount != r.amount:
        return Unpaid(r, f"the ledger has {fmt(r.amount, r.currency)}, Stripe {fmt(f.amount, f.currency)}", True,
                      _correct_amount(r, f.amount))
    if f.status == "processing":
        if r.status == "processing":
            return Unpaid(r, "bank payment processing: not settled yet", False)
        return Unpaid(r, "the ledger has it succeeded, Stripe says it is still processing", True,
                      Todo(CORRECT, f"Correct the ledger row {r.where}: "
                                    f"Stripe says {r.stripe_id} is still processing."))
    if f.status != "succeeded":
        return Unpaid(r, f"Stripe says {f.status.replace('_', ' ')}: it did not go through: run "
                      f"`portal sync --since {r.day}`", True, sync)
    if r.status != "succeeded":
        return Unpaid(r, f"the ledger has it {r.status}, Stripe succeeded: run `portal sync --since {r.day}`",
                      True, sync)
    if f.balance_status == "pending":
        return Unpaid(r, f"paid; Stripe holds the funds until {f.available_on}", False)
    return Unpaid(r, "paid; the funds are available and go out with the next payout", False)


def journal(report: Report) -> list[Posting]:
    """Per clean payout: bank deposit, Stripe fees, receivables cleared (and other applications' money).

    Debits equal credits for each payout: the deposit is the net of its transactions, i.e. their
    gross less their fees, and each category's gross is posted on the side its sign says, to
    Accounts receivable or, for payments not the portal's, to Other Stripe receipts. A payout with
    any problem is left out: its entry would post what the ledger does not (yet) say.
    """
    out = []
    for pr in report.payouts:
        p = pr.payout
        if not pr.clean:
            continue
        out += _post(p, BANK, p.amount, "bank deposit", True)
        out += _post(p, FEES, pr.fees, "Stripe fees", True)
        sums: dict[tuple[str, str], Decimal] = {}
        for ln in pr.lines:
            account = OTHER_RECEIPTS if ln.status == NOT_FROM_PORTAL else POSTING.get(ln.txn.category, (OTHER,))[0]
            sums[account, ln.txn.category] = sums.get((account, ln.txn.category), ZERO) + ln.txn.amount
        for (account, category), amount in sorted(sums.items(), key=lambda kv: (ACCOUNTS.index(kv[0][0]),
                                                                                _order(kv[0][1]))):
            what = POSTING.get(category, (OTHER, category.replace("_", " ")))[1]
            what = f"{what} (not through the portal)" if account == OTHER_RECEIPTS else what
            out += _post(p, account, amount, what, False)
    return out


def _post(p: Payout, account: str, amount: Decimal, what: str, debit_when_positive: bool) -> list[Posting]:
    """The payout's journal line for `amount` on the side its sign says (none for zero)."""
    if not amount:
        return []
    value, debit = abs(amount), (amount > 0) == debit_when_positive
    return [Posting(p.arrival, p.id, account, value if debit else ZERO, ZERO if debit else value,
                    p.currency, f"Stripe payout {p.id}: {what}")]


def _order(category: str) -> tuple[int, str]:
    keys = list(POSTING)
    return (keys.index(category), "") if category in keys else (len(keys), category)


def steps(report: Report) -> list[str]:
    """What to do, in order: one `portal sync` for all it can record, then each entry by hand, each
    ledger row to correct, what to take up with Stripe, and what only time settles (each once)."""
    todos = []
    for pr in report.payouts:
        todos += [i.todo for i in pr.issues] + [ln.todo for ln in pr.lines if ln.todo]
    todos += [u.todo for u in report.unpaid if u.todo]
    out = []
    sync = [t for t in todos if t.kind == SYNC]
    if sync:
        counts = {w: sum(1 for t in sync if t.text == w) for w in dict.fromkeys(t.text for t in sync)}
        things = _and([f"{n} {w}{'s' if n != 1 else ''}" for w, n in counts.items()])
        since = min(t.day for t in sync if t.day)  # every SYNC step has its day
        out.append(f"Run `portal sync --since {since}` to record {things} that webhooks missed, "
                   "then run `portal reconcile` again.")
    for kind in (HAND, CORRECT, STRIPE, LATER):
        out += dict.fromkeys(t.text for t in todos if t.kind == kind)
    return out


def left_out(report: Report) -> str:
    """The sentence naming the payouts the journal leaves out ("" when it leaves out none)."""
    held = [pr.payout.id for pr in report.payouts if not pr.clean]
    if not held:
        return ""
    return (f"The journal leaves out payout{'s' if len(held) != 1 else ''} {_and(held)}"
            f"{' until then' if steps(report) else ''}.")


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _what(ln: Line) -> str:
    t = ln.txn
    ids = ", ".join(x for x in (t.source_id, t.payment_intent if t.payment_intent != t.source_id else "",
                                ln.customer_id, fmt(t.amount, t.currency)) if x)
    return f"{t.id} ({ids})"


def summary(report: Report) -> list[str]:
    """What the command prints: what to do first, then a line per payout, what awaits a payout,
    totals, what the journal holds, then each problem."""
    out = []
    todo = steps(report)
    if todo:
        out.append("What to do first:")
        out += [f"  {n}. {step}" for n, step in enumerate(todo, 1)]
        out += [f"  {left_out(report)}"] if left_out(report) else []
    out.append(f"{len(report.payouts)} payout{'s' if len(report.payouts) != 1 else ''} arriving "
               f"{report.since} to {report.until}")
    for pr in report.payouts:
        p, cur = pr.payout, pr.payout.currency
        state = "ties out" if pr.ties_out else "DOES NOT TIE OUT"
        more = "".join(f", {pr.count(s)} {s}" for s in (SET_ASIDE, NOT_FROM_PORTAL) if pr.count(s))
        journalled = "journalled" if pr.clean else f"left out of the journal until fixed: {', '.join(pr.held())}"
        out.append(f"  {p.id}  {p.arrival}  {cur} {p.status}: gross {fmt(pr.gross, cur)} - fees {fmt(pr.fees, cur)}"
                   f" = net {fmt(pr.net, cur)}, deposit {fmt(p.amount, cur)}; {state}; {pr.count(MATCHED)} matched,"
                   f" {pr.count(MISSING)} missing, {pr.count(DIFFERS) + pr.count(STALE)} differing{more}; {journalled}")
    waiting: dict[str, Decimal] = {}
    for u in report.unpaid:
        waiting[u.rec.currency] = waiting.get(u.rec.currency, ZERO) + u.rec.amount
    if report.unpaid:
        out.append(f"  recorded but not yet paid out: {len(report.unpaid)} ("
                   + ", ".join(fmt(v, c) for c, v in sorted(waiting.items())) + ")")
    for cur, (n, gross, fees, net) in report.totals().items():
        out.append(f"  {cur}: {n} payout{'s' if n != 1 else ''}, gross {fmt(gross, cur)}, fees {fmt(fees, cur)}, "
                   f"deposited {fmt(net, cur)}")
    out.append(f"  journal: {_journalled(report)}")
    out += [f"PROBLEM {p}" for p in report.problems()]
    return out


def _journalled(report: Report) -> str:
    done = [pr.payout.id for pr in report.payouts if pr.clean]
    held = "; ".join(f"{pr.payout.id} ({', '.join(pr.held())})" for pr in report.payouts if not pr.clean)
    if not report.payouts:
        return "nothing journalled: no payout arrived in this range"
    if not done:
        return f"nothing journalled: every payout has a problem: {held}"
    if not held:
        return f"every payout journalled ({', '.join(done)})"
    return f"{len(done)} of {len(report.payouts)} payouts journalled ({', '.join(done)}); left out: {held}"
