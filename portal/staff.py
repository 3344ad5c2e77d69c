"""Staff-only files, written outside the public site: links.csv for mail merge."""
from __future__ import annotations

import csv
import io

from .money import plain
from .publish import write_atomic
from .settings import Settings
from .signing import statement_url

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: str) -> str:
    """Neutralise spreadsheet formula injection: a cell starting with = + - @ is prefixed with '."""
    return "'" + value if value.startswith(FORMULA_START) else value


def links_csv(settings: Settings, pages: dict) -> str:
    """One row per customer and currency: customer_id, name, email, url, currency, balance, overdue."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["customer_id", "name", "email", "url", "currency", "balance", "overdue"])
    for cid in sorted(pages):
        p = pages[cid]
        url = statement_url(settings.base_url, p.token)
        for cur, (bal, overdue) in sorted(p.balances.items()) or [("", (None, None))]:
            w.writerow([safe_cell(cid), safe_cell(p.name), safe_cell(p.email), url, cur,
                        plain(bal, cur) if cur else "", plain(overdue, cur) if cur else ""])
    return buf.getvalue()


def write_links(settings: Settings, pages: dict) -> None:
    """Replace staff/links.csv."""
    write_atomic(settings.staff_dir / "links.csv", links_csv(settings, pages))
