"""The customer's voice: a question, a cheque sent or a date to pay by, sent from the statement
with its signed token, logged once, holding reminders, on the aging report and mailed to AR."""
from __future__ import annotations

import re
import shutil
from datetime import date, timedelta
from decimal import Decimal

import pytest
from conftest import REPO
from test_reminders import Inbox, free_port

from portal.ledger import contacts
from portal.staff import messages

TODAY = date.today()
DUE = (TODAY - timedelta(days=40)).isoformat()  # well overdue
LATER = (TODAY + timedelta(days=20)).isoformat()


@pytest.fixture(autouse=True)
def today():
    """Today as the code under test sees it while this test runs, not when the module was collected
    (a suite running across midnight compared with yesterday: seen at 00:00 UTC)."""
    global TODAY, DUE, LATER
    TODAY = date.today()
    DUE = (TODAY - timedelta(days=40)).isoformat()
    LATER = (TODAY + timedelta(days=20)).isoformat()
    return TODAY


@pytest.fixture
def mailbox(project):
    """A local SMTP server and [smtp] pointing at it."""
    from aiosmtpd.controller import Controller
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    path = project.root / "content" / "settings.toml"
    path.write_text(path.read_text() + f'\n[smtp]\nhost = "127.0.0.1"\nport = {controller.port}\nstarttls = false\n')
    yield inbox
    controller.stop()


@pytest.fixture(autouse=True)
def ledger(project, today):
    project.write("e.csv", f"""\
        date,customer_id,type,ref,amount,currency,due_date,applies_to
        {DUE},C1,invoice,INV-1,100.00,USD,{DUE},
        {DUE},C1,invoice,INV-2,50.00,USD,{DUE},
        {DUE},C1,invoice,INV-3,25.00,USD,{LATER},
        {DUE},C2,invoice,E-1,80.00,EUR,{DUE},
        """)
    shutil.copytree(REPO / "content" / "reminders", project.root / "content" / "reminders")
    return project


def token_of(project, cid="C1") -> str:
    page = project.page_for(cid)
    section = page.split('<section class="message"')[1]
    return re.search(r'name="token" value="([^"]+)"', section)[1]


def post(client, token, **fields):
    return client.post("/pay/message", data={"token": token, **fields}, environ_base={"REMOTE_ADDR": "10.0.0.1"})


def logged(project):
    return [c for c in contacts.read(project.ledger) if c.channel == contacts.CUSTOMER]


def test_the_statement_button_opens_a_form_listing_the_open_invoices(client, project):
    assert 'action="/pay/message"' in project.page_for("C1")
    r = post(client, token_of(project))
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and "Send us a message" in page
    assert re.findall(r'<option value="([^"]*)"', page) == ["", "INV-1", "INV-2", "INV-3"]
    assert "INV-1 &middot; $100.00 open" in page and 'name="kind" id="kind-question"' in page
    assert not logged(project)  # opening the form records nothing


def test_a_question_about_an_invoice_is_logged_once_and_mailed_to_ar(make_app, project, mailbox):
    app = make_app()
    client = app.test_client()
    token = token_of(project)
    form = {"kind": "question", "invoice": "INV-2", "text": "Was INV-2 not credited?\r\nWe returned the goods."}
    first = post(client, token, **form)
    assert first.status_code == 200 and "we have your message" in first.get_data(as_text=True)
    assert "until we have answered you" in first.get_data(as_text=True)
    again = post(client, token, **form)  # the browser sends it again (back, resubmit)
    assert again.status_code == 200
    (c,) = logged(project)
    assert (c.customer_id, c.stage, c.items, c.note, c.promise_date) == (
        "C1", "question", ("INV-2",), "Was INV-2 not credited?\nWe returned the goods.", None)
    app.extensions["portal.message"].mailer.wait()
    (rcpts, msg), = mailbox.messages  # once, however many times the form came
    assert rcpts == ["ar@acme.example"] and msg["Reply-To"] == "First Customer <ap@first.example>"
    assert msg["Subject"] == "Message from First Customer (C1): a question about INV-2"
    text = msg.get_body(("plain",)).get_content()
    assert "We returned the goods." in text and "/s/" in text


def test_a_promise_and_a_cheque_take_the_balance_when_no_amount_is_given(client, project):
    token = token_of(project)
    assert post(client, token, kind="promise", day=LATER).status_code == 200
    assert post(client, token, kind="cheque", invoice="INV-1", text="cheque 10442").status_code == 200
    promise, cheque = logged(project)
    assert (promise.promise_date, promise.promise_amount, promise.currency) == (
        date.fromisoformat(LATER), Decimal("175.00"), "USD")
    assert (cheque.promise_date, cheque.promise_amount, cheque.items) == (
        TODAY + timedelta(days=contacts.CHEQUE_DAYS), Decimal("100.00"), ("INV-1",))


def test_a_form_with_mistakes_says_each_and_records_nothing(client, project):
    token = token_of(project)
    r = post(client, token, kind="promise", invoice="INV-9", day=(TODAY + timedelta(days=400)).isoformat(),
             amount="12.345", text="x" * 2001)
    page = r.get_data(as_text=True)
    assert r.status_code == 400
    for what in ("Choose one of your open invoices", "Choose a date from", "more decimals",
                 "under 2,000 characters"):
        assert what in page, what
    assert "x" * 2000 in page  # what they typed is kept
    assert post(client, token, kind="question", text="  ").status_code == 400  # a question needs words
    assert post(client, token, kind="thanks").status_code == 400
    assert post(client, token, kind="promise", day="next week").status_code == 400
    assert post(client, token, kind="cheque", amount="-5").status_code == 400
    assert not logged(project)


def test_forged_expired_and_replaced_links_are_refused_and_nothing_is_logged(client, project, caplog):
    token = token_of(project)
    assert post(client, token[:-2] + "xx", kind="question", text="hi").status_code == 403
    assert post(client, "", kind="question", text="hi").status_code == 403
    from portal.core.signing import Signer, load_keys
    old = Signer(load_keys(project.settings().state_dir)).pay_token("C1", 1, TODAY - timedelta(days=200))
    assert post(client, old, kind="question", text="hi").status_code == 403
    assert post(client, Signer(load_keys(project.settings().state_dir)).pay_token("C1", 2, TODAY),
                kind="question", text="hi").status_code == 403  # link_version 1 is the live one
    assert not logged(project)
    assert "message: refused" in caplog.text


def test_messages_are_rate_limited_per_customer(make_app, project):
    client = make_app(MESSAGE_CUSTOMER_RATE_LIMIT=2).test_client()
    token = token_of(project)
    codes = [post(client, token, kind="question", text=f"question {i}").status_code for i in range(3)]
    assert codes == [200, 200, 429] and len(logged(project)) == 2


def test_reminders_wait_for_an_unanswered_question_until_staff_answer(client, project, capsys):
    from portal.cli import main
    post(client, token_of(project), kind="question", text="Which PO is this?")  # the whole account
    root = str(project.root)
    assert main(["--root", root, "remind"]) == 0
    out = capsys.readouterr().out
    assert "sent us a message we have not answered" in out and "C1" in out.split("sent us a message")[1]
    assert main(["--root", root, "note", "C1", "Told them: PO 7781"]) == 0  # staff answer
    capsys.readouterr()
    assert main(["--root", root, "remind"]) == 0
    assert "sent us a message" not in capsys.readouterr().out


def test_a_question_on_one_invoice_leaves_it_out_of_the_reminder(client, project):
    from portal.staff import dunning
    post(client, token_of(project), kind="question", invoice="INV-1", text="Disputed: damaged")
    report = dunning.remind(project.settings(), TODAY)
    import email
    from email import policy
    (path,) = report.outbox.glob("C1-*.eml")
    text = email.message_from_bytes(path.read_bytes(), policy=policy.default).get_body(("plain",)).get_content()
    assert "INV-2" in text and "INV-1" not in text


def test_held_rules(project):
    c = contacts.Contact
    q = c(TODAY, "C1", "customer", "why?", stage="question", items=("INV-1",), key="a")
    cheque = c(TODAY, "C1", "customer", "", stage="cheque", promise_date=TODAY + timedelta(days=14), key="b")
    promise = c(TODAY, "C1", "customer", "", stage="promise", promise_date=TODAY + timedelta(days=3), key="c")
    reminder = c(TODAY, "C1", "email", "overdue", stage="overdue-7", items=("INV-1",))
    answer = c(TODAY, "C1", "call", "sorted")
    assert contacts.held([q, cheque, promise, reminder], "C1", TODAY) == [q, cheque, promise]  # a reminder is no answer
    assert contacts.held([q, cheque, promise, answer], "C1", TODAY) == [promise]  # a promise stands
    assert contacts.held([q, cheque, promise], "C1", TODAY + timedelta(days=5)) == [q, cheque]
    assert contacts.held([q], "C2", TODAY) == []


def test_the_aging_report_lists_messages_reminders_wait_for(client, project):
    post(client, token_of(project), kind="question", invoice="INV-2", text="<b>credit?</b>")
    project.build(as_of=TODAY.isoformat())
    page = (project.settings().staff_dir / "aging.html").read_text()
    section = page.split('id="messages"')[1].split("</section>")[0]
    assert "INV-2" in section and "&lt;b&gt;credit?&lt;/b&gt;" in section and "an answer" in section


def test_append_once_reads_only_the_end_of_the_log(project):
    row = contacts.Contact(TODAY, "C1", "customer", "hi", stage="question", key="k" * 24)
    assert contacts.append_once(project.ledger, row)
    assert not contacts.append_once(project.ledger, row)
    filler = [contacts.Contact(TODAY, "C2", "note", "x" * 200) for _ in range(400)]  # 80 KB since
    contacts.append(project.ledger, filler)
    assert contacts.append_once(project.ledger, row)  # long after: a new message, not a resubmission
    assert sum(1 for c in contacts.read(project.ledger) if c.key == "k" * 24) == 2


def test_a_log_begun_before_the_key_column_still_reads(project):
    (project.ledger / contacts.FILE).write_text(
        "date,customer_id,channel,stage,recipient,note,promise_date,promise_amount,currency\n"
        "2026-11-01,C1,call,,,old,,,\n")
    contacts.append(project.ledger, [contacts.Contact(TODAY, "C1", "customer", "new", stage="question",
                                                      items=("INV-1",), key="abc")])
    old, new = contacts.read(project.ledger)
    assert old.note == "old" and (new.items, new.key, new.stage) == (("INV-1",), "abc", "question")


def test_the_form_reader_keeps_control_characters_out():
    from portal.core.records import Customer
    customer = Customer("C1", "First", "a@b.example", "USD", 30, "", "", "", 1, False, "customers.csv", 2)
    contact, errors = messages.read(messages.Form(kind="question", text="a\x00b\u2028c"), customer, [], TODAY)
    assert not errors and contact is not None and contact.note == "a b c"


def test_the_same_message_sent_at_once_from_two_places_is_logged_once(project):
    """Two workers taking the same form at the same moment: the lock and the key make one row."""
    import threading
    row = contacts.Contact(TODAY, "C1", "customer", "twice?", stage="question", key="same-form-key-000000000")
    contacts.append(project.ledger, [contacts.Contact(TODAY, "C2", "note", "before")])
    barrier = threading.Barrier(8)
    added = []

    def send():
        barrier.wait()
        added.append(contacts.append_once(project.ledger, row))

    threads = [threading.Thread(target=send) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(added) == [False] * 7 + [True]
    assert [c.note for c in contacts.read(project.ledger)] == ["before", "twice?"]
