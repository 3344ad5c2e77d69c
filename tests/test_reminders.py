"""Dunning reminders: stage choice and skip rules, the .eml preview, and sending through a real local
SMTP server (aiosmtpd), logged once per stage and set of items."""
from __future__ import annotations

import csv
import email
import re
import shutil
import socket
import ssl
import subprocess
from datetime import date
from decimal import Decimal
from email import policy

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from conftest import REPO

from portal.cli import main
from portal.core.accounts import accounts
from portal.core.records import Customer, Entry
from portal.core.signing import Signer, load_keys
from portal.ledger import contacts
from portal.pay.payment_log import Journal, Row
from portal.staff import reminders

AS_OF = "2026-11-25"
HEADER = "date,customer_id,type,ref,amount,currency,due_date,applies_to,memo\n"
CUSTOMERS = """\
customer_id,name,email,currency,contact,paused
C1,First Customer,ap@first.example,USD,Ann First,
C2,Smith & <Sons> "Ltd",ap@second.example,EUR,,no
C3,Tanaka Trading,ap@third.example,JPY,,
C4,Paused Co,ap@paused.example,USD,,yes
C5,Processing Co,ap@processing.example,USD,,
C6,Promise Co,ap@promise.example,USD,,
C7,Not Yet Co,ap@notyet.example,USD,,
C8,Soon Co,ap@soon.example,USD,,
C9,Paid Up Co,ap@paid.example,USD,,
"""
LEDGER = HEADER + """\
2026-09-01,C1,invoice,INV-1,100.00,,2026-10-01,,
2026-10-21,C1,invoice,INV-2,50.00,,2026-11-20,,
2026-10-16,C2,invoice,INV-3,"1,234.50",,2026-11-15,,
2026-07-01,C3,invoice,INV-4,184000,,2026-08-01,,
2026-09-01,C4,invoice,INV-5,80.00,,2026-10-01,,
2026-09-01,C5,invoice,INV-6,200.00,,2026-10-01,,
2026-09-01,C6,invoice,INV-7,300.00,,2026-10-01,,
2026-11-20,C7,invoice,INV-8,70.00,,2026-12-20,,
2026-10-28,C8,invoice,INV-9,40.00,,2026-11-27,,
2026-08-01,C9,invoice,INV-10,10.00,,2026-09-01,,
2026-08-20,C9,payment,P-1,10.00,,,,
"""


class Inbox:
    """An aiosmtpd handler keeping what it receives; it refuses recipients listed in `refuse`."""

    def __init__(self):
        self.messages: list[tuple[list[str], email.message.EmailMessage]] = []
        self.refuse: set[str] = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append((list(envelope.rcpt_tos), msg))
        return "250 OK"

    def to(self, address: str) -> email.message.EmailMessage:
        (msg,) = [m for rcpts, m in self.messages if rcpts == [address]]
        return msg


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, inbox
    controller.stop()


@pytest.fixture
def dunning(project, smtp):
    """The project with the demo's stages, an [smtp] section pointing at the local server, built."""
    controller, _ = smtp
    shutil.copytree(REPO / "content" / "reminders", project.root / "content" / "reminders")
    settings = project.root / "content" / "settings.toml"
    settings.write_text(settings.read_text() + f'\n[smtp]\nhost = "127.0.0.1"\nport = {controller.port}\n'
                                               "starttls = false\n")
    project.write("customers.csv", CUSTOMERS)
    project.write("a.csv", LEDGER)
    Journal(project.ledger).record([Row(date(2026, 11, 20), "C5", "payment", "pi_1", Decimal("50.00"), "USD",
                                        "processing", applies_to="INV-6")])
    contacts.append(project.ledger, [contacts.Contact(date(2026, 11, 10), "C6", "call", "will pay",
                                                      promise_date=date(2026, 12, 5), promise_amount=Decimal(300),
                                                      currency="USD")])
    project.build(AS_OF)
    return project


def remind(project, *args) -> int:
    return main(["--root", str(project.root), "remind", "--as-of", AS_OF, *args])


def parts(msg) -> tuple[str, str]:
    return msg.get_body(("plain",)).get_content(), msg.get_body(("html",)).get_content()


def statement_urls(project) -> dict[str, str]:
    with open(project.settings().staff_dir / "links.csv", newline="") as f:
        return {row["customer_id"]: row["url"] for row in csv.DictReader(f)}


def emails_logged(project) -> list[contacts.Contact]:
    return [c for c in contacts.read(project.ledger) if c.channel == "email"]


def test_send_delivers_one_message_per_customer_with_its_items_total_and_signed_pay_link(dunning, smtp, capsys):
    _, inbox = smtp
    assert remind(dunning, "--send") == 0
    out = capsys.readouterr().out
    assert sorted(r for rcpts, _ in inbox.messages for r in rcpts) == [
        "ap@first.example", "ap@second.example", "ap@soon.example", "ap@third.example"]
    urls = statement_urls(dunning)
    signer = Signer(load_keys(dunning.settings().state_dir))

    c1 = inbox.to("ap@first.example")
    assert c1["To"].addresses[0].display_name == "First Customer"
    assert c1["From"].addresses[0].addr_spec == c1["Reply-To"].addresses[0].addr_spec == "ar@acme.example"
    assert c1["Message-ID"] and c1["Date"] and c1.get_content_type() == "multipart/alternative"
    days = (date.fromisoformat(AS_OF) - date(2026, 10, 1)).days  # INV-1 is the most overdue: stage overdue-30
    assert c1["Subject"] == f"Second reminder: $150.00 is {days} days overdue"
    text, html = parts(c1)
    for part in (text, html):
        assert "Ann First" in part
        # dates as the statement prints them, not ISO
        assert "INV-1" in part and "$100.00" in part and "1 Oct 2026" in part and str(days) in part
        assert "INV-2" in part and "$50.00" in part and "20 Nov 2026" in part and "2026-" not in part
        assert "$150.00" in part and "Figures as of 25 Nov 2026" in part
        assert urls["C1"] in part
    assert f'href="{urls["C1"]}"' in html
    token = re.search(r"/s/([^/]+)/", text)[1]
    assert signer.read_link(token) == ("C1", 1)

    assert "Your balance with us is $150.00." in text and "**" not in text  # Markdown's bold: not in plain text
    assert "<strong>$150.00</strong>" in html
    text, html = parts(inbox.to("ap@third.example"))  # JPY has no minor unit
    assert "¥184,000" in text and "¥184,000.00" not in text and "INV-4" in html
    assert "If you have already paid, thank you" in text and "part of it now" in text  # the final notice
    assert inbox.to("ap@third.example")["Subject"] == "Final notice: ¥184,000 overdue to Acme Test Supply"
    text, _ = parts(inbox.to("ap@soon.example"))  # due in two days: the courtesy note
    assert inbox.to("ap@soon.example")["Subject"] == "Acme Test Supply: $40.00 falls due soon"
    assert "INV-9" in text and "in 2 days" in text

    logged = {c.customer_id: c for c in emails_logged(dunning)}
    assert {cid: (c.stage, c.recipient, c.items) for cid, c in logged.items()} == {
        "C1": ("overdue-30", "ap@first.example", ("INV-1", "INV-2")),
        "C2": ("overdue-7", "ap@second.example", ("INV-3",)),
        "C3": ("final", "ap@third.example", ("INV-4",)),
        "C8": ("courtesy", "ap@soon.example", ("INV-9",)),
    }
    assert "sent 4 reminders" in out
    assert "paused: C4" in out and "a payment is processing: C5" in out
    assert "promised to pay: C6 (until 2026-12-05)" in out and "nothing overdue: C7" in out
    assert "1 customer owes nothing" in out  # C9 paid up: not even considered


def test_customer_text_is_escaped_in_the_html_part(dunning, smtp):
    _, inbox = smtp
    assert remind(dunning, "--send", "--only", "C2") == 0
    msg = inbox.to("ap@second.example")
    text, html = parts(msg)
    assert "Smith & <Sons>" in text
    assert "Smith &amp; &lt;Sons&gt; &#34;Ltd&#34;" in html or "Smith &amp; &lt;Sons&gt; &#34;Ltd&#34;" in html
    assert "<Sons>" not in html
    assert msg["To"].addresses[0].display_name == 'Smith & <Sons> "Ltd"'
    assert "€1,234.50" in text and "€1,234.50" in html


def test_a_second_run_sends_nothing_new_and_a_new_overdue_invoice_or_stage_sends_again(dunning, smtp, capsys):
    _, inbox = smtp
    assert remind(dunning, "--send") == 0
    first = len(inbox.messages)
    capsys.readouterr()
    assert remind(dunning, "--send") == 0
    assert len(inbox.messages) == first
    out = capsys.readouterr().out
    assert "sent 0 reminders" in out
    assert "already sent: C1 (overdue-30), C2 (overdue-7), C3 (final), C8 (courtesy)" in out

    dunning.write("b.csv", HEADER + "2026-10-23,C1,invoice,INV-11,25.00,,2026-11-22,,\n")
    dunning.build(AS_OF)
    assert remind(dunning, "--send") == 0
    (rcpts, msg), = inbox.messages[first:]
    assert rcpts == ["ap@first.example"]
    text, html = parts(msg)
    assert "INV-11" in text and "INV-1" in text and "$175.00" in text and "$175.00" in html

    # C2's invoice reaches 30 days overdue: the next stage goes out, once.
    later = ["--root", str(dunning.root), "remind", "--as-of", "2026-12-16", "--send", "--only", "C2"]
    assert main(later) == 0 and main(later) == 0
    assert [m["Subject"] for r, m in inbox.messages if r == ["ap@second.example"]] == [
        "Reminder: €1,234.50 overdue to Acme Test Supply", "Second reminder: €1,234.50 is 31 days overdue"]


def test_preview_writes_eml_files_replaces_the_outbox_and_logs_nothing(dunning, smtp, capsys):
    _, inbox = smtp
    assert remind(dunning) == 0
    outbox = dunning.settings().staff_dir / "outbox"
    assert sorted(p.name for p in outbox.iterdir()) == [
        "C1-overdue-30.eml", "C2-overdue-7.eml", "C3-final.eml", "C8-courtesy.eml"]
    msg = email.message_from_bytes((outbox / "C1-overdue-30.eml").read_bytes(), policy=policy.default)
    assert msg["To"].addresses[0].addr_spec == "ap@first.example"
    text, html = parts(msg)
    assert statement_urls(dunning)["C1"] in text and "INV-2" in html
    assert inbox.messages == [] and emails_logged(dunning) == []
    assert "4 reminders previewed" in capsys.readouterr().out

    assert remind(dunning, "--only", "C3", "C4") == 0
    assert [p.name for p in outbox.iterdir()] == ["C3-final.eml"]
    assert not (outbox.parent / ".outbox.new").exists()  # the replaced one is deleted in the background


def test_a_broken_promise_no_longer_pauses_reminders(dunning, smtp):
    after = ["--root", str(dunning.root), "remind", "--as-of", "2026-12-06", "--only", "C6", "C4"]
    assert main(after) == 0
    outbox = dunning.settings().staff_dir / "outbox"
    assert [p.name for p in outbox.iterdir()] == ["C6-overdue-60.eml"]  # C4 stays paused


def test_a_refused_recipient_is_reported_and_the_others_are_sent(dunning, smtp, capsys):
    _, inbox = smtp
    inbox.refuse.add("ap@second.example")
    assert remind(dunning, "--send") == 1
    captured = capsys.readouterr()
    assert "refused: C2 <ap@second.example>: 550 5.1.1 mailbox unavailable" in captured.err
    assert "sent 3 reminders" in captured.out
    assert sorted(c.customer_id for c in emails_logged(dunning)) == ["C1", "C3", "C8"]
    inbox.refuse.clear()
    assert remind(dunning, "--send") == 0
    assert [r for r, _ in inbox.messages][-1] == ["ap@second.example"] and len(inbox.messages) == 4


def test_an_unreachable_server_fails_and_logs_nothing(dunning, capsys):
    settings = dunning.root / "content" / "settings.toml"
    settings.write_text(re.sub(r"port = \d+", f"port = {free_port()}", settings.read_text()))
    assert remind(dunning, "--send") == 1
    assert "cannot connect" in capsys.readouterr().err
    assert emails_logged(dunning) == []


def test_starttls_and_login_with_the_password_from_the_environment(dunning, tmp_path, monkeypatch, capsys):
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    logins = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (b"ar", b"s3cret")
        logins.append(ok)
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 (else it says nothing)

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), tls_context=ctx, require_starttls=True,
                            authenticator=authenticator, auth_required=True)
    controller.start()
    try:
        settings = dunning.root / "content" / "settings.toml"
        text = re.sub(r"port = \d+", f"port = {controller.port}", settings.read_text())
        settings.write_text(text.replace("starttls = false", 'starttls = true\nuser = "ar"'))
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # trust the test certificate, still verified
        monkeypatch.delenv("PORTAL_SMTP_PASSWORD", raising=False)
        assert remind(dunning, "--send") == 2
        assert "set PORTAL_SMTP_PASSWORD" in capsys.readouterr().err
        monkeypatch.setenv("PORTAL_SMTP_PASSWORD", "wrong")
        assert remind(dunning, "--send") == 1
        assert "login failed" in capsys.readouterr().err and emails_logged(dunning) == []
        monkeypatch.setenv("PORTAL_SMTP_PASSWORD", "s3cret")
        assert remind(dunning, "--send") == 0
    finally:
        controller.stop()
    assert not any(logins[:-1]) and logins[-1] and len(inbox.messages) == 4  # smtplib tries PLAIN, then LOGIN


def test_front_matter_errors_are_reported_at_their_file_and_line(dunning, capsys):
    folder = dunning.root / "content" / "reminders"
    (folder / "70-bad.md").write_text("---\nstage: Bad Name\ndays: soon\nsubjct: hi\n---\nDear {contact},\n\n"
                                      "{itemz}\n")
    (folder / "80-noclose.md").write_text("---\ndays: 5\n")
    (folder / "85-noitems.md").write_text("---\ndays: 5\nsubject: x\n---\nDear {customer}\n")
    (folder / "90-twice.md").write_text("---\nstage: again\ndays: 30\nsubject: x\n---\n{items}\n")
    assert remind(dunning) == 1
    err = capsys.readouterr().err
    assert "content/reminders/70-bad.md:2: stage 'Bad Name' is not a name" in err
    assert "content/reminders/70-bad.md:3: days 'soon' is not a whole number" in err
    assert "content/reminders/70-bad.md:4: unknown key 'subjct' (expected one of stage, days, subject)" in err
    assert "content/reminders/70-bad.md:8: unknown placeholder {itemz}" in err
    assert "content/reminders/80-noclose.md:1: front matter is not closed" in err
    assert "content/reminders/85-noitems.md:4: the body has no {items}" in err
    assert not (dunning.settings().staff_dir / "outbox").exists()
    for name in ("70-bad.md", "80-noclose.md", "85-noitems.md"):
        (folder / name).unlink()
    assert remind(dunning) == 1
    assert "content/reminders/90-twice.md:1: days 30 is also used by content/reminders/40-overdue-30.md" in \
        capsys.readouterr().err


def test_bad_smtp_settings_are_reported_at_their_line(dunning, capsys):
    settings = dunning.root / "content" / "settings.toml"
    text = settings.read_text().replace("starttls = false", 'starttls = "no"\nfrom = "not an address"')
    settings.write_text(re.sub(r"port = \d+", 'port = "smtp"', text))
    lines = settings.read_text().splitlines()
    assert remind(dunning) == 1
    err = capsys.readouterr().err
    for key in ("port", "starttls", "from"):
        n = next(i for i, line in enumerate(lines, 1) if line.startswith(f"{key} ="))
        assert f"content/settings.toml:{n}: '{key}' in [smtp] must be" in err


def test_a_stale_or_missing_build_is_refused(project, dunning, capsys):
    dunning.write("b.csv", HEADER + "2026-11-01,C1,invoice,INV-12,5.00,,2026-11-10,,\n")
    assert remind(dunning) == 2
    assert "the ledger changed since the last build (content/ledger/b.csv): run `portal build` first" in \
        capsys.readouterr().err
    shutil.rmtree(dunning.settings().state_dir)
    assert remind(dunning) == 2
    assert "no build state: run `portal build` first" in capsys.readouterr().err
    assert remind(dunning, "--only", "C1") == 2


def test_unknown_customers_in_only_are_refused(dunning, capsys):
    assert remind(dunning, "--only", "C1", "NOPE") == 1
    assert "content/ledger/customers.csv: no customer 'NOPE'" in capsys.readouterr().err


def test_an_old_contact_log_without_the_items_column_still_reads(dunning, smtp):
    old = "date,customer_id,channel,stage,recipient,note,promise_date,promise_amount,currency\n"
    (dunning.ledger / contacts.FILE).write_text(old + "2026-11-01,C1,call,,,left a message,,,\n")
    assert remind(dunning, "--send", "--only", "C1") == 0
    assert remind(dunning, "--send", "--only", "C1") == 0  # the row appended under the old header is read back
    _, inbox = smtp
    assert len(inbox.messages) == 1
    (c,) = emails_logged(dunning)
    assert c.items == ("INV-1", "INV-2")


def test_the_demo_company_sends_its_reminders_from_the_cli(tmp_path, smtp, capsys):
    controller, inbox = smtp
    root = tmp_path / "demo"
    shutil.copytree(REPO / "site_templates", root / "site_templates")
    shutil.copytree(REPO / "content", root / "content",
                    ignore=shutil.ignore_patterns(contacts.FILE, "online-payments.csv"))
    settings = root / "content" / "settings.toml"
    settings.write_text(re.sub(r"(?m)^port = \d+", f"port = {controller.port}", settings.read_text())
                        .replace('host = "localhost"', 'host = "127.0.0.1"'))
    assert main(["--root", str(root), "build", "-q", "--as-of", AS_OF]) == 0
    assert main(["--root", str(root), "remind", "--as-of", AS_OF, "--send"]) == 0
    with open(root / "staff" / "links.csv", newline="") as f:
        links = list(csv.DictReader(f))
    overdue = {row["email"] for row in links if Decimal(row["overdue"]) > 0}
    received = {r for rcpts, _ in inbox.messages for r in rcpts}
    assert overdue and overdue <= received  # every customer with something overdue hears from us
    url = {row["email"]: row["url"] for row in links}
    for rcpts, msg in inbox.messages:
        text, html = parts(msg)
        assert url[rcpts[0]] in text and url[rcpts[0]] in html
    n = len(inbox.messages)
    assert main(["--root", str(root), "remind", "--as-of", AS_OF, "--send"]) == 0
    assert len(inbox.messages) == n


def test_only_one_run_at_a_time(dunning, smtp, capsys):
    import fcntl
    _, inbox = smtp
    with open(dunning.settings().state_dir / "remind.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another run holding it
        assert remind(dunning, "--send") == 2
    assert "another `portal remind` is running" in capsys.readouterr().err
    assert inbox.messages == [] and emails_logged(dunning) == []


# Pure rules, without files or servers.

def _stage(slug, days):
    return reminders.Stage(slug, days, "s", "{items}\n", f"{slug}.md", 5)


STAGES = [_stage("courtesy", -3), _stage("due", 0), _stage("overdue-7", 7), _stage("overdue-30", 30)]


def _customer(email="a@b.example", paused=False):
    return Customer("C1", "One", email, "USD", 30, "", "", "", 1, paused, "customers.csv", 2)


def _accounts(*invoices, as_of=date(2026, 11, 25)):
    entries = [Entry(date(2026, 1, 1), "C1", "invoice", ref, Decimal(amount), "USD", due, "", "", "a.csv", n)
               for n, (ref, amount, due) in enumerate(invoices, 2)]
    return accounts(entries, as_of)


def test_the_single_highest_stage_that_applies_names_every_overdue_item():
    accts = _accounts(("A", "10", date(2026, 10, 20)), ("B", "5", date(2026, 11, 24)), ("C", "1", date(2026, 12, 1)))
    stage, items = reminders.choose(STAGES, accts, date(2026, 11, 25))
    assert stage.slug == "overdue-30" and [i.entry.ref for _, i in items] == ["A", "B"]


def test_a_courtesy_note_names_what_falls_due_within_its_days_only():
    accts = _accounts(("A", "10", date(2026, 11, 27)), ("B", "5", date(2026, 12, 20)))
    stage, items = reminders.choose(STAGES, accts, date(2026, 11, 25))
    assert stage.slug == "courtesy" and [i.entry.ref for _, i in items] == ["A"]
    assert reminders.choose(STAGES, _accounts(("B", "5", date(2026, 12, 20))), date(2026, 11, 25)) == (None, [])


def test_skip_reasons_in_order():
    today = date(2026, 11, 25)
    late = _accounts(("A", "10", date(2026, 11, 10)))
    assert reminders.decide(_customer(paused=True), late, STAGES, [], today).skip == "paused"
    assert reminders.decide(_customer(), _accounts(), STAGES, [], today).skip == "nothing-overdue"
    assert reminders.decide(_customer(email=""), late, STAGES, [], today).skip == "no-email"
    promise = contacts.Contact(today, "C1", "call", promise_date=today, promise_amount=Decimal(10))
    assert reminders.decide(_customer(), late, STAGES, [promise], today).skip == "promise"
    d = reminders.decide(_customer(), late, STAGES, [], today)
    assert (d.skip, d.stage.slug, d.keys) == ("", "overdue-7", ("A",))


def test_already_sent_means_every_item_had_this_stage():
    today = date(2026, 11, 25)
    two = _accounts(("A", "10", date(2026, 11, 10)), ("B", "5", date(2026, 11, 12)))
    sent = [contacts.Contact(today, "C1", "email", stage="overdue-7", items=("A",)),
            contacts.Contact(today, "C1", "email", stage="due", items=("B",))]
    assert reminders.decide(_customer(), two, STAGES, sent, today).skip == ""  # B never had overdue-7
    sent.append(contacts.Contact(today, "C1", "email", stage="overdue-7", items=("B",)))
    assert reminders.decide(_customer(), two, STAGES, sent, today).skip == "already-sent"
    one = _accounts(("A", "10", date(2026, 11, 10)))  # B paid: A alone already had it
    assert reminders.decide(_customer(), one, STAGES, sent, today).skip == "already-sent"


def test_reminders_dated_after_the_build_see_invoices_the_build_had_not_reached(dunning, smtp, capsys):
    # Built as of 2026-11-01: INV-8 (dated 2026-11-20) was not on anyone's statement yet, so C7 owed
    # nothing in the build's records; by 2027-01-05 it is 16 days overdue.
    dunning.build("2026-11-01")
    assert main(["--root", str(dunning.root), "remind", "--as-of", "2027-01-05", "--only", "C7"]) == 0
    assert main(["--root", str(dunning.root), "remind", "--as-of", "2027-01-05"]) == 0
    outbox = sorted(p.name for p in (dunning.settings().staff_dir / "outbox").iterdir())
    assert "C7-overdue-7.eml" in outbox


def test_the_brand_colour_is_the_reminders_too(dunning, smtp, capsys):
    path = dunning.root / "content" / "settings.toml"
    path.write_text(path.read_text().replace("[portal]", 'brand_color = "#1b5e20"\n\n[portal]', 1))
    _, inbox = smtp
    assert main(["--root", str(dunning.root), "remind", "--as-of", AS_OF, "--send"]) == 0
    _, html = parts(inbox.to("ap@first.example"))
    assert "background:#1b5e20;color:#ffffff;" in html and "#0b5cad" not in html


def test_the_logo_heads_the_reminders_from_the_sites_own_address(dunning, smtp):
    (dunning.root / "content" / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 16)
    path = dunning.root / "content" / "settings.toml"
    path.write_text(path.read_text().replace("[portal]", 'logo = "logo.png"\n\n[portal]', 1))
    _, inbox = smtp
    assert main(["--root", str(dunning.root), "remind", "--as-of", AS_OF, "--send"]) == 0
    text, html = parts(inbox.to("ap@first.example"))
    assert '<img src="https://pay.acme.example/assets/logo.png" alt="Acme Test Supply"' in html
    assert "logo" not in text  # the plain part names the company as before


def test_with_attach_pdf_each_reminder_carries_the_statement_as_a_pdf(dunning, smtp):
    import io

    from pypdf import PdfReader
    path = dunning.root / "content" / "settings.toml"
    path.write_text(path.read_text() + "\n[reminders]\nattach_pdf = true\n")
    _, inbox = smtp
    assert main(["--root", str(dunning.root), "remind", "--as-of", AS_OF, "--send", "--only", "C1"]) == 0
    msg = inbox.to("ap@first.example")
    text, html = parts(msg)  # the text and HTML parts as before
    assert "INV-2" in html and "INV-1" in text
    (pdf,) = [p for p in msg.iter_attachments() if p.get_content_type() == "application/pdf"]
    assert pdf.get_filename() == f"statement-C1-{AS_OF}.pdf"
    statement = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.get_content())).pages)
    assert "First Customer" in statement and "Balance due" in statement and "$150.00" in statement
    assert "Remittance advice" in statement and "\nUSD $150.00" in statement


def test_without_attach_pdf_reminders_have_no_attachment(dunning, smtp):
    _, inbox = smtp
    assert main(["--root", str(dunning.root), "remind", "--as-of", AS_OF, "--send", "--only", "C1"]) == 0
    assert list(inbox.to("ap@first.example").iter_attachments()) == []


def test_attach_pdf_must_be_true_or_false(dunning, capsys):
    path = dunning.root / "content" / "settings.toml"
    path.write_text(path.read_text() + '\n[reminders]\nattach_pdf = "yes"\n')
    n = len(path.read_text().splitlines())
    assert remind(dunning) == 1
    assert f"content/settings.toml:{n}: 'attach_pdf' in [reminders]" in capsys.readouterr().err
