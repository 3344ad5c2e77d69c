"""The demo company builds cleanly, and its figures agree with an independent computation."""
from __future__ import annotations

import csv
import subprocess
import sys
from dataclasses import replace
from datetime import date
from decimal import Decimal

from conftest import REPO

from portal.build.run import build
from portal.core import accounts
from portal.ledger import reading as ledger
from portal.ledger import settings

AS_OF = date(2026, 11, 25)


def demo_settings(tmp_path):
    s = settings.load(REPO)
    return replace(s, out=tmp_path / "site", staff_dir=tmp_path / "staff", state_dir=tmp_path / "state")


def oracle(as_of: date = AS_OF) -> dict[tuple[str, str], list[Decimal]]:
    """scripts/make_demo_ledger.py --check: its own arithmetic, sharing no code with portal/."""
    out = subprocess.run([sys.executable, str(REPO / "scripts" / "make_demo_ledger.py"), "--check",
                          "--as-of", as_of.isoformat()], capture_output=True, text=True, check=True).stdout
    figures = {}
    for line in out.splitlines():
        if line[:1] == "C" and line[1:5].isdigit():
            cid, cur, rest = line[:5], line[39:42], line[42:].split()
            numbers = [Decimal(x.replace(",", "")) for x in [rest[3]] + rest[-6:]]
            figures[(cid, cur)] = numbers  # balance, 5 buckets, unapplied
    return figures


def test_demo_builds_cleanly_with_a_page_per_customer(tmp_path):
    s = demo_settings(tmp_path)
    r = build(s, AS_OF)
    assert r.customers == 40 and r.written == 40
    with open(s.staff_dir / "links.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len({r["customer_id"] for r in rows}) == 40
    assert len(list((s.out / "s").glob("*/index.html"))) == 40


def test_demo_figures_match_an_independent_computation(tmp_path):
    s = demo_settings(tmp_path)
    customers, _, _, problems = ledger.read_customers(s)
    assert problems == []
    reader = ledger.EntryReader(s, customers)
    by_customer: dict[str, list] = {}
    for path in ledger.entry_files(s):
        lines, cols, probs = reader.open(path, ledger.rel(path, s))
        assert probs == []
        for i, fields in ledger.records(lines):
            e = reader.entry(fields, cols, path.name, i + 1, problems)
            by_customer.setdefault(e.customer_id, []).append(e)
    assert problems == []
    ours = {}
    for cid, es in by_customer.items():
        for a in accounts.accounts(es, AS_OF, 120):
            ours[(cid, a.currency)] = [a.balance, *(a.buckets[k] for k, _ in accounts.BUCKETS), a.unapplied]
    expected = oracle()
    assert len(expected) == 40
    assert ours == expected


def test_demo_tells_the_stories_the_readme_promises(tmp_path):
    s = demo_settings(tmp_path)
    build(s, AS_OF)
    with open(s.staff_dir / "links.csv", newline="") as f:
        rows = {r["customer_id"]: r for r in csv.DictReader(f)}
    assert rows["C1007"]["balance"] == "-321.85"  # the overpayer, partly refunded
    assert rows["C1040"]["currency"] == "JPY" and "." not in rows["C1040"]["balance"]
    assert sum(r["balance"] == "0.00" for r in rows.values()) == 7  # paid-up customers
    assert {r["currency"] for r in rows.values()} == {"USD", "EUR", "GBP", "JPY"}
