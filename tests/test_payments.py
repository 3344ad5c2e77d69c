"""What may be paid online: computed from the account, refused when stale, too much or too little."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from portal.core.accounts import accounts
from portal.core.records import Entry
from portal.pay.charge import Refused, charge_for

AS_OF = date(2026, 11, 25)
MIN = Decimal("1.00")


def e(kind, ref, amount, when="2026-10-01", due=None, applies=""):
    return Entry(date.fromisoformat(when), "C1", kind, ref, Decimal(amount), "USD",
                 date.fromisoformat(due) if due else None, applies, "", "f.csv", 2)


@pytest.fixture
def account():
    (a,) = accounts([e("invoice", "INV-1", "100.00", due="2026-10-31"),
                     e("invoice", "INV-2", "50.00", due="2026-12-31"),
                     e("payment", "P-1", "30.00", applies="INV-1")], AS_OF)
    return a


def test_whole_balance(account):
    c = charge_for(account, "balance", [], "", MIN)
    assert (c.amount, c.invoices) == (Decimal("120.00"), ("INV-1", "INV-2"))


def test_overdue_only(account):
    c = charge_for(account, "overdue", [], "", MIN)
    assert (c.amount, c.invoices) == (Decimal("70.00"), ("INV-1",))


def test_chosen_invoices_pay_their_open_amounts(account):
    c = charge_for(account, "invoices", ["INV-2", "INV-1", "INV-2"], "", MIN)
    assert (c.amount, c.invoices) == (Decimal("120.00"), ("INV-2", "INV-1"))


def test_an_amount(account):
    assert charge_for(account, "amount", [], "12.5", MIN).amount == Decimal("12.50")


def test_more_than_owed_is_refused(account):
    with pytest.raises(Refused, match=r"\$120.01 is more than the \$120.00 you owe"):
        charge_for(account, "amount", [], "120.01", MIN)


def test_below_the_minimum_is_refused(account):
    with pytest.raises(Refused, match=r"smallest online payment is \$1.00"):
        charge_for(account, "amount", [], "0.99", MIN)


@pytest.mark.parametrize("text", ["", "abc", "-5", "1e3"])
def test_junk_amounts_are_refused(account, text):
    with pytest.raises(Refused):
        charge_for(account, "amount", [], text, MIN)


def test_an_invoice_paid_since_the_statement_is_refused_as_stale():
    (a,) = accounts([e("invoice", "INV-1", "100.00", due="2026-10-31"), e("invoice", "INV-2", "5.00"),
                     e("payment", "P-9", "100.00", applies="INV-1")], AS_OF)
    with pytest.raises(Refused) as r:
        charge_for(a, "invoices", ["INV-1"], "", MIN)
    assert r.value.status == 409 and "INV-1 is no longer open" in r.value.message


def test_nothing_owed_is_refused():
    (a,) = accounts([e("invoice", "INV-1", "10.00"), e("payment", "P", "10.00")], AS_OF)
    with pytest.raises(Refused, match="nothing to pay"):
        charge_for(a, "balance", [], "", MIN)
    with pytest.raises(Refused, match="nothing to pay"):
        charge_for(None, "balance", [], "", MIN)


def test_unknown_choice_and_empty_selection_are_refused(account):
    with pytest.raises(Refused):
        charge_for(account, "everything", [], "", MIN)
    with pytest.raises(Refused, match="at least one invoice"):
        charge_for(account, "invoices", [], "", MIN)


def test_a_receipt_email_is_headed_by_the_logo_where_the_site_serves_it(project):
    from datetime import datetime

    from portal.core.records import Customer
    from portal.pay.payment_log import Row
    from portal.staff import receipts
    (project.root / "content" / "logo.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"/>')
    path = project.root / "content" / "settings.toml"
    path.write_text(path.read_text().replace("[portal]", 'logo = "logo.svg"\n\n[portal]', 1))
    customer = Customer("C1", "First <Customer>", "ap@first.example", "USD", 30, "", "", "", 1, False, "c.csv", 2)
    rows = [Row(date(2026, 12, 1), "C1", "payment", "pi_123/INV-1", Decimal("40.00"), "USD", applies_to="INV-1")]
    (letter,) = receipts.letters(project.settings(), rows, lambda cid: (customer, {"USD": Decimal(0)}),
                                 datetime(2026, 12, 1, 12, 0))
    html = letter.message.get_payload()[1].get_payload(decode=True).decode()
    assert '<img src="https://pay.acme.example/assets/logo.svg" alt="Acme Test Supply"' in html
    assert "First &lt;Customer&gt;" in html
