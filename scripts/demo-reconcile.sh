#!/usr/bin/env bash
# Payout reconciliation on the demo data, offline: a copy of the project in a temporary folder,
# the local Stripe fake, a few demo customers paying through /pay, a payout, then `portal reconcile`
# (a lost webhook shows as missing), `portal sync`, and `portal reconcile` again (everything ties out).
# The committed demo ledger is never touched.
#   bash scripts/demo-reconcile.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] && PY=.venv/bin/python
exec "$PY" scripts/demo_reconcile.py "$@"
