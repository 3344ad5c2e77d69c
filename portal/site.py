"""Rendering: Jinja2 templates and Markdown content pages to the HTML of the public site."""
from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import markdown
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from .accounts import BUCKETS, ZERO, Account
from .model import Customer, Entry
from .money import fmt, plain
from .settings import Settings

KIND = {"payment": "Payment", "credit": "Credit note", "writeoff": "Write-off", "refund": "Refund",
        "adjustment": "Adjustment", "invoice": "Invoice"}
STATIC_FILES = ("robots.txt",)


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
    files = [p for p in settings.templates_dir.rglob("*") if p.is_file()]
    files += list((settings.content_dir / "pages").glob("*.md"))
    return sorted(files)


def entries_digest(entries: list[Entry]) -> tuple[str, int]:
    """A digest of the ledger entries a statement was built from (canonical, not byte-level)."""
    h = hashlib.sha256()
    for e in entries:
        h.update(f"{e.date}|{e.type}|{e.ref}|{e.amount}|{e.currency}|{e.due_date or ''}|{e.applies_to}|"
                 f"{e.memo}|{e.status}\n".encode())
    return h.hexdigest(), len(entries)


class SiteRenderer:
    """Renders statement pages and the site's shared pages from one set of templates."""

    def __init__(self, settings: Settings, pages: list[dict]):
        self.settings = settings
        self.env = environment(settings)
        self.pages = pages
        self.statement = self.env.get_template("statement.html")
        self.common = {
            "company": settings.company,
            "nav": [{"title": p["title"], "slug": p["slug"]} for p in pages],
            "form_origin": _origin(settings.pay_url),
        }

    def statement_html(self, customer: Customer, accounts: list[Account], as_of: date, pay_token: str,
                       digest: tuple[str, int]) -> str:
        """One customer's statement page."""
        if not accounts:
            accounts = [Account(customer.currency, buckets=dict.fromkeys((k for k, _ in BUCKETS), ZERO))]
        return self.statement.render(
            **self.common,
            root="../../",
            customer=customer,
            as_of=_day(as_of),
            accounts=[self._account(a, as_of) for a in accounts],
            pay={"action": self.settings.pay_url, "token": pay_token,
                 "min": fmt(self.settings.min_payment, accounts[0].currency)},
            digest=digest[0], entry_count=digest[1],
            contact=next((p["html"] for p in self.pages if p["slug"] == "contact"), ""),
        )

    def _account(self, a: Account, as_of: date) -> dict:
        cur = a.currency
        return {
            "currency": cur,
            "balance": fmt(a.balance, cur),
            "balance_raw": plain(a.balance, cur),
            "owed": a.balance > 0,
            "overdue": fmt(a.overdue, cur),
            "overdue_raw": plain(a.overdue, cur),
            "has_overdue": a.overdue > 0,
            "unapplied": fmt(a.unapplied, cur) if a.unapplied else "",
            "processing": fmt(a.processing, cur) if a.processing else "",
            "buckets": [{"key": k, "label": label, "amount": fmt(a.buckets[k], cur), "zero": not a.buckets[k]}
                        for k, label in BUCKETS],
            "open_items": [{
                "ref": i.entry.ref or KIND[i.entry.type], "kind": KIND[i.entry.type], "date": _day(i.entry.date),
                "due": _day(i.due), "days": i.days_overdue, "original": fmt(i.entry.amount, cur),
                "open": fmt(i.open, cur), "open_raw": plain(i.open, cur), "memo": i.entry.memo,
                "payable": i.entry.type == "invoice",
            } for i in a.items],
            "recent": [{
                "date": _day(e.date), "kind": KIND[e.type], "ref": e.ref,
                "amount": fmt(abs(e.amount) if e.type != "adjustment" else -e.amount, cur),
                "applies_to": e.applies_to, "memo": e.memo, "processing": e.status == "processing",
            } for e in a.recent],
        }

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


def _day(d: date) -> str:
    return f"{d.day} {d:%b %Y}"
