"""Webhook benchmark: signed events recorded exactly once through the real endpoint under gunicorn.

    python bench/bench_webhook.py [--events 5000] [--workers 4] [--customers 1000]

Each event is a `payment_intent.succeeded` for a distinct payment, signed as Stripe signs them and
POSTed to /stripe/webhook by client processes on the same machine (loopback). Every delivery is
verified, recorded (lock, append, fsync) and answered; pages are rebuilt in the background.
Prints events/s recorded, client-side latency percentiles, and checks that each payment is in
the ledger exactly once; then sends every event again (duplicates must record nothing).
Target: ≥ 1,000 events/s.
"""
from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
import stripe

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from genledger import generate

from portal.core.signing import Signer, payment_mark_text

ROOT = Path(__file__).resolve().parent.parent
SECRET = "whsec_benchmark_secret_0123456789"
KEY = "bench-key-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def event(n: int, customers: int, signer) -> str:
    cid, amount = f"C{n % customers:07d}", 100 + n % 900
    mark = signer.mark(payment_mark_text(cid, "USD", amount, ""))
    meta = {"customer_id": cid, "allocations": "", "portal_mark": mark}
    pi = {"id": f"pi_bench{n:08d}", "object": "payment_intent", "status": "succeeded", "amount": amount,
          "currency": "usd", "created": int(time.time()), "metadata": meta,
          "payment_method_types": ["card"], "latest_charge": None, "last_payment_error": None}
    return json.dumps({"id": f"evt_bench{n:08d}", "object": "event", "type": "payment_intent.succeeded",
                       "api_version": "2026-10-28.endive", "created": int(time.time()), "data": {"object": pi}})


def send(args) -> list[float]:
    """One keep-alive connection posting pre-signed deliveries (a light client, so the figure is the server's)."""
    port, deliveries = args
    conn = http.client.HTTPConnection("127.0.0.1", port)
    took = []
    for body, header in deliveries:
        t = time.perf_counter()
        conn.request("POST", "/stripe/webhook", body=body,
                     headers={"Stripe-Signature": header, "Content-Type": "application/json"})
        r = conn.getresponse()
        data = r.read()
        took.append(time.perf_counter() - t)
        if r.status != 200:
            raise SystemExit(f"delivery answered {r.status}: {data[:200]!r}")
    conn.close()
    return took


def blast(port: int, deliveries: list[tuple[str, str]], clients: int) -> tuple[float, list[float]]:
    chunks = [(port, deliveries[i::clients]) for i in range(clients)]
    start = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(clients) as pool:
        took = [t for part in pool.map(send, chunks) for t in part]
    return time.perf_counter() - start, sorted(took)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=5000)
    ap.add_argument("--workers", type=int, default=4, help="gunicorn worker processes")
    ap.add_argument("--clients", type=int, default=8, help="client connections (processes)")
    ap.add_argument("--customers", type=int, default=1000)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="portal-webhook-bench-"))
    shutil.copytree(ROOT / "site_templates", work / "site_templates")
    generate(work, args.customers, 5)
    env = {**os.environ, "PORTAL_ROOT": str(work), "PORTAL_SECRET_KEY": KEY,
           "STRIPE_SECRET_KEY": "sk_test_bench", "STRIPE_WEBHOOK_SECRET": SECRET,
           "STRIPE_API_BASE": "http://127.0.0.1:9"}  # never called: the events carry the intents
    subprocess.run([sys.executable, "-m", "portal", "--root", str(work), "build", "-q"], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-w", str(args.workers), "-b", f"127.0.0.1:{port}",
                               "--no-control-socket", "--log-level", "warning", "portal.web:create_app()"],
                              cwd=work, env=env)
    try:
        for _ in range(200):
            try:
                requests.get(f"http://127.0.0.1:{port}/robots.txt", timeout=1)
                break
            except requests.RequestException:  # not listening yet, or still loading the app
                time.sleep(0.05)
        signer = Signer([KEY])  # the portal's mark on each payment, as /pay puts it
        bodies = [event(n, args.customers, signer) for n in range(args.events)]
        # Signed up front (timestamps stay well inside Stripe's 300 s tolerance).
        deliveries = [(b, stripe.WebhookSignature.generate_signature_header(b, SECRET)) for b in bodies]
        seconds, took = blast(port, deliveries, args.clients)
        rows = (work / "content" / "ledger" / "online-payments.csv").read_text().splitlines()[1:]
        refs = [r.split(",")[3] for r in rows]
        once = len(refs) == len(set(refs)) == args.events
        print(f"{args.events:,} events, {args.workers} gunicorn workers, {args.clients} clients: "
              f"{args.events / seconds:,.0f} events/s recorded; latency p50 {took[len(took) // 2] * 1000:.1f} ms, "
              f"p99 {took[int(len(took) * 0.99)] * 1000:.1f} ms; each exactly once: {once}")
        seconds, took = blast(port, deliveries, args.clients)
        again = len((work / "content" / "ledger" / "online-payments.csv").read_text().splitlines()[1:])
        print(f"the same {args.events:,} again (duplicates): {args.events / seconds:,.0f} events/s; "
              f"rows still {again:,} (nothing recorded twice: {again == args.events})")
        print("target: ≥ 1,000 events/s")
    finally:
        server.terminate()
        server.wait(20)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
