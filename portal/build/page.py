"""One customer's statement page and its record in the build state: what a page is built from."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from ..core import accounts as acc
from ..core import aging
from ..core.records import LOCATION, Customer, Entry
from ..core.signing import statement_url
from . import aging_report as report
from . import state as st
from .context import Context
from .links import link_rows
from .render import SiteRenderer


@dataclass
class Job:
    """Everything a full build's worker needs, inherited through fork."""

    ctx: Context
    shards: int
    files: list
    staging: Path | None
    estimate: int = 0  # customers, for progress
    limits: dict = field(default_factory=dict)  # file rel name -> bytes to read (EntryReader.limits)
    figures_only: bool = False  # no staging: still compute the page records (for a report as of a date)
    spares: int = 0  # spare files for the next incremental build to stage pages in (publish.py), over the workers
    tag: str = ""  # this build's, in the spares' names
    spreads: bool = False  # page folders can be placed afresh on this disk (placement.py)
    data: dict = field(default_factory=dict)  # file path -> its bytes as hashed for its signature (full.py)


def render_customer(ctx: Context, renderer: SiteRenderer | None, c: Customer, entries: list[Entry], refs,
                    rows_digest: int, previous: tuple | None = None, totals: dict | None = None):
    """One customer's statement: (page record, html); html is None when `previous` is still current
    or there is no renderer (figures only, for a report). Adds the customer's figures to `totals`.

    `rows_digest` (state.rows_digest) stands for the customer's rows: the page is made from them,
    their customers.csv row and the build's global inputs, and nothing else (accounts orders
    entries by what they say, not where they are), so equal digests mean an equal page."""
    cdigest = customer_digest(c)
    page_digest = hashlib.sha256(f"{ctx.global_digest}|{cdigest}|{rows_digest:016x}".encode()).hexdigest()
    token = ctx.signer.link_token(c.id, c.link_version)
    if previous is not None and previous[st.DIGEST] == page_digest and previous[st.TOKEN] == token:
        return previous, None
    accts = acc.accounts(entries, ctx.as_of, ctx.settings.recent_days)
    html = None if renderer is None else renderer.statement_html(
        c, accts, ctx.as_of, ctx.signer.pay_token(c.id, c.link_version, ctx.as_of), page_digest, len(entries))
    figures = aging.figures(accts)
    if totals is not None:
        aging.add(totals, figures)
    balances = {a.currency: (a.balance, a.overdue) for a in accts}
    url = statement_url(ctx.settings.base_url, token)
    return st.page(page_digest, token, figures, refs, cdigest, link_rows(c, url, balances),
                   report.customer_rows(c, accts),
                   max(map(aging.oldest_days, accts), default=0), rows_digest), html


_CUSTOMER_CONTENT = tuple(i for i, f in enumerate(Customer._fields) if f not in LOCATION)


def customer_digest(c: Customer) -> str:
    """A digest of what a customer's row says (every field of Customer but where the row is)."""
    return hashlib.sha256("\x1f".join([str(c[i]) for i in _CUSTOMER_CONTENT]).encode()).hexdigest()
