#!/usr/bin/env bash
# Install the portal into .venv, build the demo company's statements and serve them.
#   bash scripts/demo.sh [--port N]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e .
.venv/bin/python build.py
echo
echo "Statement links for the demo customers are in staff/links.csv, e.g.:"
sed -n '2,4p' staff/links.csv | cut -d, -f2,4 | sed 's/^/  /'
echo
exec .venv/bin/python serve.py "$@"
