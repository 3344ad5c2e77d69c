#!/usr/bin/env bash
# Install the portal into .venv, build the demo company's statements and serve them with the
# payment service. With no STRIPE_SECRET_KEY set, a local Stripe fake (fakestripe, in tools/fakestripe) stands in
# for Stripe, so the Pay button works offline: test card 4242 4242 4242 4242, or a US bank account
# (routing 110000000, account 000123456789).
#   bash scripts/demo.sh            (PORT=9000 bash scripts/demo.sh for another port)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
PORT=${PORT:-8000}
# The PDF statements' renderer (WeasyPrint) needs Pango, and the fonts its print CSS names: Debian packages.
missing=""
for lib in libpango-1.0-0 libpangoft2-1.0-0 fonts-liberation; do
  dpkg -s "$lib" >/dev/null 2>&1 || missing="$missing $lib"
done
if [ -n "$missing" ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq $missing >/dev/null
fi
export PORTAL_BASE_URL="http://localhost:$PORT"  # links, and Checkout's way back, on the port served
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e . -e tools/fakestripe  # the portal, and the offline Stripe the demo pays through

if [ -z "${STRIPE_SECRET_KEY:-}" ]; then
  FAKE_PORT=${FAKE_PORT:-12111}
  export STRIPE_SECRET_KEY=sk_test_offline_demo
  export STRIPE_WEBHOOK_SECRET=whsec_offline_demo_secret
  export STRIPE_API_BASE="http://127.0.0.1:$FAKE_PORT"
  export PORTAL_CHECKOUT_ORIGIN="http://127.0.0.1:$FAKE_PORT"
  .venv/bin/python -m fakestripe --port "$FAKE_PORT" --webhook-secret "$STRIPE_WEBHOOK_SECRET" \
    --webhook-url "http://127.0.0.1:$PORT/stripe/webhook" --deliver async --quiet &
  FAKE_PID=$!
  trap 'kill $FAKE_PID 2>/dev/null || true' EXIT
  echo "Offline demo: payments go to the local Stripe fake at $STRIPE_API_BASE (no Stripe account needed)."
fi

.venv/bin/python build.py
echo
echo "Statement links for the demo customers are in staff/links.csv, e.g.:"
sed -n '2,4p' staff/links.csv | cut -d, -f2,4 | sed "s/^/  /"
echo
.venv/bin/python serve.py --port "$PORT"
