"""Reminder emails: composed from a stage and the email templates, previewed as .eml files, sent over SMTP."""
from __future__ import annotations

import hashlib
import html
import os
import re
import shutil
import smtplib
import ssl
from dataclasses import dataclass, field
from datetime import date, datetime
from email.header import Header
from email.message import Message
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr
from pathlib import Path
from typing import Any

import markdown
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from ..build.pdf import PdfComposer, pdf_filename
from ..build.pdf_writer import PdfWriter
from ..build.publish import _exchange, remove_later
from ..build.render import logo_asset
from ..core.accounts import Account
from ..core.clock import shown
from ..core.errors import ConfigError
from ..core.money import ZERO, fmt
from ..core.records import Customer
from ..core.signing import Signer, statement_url
from ..ledger.settings import Settings, Smtp
from .reminders import PLACEHOLDER, Decision, Stage, days_past_due

KIND = {"refund": "Refund", "adjustment": "Adjustment", "invoice": "Invoice"}
MD_STRONG = re.compile(r"\*\*(.+?)\*\*|__(.+?)__")
MD_LINK = re.compile(r"\[([^\]\n]+)\]\(([^)\s]+)\)")


@dataclass(frozen=True)
class Letter:
    """One composed reminder and what the contact log needs to know about it."""

    customer_id: str
    stage: str
    recipient: str
    subject: str
    keys: tuple[str, ...]
    message: Message

    @property
    def filename(self) -> str:
        return f"{re.sub(r'[^A-Za-z0-9._-]', '_', self.customer_id)}-{self.stage}.eml"


class Composer:
    """Turns decisions into messages: text and HTML parts from one stage body."""

    def __init__(self, settings: Settings, signer: Signer):
        from ..build.render import environment  # the site's own Jinja setup: autoescape on, strict names
        self.settings = settings
        self.signer = signer
        self.company = settings.company
        html_env = environment(settings)
        text_env = Environment(loader=FileSystemLoader(settings.templates_dir), autoescape=False,
                               undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                               keep_trailing_newline=True)
        self.html = html_env.get_template("email/reminder.html")
        self.html_items = html_env.get_template("email/items.html")
        self.text = text_env.get_template("email/reminder.txt")
        self.text_items = text_env.get_template("email/items.txt")
        sender = (settings.smtp.sender if settings.smtp else "") or self.company.get("email", "")
        if not sender:
            raise ConfigError("reminders need a From address: set [company] email (or [smtp] from) in the settings")
        self.sender = formataddr((_one_line(self.company["name"]), sender), "utf-8")
        self.reply_to = self.company.get("email") or sender
        self.domain = sender.rpartition("@")[2]
        self._stage_html: dict[str, str] = {}
        self.pdf = StatementPdf(settings) if settings.attach_pdf else None

    def letter(self, d: Decision, as_of: date, now: datetime) -> Letter:
        """The reminder for a customer due one."""
        c, stage = d.customer, d.stage
        if stage is None:
            raise ValueError(f"no reminder is due to {c.id} ({d.skip})")  # a decision to skip has no letter
        url = statement_url(self.settings.base_url, self.signer.link_token(c.id, c.link_version))
        groups, widths = _groups(d, stage, as_of)
        plain = _values(d, as_of, url, self.company)
        subject = _one_line(_fill(stage.subject, plain))
        text_items = self.text_items.render(groups=groups, w=widths).strip("\n")
        # the plain-text part: Markdown links as "text <url>", emphasis without its asterisks
        text = MD_STRONG.sub(lambda m: m[1] or m[2], MD_LINK.sub(r"\1 <\2>", stage.body))
        text_body = _fill(text, {**plain, "items": text_items})
        esc = {k: html.escape(v) for k, v in plain.items()}
        esc["pay_link"] = f'<a href="{esc["pay_link"]}">{esc["pay_link"]}</a>'
        esc["items"] = self.html_items.render(groups=groups)
        body = self._body_html(stage).replace('href="{pay_link}"', f'href="{html.escape(url)}"')
        common = {"company": self.company, "customer": c, "pay_link": url, "as_of": shown(as_of),
                  "subject": subject, "logo_url": logo_url(self.settings)}
        # The same reminder always has the same id, so a resend after a crash can be recognised.
        identity = hashlib.sha256("\x1f".join((c.id, stage.slug, *d.keys)).encode()).hexdigest()[:24]
        msg = message(subject, self.sender, formataddr((_one_line(c.name), c.email), "utf-8"), self.reply_to, now,
                      f"reminder-{identity}@{self.domain}",
                      self.text.render(body=text_body, **common),
                      self.html.render(body=Markup(_fill(body, esc)), **common))
        if self.pdf is not None:
            msg = with_attachment(msg, pdf_filename(c.id, as_of), self.pdf.make(c, list(d.accounts), as_of))
        return Letter(c.id, stage.slug, c.email, subject, d.keys, msg)

    def _body_html(self, stage: Stage) -> str:
        """The stage's Markdown as HTML, placeholders still in (rendered once per stage)."""
        out = self._stage_html.get(stage.slug)
        if out is None:
            out = markdown.markdown(stage.body, extensions=["sane_lists"], output_format="html")
            out = re.sub(r"<p>\s*\{items\}\s*</p>", "{items}", out)  # a table may not sit in a <p>
            self._stage_html[stage.slug] = out
        return out


def logo_url(settings: Settings) -> str:
    """The company's logo where the site serves it, for emails ("" with no logo): from the site's own
    origin, as the pages load it, never a third party's; mail clients that block images show its alt."""
    asset = logo_asset(settings)
    return f"{settings.base_url.rstrip('/')}/{asset}" if asset else ""


def message(subject: str, sender: str, to: str, reply_to: str, now: datetime, message_id: str, text: str,
            html_part: str) -> MIMEMultipart:
    """A plain-text and HTML email, its headers as every email of the portal's has them."""
    # The compat32 classes: the newer EmailMessage API parses every header it is given and cost
    # ~4 ms a message (measured), 7 minutes for 100,000 reminders; these build the same MIME.
    msg = MIMEMultipart("alternative")
    # compat32 takes a Header where typeshed's Message says str
    msg["Subject"] = subject if subject.isascii() else Header(subject, "utf-8")  # type: ignore[assignment]
    msg["From"] = sender
    msg["To"] = to
    msg["Reply-To"] = reply_to
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = f"<{message_id}>"
    # "=_" never occurs in base64 parts; a set boundary also spares the generator a regex per message.
    msg.set_boundary(f"=_{message_id.partition('@')[0].replace('-', '_', 1)}")
    msg["Auto-Submitted"] = "auto-generated"
    msg.attach(MIMEText(text, "plain", "utf-8"))
    msg.attach(MIMEText(html_part, "html", "utf-8"))
    return msg


class StatementPdf:
    """The statement as a PDF for a reminder ([reminders] attach_pdf): the payment service's templates
    and renderer, one PDF at a time, made only for the customers a run writes to."""

    def __init__(self, settings: Settings):
        self.composer = PdfComposer(settings)
        self.writer = PdfWriter()

    def make(self, customer: Customer, accounts: list[Account], as_of: date) -> bytes:
        """The customer's statement as of the reminder's date."""
        return self.writer.write(self.composer.source(customer, accounts, as_of), self.composer.asset)


def with_attachment(msg: MIMEMultipart, filename: str, data: bytes) -> MIMEMultipart:
    """The message as multipart/mixed: its text and HTML parts, then a PDF attached."""
    mixed = MIMEMultipart("mixed")
    for key, value in msg.items():
        if key.lower() not in ("content-type", "mime-version", "content-transfer-encoding"):
            mixed[key] = value
    alternative = MIMEMultipart("alternative")
    for part in msg.get_payload():
        alternative.attach(part)
    boundary = msg.get_boundary() or ""
    alternative.set_boundary(boundary)
    mixed.set_boundary(boundary + "_mixed")
    mixed.attach(alternative)
    pdf = MIMEApplication(data, "pdf")
    pdf.add_header("Content-Disposition", "attachment", filename=filename)
    mixed.attach(pdf)
    return mixed


def _fill(text: str, values: dict) -> str:
    """Placeholders replaced in one pass: a value that looks like a placeholder stays as it is."""
    return PLACEHOLDER.sub(lambda m: values[m[1]], text)


def _one_line(text: str) -> str:
    """Header text from CSV cells: no line breaks (they would end the header)."""
    return " ".join(text.split())


def _values(d: Decision, as_of: date, url: str, company: dict) -> dict[str, str]:
    """Every placeholder's plain-text value (escaped later for the HTML part)."""
    c = d.customer
    totals: dict = {}
    for cur, item in d.items:
        totals[cur] = totals.get(cur, ZERO) + item.open
    balances = {a.currency: a.balance for a in d.accounts if a.balance}
    return {
        "company": company.get("name", ""),
        "customer": c.name,
        "contact": c.contact or c.name,
        "amount": _amounts(totals, c.currency),
        "balance": _amounts(balances, c.currency) or fmt(ZERO, c.currency),
        "days_overdue": str(max(0, max(days_past_due(i, as_of) for _, i in d.items))),
        "as_of": shown(as_of),
        "pay_link": url,
        "ar_email": company.get("email", ""),
        "ar_phone": company.get("phone", ""),
    }


def _amounts(by_currency: dict, own: str) -> str:
    """'$1,200.00 and ¥5,000', the customer's own currency first."""
    order = sorted(by_currency, key=lambda cur: (cur != own, cur))
    return " and ".join(fmt(by_currency[cur], cur) for cur in order)


def _groups(d: Decision, stage: Stage, as_of: date) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """The items table per currency, and the text table's column widths."""
    overdue = stage.days > 0
    currencies = sorted({cur for cur, _ in d.items}, key=lambda cur: (cur != d.customer.currency, cur))
    groups: list[dict[str, Any]] = []
    for cur in currencies:
        items = [i for c, i in d.items if c == cur]
        rows = []
        for i in items:
            days = days_past_due(i, as_of)
            e = i.entry
            rows.append({"ref": e.ref or f"{KIND.get(e.type, e.type.title())} of {shown(e.date)}",
                         "due": shown(i.due), "open": fmt(i.open, cur),
                         "status": str(days) if days > 0 else "due today" if days == 0 else f"in {-days} days"})
        label = "Overdue" if overdue else "Due"
        groups.append({"caption": f"{label} invoices" + (f" ({cur})" if len(currencies) > 1 else ""),
                       "rows": rows, "total": fmt(sum((i.open for i in items), ZERO), cur),
                       "total_label": f"Total {label.lower()}" + (f" ({cur})" if len(currencies) > 1 else "")})
    rows = [r for g in groups for r in g["rows"]]
    widths = {"ref": max([len("Invoice")] + [len(r["ref"]) for r in rows]),
              "due": max([len("Due")] + [len(r["due"]) for r in rows]),
              "status": max([len("Days overdue")] + [len(r["status"]) for r in rows]),
              "open": max([len("Open")] + [len(r["open"]) for r in rows] + [len(g["total"]) for g in groups])}
    return groups, widths


def write_outbox(staff_dir: Path, letters) -> tuple[Path, list[tuple[str, str]]]:
    """Replace <staff>/outbox with one .eml file per letter, in one swap: never half a preview."""
    outbox = staff_dir / "outbox"
    staging = staff_dir / ".outbox.new"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    written = []
    for letter in letters:
        (staging / letter.filename).write_bytes(letter.message.as_bytes())
        written.append((letter.customer_id, letter.stage))  # not the letter: 100k messages would not fit
    if outbox.exists():
        _exchange(staging, outbox)
        old = staff_dir / f".outbox.old-{os.getpid()}"
        os.rename(staging, old)
        remove_later(old)
    else:
        os.rename(staging, outbox)
    return outbox, written


@dataclass
class Delivery:
    """What an SMTP run did: sent, refused one by one, or stopped by a failure."""

    sent: list[tuple[str, str]] = field(default_factory=list)  # (customer, stage)
    refused: list[tuple[str, str, str]] = field(default_factory=list)  # (customer, recipient, why)
    failure: str = ""


def send(smtp: Smtp, password: str, letters, on_sent) -> Delivery:
    """Send each letter over one connection; `on_sent(letter)` runs as soon as the server accepts it.

    A refused recipient or message is noted and the run goes on; a connection or login failure
    stops it (what was sent is already logged, so the next run sends only the rest).
    """
    out = Delivery()
    where = f"SMTP {smtp.host}:{smtp.port}"
    try:
        conn = smtplib.SMTP(smtp.host, smtp.port, timeout=60)
    except (smtplib.SMTPException, OSError) as e:
        out.failure = f"{where}: cannot connect: {e}"
        return out
    try:
        try:
            conn.ehlo()
            if smtp.starttls:
                conn.starttls(context=ssl.create_default_context())
                conn.ehlo()
            if smtp.user:
                conn.login(smtp.user, password)
        except (smtplib.SMTPException, OSError) as e:
            step = "login" if isinstance(e, smtplib.SMTPAuthenticationError) else "greeting or STARTTLS"
            out.failure = f"{where}: {step} failed: {_reason(e)}"
            return out
        for letter in letters:
            try:
                conn.send_message(letter.message)
            except (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError) as e:
                out.refused.append((letter.customer_id, letter.recipient, _reason(e)))
                continue
            except (smtplib.SMTPException, OSError) as e:
                out.failure = f"{where}: stopped at {letter.customer_id}: {_reason(e)}"
                break
            on_sent(letter)
            out.sent.append((letter.customer_id, letter.stage))
    finally:
        try:
            conn.quit()
        except (smtplib.SMTPException, OSError):
            conn.close()
    return out


def _reason(e: Exception) -> str:
    """The server's words, without Python's tuple noise."""
    if isinstance(e, smtplib.SMTPRecipientsRefused):
        code, text = next(iter(e.recipients.values()))
        return f"{code} {text.decode(errors='replace') if isinstance(text, bytes) else text}"
    if isinstance(e, smtplib.SMTPResponseException):
        words = e.smtp_error.decode(errors="replace") if isinstance(e.smtp_error, bytes) else str(e.smtp_error)
        return f"{e.smtp_code} {words}"
    return str(e) or type(e).__name__
