"""Payout reconciliation: Stripe's payouts and what they paid out, against the ledger's record.

Pure: the caller reads Stripe (stripe_gateway) and the ledger's online-payments file; this module
joins each balance transaction to the ledger by Stripe id (a charge by its PaymentIntent, a refund
or dispute by its own id, as fulfil records them), checks that every payout ties out to the cent
(gross - fees = net = the bank deposit) and says what is missing, different, or recorded but not
yet paid out. Figures stay per currency: a payout has one currency and nothing is ever summed
across currencies.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from .journal import RANK
from .money import ZERO, fmt
from .stripe_gateway import BalanceLine, Funds, Payout

MATCHED = "matched"
MISSING = "missing from ledger"
DIFFERS = "amount differs"
STALE = "ledger status differs"
NO_EFFECT = "no ledger effect"
NOT_PAID_OUT = "not yet paid out"
BANK, FEES, AR, OTHER = "Bank", "Stripe fees", "Accounts receivable", "Stripe adjustments"
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
class Line:
    """A balance transaction of a payout, joined to the ledger."""

    txn: BalanceLine
    customer_id: str
    status: str
    note: str
    problem: bool
    ledger: Recorded | None = None


@dataclass(frozen=True)
class PayoutReport:
    payout: Payout
    lines: tuple[Line, ...]
    gross: Decimal
    fees: Decimal
    net: Decimal
    problems: tuple[str, ...]  # about the payout as a whole

    @property
    def ties_out(self) -> bool:
        return not self.problems

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


def recorded(entries: list) -> dict[str, Recorded]:
    """The ledger's online payments and reversals by Stripe id, each payment at its latest state.

    A payment the customer split over invoices is several rows (`pi_…/INV-1`, `pi_…/INV-2`); they
    are one PaymentIntent and one charge, so their amounts are summed.
    """
    latest: dict[str, object] = {}
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
              since: date, until: date, funds: dict[str, Funds | None] | None = None) -> Report:
    """The report for payouts arriving in [since, until].

    `payouts` may include later ones (a payment recorded in the range and paid out after it is
    not "waiting"); `lines` is None for a payout whose transactions Stripe cannot list. `funds`
    holds what Stripe says now about the payments awaiting a payout (None: no such payment).
    """
    reports = tuple(_payout(p, lines, ledger) for p, lines in payouts if since <= p.arrival <= until)
    funds = funds or {}
    unpaid = tuple(_unpaid(r, r.stripe_id in funds, funds.get(r.stripe_id))
                   for r in awaiting_payout(payouts, ledger, since, until))
    return Report(since, until, reports, unpaid)


def _payout(p: Payout, lines: list[BalanceLine] | None, ledger: dict[str, Recorded]) -> PayoutReport:
    problems = []
    if p.status in ("failed", "canceled"):
        problems.append(f"payout {p.status}: no bank deposit (Stripe returns the money to the balance)")
    if lines is None:
        problems.append("a manual payout: Stripe lists what it paid out only for automatic payouts; reconcile it by hand")
        return PayoutReport(p, (), ZERO, ZERO, ZERO, tuple(problems))
    if not p.reconciled:
        problems.append("Stripe has not finished reconciling this payout: run this again later")
    money = [t for t in lines if t.type != "payout"]
    own = [t for t in lines if t.type == "payout"]
    gross = sum((t.amount for t in money), ZERO)
    fees = sum((t.fee for t in money), ZERO)
    net = sum((t.net for t in money), ZERO)
    for t in lines:
        if t.currency != p.currency:
            problems.append(f"{t.id} is in {t.currency}, the payout in {p.currency}")
        elif t.amount - t.fee != t.net:
            problems.append(f"{t.id}: gross {fmt(t.amount, t.currency)} - fee {fmt(t.fee, t.currency)} "
                            f"is not its net {fmt(t.net, t.currency)}")
    if gross - fees != net or net != p.amount:
        problems.append(f"does not tie out: transactions net {fmt(net, p.currency)} but the bank deposit is "
                        f"{fmt(p.amount, p.currency)} (difference {fmt(net - p.amount, p.currency)})")
    for t in own:
        if t.net != -p.amount:
            problems.append(f"its own transaction {t.id} moves {fmt(-t.net, p.currency)}, not {fmt(p.amount, p.currency)}")
    joined = tuple(_join(t, ledger) for t in money)
    return PayoutReport(p, joined, gross, fees, net, tuple(problems))


def _join(t: BalanceLine, ledger: dict[str, Recorded]) -> Line:
    """One transaction against the ledger."""
    owner = ledger.get(t.payment_intent)
    customer = owner.customer_id if owner else t.customer_id
    sync = f"a lost webhook: run `portal sync --since {t.day}`"
    if t.category == "charge":
        if not t.payment_intent:
            return Line(t, customer, MISSING, "a charge without a PaymentIntent (not taken through the portal): "
                        "record it in the ledger by hand", True)
        if owner is None:
            return Line(t, customer, MISSING, f"in Stripe but not in the ledger ({sync})", True)
        if owner.status != "succeeded":
            return Line(t, customer, STALE, f"the ledger has it {owner.status} at {owner.where}, Stripe paid it "
                        f"out: run `portal sync --since {owner.day}`", True, owner)
        return _compare(t, customer, owner, t.amount)
    if t.category in ("refund", "dispute", "refund_failure"):
        rec = ledger.get(t.source_id)
        expected = (t.category == "refund" and t.source_status == "succeeded") or (
            t.category == "dispute" and (t.source_status == "lost" or t.method == "us_bank_account"))
        if expected:
            if rec is None:
                return Line(t, customer, MISSING, f"{t.source_status} {t.source_type} not in the ledger ({sync})", True)
            return _compare(t, customer, rec, -t.amount)
        if rec is not None:
            return Line(t, customer, STALE, f"the ledger records {t.source_id} at {rec.where}, but Stripe says "
                        f"the {t.source_type} is {t.source_status}: correct the ledger", True, rec)
        return Line(t, customer, NO_EFFECT, _why_no_effect(t), False)
    if t.category == "dispute_reversal":
        return Line(t, customer, NO_EFFECT, "dispute won: the disputed money and fee came back", False)
    return Line(t, customer, NO_EFFECT, f"{t.category} ({t.type}): Stripe's own, not a customer's", False)


def _compare(t: BalanceLine, customer: str, rec: Recorded, stripe_amount: Decimal) -> Line:
    if rec.currency != t.currency:
        return Line(t, customer, DIFFERS, f"the ledger has it in {rec.currency} at {rec.where}, Stripe in "
                    f"{t.currency}", True, rec)
    if rec.amount != stripe_amount:
        return Line(t, customer, DIFFERS, f"the ledger has {fmt(rec.amount, rec.currency)} at {rec.where}, Stripe "
                    f"{fmt(stripe_amount, t.currency)} (difference {fmt(rec.amount - stripe_amount, t.currency)})",
                    True, rec)
    return Line(t, customer, MATCHED, f"ledger {rec.where}", False, rec)


def _why_no_effect(t: BalanceLine) -> str:
    if t.category == "refund_failure":
        return "refund failed: the money came back to the balance"
    if t.category == "refund":
        return f"refund {t.source_status}: the ledger records it when it succeeds"
    return f"dispute {t.source_status.replace('_', ' ')}: the ledger records it only if lost"


def _unpaid(r: Recorded, looked_up: bool, f: Funds | None) -> Unpaid:
    if r.kind != "payment" or not looked_up:
        return Unpaid(r, f"{r.kind} recorded; no payout has carried it yet", False)
    if f is None:
        return Unpaid(r, "the ledger records a payment Stripe does not have: correct the ledger", True)
    if f.currency != r.currency or f.amount != r.amount:
        return Unpaid(r, f"the ledger has {fmt(r.amount, r.currency)}, Stripe {fmt(f.amount, f.currency)}", True)
    if f.status == "processing":
        if r.status == "processing":
            return Unpaid(r, "bank payment processing: not settled yet", False)
        return Unpaid(r, "the ledger has it succeeded, Stripe says it is still processing", True)
    if f.status != "succeeded":
        return Unpaid(r, f"Stripe says {f.status.replace('_', ' ')}: it did not go through: run "
                      f"`portal sync --since {r.day}`", True)
    if r.status != "succeeded":
        return Unpaid(r, f"the ledger has it {r.status}, Stripe succeeded: run `portal sync --since {r.day}`", True)
    if f.balance_status == "pending":
        return Unpaid(r, f"paid; Stripe holds the funds until {f.available_on}", False)
    return Unpaid(r, "paid; the funds are available and go out with the next payout", False)


def journal(report: Report) -> list[Posting]:
    """Per payout that reached the bank and ties out: bank deposit, Stripe fees, receivables cleared.

    Debits equal credits for each payout: the deposit is the net of its transactions, i.e. their
    gross less their fees, and each category's gross is posted on the side its sign says.
    """
    out = []
    for pr in report.payouts:
        p = pr.payout
        if not pr.ties_out or not pr.lines:
            continue
        memo = f"Stripe payout {p.id}"

        def post(account: str, amount: Decimal, what: str, debit_when_positive: bool) -> None:
            if amount:
                value, debit = abs(amount), (amount > 0) == debit_when_positive
                out.append(Posting(p.arrival, p.id, account, value if debit else ZERO, ZERO if debit else value,
                                   p.currency, f"{memo}: {what}"))
        post(BANK, p.amount, "bank deposit", True)
        post(FEES, pr.fees, "Stripe fees", True)
        for category, amount in sorted(pr.by_category().items(), key=lambda kv: _order(kv[0])):
            account, what = POSTING.get(category, (OTHER, category.replace("_", " ")))
            post(account, amount, what, False)
    return out


def _order(category: str) -> tuple[int, str]:
    keys = list(POSTING)
    return (keys.index(category), "") if category in keys else (len(keys), category)


def _what(ln: Line) -> str:
    t = ln.txn
    ids = ", ".join(x for x in (t.source_id, t.payment_intent if t.payment_intent != t.source_id else "",
                                ln.customer_id, fmt(t.amount, t.currency)) if x)
    return f"{t.id} ({ids})"


def summary(report: Report) -> list[str]:
    """What the command prints: a line per payout, what awaits a payout, totals, then each problem."""
    out = [f"{len(report.payouts)} payout{'s' if len(report.payouts) != 1 else ''} arriving "
           f"{report.since} to {report.until}"]
    for pr in report.payouts:
        p, cur = pr.payout, pr.payout.currency
        state = "ties out" if pr.ties_out else "DOES NOT TIE OUT"
        out.append(f"  {p.id}  {p.arrival}  {cur} {p.status}: gross {fmt(pr.gross, cur)} - fees {fmt(pr.fees, cur)}"
                   f" = net {fmt(pr.net, cur)}, deposit {fmt(p.amount, cur)}; {state}; {pr.count(MATCHED)} matched,"
                   f" {pr.count(MISSING)} missing, {pr.count(DIFFERS) + pr.count(STALE)} differing")
    waiting: dict[str, Decimal] = {}
    for u in report.unpaid:
        waiting[u.rec.currency] = waiting.get(u.rec.currency, ZERO) + u.rec.amount
    if report.unpaid:
        out.append(f"  recorded but not yet paid out: {len(report.unpaid)} ("
                   + ", ".join(fmt(v, c) for c, v in sorted(waiting.items())) + ")")
    for cur, (n, gross, fees, net) in report.totals().items():
        out.append(f"  {cur}: {n} payout{'s' if n != 1 else ''}, gross {fmt(gross, cur)}, fees {fmt(fees, cur)}, "
                   f"deposited {fmt(net, cur)}")
    out += [f"PROBLEM {p}" for p in report.problems()]
    return out
