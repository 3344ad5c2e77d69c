"""Rendering: Jinja2 templates and Markdown content pages to the HTML of the public site."""
from __future__ import annotations

import hashlib
import html
import re
from datetime import date
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace

import markdown
from jinja2 import Environment, FileSystemLoader, StrictUndefined, UndefinedError, select_autoescape
from markupsafe import Markup, escape

from .accounts import BUCKETS, ZERO, Account
from .model import Customer, Entry
from .money import fmt, plain, quantize
from .settings import Settings

# Each currency's account section (tables of rows, the pay form) repeats on every page: it is
# composed here, which measured ~3x faster than the same markup in the template (see _section).
LATE = ' class="late"'
KIND = {"payment": "Payment", "credit": "Credit note", "writeoff": "Write-off", "refund": "Refund",
        "adjustment": "Adjustment", "invoice": "Invoice"}
STATIC_FILES = ("robots.txt",)
AGING_HEAD = "".join(f'<th scope="col">{label}</th>' for _, label in BUCKETS)
UNAPPLIED_HEAD = '<th scope="col">Unapplied credit</th>'
ITEMS_HEAD = ('<th scope="col">Invoice</th><th scope="col">Date</th><th scope="col">Due</th>'
              '<th scope="col" class="num">Days overdue</th><th scope="col" class="num">Original</th>'
              '<th scope="col" class="num">Open</th>')
RECENT_HEAD = ('<th scope="col">Date</th><th scope="col">Type</th><th scope="col">Reference</th>'
               '<th scope="col">Applied to</th><th scope="col" class="num">Amount</th>')
BUCKET_KEYS = tuple(k for k, _ in BUCKETS)
ROOT = "../../"  # from s/<token>/ back to the site root
# The blocks of statement.html that differ from customer to customer. The rest of the page (the
# masthead, the help links, the contact section, the footer…) is rendered once per build: see _frame.
PAGE_BLOCKS = ("title", "header", "accounts", "signature")
_SLOT = re.compile("\x00(" + "|".join(PAGE_BLOCKS) + ")\x00")
STAFF_TEMPLATES = ("staff", "email")  # staff pages and emails: not part of any statement's inputs


def environment(settings: Settings) -> Environment:
    """The Jinja environment: autoescape on for every template, undefined names are errors."""
    return Environment(loader=FileSystemLoader(settings.templates_dir), autoescape=select_autoescape(default=True),
                       undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def content_pages(settings: Settings) -> list[dict]:
    """Markdown pages in content/pages/: slug, title (the first heading) and HTML."""
    out = []
    for path in sorted((settings.content_dir / "pages").glob("*.md")):
        text = path.read_text(encoding="utf-8-sig")
        title = next((ln.lstrip("#").strip() for ln in text.splitlines() if ln.startswith("# ")), path.stem.title())
        html = markdown.markdown(text, extensions=["tables", "sane_lists"], output_format="html")
        out.append({"slug": path.stem, "title": title, "html": html})
    return out


def input_files(settings: Settings) -> list[Path]:
    """Every file other than the ledger that a statement page depends on."""
    files = [p for p in settings.templates_dir.rglob("*")
             if p.is_file() and p.relative_to(settings.templates_dir).parts[0] not in STAFF_TEMPLATES]
    files += list((settings.content_dir / "pages").glob("*.md"))
    return sorted(files)


def entries_digest(entries: list[Entry]) -> tuple[str, int]:
    """A digest of the ledger entries a statement was built from (canonical, not byte-level)."""
    # %-formatting: the same text as f-strings (str() of each field), a fifth faster here.
    text = "".join(["%s|%s|%s|%s|%s|%s|%s|%s|%s\n" % (e.date, e.type, e.ref, e.amount, e.currency, e.due_date or "",
                                                       e.applies_to, e.memo, e.status) for e in entries])
    return hashlib.sha256(text.encode()).hexdigest(), len(entries)


class SiteRenderer:
    """Renders statement pages and the site's shared pages from one set of templates."""

    def __init__(self, settings: Settings, pages: list[dict]):
        self.settings = settings
        self.env = environment(settings)
        self.env.auto_reload = False  # a renderer lives for one build: no stat of the templates per page
        self.pages = pages
        self.statement = self.env.get_template("statement.html")
        # The contact page is also shown on each statement, its headings one level down.
        contact = next((p["html"] for p in pages if p["slug"] == "contact"), "")
        self.common = {
            # Attributes rather than keys: Jinja tries an attribute first, and a dict makes it raise.
            "company": SimpleNamespace(**settings.company),
            "nav": [{"title": p["title"], "slug": p["slug"]} for p in pages],
            # A browser applies form-action to the redirect after the post too: allow Checkout.
            "form_origin": f"{_origin(settings.pay_url)} {settings.checkout_origin}",
            "contact": re.sub(r"<(/?)h([1-5])\b", lambda m: f"<{m[1]}h{int(m[2]) + 1}", contact),
        }
        self.frame = self._frame()
        self.pay_action = escape(settings.pay_url)
        # Each page's context is these plus its own values, taken as they are (shared): the globals
        # are added here once instead of merged into every page's context.
        self.fixed = {**self.statement.globals, **self.common, "root": ROOT}
        self.money: dict[str, tuple] = {}  # currency -> (formatter, zero, minimum payment), made once
        self.memos: dict[str, str] = {}  # memo -> escaped: a few texts repeat on most rows

    def _frame(self) -> list[str] | None:
        """statement.html rendered once, each per-customer block (PAGE_BLOCKS) left as a slot.

        [text, block name, text, block name, …, text]; a page fills the slots by rendering only those
        blocks. None if the template does not split so (a per-customer value outside those blocks, or
        a block it does not define itself): then each page is rendered whole, the same but slower.
        """
        slots = "".join(f"{{% block {b} %}}\x00{b}\x00{{% endblock %}}" for b in PAGE_BLOCKS)
        try:
            text = self.env.from_string('{% extends "statement.html" %}' + slots).render(**self.common, root=ROOT)
        except UndefinedError:
            return None
        parts = _SLOT.split(text)
        return parts if all(b in self.statement.blocks for b in parts[1::2]) else None

    def statement_html(self, customer: Customer, accounts: list[Account], as_of: date, pay_token: str,
                       digest: tuple[str, int]) -> str:
        """One customer's statement page."""
        if not accounts:
            accounts = [Account(customer.currency, buckets=dict.fromkeys((k for k, _ in BUCKETS), ZERO))]
        elif len(accounts) > 1:  # the customer's own currency first, the others after it
            accounts = sorted(accounts, key=lambda a: (a.currency != customer.currency, a.currency))
        minimum = self._money(accounts[0].currency)[2]
        values = {
            **self.fixed,
            "customer": customer,
            "as_of": _day(as_of),
            "accounts_html": Markup("".join([self._section(a, len(accounts) > 1, pay_token, minimum)
                                             for a in accounts])),
            "digest": digest[0], "entry_count": digest[1],
        }
        if self.frame is None:
            return self.statement.render(values)
        context = self.statement.new_context(values, shared=True)
        blocks = self.statement.blocks
        out = []
        for i, part in enumerate(self.frame):
            if i % 2:
                out.extend(blocks[part](context))
            else:
                out.append(part)
        return "".join(out)

    def _money(self, currency: str) -> tuple:
        """(formatter, zero, minimum payment) for a currency, all plain text (nothing to escape)."""
        m = self.money.get(currency)
        if m is None:
            def money(amount) -> str:
                return fmt(amount, currency)
            m = self.money[currency] = (money, fmt(ZERO, currency),
                                        fmt(quantize(self.settings.min_payment, currency), currency))
        return m

    def _memo(self, memo: str) -> str:
        text = self.memos.get(memo)
        if text is None:
            text = f"<br><small>{esc(memo)}</small>" if memo else ""
            if len(self.memos) < 10_000:
                self.memos[memo] = text
        return text

    def _section(self, a: Account, multi: bool, pay_token: str, minimum: str) -> str:
        """One currency's account: balance, aging, open items, payments received and the pay form.

        Text from the ledger (refs, memos) is escaped with esc(); money, dates and the currency
        code are made here from Decimals, dates and ISO codes and have nothing to escape.
        """
        cur = a.currency
        money, zero, _ = self._money(cur)
        memo = self._memo
        item_rows, picks = [], []
        for i in a.items:
            e = i.entry
            ref = esc(e.ref or KIND[e.type])
            kind = "" if e.type == "invoice" else f" <small>({KIND[e.type]})</small>"
            left = money(i.open)
            item_rows.append(
                f'<tr{LATE if i.days_overdue else ""}><th scope="row">{ref}{kind}{memo(e.memo)}</th><td>{_day(e.date)}</td>'
                f'<td>{_day(i.due)}</td><td class="num">{i.days_overdue or "–"}</td>'
                f'<td class="num">{money(e.amount)}</td><td class="num">{left}</td></tr>')
            if e.type == "invoice":
                picks.append(f'<li><label><input type="checkbox" name="invoice" value="{ref}"> {ref}: '
                             f'{left}</label></li>')
        recent_rows = []
        for e in a.recent:
            amount = money(abs(e.amount) if e.type != "adjustment" else -e.amount)
            badge = ' <span class="badge">processing</span>' if e.status == "processing" else ""
            recent_rows.append(f'<tr><td>{_day(e.date)}</td><td>{KIND[e.type]}{badge}</td><td>{esc(e.ref)}{memo(e.memo)}</td>'
                               f'<td>{esc(e.applies_to)}</td><td class="num">{amount}</td></tr>')
        cells = []
        for k in BUCKET_KEYS:
            v = a.buckets[k]
            cells.append(f'<td class="num zero">{zero}</td>' if not v else
                         f'<td class="num">{money(v)}</td>' if k == "current" else f'<td class="num late">{money(v)}</td>')
        balance = money(a.balance)
        overdue = a.overdue
        late = money(overdue) if overdue > 0 else ""
        unapplied = money(a.unapplied) if a.unapplied else ""
        out = [f'<section class="account" aria-labelledby="bal-{cur}">\n  <div class="summary">\n'
               f'    <h2 id="bal-{cur}">Balance due{f" in {cur}" if multi else ""}</h2>\n'
               f'    <p class="balance{" is-overdue" if late else ""}">{balance}</p>\n']
        if late:
            out.append(f'<p class="overdue-note"><strong>{late}</strong> of this is overdue.</p>')
        if a.processing:
            out.append(f'<p class="processing-note">{money(a.processing)} in bank payments is processing and '
                       'already counted as paid.</p>')
        if unapplied:
            out.append(f'<p class="credit-note">You have {unapplied} in unapplied credit'
                       f'{", already taken off the balance" if a.balance > 0 else ""}.</p>')
        if unapplied:
            cells.append(f'<td class="num credit">-{unapplied}</td>')
        out.append(f'  </div>\n  <table class="aging">\n    <caption>Aging of open items ({cur})</caption>\n'
                   f'    <thead><tr>{AGING_HEAD}{UNAPPLIED_HEAD if unapplied else ""}</tr></thead>\n'
                   f'    <tbody><tr>{"".join(cells)}</tr></tbody>\n  </table>\n')
        if item_rows:
            out.append(f'  <table class="items">\n    <caption>Open invoices ({cur})</caption>\n'
                       f'    <thead><tr>{ITEMS_HEAD}</tr></thead>\n    <tbody>\n'
                       + "\n".join(item_rows) + '\n    </tbody>\n  </table>\n')
        else:
            out.append('  <p class="paid-up">Nothing is open. Thank you!</p>\n')
        if recent_rows:
            out.append(f'  <table class="recent">\n    <caption>Payments and credits received ({cur})</caption>\n'
                       f'    <thead><tr>{RECENT_HEAD}</tr></thead>\n    <tbody>\n'
                       + "\n".join(recent_rows) + '\n    </tbody>\n  </table>\n')
        if a.balance > 0:
            out.append(f'  <form class="pay" method="post" action="{self.pay_action}">\n    <fieldset>\n'
                       f'      <legend>Pay online ({cur})</legend>\n'
                       f'      <input type="hidden" name="token" value="{escape(pay_token)}">\n'
                       f'      <input type="hidden" name="currency" value="{cur}">\n'
                       '      <div class="choice"><label><input type="radio" name="choice" value="balance" checked> '
                       f'The whole balance, {balance}</label></div>\n')
            if late:
                out.append('<div class="choice"><label><input type="radio" name="choice" value="overdue"> '
                           f'What is overdue, {late}</label></div>')
            if picks:
                out.append('      <div class="choice"><label><input type="radio" name="choice" value="invoices"> '
                           'Chosen invoices:</label></div>\n      <ul class="invoice-picks">\n'
                           + "\n".join(picks) + '\n      </ul>\n')
            out.append('      <div class="choice"><label><input type="radio" name="choice" value="amount"> Another amount:'
                       f'</label>\n        <label><span class="visually-hidden">Amount in {cur}</span><input type="text" '
                       'inputmode="decimal" name="amount" size="10" autocomplete="off" '
                       f'placeholder="{plain(a.balance, cur)}"> {cur}</label></div>\n'
                       f'      <p class="hint">Card or US bank account. Minimum {minimum}. The amount is checked '
                       'against your account before you pay.</p>\n      <button type="submit">Pay now</button>\n'
                       '    </fieldset>\n  </form>\n')
        out.append('</section>\n')
        return "".join(out)

    def shared_pages(self) -> dict[str, str]:
        """The site's non-customer pages, by path: landing page, content pages, stylesheet, robots."""
        out = {
            "index.html": self.env.get_template("index.html").render(**self.common, root=""),
            "404.html": self.env.get_template("404.html").render(**self.common, root="/"),
            # An empty page so a host that lists directories cannot list the statements.
            "s/index.html": self.env.get_template("index.html").render(**self.common, root="../"),
            "robots.txt": "User-agent: *\nDisallow: /\n",
        }
        for p in self.pages:
            out[f"pages/{p['slug']}/index.html"] = self.env.get_template("page.html").render(
                **self.common, root="../../", page=p)
        for asset in sorted((self.settings.templates_dir / "assets").glob("*")):
            out[f"assets/{asset.name}"] = asset.read_text(encoding="utf-8")
        return out


def _origin(url: str) -> str:
    """The CSP source for the pay form's target: 'self' for a path, the origin for a full URL."""
    if "://" not in url:
        return "'self'"
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{rest.split('/', 1)[0]}"


@lru_cache(maxsize=4096)
def _day(d: date) -> Markup:
    return Markup(f"{d.day} {d:%b %Y}")


def esc(text: str) -> str:
    """HTML-escape customer text (names, refs, memos come from a CSV someone else typed)."""
    return html.escape(text, quote=True)
