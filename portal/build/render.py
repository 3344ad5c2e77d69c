"""Rendering: Jinja2 templates and Markdown content pages to the HTML of the public site."""
from __future__ import annotations

import hashlib
import html
import json
import re
from datetime import date
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace
from typing import TypeGuard

from jinja2 import (
    Environment,
    FileSystemBytecodeCache,
    FileSystemLoader,
    StrictUndefined,
    TemplateError,
    meta,
    nodes,
    select_autoescape,
)
from markupsafe import Markup, escape

from ..core.accounts import BUCKET_KEYS, BUCKETS, ZERO, Account
from ..core.clock import shown
from ..core.methods import clearing_in_words, methods_in_words
from ..core.money import EXPONENT, SYMBOL, fmt, plain, quantize
from ..core.records import Customer, InputError, Problem
from ..ledger.settings import Settings
from .publish import write_atomic

# Each currency's account section (tables of rows, the pay form) repeats on every page: it is
# composed here, which measured ~3x faster than the same markup in the template (see _section).
LATE = ' class="late"'
KIND = {"payment": "Payment", "credit": "Credit note", "writeoff": "Write-off", "refund": "Refund",
        "adjustment": "Adjustment", "invoice": "Invoice"}
# Statements are written in ASCII, their few other characters as references (&ndash;, &middot; in the
# shipped templates): a page with one character past ASCII is a string of 1-2 bytes a character,
# slower to compose, and its UTF-8 took 5-9 us to encode instead of 0.2 (measured, a 9 KB page).
PAGE_BUCKETS = tuple((key, Markup(label.replace("–", "&ndash;"))) for key, label in BUCKETS)
AGING_HEAD = "".join(f'<th scope="col">{label}</th>' for _, label in PAGE_BUCKETS)
UNAPPLIED_HEAD = '<th scope="col">Unapplied credit</th>'
ITEMS_HEAD = ('<th scope="col">Invoice</th><th scope="col">Date</th><th scope="col">Due</th>'
              '<th scope="col" class="num">Days overdue</th><th scope="col" class="num">Original</th>'
              '<th scope="col" class="num">Open</th>')
RECENT_HEAD = ('<th scope="col">Date</th><th scope="col">Type</th><th scope="col">Reference</th>'
               '<th scope="col">Applied to</th><th scope="col" class="num">Amount</th>')
ACTIVITY_HEAD = ('<th scope="col">Date</th><th scope="col">Entry</th><th scope="col" class="num">Charged</th>'
                 '<th scope="col" class="num">Paid or credited</th><th scope="col" class="num">Balance</th>')
# The pay form's attributes for assets/pay.js, which prints amounts as money_formatter does: the text
# before the digits ("$", "SEK ") and the number of decimals; and that prefix's length. Amounts reach
# the script as integer minor units (data-minor on the choices and invoice boxes): the digits of the
# amount as printed beside them, which money_formatter always prints with the currency's decimals.
PAY_FORM = {c: (f' data-prefix="{html.escape(SYMBOL.get(c) or c + " ")}" data-exponent="{e}"',
                len(SYMBOL.get(c) or c + " ")) for c, e in EXPONENT.items()}
ROOT = "../../"  # from s/<token>/ back to the site root
# What statement.html is given that differs from page to page; the rest is the same for a build.
# (digest, entry_count and entries_word are what statement.html printed before the reference: a
# project's own copy of the template may still print them.)
# pay_token: the signed token the page's forms post (the pay forms, and Download PDF's).
PAGE_VALUES = ("customer", "as_of", "accounts_html", "reference", "digest", "entry_count", "entries_word",
               "pay_token")
_SLOT = re.compile("\x00((?:" + "|".join(PAGE_VALUES) + r")(?:\.\w+)*)\x00")
# Template constructs that could transform a per-page value's marker (see _plain): with one,
# statement.html is rendered whole for every page.
_OPAQUE = (nodes.EvalContextModifier, nodes.Macro, nodes.CallBlock, nodes.FilterBlock, nodes.AssignBlock,
           nodes.Import, nodes.FromImport)
STAFF_TEMPLATES = ("staff", "email")  # staff pages and emails: not part of any statement's inputs


# The digest of site_templates/account.html whose text _section composes (test_site keeps them equal).
ACCOUNT_TEMPLATE_SHA256 = "bab332acb6d2451dafca882f7029327480da9f1600c4ed88bee4543f1f310926"


def account_template_digest(settings: Settings) -> str:
    """The sha256 of the project's account.html (a changed one renders every section from it), "" if none."""
    path = settings.templates_dir / "account.html"
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else ""


class TemplateProblem(InputError):
    """A template that does not render: said at its file and line, never as a traceback."""


def template_problem(settings: Settings, error: Exception) -> TemplateProblem:
    """The template file and line an error of Jinja's came from, and what it says."""
    path, line = getattr(error, "filename", None), getattr(error, "lineno", None) or 0
    tb = error.__traceback__
    while tb is not None:  # Jinja maps its frames onto the template's own lines
        if tb.tb_frame.f_code.co_filename.endswith((".html", ".txt")):
            path, line = tb.tb_frame.f_code.co_filename, tb.tb_lineno
        tb = tb.tb_next
    try:
        shown = str(Path(path).resolve().relative_to(settings.root)) if path else "site_templates"
    except ValueError:
        shown = str(path)
    return TemplateProblem([Problem(shown, line, f"the template does not render: {error} "
                                                 "(see docs/architecture.md for what a statement is given)")])


def statement_reference(page_digest: str) -> str:
    """A short name for one version of a statement, for a customer to quote: "3F2A-9C1B-77D0"."""
    ref = page_digest[:12].upper()
    return f"{ref[:4]}-{ref[4:8]}-{ref[8:]}"


def environment(settings: Settings) -> Environment:
    """The Jinja environment: autoescape on for every template, undefined names are errors.

    Compiled templates are kept in the state folder (Jinja's bytecode cache, keyed by each
    template's source): compiling statement.html and the aging report's took ~0.1 s a build."""
    cache = None
    if settings.state_dir.is_dir():
        folder = settings.state_dir / "templates"
        folder.mkdir(exist_ok=True)
        cache = FileSystemBytecodeCache(str(folder))
    return Environment(loader=FileSystemLoader(settings.templates_dir), autoescape=select_autoescape(default=True),
                       undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, bytecode_cache=cache)


def compile_templates(settings: Settings) -> None:
    """Put the statement's and the aging report's templates into the bytecode cache (environment),
    compiled: a full build's parent does it while its workers parse (~0.025 s for the report's, off
    the build's last step; each worker's statement.html 0.013-0.016 -> 0.007 s). A template that does
    not compile is left for the workers and the report, which say what is wrong with it."""
    if not settings.state_dir.is_dir():
        return
    env = environment(settings)
    for name in ("statement.html", "account.html", "staff/aging.html"):
        try:
            env.get_template(name)
        except TemplateError:
            pass


def content_pages(settings: Settings, kept_as: str = "", fresh: bool = False) -> list[dict]:
    """Markdown pages in content/pages/: slug, title (the first heading) and HTML.

    A build passes `kept_as`, its global digest (run.global_digest: of the pages' sources, the
    code, the settings): the pages are kept in the state folder under it, and a build with the same
    digest (every incremental one) takes them from there instead of converting them and importing
    Markdown (~0.04 s). `fresh` (a full build asked for) converts them all the same."""
    kept = settings.state_dir / "pages" / f"{kept_as}.json"
    if kept_as and not fresh:
        try:
            return json.loads(kept.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            pass
    out = [_content_page(path.stem, path.read_text(encoding="utf-8-sig"))
           for path in sorted((settings.content_dir / "pages").glob("*.md"))]
    if kept_as and settings.state_dir.is_dir():
        kept.parent.mkdir(exist_ok=True)
        for old in kept.parent.glob("*.json"):
            old.unlink(missing_ok=True)
        write_atomic(kept, json.dumps(out), durable=False)
    return out


def _content_page(slug: str, text: str) -> dict:
    import markdown  # here: most builds take their pages from the state folder (content_pages)
    title = next((ln.lstrip("#").strip() for ln in text.splitlines() if ln.startswith("# ")), slug.title())
    html = markdown.markdown(text, extensions=["tables", "sane_lists"], output_format="html")
    return {"slug": slug, "title": title, "html": html}


def input_files(settings: Settings) -> list[Path]:
    """Every file other than the ledger that a statement page depends on."""
    files = [p for p in settings.templates_dir.rglob("*")
             if p.is_file() and p.relative_to(settings.templates_dir).parts[0] not in STAFF_TEMPLATES]
    files += list((settings.content_dir / "pages").glob("*.md"))
    if settings.company.get("logo"):
        files.append(settings.content_dir / settings.company["logo"])
    return sorted(files)


def page_frame(settings: Settings) -> dict[str, str]:
    """What base.html needs besides the company, for every page that extends it (the site's and the
    payment service's): the phone's tel: number and the logo's place."""
    return {"company_tel": re.sub(r"[^\d+]", "", settings.company.get("phone", "")), "logo": logo_asset(settings)}


def message_url(settings: Settings) -> str:
    """Where a statement's message form posts: the payment service's /message, beside /pay."""
    return settings.pay_url.rstrip("/") + "/message"


def page_order(customer: Customer, accounts: list[Account]) -> list[Account]:
    """The accounts as a statement shows them: the customer's own currency first, the others after it
    (with none, an empty account in the customer's currency)."""
    if not accounts:
        return [Account(customer.currency, buckets=dict.fromkeys(BUCKET_KEYS, ZERO))]
    if len(accounts) > 1:
        return sorted(accounts, key=lambda a: (a.currency != customer.currency, a.currency))
    return accounts


def pdf_url(settings: Settings) -> str:
    """Where the statement's Download PDF form posts: beside the pay form's address (settings pay_url)."""
    return settings.pay_url.rstrip("/") + "/statement.pdf"


def logo_asset(settings: Settings) -> str:
    """Where the company's logo is in the site ("" when there is none): served from the site itself."""
    logo = settings.company.get("logo", "")
    return f"assets/logo{Path(logo).suffix.lower()}" if logo else ""


class SiteRenderer:
    """Renders statement pages and the site's shared pages from one set of templates."""

    def __init__(self, settings: Settings, pages: list[dict]):
        self.settings = settings
        self.env = environment(settings)
        self.env.auto_reload = False  # a renderer lives for one build: no stat of the templates per page
        self.pages = pages
        try:
            self.statement = self.env.get_template("statement.html")
        except TemplateError as e:  # a syntax error in it, or a template it extends
            raise template_problem(settings, e) from None
        # The composed sections are account.html's text as shipped (or the project has none: a
        # project made before it was); an edited copy renders them.
        self.fast_sections = account_template_digest(settings) in (ACCOUNT_TEMPLATE_SHA256, "")
        self.account = None if self.fast_sections else self.env.get_template("account.html")
        # The contact page is also shown on each statement, its headings one level down.
        contact = next((p["html"] for p in pages if p["slug"] == "contact"), "")
        self.common = {
            # Attributes rather than keys: Jinja tries an attribute first, and a dict makes it raise.
            "company": SimpleNamespace(**settings.company),
            "nav": [{"title": p["title"], "slug": p["slug"]} for p in pages],
            # A browser applies form-action to the redirect after the post too: allow Checkout.
            "form_origin": f"{_origin(settings.pay_url)} {settings.checkout_origin}",
            "contact": re.sub(r"<(/?)h([1-5])\b", lambda m: f"<{m[1]}h{int(m[2]) + 1}", contact),
            **page_frame(settings),
        }
        self.pay_action = escape(settings.pay_url)
        self.common["message_action"] = message_url(settings)
        self.common["pdf_action"] = pdf_url(settings)
        try:
            self.frame = self._frame()
        except TemplateError as e:
            raise template_problem(settings, e) from None
        self.money: dict[str, tuple] = {}  # currency -> (formatter, zero, minimum payment), made once
        self.memos: dict[str, str] = {}  # memo -> escaped: a few texts repeat on most rows
        self.hints: dict[str, str] = {}  # currency -> how one can pay in it (_methods)

    def _frame(self) -> tuple[list[str], list[tuple]] | None:
        """statement.html rendered once for the build, with a marker where each per-page value goes.

        (texts, slots): a page is texts[0], its value for slots[0], texts[1], … Each slot is
        (value name, attribute names); its value is printed as Jinja would print it (escaped).
        None unless the templates only ever print those values as they are (see _plain): then each
        page is rendered whole, the same page but several times slower.
        """
        unknown = _unknown_customer_fields(self.env, "statement.html", set())
        if unknown:
            template, line, field = unknown
            raise TemplateProblem([Problem(f"site_templates/{template}", line,
                                           f"the template prints customer.{field}, which a customer does not have "
                                           f"(expected one of {', '.join(Customer._fields[:-2])})")])
        if not _prints_page_values_plainly(self.env, "statement.html", set()):
            return None
        text = self.statement.render(**self.common, root=ROOT, **{v: _Marker(v) for v in PAGE_VALUES})
        parts = _SLOT.split(text)
        texts, paths = parts[::2], parts[1::2]
        if any("\x00" in t for t in texts):  # a marker that did not survive as it was
            return None
        return texts, [(p.split(".")[0], tuple(p.split(".")[1:])) for p in paths]

    def statement_html(self, customer: Customer, accounts: list[Account], as_of: date, pay_token: str,
                       digest: str, rows: int) -> str:
        """One customer's statement page, made from `rows` ledger rows; `digest` is of everything it
        was made from (page.render_customer), shown shortened as its reference."""
        values = self.page_values(customer, accounts, as_of, pay_token, digest, rows)
        if self.frame is None:
            try:
                return self.statement.render(**self.common, root=ROOT, **values)
            except TemplateError as e:
                raise template_problem(self.settings, e) from None
        texts, slots = self.frame
        out = [texts[0]]
        for (name, attrs), text in zip(slots, texts[1:], strict=True):  # a text after each slot (frame)
            value = values[name]
            for a in attrs:  # as Jinja looks it up: the attribute, else the item
                try:
                    value = getattr(value, a)
                except AttributeError:
                    value = self.env.getattr(value, a)
            # what autoescape prints (esc: the same text, returned as it is when there is nothing
            # to escape, as for the tokens, printed three times a page)
            out.append(value if isinstance(value, Markup) else esc(value) if type(value) is str else escape(value))
            out.append(text)
        return "".join(out)

    def page_values(self, customer: Customer, accounts: list[Account], as_of: date, pay_token: str,
                    digest: str, rows: int) -> dict:
        """What statement.html is given for one customer (PAGE_VALUES), besides the build's common values."""
        accounts = page_order(customer, accounts)
        sections = [self._section(a, len(accounts) > 1, pay_token, self._money(a.currency)[2]) for a in accounts]
        values = {
            "customer": customer,
            "as_of": _day(as_of),
            # each form's minimum in its own currency, as the payment service checks it (min_payment of it)
            "accounts_html": Markup(self._currencies(accounts) + "".join(sections)),
            "reference": statement_reference(digest),
            "digest": digest,
            "entry_count": rows,
            "entries_word": "entry" if rows == 1 else "entries",
            "pay_token": pay_token,
        }
        return values

    def _currencies(self, accounts: list[Account]) -> str:
        """With several currencies, what is owed in each at the top, the most overdue first, each
        leading to its account ("" with one currency)."""
        if len(accounts) < 2:
            return ""
        rows = []
        for a in sorted(accounts, key=lambda a: a.overdue <= 0):  # those with something overdue first (amounts
            money = self._money(a.currency)[0]  # in two currencies are not compared), else the page's order
            what = (f"{money(-a.balance)} in your favour" if a.balance < 0 else f"{money(a.balance)} due"
                    + (f", {money(a.overdue)} overdue" if a.overdue > 0 else ""))
            rows.append(f'    <li><a href="#bal-{a.currency}">{a.currency}</a>: {what}</li>\n')
        return ('<nav class="currencies" aria-label="Your balance in each currency">\n  <ul>\n'
                + "".join(rows) + "  </ul>\n</nav>\n")

    def _money(self, currency: str) -> tuple:
        """(formatter, zero, minimum payment) for a currency, all plain text (nothing to escape)."""
        m = self.money.get(currency)
        if m is None:
            m = self.money[currency] = (money_formatter(currency), fmt(ZERO, currency),
                                        fmt(quantize(self.settings.min_payment, currency), currency))
        return m

    def _methods(self, currency: str) -> str:
        """How one can pay in a currency, and how long its bank debits take (core.methods), as the
        hint says it (worked out once a currency: the same on every page)."""
        hint = self.hints.get(currency)
        if hint is None:
            s = self.settings.payment_methods
            clears = clearing_in_words(currency, s)
            hint = self.hints[currency] = methods_in_words(currency, s) + (f". {clears}" if clears else "")
        return hint

    def _memo(self, memo: str) -> str:
        text = self.memos.get(memo)
        if text is None:
            text = f"<br><small>{esc(memo)}</small>" if memo else ""
            if len(self.memos) < 10_000:
                self.memos[memo] = text
        return text

    def _section(self, a: Account, multi: bool, pay_token: str, minimum: str) -> str:
        """One currency's account: balance, aging, open items, payments received and the pay form.

        site_templates/account.html is the reference; this composes the same text, about 3x faster
        (test_site keeps the two equal). When that template is edited, it renders the sections.
        Text from the ledger (refs, memos) is escaped with esc(); money, dates and the currency
        code are made here from Decimals, dates and ISO codes and have nothing to escape.
        """
        if not self.fast_sections:
            return self._section_from_template(a, multi, pay_token, minimum)
        cur = a.currency
        money, zero, _ = self._money(cur)
        pay_attrs, skip = PAY_FORM[cur]
        memo = self._memo
        item_rows, picks = [], []
        for i in a.items:
            e = i.entry
            ref = esc(e.ref or KIND[e.type])
            kind = "" if e.type == "invoice" else f" <small>({KIND[e.type]})</small>"
            left = money(i.open)
            item_rows.append(
                f'      <tr{LATE if i.days_overdue else ""}><th scope="row">{ref}{kind}{memo(e.memo)}</th>'
                f'<td>{_day(e.date)}</td><td>{_day(i.due)}</td><td class="num">{i.days_overdue or "&ndash;"}</td>'
                f'<td class="num">{left if i.open == e.amount else money(e.amount)}</td>'
                f'<td class="num">{left}</td></tr>\n')
            if e.type == "invoice":
                picks.append(f'        <li><label><input type="checkbox" name="invoice" value="{ref}" data-minor="'
                             f'{left[skip:].replace(",", "").replace(".", "")}"> {ref}: {left}</label></li>\n')
        recent_rows = []
        for e in a.recent:
            amount = money(-e.amount if e.type == "adjustment" else e.amount)
            badge = ' <span class="badge">processing</span>' if e.status == "processing" else ""
            recent_rows.append(f'      <tr><td>{_day(e.date)}</td><td>{KIND[e.type]}{badge}</td>'
                               f'<td>{esc(e.ref)}{memo(e.memo)}</td><td>{esc(e.applies_to)}</td>'
                               f'<td class="num">{amount}</td></tr>\n')
        cells = []
        for k in BUCKET_KEYS:
            v = a.buckets[k]
            cells.append(f'<td class="num zero">{zero}</td>' if not v else
                         f'<td class="num">{money(v)}</td>' if k == "current" else
                         f'<td class="num late">{money(v)}</td>')
        balance = money(a.balance)
        overdue = a.overdue
        late = (balance if overdue == a.balance else money(overdue)) if overdue > 0 else ""
        unapplied = money(a.unapplied) if a.unapplied else ""
        out = [f'<section class="account" aria-labelledby="bal-{cur}">\n  <div class="summary">\n']
        if a.balance < 0:
            out.append(f'    <h2 id="bal-{cur}">Credit balance{f" in {cur}" if multi else ""}</h2>\n'
                       f'    <p class="balance is-credit">{money(-a.balance)}</p>\n'
                       '    <p class="credit-note">This is in your favour: it comes off your next invoices.</p>\n')
        else:
            out.append(f'    <h2 id="bal-{cur}">Balance due{f" in {cur}" if multi else ""}</h2>\n'
                       f'    <p class="balance{" is-overdue" if late else ""}">{balance}</p>\n')
        if late:
            out.append(f'    <p class="overdue-note"><strong>{late}</strong> of this is overdue.</p>\n')
        if a.processing:
            out.append(f'    <p class="processing-note">{money(a.processing)} in bank payments is processing and '
                       'already counted as paid.</p>\n')
        for e in a.returned:
            out.append(f'    <p class="returned-note">Your bank payment of {money(e.amount)} on {_day(e.date)} '
                       f'({esc(e.ref)}) was returned by your bank: it is due again.</p>\n')
        if unapplied:
            cells.append(f'<td class="num credit">-{unapplied}</td>')
            if a.balance >= 0:  # a credit balance says so above
                out.append(f'    <p class="credit-note">You have {unapplied} in unapplied credit'
                           f'{", already taken off the balance" if a.balance > 0 else ""}.</p>\n')
        if a.balance > 0:
            out.append(f'    <p class="pay-link"><a href="#pay-{cur}">Pay {balance}</a></p>\n')
        out.append(f'  </div>\n  <table class="aging">\n    <caption>Aging of open items ({cur})</caption>\n'
                   f'    <thead><tr>{AGING_HEAD}{UNAPPLIED_HEAD if unapplied else ""}</tr></thead>\n'
                   f'    <tbody><tr>{"".join(cells)}</tr></tbody>\n  </table>\n')
        if item_rows:
            out.append(f'  <table class="items">\n    <caption>Open invoices ({cur})</caption>\n'
                       f'    <thead><tr>{ITEMS_HEAD}</tr></thead>\n    <tbody>\n')
            out += item_rows
            out.append('    </tbody>\n  </table>\n')
        else:
            out.append('  <p class="paid-up">Nothing is open. Thank you!</p>\n')
        if recent_rows:
            out.append(f'  <table class="recent">\n    <caption>Payments and credits received ({cur})</caption>\n'
                       f'    <thead><tr>{RECENT_HEAD}</tr></thead>\n    <tbody>\n')
            out += recent_rows
            out.append('    </tbody>\n  </table>\n')
        if a.balance > 0:
            # The data- attributes are for assets/pay.js (keeps the choice in step with what is ticked
            # or typed, and says on the button what will be charged); without it the form is a plain post.
            out.append(f'  <form class="pay" id="pay-{cur}" method="post" action="{self.pay_action}"{pay_attrs}>\n'
                       f'    <fieldset>\n      <legend>Pay online ({cur})</legend>\n'
                       f'      <input type="hidden" name="token" value="{escape(pay_token)}">\n'
                       f'      <input type="hidden" name="currency" value="{cur}">\n'
                       '      <div class="choice"><label><input type="radio" name="choice" value="balance" '
                       f'data-minor="{balance[skip:].replace(",", "").replace(".", "")}" checked> '
                       f'The whole balance, {balance}</label></div>\n')
            if late and overdue != a.balance:  # "what is overdue" only when it is not the whole balance
                out.append('      <div class="choice"><label><input type="radio" name="choice" value="overdue" '
                           f'data-minor="{late[skip:].replace(",", "").replace(".", "")}"> '
                           f'What is overdue, {late}</label></div>\n')
            if picks:
                out.append('      <div class="choice"><label><input type="radio" name="choice" value="invoices"> '
                           'Chosen invoices:</label></div>\n      <ul class="invoice-picks">\n')
                out += picks
                out.append('      </ul>\n')
            out.append('      <div class="choice"><label><input type="radio" name="choice" value="amount"> '
                       'Another amount:</label>\n'
                       f'        <label><span class="visually-hidden">Amount in {cur}</span>'
                       '<input type="text" inputmode="decimal" name="amount" size="10" autocomplete="off">'
                       f' {cur}</label></div>\n'
                       f'      <p class="hint">{self._methods(cur)}. Minimum {minimum}. The amount is checked '
                       'against your account before you pay.</p>\n'
                       '      <button type="submit" aria-live="polite">Pay now</button>\n    </fieldset>\n  </form>\n')
        if a.activity:
            since = _day(a.since)
            out.append(f'  <table class="activity">\n    <caption>Account activity since {since} ({cur})</caption>\n'
                       f'    <thead><tr>{ACTIVITY_HEAD}</tr></thead>\n    <tbody>\n'
                       f'      <tr><td>{since}</td><td>Balance brought forward</td><td class="num"></td>'
                       f'<td class="num"></td><td class="num">{money(a.opening)}</td></tr>\n')
            for r in a.activity:
                e, change = r.entry, r.change
                applied = f' <small>(applied to {esc(e.applies_to)})</small>' if e.applies_to else ""
                out.append(f'      <tr><td>{_day(e.date)}</td><td>{KIND[e.type]} {esc(e.ref)}{applied}</td>'
                           f'<td class="num">{money(change) if change > 0 else ""}</td>'
                           f'<td class="num">{money(-change) if change < 0 else ""}</td>'
                           f'<td class="num">{money(r.balance)}</td></tr>\n')
            out.append('    </tbody>\n  </table>\n')
        out.append('</section>\n')
        return "".join(out)

    def _section_from_template(self, a: Account, multi: bool, pay_token: str, minimum: str) -> str:
        """_section from site_templates/account.html (the reference; slower)."""
        cur = a.currency
        money, zero, _ = self._money(cur)
        pay_attrs, skip = PAY_FORM[cur]
        account = self.account or self.env.get_template("account.html")
        return account.render(
            a=a, cur=cur, multi=multi, pay_token=pay_token, pay_action=self.settings.pay_url, minimum=minimum,
            money=money, zero=zero, day=_day, kind=KIND.__getitem__, buckets=PAGE_BUCKETS,
            minor=lambda text: text[skip:].replace(",", "").replace(".", ""),
            memo=lambda text: Markup(self._memo(text)), pay_attrs=Markup(pay_attrs),
            plain=lambda amount: plain(amount, cur),
            methods=methods_in_words(cur, self.settings.payment_methods),
            clearing=clearing_in_words(cur, self.settings.payment_methods),
        ) + "\n"  # Jinja drops a template's last newline

    def shared_pages(self) -> dict[str, str | bytes]:
        """The site's non-customer pages, by path: landing page, content pages, stylesheet, robots."""
        out: dict[str, str | bytes] = {
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
        company = self.settings.company
        if company.get("brand_color"):  # the accent of buttons, links and headings' rules
            out["assets/brand.css"] = brand_css(self.settings)
        if company.get("logo"):
            out[logo_asset(self.settings)] = (self.settings.content_dir / company["logo"]).read_bytes()
        return out


def brand_css(settings: Settings) -> str:
    """assets/brand.css: the company's colour as the pages' accent ("" when the settings give none)."""
    colour = settings.company.get("brand_color", "")
    return f":root {{ --accent: {colour}; }}\n" if colour else ""


class _Marker:
    """Stands in for a per-page value while the frame is rendered: prints as a marker naming it
    (or the attribute of it that was asked for)."""

    def __init__(self, path: str):
        self._path = path

    def __getattr__(self, name: str) -> _Marker:
        if name.startswith("_"):
            raise AttributeError(name)
        return _Marker(f"{self._path}.{name}")

    def __html__(self) -> str:
        return f"\x00{self._path}\x00"


def _prints_page_values_plainly(env: Environment, name: str, seen: set) -> bool:
    """True if the template, and those it extends or includes, print each per-page value (or an
    attribute of it) as it is, and do nothing else with one: no test, filter, loop or assignment
    on it. Then rendering it once with markers for those values and filling in each page's values
    gives the page Jinja would render."""
    if name in seen:
        return True
    seen.add(name)
    loader = env.loader
    assert loader is not None  # the renderer's env is environment()'s, which has a FileSystemLoader
    tree = env.parse(loader.get_source(env, name)[0])
    return _plain(tree) and all(ref is not None and _prints_page_values_plainly(env, ref, seen)
                                for ref in meta.find_referenced_templates(tree))


def _unknown_customer_fields(env: Environment, name: str, seen: set) -> tuple[str, int, str] | None:
    """(template, line, field) of the first `customer.<field>` the templates print that Customer lacks."""
    if name in seen:
        return None
    seen.add(name)
    assert env.loader is not None  # environment() always gives one
    tree = env.parse(env.loader.get_source(env, name)[0])
    for node in tree.find_all(nodes.Getattr):
        if isinstance(node.node, nodes.Name) and node.node.name == "customer" and node.attr not in Customer._fields:
            return name, node.lineno, node.attr
    for ref in meta.find_referenced_templates(tree):
        found = ref and _unknown_customer_fields(env, ref, seen)
        if found:
            return found
    return None


def _plain(node) -> bool:
    if isinstance(node, _OPAQUE):
        return False
    if isinstance(node, nodes.Output):  # {{ value }} or {{ value.attr }}: a slot
        return all(_is_slot(n) or _plain(n.node if _printed_block(n) else n) for n in node.nodes)
    if isinstance(node, nodes.Name) and node.name in PAGE_VALUES:  # used any other way
        return False
    if isinstance(node, nodes.Call) and _block_call(node.node):  # super() etc. inside an expression
        return False
    return all(_plain(child) for child in node.iter_child_nodes())


def _is_slot(node) -> bool:
    while isinstance(node, nodes.Getattr):
        node = node.node
    return isinstance(node, nodes.Name) and node.name in PAGE_VALUES and node.ctx == "load"


def _printed_block(node: nodes.Node) -> TypeGuard[nodes.Call]:
    """{{ super() }}, {{ self.block() }}: printed as rendered, so the markers in it stay whole."""
    return isinstance(node, nodes.Call) and _block_call(node.node) and not (
        node.args or node.kwargs or node.dyn_args or node.dyn_kwargs)


def _block_call(func) -> bool:
    """A call that renders template text (which may hold markers): super(), self.block(), caller()."""
    return (isinstance(func, nodes.Name) and func.name in ("super", "caller")) or (
        isinstance(func, nodes.Getattr) and isinstance(func.node, nodes.Name) and func.node.name == "self")


def _origin(url: str) -> str:
    """The CSP source for the pay form's target: 'self' for a path, the origin for a full URL."""
    if "://" not in url:
        return "'self'"
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{rest.split('/', 1)[0]}"


@lru_cache(maxsize=8192)
def _day(d: date) -> Markup:
    """A date as the pages print it; the few hundred dates of a ledger made once each (strftime
    and Markup cost ~2 us a call, twenty-odd calls a page: a quarter of a page's composing)."""
    return Markup(shown(d))


def money_formatter(currency: str):
    """money.fmt for one currency, its format worked out once (~30 amounts a page): the same text.

    Each amount is formatted, not looked up: most of a page's amounts are sums made for it (a
    balance, a bucket, what is open of an invoice), and hashing a new Decimal costs more than
    formatting it (measured: ~380 ns against ~250; keeping the last ~1,000 texts by amount made
    a page 2-9 us slower). An amount under a million with exactly the currency's decimals (the
    ledger's amounts and their sums) is its str() with the thousands' comma put in: ~190-350 ns
    a call against ~430 for format() with its spec (test_site keeps the two equal)."""
    exponent = EXPONENT[currency]
    spec = f",.{exponent}f"
    symbol = SYMBOL.get(currency)
    prefix = symbol if symbol else f"{currency} "
    negative = "-" + prefix
    point, shortest = -exponent - 1, exponent + 2  # where str() puts the point, in a text this long at least

    def money(amount) -> str:
        text = str(amount)
        if exponent and len(text) >= shortest and text[point] == "." and text[0] != "-":
            whole = len(text) + point  # digits before the point
            if whole <= 3:
                return prefix + text
            if whole <= 6:
                return f"{prefix}{text[:whole - 3]},{text[whole - 3:]}"
        return negative + format(-amount, spec) if amount < 0 else prefix + format(abs(amount), spec)
    return money


_HTML_SPECIAL = re.compile(r"[&<>\"']")


def esc(text: str) -> str:
    """HTML-escape customer text (names, refs, memos come from a CSV someone else typed), as Jinja's
    autoescape does (the sections composed here equal those from account.html). Most refs have
    nothing to escape: those are returned as they are, at a third of the cost."""
    return text if _HTML_SPECIAL.search(text) is None else str(escape(text))
