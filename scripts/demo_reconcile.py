"""Payout reconciliation on the demo company, offline (run by scripts/demo-reconcile.sh).

Works on a copy of the project in a temporary folder, so the committed demo ledger is never
touched: builds the statements, starts the Stripe fake and the payment service, pays a few demo
customers' balances through the real /pay flow (one bank payment left processing, one card payment
partly refunded, one payment whose webhooks are lost), takes a sale for another application on the
same Stripe account (a webshop: not the portal's, so not receivables), pays out each currency, then
runs `portal reconcile` (the payout with the lost payment is left out of the journal), `portal sync`
for what the lost webhooks missed, and `portal reconcile` again (every payout journalled; the first
report is kept beside the new one).

    python scripts/demo_reconcile.py [FOLDER]     (the copy goes into FOLDER/demo; default a temp folder)
"""
from __future__ import annotations

import csv
import logging
import os
import re
import shutil
import sys
import tempfile
import threading
import urllib.parse
from decimal import Decimal
from pathlib import Path

import requests
from werkzeug.serving import WSGIRequestHandler, make_server

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from fakestripe import FakeStripe  # noqa: E402
from portal.cli import main as portal  # noqa: E402
from portal.web.app import create_app  # noqa: E402

KEY, WHSEC = "sk_test_reconcile_demo", "whsec_reconcile_demo_secret"


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args) -> None:
        pass


def copy_project(into: Path) -> Path:
    root = into / "demo"
    for part in ("content", "site_templates"):
        shutil.copytree(REPO / part, root / part, ignore=shutil.ignore_patterns("online-payments.csv", "contacts.csv"))
    return root


def statement_form(root: Path, url: str, currency: str) -> dict:
    token = urllib.parse.urlparse(url).path.strip("/").split("/")[-1]
    page = (root / "site" / "s" / token / "index.html").read_text(encoding="utf-8")
    pay_token = re.search(r'name="token" value="([^"]+)"', page)[1]
    return {"token": pay_token, "currency": currency, "choice": "balance"}


def pay(service: str, fake: FakeStripe, root: Path, row: dict, method: str = "card") -> str:
    """Pay a customer's whole balance through /pay and the fake's Checkout; returns the PaymentIntent id."""
    r = requests.post(service + "/pay", data=statement_form(root, row["url"], row["currency"]),
                      allow_redirects=False, timeout=30)
    if r.status_code != 303:
        raise SystemExit(f"/pay refused {row['customer_id']}: {r.status_code} {r.text[:200]}")
    session_id = r.headers["Location"].rstrip("/").split("/")[-1]
    session = fake.pay_session(session_id, method=method)
    print(f"  {row['customer_id']} {row['name'][:34]:34} paid {row['currency']} {row['balance']:>12} by "
          f"{'bank (ACH, processing)' if method == 'bank' else 'card'}")
    return session["payment_intent"]


def webshop_sale(fake: FakeStripe) -> str:
    """A card sale another application on the same Stripe account makes: its own metadata, no
    customer id, no portal mark. Returns the PaymentIntent id."""
    session = fake.client(KEY).v1.checkout.sessions.create({
        "mode": "payment", "success_url": "https://shop.example/thanks", "customer_email": "buyer@example.com",
        "line_items": [{"quantity": 1, "price_data": {"currency": "usd", "unit_amount": 4_900,
                                                      "product_data": {"name": "Gift card"}}}],
        "payment_intent_data": {"metadata": {"order": "W-1001", "app": "webshop"}}})
    pi = fake.pay_session(session.id)["payment_intent"]
    print(f"  the webshop on the same Stripe account sold a USD 49.00 gift card ({pi}): not the portal's")
    return pi


def main() -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("PORTAL_SECRET_KEY", "reconcile-demo-key-0123456789abcdef")
    root = copy_project(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="portal-reconcile-")))
    print(f"Working on a copy of the demo project in {root}\n")
    if portal(["--root", str(root), "build", "-q"]):
        return 1
    with open(root / "staff" / "links.csv", newline="", encoding="utf-8") as f:
        owing = [r for r in csv.DictReader(f) if Decimal(r["balance"].lstrip("'")) > 50]
    usd = [r for r in owing if r["currency"] == "USD"][:5]
    if len(usd) < 5:
        raise SystemExit("the demo ledger has fewer than 5 US customers owing over 50.00")
    others = [next(r for r in owing if r["currency"] == cur) for cur in ("EUR", "JPY")
              if any(r["currency"] == cur for r in owing)]

    with FakeStripe(webhook_secret=WHSEC) as fake:
        os.environ.update(STRIPE_SECRET_KEY=KEY, STRIPE_API_BASE=fake.base_url, STRIPE_WEBHOOK_SECRET=WHSEC)
        server = make_server("127.0.0.1", 0, create_app({"PORTAL_ROOT": str(root)}), threaded=True,
                             request_handler=_Quiet)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        logging.getLogger("stripe").setLevel(logging.WARNING)  # the service turns on the SDK's request log
        service = f"http://127.0.0.1:{server.server_port}"
        fake.webhook_url = service + "/stripe/webhook"
        try:
            print("Payments through /pay (webhooks record them in content/ledger/online-payments.csv):")
            for row in usd[:1] + others:
                pay(service, fake, root, row)
            disputed = pay(service, fake, root, usd[1])
            dispute = fake.dispute(fake.get(disputed)["latest_charge"])
            fake.close_dispute(dispute["id"], "lost")
            print(f"  {usd[1]['customer_id']} disputed the payment; the dispute was lost ({dispute['id']})")
            refunded = pay(service, fake, root, usd[2])
            refund = fake.client(KEY).v1.refunds.create({"payment_intent": refunded, "amount": 2500})
            print(f"  {usd[2]['customer_id']} refunded USD 25.00 ({refund.id})")
            fake.webhook_url = None  # this one's webhooks never arrive
            pay(service, fake, root, usd[3])
            print(f"  {usd[3]['customer_id']}'s webhooks were lost")
            fake.webhook_url = service + "/stripe/webhook"
            webshop_sale(fake)
            for cur in sorted({r["currency"] for r in usd[:4] + others}):
                p = fake.create_payout(cur.lower(), include_pending=True)
                print(f"  Stripe paid out {p['id']} ({cur})")
            pay(service, fake, root, usd[4], method="bank")  # after the payouts: not yet paid out

            print("\n$ portal reconcile")
            first = portal(["--root", str(root), "reconcile"])
            print(f"(exit status {first})\n\n$ portal sync")
            portal(["--root", str(root), "sync"])
            print("\n$ portal reconcile")
            second = portal(["--root", str(root), "reconcile"])
            print(f"(exit status {second})")
        finally:
            server.shutdown()
            server.server_close()
    reports = sorted((root / "staff").glob("reconcile-2*.html"), key=lambda p: p.stat().st_mtime)
    print(f"\nOpen the report: {reports[-1]}")
    if len(reports) > 1:
        print(f"The first run's report is kept beside it: {reports[0].name}")
    print("The committed demo ledger was not touched; delete the copy when done.")
    return 0 if first == 1 and second == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
