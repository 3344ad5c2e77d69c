#!/usr/bin/env bash
# Install everything the test suite needs into .venv, then run the whole suite.
#   bash scripts/test.sh            (extra pytest arguments are passed on)
set -euo pipefail
cd "$(dirname "$0")/.."
AXE_CORE=4.14.1  # the accessibility checker the browser tests inject into pages

SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
# Browser tests drive Debian's Chromium (Playwright's own browser download is not used); npm
# fetches axe-core; WeasyPrint needs Pango. All are Debian packages, installed when missing.
missing=""
[ -x /usr/bin/chromium ] || missing="chromium chromium-driver"
[ -x /usr/bin/npm ] || missing="$missing npm"
# WeasyPrint (PDF statements) loads Pango through ctypes; fonts-liberation is what the PDF's print CSS names.
for lib in libpango-1.0-0 libpangoft2-1.0-0 fonts-liberation; do
  dpkg -s "$lib" >/dev/null 2>&1 || missing="$missing $lib"
done
if [ -n "$missing" ]; then
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq $missing >/dev/null
fi

PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[test]" -e tools/fakestripe  # the portal (compiled) with the test tools, and the Stripe fake
# axe-core goes into the test environment too (.venv/axe): tests never look for tools on PATH.
if [ "$(cat .venv/axe/version 2>/dev/null)" != "$AXE_CORE" ]; then
  /usr/bin/npm install -q --no-audit --no-fund --prefix .venv/axe "axe-core@$AXE_CORE" >/dev/null
  echo "$AXE_CORE" > .venv/axe/version
fi
# The install compiled the build's hot modules (setup.py, portal/native.py): the suite runs against
# them, then again against their source (PORTAL_NATIVE=0: what a machine without a C compiler
# runs), browser tests once. A compile that failed here fails the tests: it is not skipped.
status=$(.venv/bin/python -c "import portal.native as n; print(n.status())")
if [ "$status" != "compiled" ]; then
  echo "scripts/test.sh: the hot modules did not compile ($status): see pip's output above" >&2
  exit 1
fi
PORTAL_EXPECT_COMPILED=1 .venv/bin/python -m pytest "$@"
echo "--- again with the hot modules' source (PORTAL_NATIVE=0), browser tests left out"
PORTAL_NATIVE=0 exec .venv/bin/python -m pytest -m "not browser" "$@"
