"""`python -m portal.stripefake --port 12111 --webhook-url URL --webhook-secret whsec_...`"""
import argparse
import time

from .server import FakeStripe

ap = argparse.ArgumentParser(prog="python -m portal.stripefake", description="A local Stripe for the offline demo")
ap.add_argument("--port", type=int, default=12111)
ap.add_argument("--webhook-url", default="http://127.0.0.1:8000/stripe/webhook")
ap.add_argument("--webhook-secret", default="whsec_offline_demo_secret")
args = ap.parse_args()
fake = FakeStripe(args.webhook_url, args.webhook_secret, port=args.port)
print(f"Fake Stripe at {fake.start()}; webhooks to {args.webhook_url}. Ctrl-C stops.", flush=True)
try:
    while True:
        time.sleep(3600)
except KeyboardInterrupt:
    fake.stop()
