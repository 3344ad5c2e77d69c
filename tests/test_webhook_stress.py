"""Exactly once under stress: duplicated, shuffled, concurrent deliveries to several gunicorn workers,
one of them killed midway; every payment is in the ledger once and the balances are right to the cent."""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from decimal import Decimal

import requests
import stripe
from conftest import free_port, portal_metadata
from test_localstripe import WHSEC

from portal.build.lookup import customer_accounts
from portal.ledger.online import FILE

HEADER = "date,customer_id,type,ref,amount,currency,due_date,applies_to,memo\n"
CUSTOMERS = ["C1", "C2"]


def start_gunicorn(project, api_base):
    port = free_port()
    env = {**os.environ, "PORTAL_ROOT": str(project.root), "STRIPE_SECRET_KEY": "sk_test_x",
           "STRIPE_WEBHOOK_SECRET": WHSEC, "STRIPE_API_BASE": api_base}
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-w", "3", "-b", f"127.0.0.1:{port}",
                             "--no-control-socket", "--graceful-timeout", "2", "portal.web:create_app()"],
                            cwd=project.root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            requests.get(base + "/robots.txt", timeout=1)
            return proc, base
        except requests.RequestException:  # not listening yet, or its workers still loading the app
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("gunicorn did not start")


def workers_of(master: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def signed(pi_id: str, n: int) -> tuple[str, str]:
    payload = json.dumps({"id": f"evt_{pi_id}_{n}", "object": "event", "type": "payment_intent.succeeded",
                          "api_version": "2026-10-28.endive", "created": int(time.time()),
                          "data": {"object": {"id": pi_id, "object": "payment_intent"}}})
    return payload, stripe.WebhookSignature.generate_signature_header(payload, WHSEC)


def deliver(base, payload, header) -> int:
    for _ in range(50):  # Stripe retries until it gets a 2xx
        try:
            r = requests.post(base + "/stripe/webhook", data=payload, timeout=10,
                              headers={"Stripe-Signature": header, "Content-Type": "application/json"})
            if r.status_code == 200:
                return 200
        except (requests.ConnectionError, requests.Timeout):  # a worker killed mid-request: Stripe retries
            pass
        time.sleep(0.05)
    return 0


def test_concurrent_duplicated_shuffled_deliveries_across_workers_record_each_payment_once(localstripe, project):
    project.write("customers.csv", "customer_id,name,email,currency,terms_days\n"
                                   "C1,One,a@one.example,USD,30\nC2,Two,b@two.example,USD,30\n")
    project.write("a.csv", HEADER + "2026-10-01,C1,invoice,INV-1,1000.00,,2026-10-31,,\n"
                                    "2026-10-01,C2,invoice,INV-2,1000.00,,2026-10-31,,\n")
    project.build(as_of=date.today().isoformat())
    client = stripe.StripeClient("sk_test_x", base_addresses={"api": localstripe})
    rnd = random.Random(7)
    paid = {c: Decimal(0) for c in CUSTOMERS}
    intents = []
    for i in range(40):
        cid, cents = CUSTOMERS[i % 2], rnd.randrange(100, 2000)
        pi = client.v1.payment_intents.create({"amount": cents, "currency": "usd", "payment_method": "pm_card_visa",
                                               "confirm": True, "metadata": portal_metadata(cid, "USD", cents)})
        intents.append(pi.id)
        paid[cid] += Decimal(cents) / 100
    deliveries = [signed(pi, n) for pi in intents for n in range(3)]  # every event three times
    rnd.shuffle(deliveries)
    gunicorn, base = start_gunicorn(project, localstripe)
    try:
        with ThreadPoolExecutor(12) as pool:
            first = list(pool.map(lambda d: deliver(base, *d), deliveries[:60]))
            os.kill(workers_of(gunicorn.pid)[0], signal.SIGKILL)  # a worker dies mid-stream
            rest = list(pool.map(lambda d: deliver(base, *d), deliveries[60:]))
        assert first + rest == [200] * len(deliveries)
    finally:
        gunicorn.terminate()
        gunicorn.wait(20)
    text = (project.ledger / FILE).read_text()
    rows = text.splitlines()[1:]
    refs = [r.split(",")[3] for r in rows]
    assert sorted(refs) == sorted(intents)  # each payment exactly once
    project.build(as_of=date.today().isoformat())
    for cid in CUSTOMERS:
        _, (acct,) = customer_accounts(project.settings(), cid, date.today())
        assert acct.balance == Decimal("1000.00") - paid[cid]
