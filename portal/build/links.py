"""links.csv: every customer's statement URL and balance, for mail merge (staff only, never in the site)."""
from __future__ import annotations

from ..core.cells import csv_cell, safe_cell
from ..core.money import plain
from ..ledger.settings import Settings
from .publish import write_atomic

LINKS_HEADER = "customer_id,name,email,url,currency,balance,overdue\n"


def link_rows(customer, url: str, balances: dict) -> str:
    """A customer's links.csv rows (one per currency), made when its page is rendered (by hand
    rather than with csv.writer: the same text, a third of the time on every page of a build)."""
    head = ",".join((csv_cell(safe_cell(_one_line(customer.id))), csv_cell(safe_cell(_one_line(customer.name))),
                     csv_cell(safe_cell(_one_line(customer.email))), csv_cell(url)))
    rows = sorted(balances.items()) or [(customer.currency, (0, 0))]
    return "".join([f"{head},{cur},{plain(bal, cur)},{plain(overdue, cur)}\n" for cur, (bal, overdue) in rows])


def _one_line(text: str) -> str:
    """A row per line (the aging report joins rows by line): line breaks in a cell become spaces."""
    return " ".join(text.splitlines()) if "\n" in text or "\r" in text else text


def write_links(settings: Settings, pages: dict, rows_at: int, ids=None) -> None:
    """Replace staff/links.csv (mail merge: every customer's statement URL and balance), in the
    order of `ids` (default: sorted)."""
    body = "".join([pages[cid][rows_at] for cid in (sorted(pages) if ids is None else ids)])
    write_atomic(settings.staff_dir / "links.csv", LINKS_HEADER + body)
