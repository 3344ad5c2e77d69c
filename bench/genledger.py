"""Generate a synthetic ledger project: N customers, ~10 rows each, monthly entry files.

Used by the build benchmark and by tests that need a large-ish valid ledger.
Money is written as decimal text; nothing here uses floats.
"""
from __future__ import annotations

import argparse
import csv
import random
from contextlib import ExitStack
from datetime import date, timedelta
from pathlib import Path

SETTINGS = """[company]
name = "Benchmark Supply Co."
email = "ar@bench.example"

[portal]
base_url = "https://pay.bench.example"
currency = "USD"
"""
HEADER = ["date", "customer_id", "type", "ref", "amount", "currency", "due_date", "applies_to", "memo"]


def generate(root: Path, customers: int, rows_per_customer: int = 10, months: int = 12, seed: int = 1) -> dict:
    """Write root/content/{settings.toml,ledger/*.csv}; returns counts."""
    rnd = random.Random(seed)
    ledger = root / "content" / "ledger"
    ledger.mkdir(parents=True, exist_ok=True)
    (root / "content" / "settings.toml").write_text(SETTINGS)
    start = date(2025, 12, 1)
    with open(ledger / "customers.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["customer_id", "name", "email", "currency", "terms_days"])
        for i in range(customers):
            w.writerow([f"C{i:07d}", f"Customer {i} & Sons", f"ap{i}@cust.example",
                        "EUR" if i % 20 == 0 else "USD", rnd.choice((15, 30, 30, 45))])
    names = [f"{(start + timedelta(days=31 * m)):%Y-%m}.csv" for m in range(months)]
    with ExitStack() as stack:  # a file per month, all open at once, all closed however this ends
        writers = [csv.writer(stack.enter_context(open(ledger / name, "w", newline=""))) for name in names]
        for w in writers:
            w.writerow(HEADER)
        rows = 0
        inv = 0
        for i in range(customers):
            cid = f"C{i:07d}"
            n = max(1, rows_per_customer + rnd.randint(-2, 2))
            open_invoices = []
            for _ in range(n):
                m = rnd.randrange(months)
                day = start + timedelta(days=31 * m + rnd.randrange(28))
                if open_invoices and rnd.random() < 0.35:
                    ref, cents = open_invoices.pop(0)
                    pay = cents if rnd.random() < 0.7 else cents // 2
                    writers[m].writerow([day.isoformat(), cid, "payment", f"P{inv}", f"{pay // 100}.{pay % 100:02d}",
                                         "", "", ref if rnd.random() < 0.5 else "", "remittance"])
                else:
                    inv += 1
                    cents = rnd.randrange(5_000, 2_500_000)
                    ref = f"INV-{inv:08d}"
                    open_invoices.append((ref, cents))
                    writers[m].writerow([day.isoformat(), cid, "invoice", ref, f"{cents // 100}.{cents % 100:02d}",
                                         "", "", "", "Goods, as ordered"])
                rows += 1
    return {"customers": customers, "rows": rows, "files": months}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("root", type=Path)
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--rows", type=int, default=10)
    print(generate(ap.parse_args().root, ap.parse_args().customers, ap.parse_args().rows))


if __name__ == "__main__":
    main()
