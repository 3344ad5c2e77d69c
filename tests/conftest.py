"""Shared fixtures: small inline ledgers written into tmp_path as a complete project."""
from __future__ import annotations

import shutil
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

SETTINGS = """\
[company]
name = "Acme Test Supply"
email = "ar@acme.example"

[portal]
base_url = "https://pay.acme.example"
currency = "USD"
min_payment = "1.00"
"""

CUSTOMERS = """\
customer_id,name,email,currency,terms_days,link_version
C1,First Customer,ap@first.example,USD,30,1
C2,Second Customer,ap@second.example,EUR,30,1
"""


class Project:
    """A throwaway project folder: settings, templates and a ledger you write inline."""

    def __init__(self, root: Path):
        self.root = root
        self.ledger = root / "content" / "ledger"
        self.ledger.mkdir(parents=True)
        shutil.copytree(REPO / "site_templates", root / "site_templates")
        (root / "content" / "settings.toml").write_text(SETTINGS)

    def write(self, name: str, text: str) -> Path:
        """Write a ledger file (dedented); returns its path."""
        path = self.ledger / name
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    def serve_at(self, base_url: str) -> None:
        """Point the settings' base_url at where a test serves the site and the payment routes."""
        path = self.root / "content" / "settings.toml"
        text = path.read_text()
        path.write_text(text.replace('base_url = "https://pay.acme.example"', f'base_url = "{base_url}"'))

    def settings(self, **overrides):
        from dataclasses import replace

        from portal.ledger import settings
        s = settings.load(self.root)
        return replace(s, **overrides) if overrides else s

    def build(self, as_of="2026-11-25", **kw):
        from datetime import date

        from portal.build.run import build
        return build(self.settings(), date.fromisoformat(as_of), **kw)

    def page_for(self, customer_id: str) -> str:
        """The published statement HTML of a customer."""
        from portal.core.signing import Signer, load_keys
        from portal.ledger import reading as ledger
        s = self.settings()
        customers, *_ = ledger.read_customers(s)
        c = customers[customer_id]
        token = Signer(load_keys(s.state_dir)).link_token(c.id, c.link_version)
        return (s.out / "s" / token / "index.html").read_text()


TEST_KEY = "test-key-0123456789abcdef"


def portal_metadata(customer_id: str, currency: str, minor: int, allocations: str = "", key: str = TEST_KEY) -> dict:
    """The metadata the portal puts on a payment it starts, for tests that make PaymentIntents
    directly (localstripe has no Checkout): without its mark the service would not record it."""
    from portal.core.signing import Signer, payment_mark_text
    mark = Signer([key]).mark(payment_mark_text(customer_id, currency, minor, allocations))
    return {"customer_id": customer_id, "allocations": allocations, "portal_mark": mark, "source": "ar-portal"}


@pytest.fixture(autouse=True)
def secret_key(monkeypatch):
    """A fixed signing key, so no test writes a demo key into the repo."""
    monkeypatch.setenv("PORTAL_SECRET_KEY", TEST_KEY)
    monkeypatch.delenv("PORTAL_TIMING", raising=False)


@pytest.fixture
def project(tmp_path) -> Project:
    p = Project(tmp_path / "proj")
    p.write("customers.csv", CUSTOMERS)
    return p


STRIPE_ENV = ("STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET", "STRIPE_API_BASE")
WHSEC = "whsec_portal_test_secret"


@pytest.fixture
def make_app(project, monkeypatch):
    """The payment service over `project`, shared as Flask's tutorial shares `app`:

    make_app(stripe=None, as_of="today", **config) builds the project (as of today unless a date
    or None for no build is given) and returns the app. `stripe`: the base URL of a Stripe
    imitation (the project's fake or localstripe), which the SDK is pointed at with `secret_key`
    and `webhook_secret` (WHSEC unless given); None: no Stripe settings at all (none leak from the environment).
    `config` goes to create_app (TESTING is on unless given)."""
    from datetime import date

    from portal.web.app import create_app

    def make(stripe: str | None = None, as_of: str | None = "today", secret_key: str = "sk_test_portal",
             webhook_secret: str = WHSEC, **config):
        for var in STRIPE_ENV:
            monkeypatch.delenv(var, raising=False)
        if stripe is not None:
            monkeypatch.setenv("STRIPE_SECRET_KEY", secret_key)
            monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", webhook_secret)
            monkeypatch.setenv("STRIPE_API_BASE", stripe)
        if as_of is not None:
            project.build(as_of=date.today().isoformat() if as_of == "today" else as_of)
        return create_app({"PORTAL_ROOT": str(project.root), "TESTING": True, **config})

    return make


@pytest.fixture
def app(make_app):
    """The service over the test file's project, built as of today, with no Stripe settings. A test
    file gives its ledger by writing it in an autouse fixture, or asks make_app for another app."""
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


AXE = Path(sys.executable).parent.parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture(scope="session")
def axe_source() -> str:
    """axe-core's script, as scripts/test.sh installs it into the test environment (.venv/axe)."""
    if not AXE.exists():
        pytest.fail(f"{AXE} not found: install axe-core into the test environment (scripts/test.sh does)")
    return AXE.read_text(encoding="utf-8")


CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = REPO / "test-artifacts"


@pytest.fixture(scope="session")
def chrome():
    """Headless Debian Chromium through Playwright. Missing Chromium is a failure, never a skip."""
    import os
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium (scripts/test.sh does)")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--disable-gpu", "--disable-quic"])
        yield b
        b.close()


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def localstripe(tmp_path):
    """localstripe (an independent Stripe imitation) on a loopback port: its base URL."""
    import subprocess
    import time

    import requests
    # The test environment's own copy (scripts/test.sh installs it), never one found on PATH.
    exe = Path(sys.executable).parent / "localstripe"
    if not exe.exists():
        pytest.fail(f"{exe} not found: localstripe is not installed in this environment "
                    "(pip install localstripe==1.15.10; scripts/test.sh does)")
    port = free_port()
    proc = subprocess.Popen([exe, "--port", str(port), "--from-scratch"], cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            requests.get(base + "/v1/customers", headers={"Authorization": "Bearer sk_test_x"}, timeout=1)
            break
        except requests.RequestException:  # not listening yet, or slow to answer on a busy machine
            time.sleep(0.1)
    yield base
    proc.terminate()
    proc.wait(10)


@pytest.fixture
def live_server():
    """Serve a Flask app on a loopback port in a thread: live_server(app[, port]) -> base URL.

    Give the port when the app must know its own address beforehand (base_url in the settings:
    Checkout's return URLs are made from it, never from the request)."""
    import threading

    from werkzeug.serving import make_server
    servers = []

    def start(app, port: int = 0) -> str:
        srv = make_server("127.0.0.1", port, app, threaded=True)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
        return f"http://127.0.0.1:{srv.server_port}"

    yield start
    for srv in servers:
        srv.shutdown()
        srv.server_close()
