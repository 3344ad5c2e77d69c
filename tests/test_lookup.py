"""The payment service's view of one customer: the ledger as the last build indexed it."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from portal.build.lookup import NotBuilt, customer_accounts
from portal.pay.payment_log import Journal, Row

HEADER = "date,customer_id,type,ref,amount,currency,due_date,applies_to,memo\n"


def test_accounts_match_the_statement_and_follow_recorded_payments(project):
    project.write("a.csv", HEADER + "2026-10-01,C1,invoice,INV-1,100.00,,2026-10-31,,\n"
                                    "2026-10-02,C2,invoice,INV-2,7.00,,,,\n"
                                    "2026-10-05,C1,credit,CN-1,10.00,,,INV-1,\n")
    project.build()
    s = project.settings()
    customer, (acct,) = customer_accounts(s, "C1", date(2026, 11, 25))
    assert customer.name == "First Customer"
    assert (acct.balance, acct.overdue, acct.items[0].open) == (Decimal("90.00"), Decimal("90.00"), Decimal("90.00"))
    Journal(project.ledger).record([Row(date(2026, 11, 20), "C1", "payment", "pi_1", Decimal("40.00"), "USD",
                                        "processing", applies_to="INV-1")])
    project.build()
    _, (acct,) = customer_accounts(s, "C1", date(2026, 11, 25))
    assert (acct.balance, acct.processing) == (Decimal("50.00"), Decimal("40.00"))


def test_unknown_customer_and_missing_state(project):
    with pytest.raises(NotBuilt):
        customer_accounts(project.settings(), "C1", date(2026, 11, 25))
    project.build()
    assert customer_accounts(project.settings(), "NOPE", date(2026, 11, 25)) == (None, [])


def test_a_reader_between_a_builds_body_and_head_gets_a_matching_pair(project):
    import pickle
    import threading

    from portal.build import state as st
    project.write("a.csv", HEADER + "2026-10-01,C1,invoice,INV-1,100.00,,2026-10-31,,\n")
    project.build()
    s = project.settings()
    head_path, _ = st.paths(s.state_dir)
    head = st.load_head(s.state_dir)
    stale = pickle.dumps(st.Head(global_digest="an older build", out=head.out, files=head.files))
    good = head_path.read_bytes()
    from portal.build.publish import write_atomic
    write_atomic(head_path, stale, durable=False)  # the body is new, the head not yet written
    threading.Timer(0.1, lambda: write_atomic(head_path, good, durable=False)).start()  # as save() does
    _, (acct,) = customer_accounts(s, "C1", date(2026, 11, 25))
    assert acct.balance == Decimal("100.00")
