"""Payout reconciliation against the Stripe fake, through the SDK, with payments the webhooks recorded.

Expected figures are worked out here from the payments each test makes (Stripe's published fee
schedule: cards 2.9 % + 30¢, US bank debits 0.8 % capped at $5, disputes $15), never read back
from the code under test.
"""
from __future__ import annotations

import csv
import io
import os
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fakestripe import FakeStripe
from portal.cli import main
from portal.core.records import InputError
from portal.core.signing import Signer, load_keys, payment_mark_text
from portal.ledger.online import FILE
from portal.pay.gateway import Gateway
from portal.staff import reconcile as rc
from portal.staff.reconcile_io import SET_ASIDE_FILE, SetAside, read_recorded, read_set_aside, run

WHSEC = "whsec_reconcile_test_secret"
KEY = "sk_test_reconcile"
HEADER = "date,customer_id,type,ref,amount,currency,due_date,applies_to,memo\n"
CUSTOMERS = ("customer_id,name,email,currency,terms_days\n"
             "C1,First Customer,ap@first.example,USD,30\n"
             "C2,Second Customer,ap@second.example,USD,30\n"
             "C3,Tokyo KK,ap@tokyo.example,JPY,30\n"
             "C4,\"=HYPERLINK(\"\"http://evil.example\"\",\"\"x\"\")\",ap@evil.example,USD,30\n")
SET_ASIDE_HEADER = "date,payment_intent,customer_id,amount,currency,status,method,reason,key\n"
JOURNAL_HEADER = "date,journal,account,debit,credit,currency,memo\n"
MARK = "test-portal-mark"  # what the pure tests put on a portal payment (reconcile checks only that one is there)
TODAY = date.today()
SINCE, UNTIL = TODAY - timedelta(days=1), TODAY + timedelta(days=30)


@pytest.fixture(autouse=True)
def today():
    """Today as the code under test sees it while this test runs, not when the module was collected
    (a suite running across midnight compared with yesterday: seen at 00:00 UTC)."""
    global TODAY, SINCE, UNTIL
    TODAY = date.today()
    SINCE, UNTIL = TODAY - timedelta(days=1), TODAY + timedelta(days=30)
    return TODAY
DAY = 86_400


def card_fee(minor: int, fixed: int = 30) -> int:
    """2.9 % rounded half up, plus the fixed part (30¢; ¥0 for yen)."""
    return (minor * 29 + 500) // 1000 + fixed


def ach_fee(minor: int) -> int:
    return min((minor * 8 + 500) // 1000, 500)


def usd(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)


class Shop:
    """A project whose payment service records what the Stripe fake's webhooks report."""

    def __init__(self, project, fake: FakeStripe):
        self.project, self.fake = project, fake
        self.gateway = Gateway(KEY, WHSEC, fake.base_url)
        self.client = fake.client(KEY)
        self.signer = Signer(load_keys(project.settings().state_dir))

    def pay(self, cid: str, minor: int, currency: str = "USD", method: str = "card", invoice: str = "") -> str:
        """A Checkout payment exactly as /pay makes it (marked by the portal), completed on the fake;
        returns the PaymentIntent id."""
        exp = 0 if currency == "JPY" else 2
        amount = Decimal(minor).scaleb(-exp)
        allocations = f"{invoice}={amount}" if invoice else ""
        mark = self.signer.mark(payment_mark_text(cid, currency, minor, allocations))
        co = self.gateway.create_checkout(
            customer_id=cid, email=f"ap@{cid}.example", currency=currency, amount=amount,
            invoices=(invoice,) if invoice else (), allocations_text=allocations, mark=mark,
            description=f"test {minor}", success_url="http://x/pay/return?session_id={CHECKOUT_SESSION_ID}",
            cancel_url="http://x/")
        session = self.fake.pay_session(co.id, method="bank" if method == "bank" else "card")
        return session["payment_intent"]

    def charge(self, pi: str) -> str:
        return self.fake.get(pi)["latest_charge"]

    def payout(self, currency: str = "usd") -> dict:
        return self.fake.create_payout(currency, include_pending=True)

    def reconcile(self, since=None, until=None, page_size=100):
        return run(self.project.settings(), self.gateway, since or SINCE, until or UNTIL, page_size)

    def rows(self) -> list[dict]:
        path = self.project.ledger / FILE
        return list(csv.DictReader(io.StringIO(path.read_text()))) if path.exists() else []

    def cli(self, *args: str) -> int:
        return main(["--root", str(self.project.root), "reconcile", "--since", SINCE.isoformat(),
                     "--until", UNTIL.isoformat(), *args])


@pytest.fixture
def shop(project, live_server, make_app, today):
    project.write("customers.csv", CUSTOMERS)
    project.write("a.csv", HEADER + "2026-10-01,C1,invoice,INV-1,5000.00,,2030-10-31,,\n"
                                    "2026-10-01,C2,invoice,INV-2,5000.00,,2030-10-31,,\n"
                                    "2026-10-02,C3,invoice,INV-9,900000,,2030-01-31,,\n")
    fake = FakeStripe(webhook_secret=WHSEC)
    fake.start()
    base = live_server(make_app(stripe=fake.base_url, as_of=TODAY.isoformat(), secret_key=KEY, webhook_secret=WHSEC,
                                TESTING=False))
    fake.webhook_url = base + "/stripe/webhook"
    yield Shop(project, fake)
    fake.stop()


def lines_by_source(report) -> dict[str, rc.Line]:
    return {(ln.txn.payment_intent if ln.txn.category == "charge" else ln.txn.source_id): ln
            for pr in report.payouts for ln in pr.lines}


def journal_rows(path) -> list[dict]:
    return list(csv.DictReader(io.StringIO(path.read_text())))


def test_a_payout_of_matched_charges_ties_out_to_the_cent(shop):
    paid = {shop.pay("C1", 10_000): 10_000, shop.pay("C2", 123_456): 123_456,
            shop.pay("C1", 4_001, invoice="INV-1"): 4_001}
    ach = shop.pay("C2", 250_000, method="bank")
    shop.fake.settle(ach)
    paid[ach] = 250_000
    payout = shop.payout()
    report, out = shop.reconcile()

    (pr,) = report.payouts
    gross = sum(paid.values())
    fees = sum(card_fee(m) for pi, m in paid.items() if pi != ach) + ach_fee(250_000)
    assert (pr.gross, pr.fees, pr.net) == (usd(gross), usd(fees), usd(gross - fees))
    assert pr.payout.amount == usd(gross - fees) == usd(payout["amount"]) and pr.ties_out
    lines = lines_by_source(report)
    assert set(lines) == set(paid) and all(ln.status == rc.MATCHED for ln in lines.values())
    assert lines[ach].txn.type == "payment" and lines[ach].txn.category == "charge"  # ACH: type payment
    assert report.problems() == [] and report.unpaid == ()

    j = journal_rows(out.journal)
    assert [(r["account"], r["debit"], r["credit"]) for r in j] == [
        ("Bank", f"{usd(gross - fees)}", ""), ("Stripe fees", f"{usd(fees)}", ""),
        ("Accounts receivable", "", f"{usd(gross)}")]
    assert {r["journal"] for r in j} == {payout["id"]} and {r["currency"] for r in j} == {"USD"}


def test_a_charge_that_never_reached_the_ledger_is_reported_until_sync_records_it(shop, capsys):
    kept = shop.pay("C1", 7_000)
    shop.fake.webhook_url = None  # this payment's webhooks are lost, and the customer never came back
    lost = shop.pay("C2", 3_300)
    assert [r["ref"] for r in shop.rows()] == [kept]
    shop.payout()

    assert shop.cli() == 1
    out, err = capsys.readouterr()
    problem = next(ln for ln in out.splitlines() if ln.startswith("PROBLEM"))
    assert lost in problem and "not in the ledger" in problem and f"portal sync --since {TODAY}" in problem
    assert "1 missing" in out and "problem" in err
    report, _ = shop.reconcile()
    assert lines_by_source(report)[lost].status == rc.MISSING and lines_by_source(report)[kept].status == rc.MATCHED
    assert report.payouts[0].ties_out  # Stripe's side is whole; only the ledger lacks a row

    assert main(["--root", str(shop.project.root), "sync", "--since", TODAY.isoformat()]) == 0
    assert shop.cli() == 0
    assert "PROBLEM" not in capsys.readouterr().out


def test_a_payment_staff_recorded_by_hand_under_its_payment_intent_matches(shop):
    shop.fake.webhook_url = None
    lost = shop.pay("C2", 4_200)
    shop.payout()
    shop.project.write("manual.csv", HEADER + f"{TODAY},C2,payment,{lost},42.00,USD,,,Stripe payment (events expired)\n"
                                              f"{TODAY},C1,payment,CHQ-7,42.00,USD,,,cheque\n")
    report, _ = shop.reconcile()
    line = lines_by_source(report)[lost]
    assert line.status == rc.MATCHED and line.ledger.where == "content/ledger/manual.csv:2"
    assert report.unpaid == ()  # the cheque is not an online payment


def test_refund_and_disputes_net_in_the_payout_and_the_journal(shop):
    refunded = shop.pay("C1", 20_000)
    shop.client.v1.refunds.create({"payment_intent": refunded, "amount": 5_000})
    lost = shop.pay("C2", 8_000)
    lost_dispute = shop.fake.dispute(shop.charge(lost))
    shop.fake.close_dispute(lost_dispute["id"], "lost")
    open_ = shop.pay("C1", 6_500)
    open_dispute = shop.fake.dispute(shop.charge(open_))
    won = shop.pay("C2", 1_200)
    won_dispute = shop.fake.dispute(shop.charge(won))
    shop.fake.close_dispute(won_dispute["id"], "won")
    shop.payout()
    report, out = shop.reconcile()

    (pr,) = report.payouts
    charges = 20_000 + 8_000 + 6_500 + 1_200
    refunds, withdrawn, reinstated = 5_000, 8_000 + 6_500 + 1_200, 1_200
    fees = card_fee(20_000) + card_fee(8_000) + card_fee(6_500) + card_fee(1_200) + 3 * 1_500 - 1_500
    gross = charges - refunds - withdrawn + reinstated
    assert (pr.gross, pr.fees, pr.net, pr.payout.amount) == (usd(gross), usd(fees), usd(gross - fees),
                                                             usd(gross - fees))
    assert pr.ties_out and report.problems() == []
    lines = lines_by_source(report)
    refund_id = next(r["ref"] for r in shop.rows() if r["type"] == "refund" and r["ref"].startswith("re_"))
    assert lines[refund_id].status == rc.MATCHED and lines[refund_id].txn.amount == -usd(5_000)
    assert lines[lost_dispute["id"]].status == rc.MATCHED  # recorded (a refund row) when it was lost
    assert lines[open_dispute["id"]].status == rc.NO_EFFECT and "only if lost" in lines[open_dispute["id"]].note
    assert lines[won_dispute["id"]].status == rc.NO_EFFECT
    assert sorted(pr.by_category().items()) == [
        ("charge", usd(charges)), ("dispute", -usd(withdrawn)), ("dispute_reversal", usd(reinstated)),
        ("refund", -usd(refunds))]

    j = [(r["account"], r["debit"], r["credit"]) for r in journal_rows(out.journal)]
    assert j == [("Bank", f"{usd(gross - fees)}", ""), ("Stripe fees", f"{usd(fees)}", ""),
                 ("Accounts receivable", "", f"{usd(charges)}"), ("Accounts receivable", f"{usd(refunds)}", ""),
                 ("Accounts receivable", f"{usd(withdrawn)}", ""), ("Accounts receivable", "", f"{usd(reinstated)}")]
    debits = sum(Decimal(d or 0) for _, d, _ in j)
    assert debits == sum(Decimal(c or 0) for _, _, c in j) == usd(charges + reinstated)


def test_every_page_of_payouts_and_transactions_is_read(shop):
    made = []
    for n in range(3):  # three payouts of three payments each: pages of 2 split both lists
        amounts = {shop.pay("C1", 1_000 + 10 * n + k): 1_000 + 10 * n + k for k in range(3)}
        made.append(amounts)
        shop.payout()
    small, _ = shop.reconcile(page_size=2)
    whole, _ = shop.reconcile(page_size=100)
    assert len(small.payouts) == 3 and small == whole
    for pr in small.payouts:
        amounts = next(m for m in made if set(m) == {ln.txn.payment_intent for ln in pr.lines})
        assert len(pr.lines) == 3
        assert pr.gross == usd(sum(amounts.values()))
        assert pr.net == pr.payout.amount == usd(sum(m - card_fee(m) for m in amounts.values()))


def test_currencies_are_paid_out_and_totalled_apart_with_yen_in_whole_units(shop):
    jpy = shop.pay("C3", 184_000, currency="JPY")
    dollars = shop.pay("C1", 9_999)
    shop.payout("jpy")
    shop.payout("usd")
    report, out = shop.reconcile()

    by_cur = {pr.payout.currency: pr for pr in report.payouts}
    yen_fee = card_fee(184_000, fixed=0)  # 5,336: no ×100, no 30¢
    assert (by_cur["JPY"].gross, by_cur["JPY"].fees, by_cur["JPY"].net) == (
        Decimal(184_000), Decimal(yen_fee), Decimal(184_000 - yen_fee))
    assert by_cur["USD"].net == usd(9_999 - card_fee(9_999))
    assert report.totals() == {"JPY": (1, Decimal(184_000), Decimal(yen_fee), Decimal(184_000 - yen_fee)),
                               "USD": (1, usd(9_999), usd(card_fee(9_999)), usd(9_999 - card_fee(9_999)))}
    assert lines_by_source(report)[jpy].status == lines_by_source(report)[dollars].status == rc.MATCHED
    yen_rows = [r for r in journal_rows(out.journal) if r["currency"] == "JPY"]
    assert [(r["account"], r["debit"], r["credit"]) for r in yen_rows] == [
        ("Bank", str(184_000 - yen_fee), ""), ("Stripe fees", str(yen_fee), ""), ("Accounts receivable", "", "184000")]


def test_an_amount_that_differs_from_the_ledger_is_a_problem(shop, capsys):
    pi = shop.pay("C1", 5_000)
    shop.payout()
    path = shop.project.ledger / FILE
    path.write_text(path.read_text().replace(f",{pi},50.00,", f",{pi},55.00,"))
    report, _ = shop.reconcile()
    line = lines_by_source(report)[pi]
    assert line.status == rc.DIFFERS and line.problem
    assert "$55.00" in line.note and "$50.00" in line.note and "difference $5.00" in line.note
    assert f"{FILE}:2" in line.note
    assert report.payouts[0].ties_out  # Stripe's figures still tie out; the ledger is what is wrong
    assert shop.cli() == 1 and "amount" in capsys.readouterr().out


def test_payments_recorded_but_not_yet_paid_out_are_listed_with_where_the_money_is(shop):
    paid_out = shop.pay("C1", 2_000)
    shop.payout()
    waiting = shop.pay("C2", 3_000)       # card: funds pending for two days
    bank = shop.pay("C1", 4_000, method="bank")   # still processing
    report, out = shop.reconcile()

    by_id = {u.rec.stripe_id: u for u in report.unpaid}
    assert set(by_id) == {waiting, bank} and paid_out not in by_id
    assert by_id[waiting].rec.amount == usd(3_000) and not by_id[waiting].problem
    assert f"until {TODAY + timedelta(days=2)}" in by_id[waiting].note
    assert by_id[bank].rec.status == "processing" and "processing" in by_id[bank].note
    assert report.problems() == []
    rows = [r for r in csv.DictReader(io.StringIO(out.csv.read_text())) if r["ledger_status"] == "not yet paid out"]
    assert {r["payment_intent"] for r in rows} == {waiting, bank}


def test_cli_writes_staff_files_only_neutralises_formulas_and_escapes_html(shop, capsys):
    pi = shop.pay("C4", 1_500)
    shop.payout()
    assert shop.cli() == 0
    out = capsys.readouterr().out
    assert "ties out" in out and "1 matched" in out
    s = shop.project.settings()
    stem = f"{SINCE}-{UNTIL}"
    html = (s.staff_dir / f"reconcile-{stem}.html").read_text()
    table = (s.staff_dir / f"reconcile-{stem}.csv").read_text()
    assert (s.staff_dir / f"reconcile-journal-{stem}.csv").exists()
    assert not any(p.name.startswith("reconcile") for p in s.out.rglob("*"))  # never in the public site
    (row,) = csv.DictReader(io.StringIO(table))
    assert row["payment_intent"] == pi and row["customer_id"] == "C4"
    assert row["customer_name"].startswith("'=HYPERLINK(")  # a spreadsheet shows it as text
    assert row["gross"] == "15.00" and row["fee"] == str(usd(card_fee(1_500))) and row["ledger_status"] == "matched"
    assert "=HYPERLINK(&#34;http://evil.example&#34;" in html and '<a href="http://evil' not in html
    assert "src=" not in html and "<link" not in html  # no assets from anywhere


def test_cli_errors_write_nothing(shop, monkeypatch, capsys):
    s = shop.project.settings()
    monkeypatch.delenv("STRIPE_SECRET_KEY")
    assert shop.cli() == 2 and "STRIPE_SECRET_KEY" in capsys.readouterr().err
    monkeypatch.setenv("STRIPE_SECRET_KEY", KEY)
    shop.fake.stop()  # Stripe unreachable
    assert shop.cli() == 2 and "nothing was written" in capsys.readouterr().err
    assert not list(s.staff_dir.glob("reconcile*"))


def test_an_unreadable_ledger_row_is_reported_by_file_and_line(shop, capsys):
    shop.pay("C1", 1_000)
    path = shop.project.ledger / FILE
    path.write_text(path.read_text() + f"{TODAY},C1,payment,pi_x,ten,USD,,,,succeeded,pi_x:succeeded\n")
    with pytest.raises(InputError) as e:
        read_recorded(shop.project.settings())
    assert [str(p) for p in e.value.problems] == [
        f"content/ledger/{FILE}:3: amount 'ten' is not an amount (expected a decimal such as 1234.50)"]
    assert shop.cli() == 1 and f"{FILE}:3" in capsys.readouterr().err


def test_a_lost_webhook_keeps_its_payout_out_of_the_journal_and_the_output_starts_with_what_to_do(shop, capsys):
    shop.pay("C1", 7_000)
    shop.fake.webhook_url = None
    lost = shop.pay("C2", 3_300)
    po = shop.payout()["id"]

    assert shop.cli() == 1
    out = capsys.readouterr().out.splitlines()
    assert out[:3] == ["What to do first:",
                       f"  1. Run `portal sync --since {TODAY}` to record 1 payment that webhooks missed, then run "
                       "`portal reconcile` again.",
                       f"  The journal leaves out payout {po} until then."]
    assert f"left out of the journal until fixed: 1 {rc.MISSING}" in next(ln for ln in out if ln.startswith(f"  {po}"))
    assert f"  journal: nothing journalled: every payout has a problem: {po} (1 {rc.MISSING})" in out
    s, stem = shop.project.settings(), f"{SINCE}-{UNTIL}"
    assert (s.staff_dir / f"reconcile-journal-{stem}.csv").read_text() == JOURNAL_HEADER  # nothing to post wrongly
    html = (s.staff_dir / f"reconcile-{stem}.html").read_text()
    main_part = html[html.index("<main>"):]
    assert (main_part.index("What to do first") < main_part.index('id="problems"')
            < main_part.index("Totals by currency"))
    assert f"<code>portal sync --since {TODAY}</code>" in main_part and lost in main_part
    assert f"The journal leaves out payout {po} until then." in main_part
    assert "Left out of the journal until fixed: 1 missing from ledger" in main_part
    assert "Nothing journalled" in main_part

    assert main(["--root", str(shop.project.root), "sync", "--since", TODAY.isoformat()]) == 0
    assert shop.cli() == 0
    out = capsys.readouterr().out
    assert "What to do first" not in out and f"  journal: every payout journalled ({po})" in out.splitlines()
    assert {r["journal"] for r in journal_rows(s.staff_dir / f"reconcile-journal-{stem}.csv")} == {po}


def test_reconciling_the_same_range_again_keeps_the_earlier_report_under_the_time_it_was_made(shop, capsys):
    shop.pay("C1", 1_000)
    first_po = shop.payout()["id"]
    assert shop.cli() == 0
    s, stem = shop.project.settings(), f"{SINCE}-{UNTIL}"
    names = (f"reconcile-{stem}.html", f"reconcile-{stem}.csv", f"reconcile-journal-{stem}.csv")
    made = datetime(2026, 12, 1, 10, 20, 30, tzinfo=UTC).timestamp()
    for name in names:
        os.utime(s.staff_dir / name, (made, made))
    before = {name: (s.staff_dir / name).read_text() for name in names}
    shop.pay("C2", 2_000)
    second_po = shop.payout()["id"]
    capsys.readouterr()

    assert shop.cli() == 0
    out = capsys.readouterr().out
    kept = (f"reconcile-{stem}.made-20261201-102030.html", f"reconcile-{stem}.made-20261201-102030.csv",
            f"reconcile-journal-{stem}.made-20261201-102030.csv")
    assert f"The earlier report of this range is kept as {kept[0]} (with its CSV and journal)" in out
    assert (s.staff_dir / kept[1]).read_text() == before[names[1]]
    assert (s.staff_dir / kept[2]).read_text() == before[names[2]]
    old_html = (s.staff_dir / kept[0]).read_text()  # its links now lead to its own CSV and journal
    assert old_html == before[names[0]].replace(names[2], kept[2]).replace(names[1], kept[1])
    assert f'href="{kept[1]}"' in old_html and f'href="{kept[2]}"' in old_html and f'href="{names[1]}"' not in old_html
    assert {r["journal"] for r in journal_rows(s.staff_dir / names[2])} == {first_po, second_po}  # the new one

    for name in names:  # the second run made in the same second as the first: its name gets a counter
        os.utime(s.staff_dir / name, (made, made))
    assert shop.cli() == 0
    assert (s.staff_dir / f"reconcile-{stem}.made-20261201-102030-2.html").exists()
    assert (s.staff_dir / f"reconcile-journal-{stem}.made-20261201-102030-2.csv").exists()
    assert len(list(s.staff_dir.glob(f"reconcile-{stem}*.html"))) == 3


def test_a_payment_another_app_took_on_the_same_stripe_account_is_not_from_the_portal(shop):
    ours = shop.pay("C1", 10_000)
    webshop = shop.client.v1.checkout.sessions.create({
        "mode": "payment", "success_url": "https://shop.example/thanks", "customer_email": "buyer@example.com",
        "line_items": [{"quantity": 1, "price_data": {"currency": "usd", "unit_amount": 2_500,
                                                      "product_data": {"name": "Mug"}}}],
        "metadata": {"order": "W-1001"}, "payment_intent_data": {"metadata": {"order": "W-1001", "app": "webshop"}}})
    theirs = shop.fake.pay_session(webshop.id)["payment_intent"]
    assert theirs not in {r["ref"].split("/")[0] for r in shop.rows()}  # the payment service did not record it
    po = shop.payout()["id"]
    report, out = shop.reconcile()

    lines = lines_by_source(report)
    assert lines[theirs].status == rc.NOT_FROM_PORTAL and not lines[theirs].problem and lines[theirs].ledger is None
    assert lines[ours].status == rc.MATCHED and report.problems() == [] and report.payouts[0].clean
    fees = card_fee(10_000) + card_fee(2_500)
    assert [(r["journal"], r["account"], r["debit"], r["credit"]) for r in journal_rows(out.journal)] == [
        (po, "Bank", f"{usd(12_500 - fees)}", ""), (po, "Stripe fees", f"{usd(fees)}", ""),
        (po, "Accounts receivable", "", "100.00"), (po, "Other Stripe receipts", "", "25.00")]
    row = next(r for r in csv.DictReader(io.StringIO(out.csv.read_text())) if r["payment_intent"] == theirs)
    assert row["ledger_status"] == "not from the portal" and row["customer_id"] == ""


def test_reconcile_reads_the_payments_the_service_set_aside_beside_the_ledger(shop, capsys):
    shop.fake.webhook_url = None  # as if the service had set it aside instead of recording it
    pi = shop.pay("C2", 3_300)
    shop.project.write(SET_ASIDE_FILE, SET_ASIDE_HEADER + f"{TODAY},{pi},C2,33.00,USD,succeeded,card,"
                                                          f"customer C2 has no statement link,{pi}:succeeded\n")
    shop.payout()
    report, out = shop.reconcile()
    line = lines_by_source(report)[pi]
    assert line.status == rc.SET_ASIDE and line.problem
    assert line.note == ("in Stripe, set aside by the payment service: customer C2 has no statement link; record it by "
                         f"hand in a ledger file with ref {pi} once you know whose it is")
    assert out.journal.read_text() == JOURNAL_HEADER
    assert shop.cli() == 1
    printed = capsys.readouterr().out
    assert "1 set aside" in printed and "portal sync" not in printed


# -- the pure matching and the journal, on hand-made Stripe records -------------------------------
def payout(amount: str, status: str = "paid", automatic: bool = True, currency: str = "USD", pid: str = "po_1"):
    from portal.pay.gateway import Payout
    return Payout(pid, Decimal(amount), currency, TODAY, status, automatic)


def txn(tid: str, category: str, amount: str, fee: str = "0", source: str = "", pi: str = "", status: str = "",
        currency: str = "USD", net: str | None = None, customer: str = "", mark: str = ""):
    from portal.pay.gateway import BalanceLine
    types = {"charge": "charge", "refund": "refund", "dispute": "adjustment", "payout": "payout"}
    net = Decimal(amount) - Decimal(fee) if net is None else Decimal(net)
    source_type = {"charge": "charge", "refund": "refund", "dispute": "dispute"}.get(category, "")
    return BalanceLine(tid, types.get(category, "adjustment"), category, Decimal(amount), Decimal(fee), net, currency,
                       TODAY, source or tid, source_type, pi, status, "card", customer, mark)


def paid(pi: str, amount: str, status: str = "succeeded", kind: str = "payment", currency: str = "USD"):
    return rc.Recorded(pi, kind, "C1", Decimal(amount), currency, status, TODAY, "content/ledger/online-payments.csv:2")


def test_a_payout_whose_transactions_do_not_sum_to_the_deposit_is_a_problem_and_not_journalled():
    lines = [txn("t1", "charge", "100.00", "3.20", "ch_1", "pi_1"), txn("t2", "payout", "-96.81", source="po_1")]
    report = rc.reconcile([(payout("96.81"), lines)], {"pi_1": paid("pi_1", "100.00")}, SINCE, UNTIL)
    (pr,) = report.payouts
    assert not pr.ties_out and pr.net == Decimal("96.80")
    assert report.problems() == ["po_1: does not tie out: transactions net $96.80 but the bank deposit is $96.81 "
                                 "(difference -$0.01)"]
    assert rc.journal(report) == []


def test_a_transaction_whose_gross_less_fee_is_not_its_net_is_named():
    lines = [txn("t1", "charge", "10.00", "0.59", "ch_1", "pi_1", net="9.40")]
    report = rc.reconcile([(payout("9.40"), lines)], {"pi_1": paid("pi_1", "10.00")}, SINCE, UNTIL)
    assert any("t1: gross $10.00 - fee $0.59 is not its net $9.40" in p for p in report.problems())


def test_failed_and_manual_payouts_are_problems_outside_the_totals_and_journal():
    lines = [txn("t1", "charge", "10.00", "0.59", "ch_1", "pi_1")]
    ledger = {"pi_1": paid("pi_1", "10.00")}
    report = rc.reconcile([(payout("9.41", status="failed"), lines),
                           (payout("5.00", automatic=False, pid="po_2"), None)], ledger, SINCE, UNTIL)
    problems = report.problems()
    assert problems[0].startswith("po_1: payout failed: no bank deposit")
    assert problems[1].startswith("po_2: a manual payout")
    assert report.totals() == {"USD": (1, Decimal(0), Decimal(0), Decimal(0))} and rc.journal(report) == []


def test_the_ledger_still_processing_a_paid_out_payment_says_to_sync():
    lines = [txn("t1", "charge", "40.00", "0.32", "py_1", "pi_1")]
    report = rc.reconcile([(payout("39.68"), lines)], {"pi_1": paid("pi_1", "40.00", "processing")}, SINCE, UNTIL)
    (problem,) = report.problems()
    assert "ledger has it processing" in problem and f"portal sync --since {TODAY}" in problem


def test_a_refund_the_ledger_records_but_stripe_failed_is_a_problem():
    lines = [txn("t1", "refund", "-5.00", source="re_1", pi="pi_1", status="failed"),
             txn("t2", "refund_failure", "5.00", source="re_1", pi="pi_1", status="failed"),
             txn("t3", "charge", "20.00", "0.88", "ch_1", "pi_1")]
    ledger = {"pi_1": paid("pi_1", "20.00"), "re_1": paid("re_1", "5.00", kind="refund")}
    report = rc.reconcile([(payout("19.12"), lines)], ledger, SINCE, UNTIL)
    assert report.payouts[0].ties_out
    assert [ln.status for ln in report.payouts[0].lines] == [rc.STALE, rc.STALE, rc.MATCHED]


def test_a_payment_split_over_invoices_is_one_payment_at_its_latest_state():
    from portal.core.records import Entry

    def row(ref, amount, status, line, etype="payment"):
        return Entry(TODAY, "C1", etype, ref, Decimal(amount), "USD", None, "", "",
                     "content/ledger/online-payments.csv", line, status)
    found = rc.recorded([row("pi_1/INV-1", "30.00", "processing", 2), row("pi_1/INV-2", "10.00", "processing", 3),
                         row("pi_1/INV-1", "30.00", "", 4), row("pi_1/INV-2", "10.00", "", 5),
                         row("pi_2", "7.00", "processing", 6), row("pi_2", "7.00", "failed", 7),
                         row("re_1", "4.00", "", 8, "refund")])
    assert found["pi_1"].amount == Decimal("40.00") and found["pi_1"].status == "succeeded"
    assert found["pi_1"].where == "content/ledger/online-payments.csv:4"
    assert found["pi_2"].status == "failed" and found["re_1"].kind == "refund"
    assert rc.awaiting_payout([], found, SINCE, UNTIL) == [found["pi_1"], found["re_1"]]  # a failed one never pays out


def test_payments_paid_out_after_the_range_are_not_waiting():
    later = payout("9.41", pid="po_9")
    later = type(later)(later.id, later.amount, later.currency, UNTIL + timedelta(days=2), later.status, True)
    report = rc.reconcile([(later, [txn("t1", "charge", "10.00", "0.59", "ch_1", "pi_1")])],
                          {"pi_1": paid("pi_1", "10.00")}, SINCE, UNTIL)
    assert report.payouts == () and report.unpaid == ()


def aside(pi: str, amount: str, reason: str = "no customer C9 in customers.csv", customer: str = "C9"):
    return SetAside(pi, customer, Decimal(amount), "USD", "succeeded", "card", reason, TODAY,
                    f"content/ledger/{SET_ASIDE_FILE}:2")


def test_a_payout_with_a_charge_missing_from_the_ledger_is_left_out_of_the_journal():
    lines = [txn("t1", "charge", "100.00", "3.20", "ch_1", "pi_1", customer="C1", mark=MARK),
             txn("t2", "charge", "50.00", "1.75", "ch_2", "pi_2", customer="C2", mark=MARK)]
    report = rc.reconcile([(payout("145.05"), lines)], {"pi_1": paid("pi_1", "100.00")}, SINCE, UNTIL)
    (pr,) = report.payouts
    assert pr.ties_out and not pr.clean and pr.held() == ["1 missing from ledger"]
    assert rc.journal(report) == []  # it would credit receivables for a payment the ledger has not applied
    assert rc.steps(report) == [f"Run `portal sync --since {TODAY}` to record 1 payment that webhooks missed, "
                                "then run `portal reconcile` again."]
    assert rc.left_out(report) == "The journal leaves out payout po_1 until then."


def test_only_payouts_without_problems_are_journalled_and_each_one_left_out_is_named():
    good = [txn("t1", "charge", "100.00", "3.20", "ch_1", "pi_1")]
    bad = [txn("t2", "charge", "50.00", "1.75", "ch_2", "pi_2")]
    ledger = {"pi_1": paid("pi_1", "100.00"), "pi_2": paid("pi_2", "55.00")}
    report = rc.reconcile([(payout("96.80"), good), (payout("48.25", pid="po_2"), bad)], ledger, SINCE, UNTIL)
    assert {p.payout for p in rc.journal(report)} == {"po_1"}
    assert rc.steps(report) == ["Correct the ledger row content/ledger/online-payments.csv:2 (amount differs by $5.00: "
                                "the ledger has $55.00, Stripe $50.00)."]
    out = rc.summary(report)
    assert out[:3] == ["What to do first:", "  1. " + rc.steps(report)[0],
                       "  The journal leaves out payout po_2 until then."]
    assert next(ln for ln in out if ln.startswith("  po_1")).endswith("; journalled")
    assert next(ln for ln in out if ln.startswith("  po_2")).endswith("; left out of the journal until fixed: "
                                                                       "1 amount differs")
    assert "  journal: 1 of 2 payouts journalled (po_1); left out: po_2 (1 amount differs)" in out


def test_what_to_do_comes_in_order_sync_then_by_hand_then_corrections_then_stripe():
    older = TODAY - timedelta(days=3)
    day_before = txn("t0", "charge", "10.00", "0.59", "ch_0", "pi_0", customer="C1", mark=MARK)
    day_before = replace(day_before, day=older)
    lines = [txn("t1", "charge", "20.00", "0.88", "ch_1", "pi_1"),                       # amount differs
             txn("t2", "charge", "30.00", "1.17", "ch_2", "pi_2", customer="C9", mark=MARK),  # set aside
             txn("t3", "charge", "40.00", "1.46", "ch_3", "pi_3", customer="C2", mark=MARK),  # missing: sync
             txn("t4", "charge", "50.00", "1.75", "ch_4", "pi_4", customer="C2"),        # no mark: by hand
             day_before]
    net = sum(t.net for t in lines)
    ledger = {"pi_1": paid("pi_1", "21.00")}
    report = rc.reconcile([(payout(str(net)), lines), (payout("5.01", pid="po_2"), [txn("t9", "charge", "5.00")]),
                           (payout("1.00", automatic=False, pid="po_3"), None)],
                          ledger, SINCE, UNTIL, set_aside={"pi_2": aside("pi_2", "30.00")})
    assert rc.steps(report) == [
        f"Run `portal sync --since {older}` to record 2 payments that webhooks missed, "
        "then run `portal reconcile` again.",
        f"Find out whose payment pi_2 is ($30.00, paid {TODAY}; the payment service set it aside: no customer C9 in "
        "customers.csv) and record it by hand in a ledger file with ref pi_2.",
        f"Record payment pi_4 (C2, $50.00, paid {TODAY}) by hand in a ledger file with ref pi_4: it carries no portal "
        "mark (the portal did not start it), so only an entry by hand records it.",
        "Correct the ledger row content/ledger/online-payments.csv:2 (amount differs by $1.00: the ledger has $21.00, "
        "Stripe $20.00).",
        "Ask Stripe support about payout po_2: does not tie out: transactions net $5.00 but the bank deposit is $5.01 "
        "(difference -$0.01).",
        "Reconcile manual payout po_3 by hand: Stripe does not list what a manual payout carried.",
    ]
    assert rc.left_out(report) == "The journal leaves out payouts po_1, po_2 and po_3 until then."
    assert rc.journal(report) == []
    assert report.payouts[0].held() == ["3 missing from ledger", "1 set aside", "1 amount differs"]
    assert report.payouts[1].held() == ["does not tie out"] and report.payouts[2].held() == ["manual payout"]


def test_a_charge_the_payment_service_set_aside_is_a_problem_that_keeps_its_payout_out_of_the_journal():
    lines = [txn("t1", "charge", "30.00", "1.17", "ch_1", "pi_9", customer="C9", mark=MARK)]
    report = rc.reconcile([(payout("28.83"), lines)], {}, SINCE, UNTIL, set_aside={"pi_9": aside("pi_9", "30.00")})
    (line,) = report.payouts[0].lines
    assert line.status == rc.SET_ASIDE and line.problem and line.customer_id == "C9"
    assert report.problems() == ["po_1 t1 (ch_1, pi_9, C9, $30.00): in Stripe, set aside by the payment service: "
                                 "no customer C9 in customers.csv; record it by hand in a ledger file with ref pi_9 "
                                 "once you know whose it is"]
    assert rc.journal(report) == []
    assert next(ln for ln in rc.summary(report) if ln.startswith("  po_1")).endswith("until fixed: 1 set aside")


def test_a_set_aside_payment_staff_recorded_by_hand_under_its_payment_intent_matches():
    lines = [txn("t1", "charge", "30.00", "1.17", "ch_1", "pi_9", customer="C9", mark=MARK)]
    report = rc.reconcile([(payout("28.83"), lines)], {"pi_9": paid("pi_9", "30.00")}, SINCE, UNTIL,
                          set_aside={"pi_9": aside("pi_9", "30.00")})
    assert report.payouts[0].lines[0].status == rc.MATCHED and report.payouts[0].clean and rc.journal(report)


def test_a_charge_not_from_the_portal_has_no_ledger_effect_and_is_journalled_to_other_stripe_receipts():
    lines = [txn("t1", "charge", "100.00", "3.20", "ch_1", "pi_1", customer="C1", mark=MARK),
             txn("t2", "charge", "40.00", "1.46", "ch_2", "pi_w")]  # neither mark nor customer: a webshop's
    report = rc.reconcile([(payout("135.34"), lines)], {"pi_1": paid("pi_1", "100.00")}, SINCE, UNTIL)
    assert [(ln.status, ln.problem) for ln in report.payouts[0].lines] == [(rc.MATCHED, False),
                                                                        (rc.NOT_FROM_PORTAL, False)]
    assert report.problems() == [] and rc.steps(report) == [] and rc.left_out(report) == ""
    assert [(p.account, p.debit, p.credit, p.memo) for p in rc.journal(report)] == [
        ("Bank", Decimal("135.34"), 0, "Stripe payout po_1: bank deposit"),
        ("Stripe fees", Decimal("4.66"), 0, "Stripe payout po_1: Stripe fees"),
        ("Accounts receivable", 0, Decimal("100.00"), "Stripe payout po_1: online payments received"),
        ("Other Stripe receipts", 0, Decimal("40.00"),
         "Stripe payout po_1: online payments received (not through the portal)")]
    assert "1 not from the portal" in rc.summary(report)[1]


def test_refunds_and_disputes_of_a_payment_not_from_the_portal_are_not_from_the_portal_either():
    later = payout("-40.00", pid="po_2")
    lines = [txn("t2", "refund", "-10.00", source="re_w", pi="pi_w", status="succeeded"),
             txn("t3", "dispute", "-30.00", source="dp_w", pi="pi_w", status="lost")]
    report = rc.reconcile([(payout("38.54"), [txn("t1", "charge", "40.00", "1.46", "ch_w", "pi_w")]), (later, lines)],
                          {}, SINCE, UNTIL)
    assert [ln.status for ln in report.payouts[1].lines] == [rc.NOT_FROM_PORTAL, rc.NOT_FROM_PORTAL]
    assert report.problems() == []
    assert [(p.account, p.debit, p.credit) for p in rc.journal(report) if p.payout == "po_2"] == [
        ("Bank", 0, Decimal("40.00")), ("Other Stripe receipts", Decimal("10.00"), 0),
        ("Other Stripe receipts", Decimal("30.00"), 0)]


def test_a_customers_charge_without_the_portal_mark_is_to_be_recorded_by_hand_not_synced():
    lines = [txn("t1", "charge", "25.00", "1.03", "ch_1", "pi_1", customer="C2")]
    report = rc.reconcile([(payout("23.97"), lines)], {}, SINCE, UNTIL)
    (line,) = report.payouts[0].lines
    assert line.status == rc.MISSING and line.problem and line.customer_id == "C2"
    assert "record it by hand in a ledger file with ref pi_1" in line.note
    assert "portal sync" not in line.note and not any("portal sync" in step for step in rc.steps(report))
    assert rc.journal(report) == []


def test_a_refund_of_a_payment_sync_does_not_record_is_set_aside_or_to_be_recorded_by_hand():
    charges = [txn("t1", "charge", "30.00", "1.17", "ch_1", "pi_9", customer="C9", mark=MARK),
               txn("t2", "charge", "20.00", "0.88", "ch_2", "pi_2", customer="C2")]
    refunds = [txn("t3", "refund", "-5.00", source="re_9", pi="pi_9", status="succeeded"),
               txn("t4", "refund", "-4.00", source="re_2", pi="pi_2", status="succeeded")]
    ledger = {"pi_2": paid("pi_2", "20.00")}  # staff recorded the unmarked payment by hand, not its refund
    report = rc.reconcile([(payout("47.95"), charges), (payout("-9.00", pid="po_2"), refunds)], ledger, SINCE, UNTIL,
                          set_aside={"pi_9": aside("pi_9", "30.00")})
    set_aside, unmarked = report.payouts[1].lines
    assert set_aside.status == rc.SET_ASIDE and "a payment the payment service set aside" in set_aside.note
    assert unmarked.status == rc.MISSING and "its payment carries no portal mark" in unmarked.note
    assert not any("portal sync" in step for step in rc.steps(report))
    assert rc.steps(report)[1:] == [
        f"Record refund re_9 ($5.00, {TODAY}) by hand in a ledger file with ref re_9 once payment pi_9 is.",
        f"Record refund re_2 (C1, $4.00, {TODAY}) by hand in a ledger file with ref re_2: its payment carries no "
        "portal mark (the portal did not start it), so only an entry by hand records it."]


def test_the_set_aside_file_is_read_with_the_last_row_of_each_payment_intent_winning(tmp_path):
    (tmp_path / SET_ASIDE_FILE).write_text(SET_ASIDE_HEADER + (
        "2026-11-20,pi_A,C9,12.50,USD,processing,us_bank_account,no customer C9,pi_A:processing\n"
        "2026-11-20,pi_B,,1840,JPY,succeeded,card,no portal mark,pi_B:succeeded\n"
        "2026-11-24,pi_A,C9,12.50,USD,succeeded,us_bank_account,\"no customer C9, still\",pi_A:succeeded\n"),
        encoding="utf-8")
    found = read_set_aside(tmp_path)
    assert found == {
        "pi_A": SetAside("pi_A", "C9", Decimal("12.50"), "USD", "succeeded", "us_bank_account", "no customer C9, still",
                         date(2026, 11, 24), f"{tmp_path / SET_ASIDE_FILE}:4"),
        "pi_B": SetAside("pi_B", "", Decimal(1840), "JPY", "succeeded", "card", "no portal mark", date(2026, 11, 20),
                         f"{tmp_path / SET_ASIDE_FILE}:3")}
    assert read_set_aside(tmp_path / "no-such-folder") == {}


def test_an_unreadable_set_aside_row_is_reported_by_file_and_line(tmp_path):
    (tmp_path / SET_ASIDE_FILE).write_text(SET_ASIDE_HEADER + (
        "2026-11-20,pi_A,C9,ten,USD,succeeded,card,x,pi_A:succeeded\n"
        "20/11/2026,pi_B,C9,1.00,USD,succeeded,card,x,pi_B:succeeded\n"
        "2026-11-20,pi_C,C9,1.00,XYZ,paid,card,x,pi_C:paid\n"
        "2026-11-20,,C9,1.00,USD,succeeded,card,x,:succeeded\n"), encoding="utf-8")
    with pytest.raises(InputError) as e:
        read_set_aside(tmp_path, tmp_path)
    assert [str(p) for p in e.value.problems] == [
        f"{SET_ASIDE_FILE}:2: amount 'ten' is not an amount",
        f"{SET_ASIDE_FILE}:3: date '20/11/2026' is not a date (expected YYYY-MM-DD)",
        f"{SET_ASIDE_FILE}:4: currency 'XYZ' is not a currency this portal knows",
        f"{SET_ASIDE_FILE}:4: status 'paid' is not processing, succeeded or failed",
        f"{SET_ASIDE_FILE}:5: no payment_intent"]
    (tmp_path / SET_ASIDE_FILE).write_text("date,payment_intent,amount\n", encoding="utf-8")
    with pytest.raises(InputError) as e:
        read_set_aside(tmp_path, tmp_path)
    assert [str(p) for p in e.value.problems] == [
        f"{SET_ASIDE_FILE}:1: header lacks currency, status, reason"]


MOVES = st.lists(st.tuples(st.sampled_from(["charge", "other_app_charge", "refund", "dispute", "dispute_reversal",
                                            "other_adjustment"]),
                           st.integers(min_value=1, max_value=10_000_000),
                           st.integers(min_value=-2_000, max_value=2_000)),
                 min_size=1, max_size=12)


@settings(max_examples=150, deadline=None, database=None)
@given(MOVES, st.sampled_from(["USD", "JPY"]))
def test_each_payouts_journal_balances_to_the_cent(moves, currency):
    exp = 0 if currency == "JPY" else 2
    lines, ledger, ours, theirs = [], {}, Decimal(0), Decimal(0)
    for n, (cat, amount, fee) in enumerate(moves):
        sign = {"charge": 1, "other_app_charge": 1, "dispute_reversal": 1, "refund": -1,
                "dispute": -1}.get(cat, 1 if fee % 2 else -1)
        gross = Decimal(sign * amount).scaleb(-exp)
        if cat == "charge":  # the portal's, recorded by the payment service
            lines.append(txn(f"t{n}", cat, str(gross), str(Decimal(fee).scaleb(-exp)), f"ch_{n}", f"pi_{n}",
                             currency=currency, customer="C1", mark=MARK))
            ledger[f"pi_{n}"] = paid(f"pi_{n}", str(gross), currency=currency)
            ours += gross
        elif cat == "other_app_charge":  # another application's on the same Stripe account
            lines.append(txn(f"t{n}", "charge", str(gross), str(Decimal(fee).scaleb(-exp)), f"ch_{n}", f"pi_{n}",
                             currency=currency))
            theirs += gross
        else:
            lines.append(txn(f"t{n}", cat, str(gross), str(Decimal(fee).scaleb(-exp)), f"x{n}", currency=currency))
    net = sum(t.net for t in lines)
    report = rc.reconcile([(payout(str(net), currency=currency), lines)], ledger, SINCE, UNTIL)
    assert report.problems() == [] and report.payouts[0].clean
    postings = rc.journal(report)
    assert sum(p.debit for p in postings) == sum(p.credit for p in postings) > 0
    assert all(p.debit >= 0 and p.credit >= 0 and (p.debit == 0) != (p.credit == 0) for p in postings)
    assert sum(p.debit - p.credit for p in postings if p.account == rc.BANK) == net
    assert sum(p.debit - p.credit for p in postings if p.account == rc.FEES) == sum(t.fee for t in lines)
    charged = [p for p in postings if "payments received" in p.memo]
    assert sum(p.credit for p in charged if p.account == rc.AR) == ours
    assert sum(p.credit for p in charged if p.account == rc.OTHER_RECEIPTS) == theirs


def test_the_demo_reconciles_the_demo_company_offline_without_touching_its_ledger(tmp_path):
    import hashlib
    import subprocess
    import sys

    from conftest import REPO

    def digest():
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (REPO / "content" / "ledger").glob("*")}
    before = digest()
    r = subprocess.run([sys.executable, str(REPO / "scripts" / "demo_reconcile.py"), str(tmp_path)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    first, second = r.stdout.split("$ portal sync")
    assert "in Stripe but not in the ledger" in first and "(exit status 1)" in first
    assert "1 ledger rows recorded" in second and "(exit status 0)" in second and "PROBLEM" not in second
    assert second.count("ties out") == 3  # one payout per currency: EUR, JPY, USD
    assert digest() == before
    assert list((tmp_path / "demo" / "staff").glob("reconcile-journal-*.csv"))
