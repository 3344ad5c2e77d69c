"""On-demand PDF statements: what one render costs through the payment service's own route.

    python bench/bench_pdf.py [--rounds 7] [--workdir DIR]

Copies the demo project (content/, site_templates/), builds it as of today, picks the demo
customers with the fewest and the most open invoices plus one with several currencies if there is
one, and POSTs /pay/statement.pdf for each through Flask's test client (the route's whole work:
token, ledger lookup, HTML, WeasyPrint, cache write), the cache emptied before every request so
each one renders. Prints wall and CPU time per render (the first, cold one apart), pages and size.
"""
from __future__ import annotations

import argparse
import io
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--workdir", type=Path)
    args = ap.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-pdf-"))
    root = work / "project"
    if root.exists():
        shutil.rmtree(root)
    shutil.copytree(REPO / "content", root / "content")
    shutil.copytree(REPO / "site_templates", root / "site_templates")
    os.environ.setdefault("PORTAL_SECRET_KEY", "bench-key-0123456789abcdef")
    sys.path.insert(0, str(REPO))
    from pypdf import PdfReader

    from portal.build.run import build
    from portal.core.signing import Signer, load_keys
    from portal.ledger import settings as settings_mod
    from portal.web.app import create_app

    today = date.today()
    s = settings_mod.load(root)
    build(s, today)
    app = create_app({"PORTAL_ROOT": str(root), "TESTING": True, "PDF_RATE_LIMIT": 10**6,
                      "PDF_CUSTOMER_RATE_LIMIT": 10**6})
    view = app.extensions["portal.pay"].ledger
    signer = Signer(load_keys(s.state_dir))
    from portal.ledger import reading
    customers, *_ = reading.read_customers(s)
    shapes = {}
    for cid, c in customers.items():
        _, accts = view.customer_accounts(cid, today)
        shapes[cid] = (sum(len(a.items) for a in accts), len(accts), c.link_version)
    picks = {"fewest invoices": min(shapes, key=lambda c: (shapes[c][0], c)),
             "most invoices": max(shapes, key=lambda c: (shapes[c][0], c))}
    multi = [c for c in shapes if shapes[c][1] > 1]
    if multi:
        picks["several currencies"] = multi[0]
    cache = s.state_dir / "pdf"
    client = app.test_client()
    print(f"{len(customers)} demo customers, as of {today}; {args.rounds} renders each after a cold one")
    for label, cid in picks.items():
        token = signer.pay_token(cid, shapes[cid][2], today)
        walls, cpus = [], []
        for i in range(args.rounds + 1):
            shutil.rmtree(cache, ignore_errors=True)
            w, c = time.perf_counter(), time.process_time()
            r = client.post("/pay/statement.pdf", data={"token": token})
            wall, cpu = time.perf_counter() - w, time.process_time() - c
            assert r.status_code == 200, r.status_code
            if i == 0:
                cold = wall
                continue
            walls.append(wall)
            cpus.append(cpu)
        pages = len(PdfReader(io.BytesIO(r.data)).pages)
        print(f"{label:20} {cid:6} {shapes[cid][0]:2} open invoices, {shapes[cid][1]} currencies, {pages} page(s), "
              f"{len(r.data) / 1024:.1f} KB: wall median {statistics.median(walls) * 1000:.0f} ms "
              f"(min {min(walls) * 1000:.0f}, max {max(walls) * 1000:.0f}), CPU median "
              f"{statistics.median(cpus) * 1000:.0f} ms; cold first {cold * 1000:.0f} ms")
    w = time.perf_counter()
    for _ in range(args.rounds):
        assert client.post("/pay/statement.pdf", data={"token": token}).status_code == 200
    print(f"cache hit (same customer, same day): {(time.perf_counter() - w) / args.rounds * 1000:.1f} ms")


if __name__ == "__main__":
    main()
