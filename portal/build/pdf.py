"""A customer's statement as the HTML of its PDF: the page's own templates, plus the remittance slip.

site_templates/statement_pdf.html extends statement.html (the same header, sections and footer as
the page, without its forms) and adds the slip; assets/statement-pdf.css is its print stylesheet.
Nothing here makes a PDF (pdf_writer does) or writes a file (pdf_cache does): this is the HTML,
the stylesheets and a digest of everything they are made from.
"""
from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from jinja2 import TemplateError

from ..core.accounts import Account
from ..core.records import Customer
from ..ledger.settings import Settings
from .page import customer_digest
from .render import (
    ROOT,
    SiteRenderer,
    brand_css,
    content_pages,
    input_files,
    logo_asset,
    money_formatter,
    page_order,
    statement_reference,
    template_problem,
)

PDF_TEMPLATE = "statement_pdf.html"
# The stylesheets a PDF is printed with, in this order (later ones win ties); brand.css is made from the settings.
STYLESHEETS = ("statement.css", "brand.css", "statement-pdf.css")
# Where the PDF's page is said to be, so that ROOT ("../../") from it is the site's root: its assets are
# fetched from under it (pdf_writer serves them from here, never from the network or the disk at large).
BASE_URL = "https://statement.invalid/s/pdf/"
ASSETS_URL = "https://statement.invalid/assets/"


@dataclass(frozen=True)
class SlipRow:
    """One currency on the remittance slip: the balance as printed, and whether it is in the customer's favour."""

    currency: str
    balance: str
    credit: bool


@dataclass(frozen=True)
class Slip:
    """The remittance slip's own values (the customer, account and date come from the page's)."""

    remit_to: tuple[str, ...]
    rows: tuple[SlipRow, ...]


@dataclass(frozen=True)
class PdfSource:
    """What one PDF is made from: its HTML, its stylesheets' text (in order), and a digest of all of it
    (with the customer and the day), for the cache."""

    html: str
    stylesheets: tuple[str, ...]
    digest: str


def pdf_filename(customer_id: str, day: date) -> str:
    """The PDF's file name: statement-<account>-<date>.pdf, the account id reduced to safe characters."""
    account = re.sub(r"[^A-Za-z0-9._-]+", "_", customer_id)[:64] or "account"
    return f"statement-{account}-{day.isoformat()}.pdf"


def remit_lines(company: dict[str, str]) -> tuple[str, ...]:
    """Where cheques go: the company's name, then [company] remit_to (else its address), line by line."""
    lines = [ln.strip() for ln in (company.get("remit_to") or company.get("address", "")).splitlines() if ln.strip()]
    name = company.get("name", "")
    return tuple(lines if lines and lines[0] == name else [name, *lines])


def slip_rows(accounts: list[Account]) -> tuple[SlipRow, ...]:
    """A row per currency, in the page's order: the balance due, or the credit (shown positive)."""
    return tuple(SlipRow(a.currency, money_formatter(a.currency)(-a.balance if a.balance < 0 else a.balance),
                         a.balance < 0) for a in accounts)


class PdfComposer:
    """Statement HTML for PDFs from the templates as they are now: reloaded when one changes (thread-safe)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._lock = threading.Lock()
        self._state: tuple[tuple, SiteRenderer, str, tuple[str, ...]] | None = None

    def source(self, customer: Customer, accounts: list[Account], as_of: date) -> PdfSource:
        """One customer's statement as of a day, as the HTML of its PDF; TemplateProblem if a template is wrong."""
        renderer, inputs, sheets = self._current()
        shown = page_order(customer, accounts)
        values = renderer.page_values(customer, shown, as_of, "", "", 0)  # no token: the PDF has no forms
        digest = hashlib.sha256("|".join([inputs, customer_digest(customer), as_of.isoformat(),
                                          str(values["accounts_html"])]).encode()).hexdigest()
        values.update(reference=statement_reference(digest), digest=digest)
        slip = Slip(remit_lines(self.settings.company), slip_rows(shown))
        try:
            html = renderer.env.get_template(PDF_TEMPLATE).render(**renderer.common, root=ROOT, **values, slip=slip)
        except TemplateError as e:
            raise template_problem(self.settings, e) from None
        return PdfSource(html, sheets, digest)

    def asset(self, name: str) -> bytes | None:
        """An asset the PDF's HTML links to, by its name under assets/: only the company's logo."""
        logo = self.settings.company.get("logo", "")
        if logo and f"assets/{name}" == logo_asset(self.settings):
            return (self.settings.content_dir / logo).read_bytes()
        return None

    def _current(self) -> tuple[SiteRenderer, str, tuple[str, ...]]:
        """The renderer, a digest of every input file, and the stylesheets, made again when an input changed."""
        files = input_files(self.settings)
        key = tuple((str(p), *_signature(p)) for p in files)
        with self._lock:
            if self._state is None or self._state[0] != key:
                renderer = SiteRenderer(self.settings, content_pages(self.settings))
                digest = hashlib.sha256(self.settings.raw.encode())
                for p in files:
                    digest.update(p.name.encode() + b"\0" + p.read_bytes())
                self._state = (key, renderer, digest.hexdigest(), self._stylesheets())
            return self._state[1], self._state[2], self._state[3]

    def _stylesheets(self) -> tuple[str, ...]:
        assets = self.settings.templates_dir / "assets"
        return tuple(brand_css(self.settings) if name == "brand.css" else
                     (assets / name).read_text(encoding="utf-8") if (assets / name).exists() else ""
                     for name in STYLESHEETS)


def _signature(path: Path) -> tuple[int, int]:
    try:
        info = path.stat()
    except FileNotFoundError:
        return (-1, -1)
    return info.st_size, info.st_mtime_ns
