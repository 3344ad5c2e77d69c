"""``python -m fakestripe --port 12111 --webhook-url URL --webhook-secret whsec_...``"""
from __future__ import annotations

import argparse
import signal
import sys
import threading

from .fake import FakeStripe


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fakestripe",
                                     description="A local Stripe fake for tests and demos.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=12111)
    parser.add_argument("--webhook-url", default=None)
    parser.add_argument("--webhook-secret", default="whsec_test_fakestripe")
    parser.add_argument("--deliver", choices=("sync", "async", "manual"), default="sync",
                        help="webhook delivery mode (default sync: sent before the causing request returns)")
    parser.add_argument("--settlement-days", type=int, default=2)
    parser.add_argument("--quiet", action="store_true", help="do not log each request")
    args = parser.parse_args(argv)
    fake = FakeStripe(args.webhook_url, args.webhook_secret, deliver=args.deliver,
                      host=args.host, port=args.port, settlement_days=args.settlement_days,
                      log_requests=not args.quiet)
    url = fake.start()
    print(f"fakestripe listening on {url} (webhooks: {args.webhook_url or 'off'}, "
          f"{args.deliver})", flush=True)
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    done.wait()
    fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
