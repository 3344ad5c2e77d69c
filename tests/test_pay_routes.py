"""/pay without Stripe: every refusal records nothing; without keys the page says what to set."""
from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from portal.journal import FILE
from portal.signing import Signer
from portal.web import create_app

KEY = "test-key-0123456789abcdef"
HEADER = "date,customer_id,type,ref,amount,currency,due_date,applies_to,memo\n"


@pytest.fixture
def app(project, monkeypatch):
    for var in ("STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET", "STRIPE_API_BASE"):
        monkeypatch.delenv(var, raising=False)
    project.write("a.csv", HEADER + "2026-10-01,C1,invoice,INV-1,100.00,,2026-10-31,,\n"
                                    "2026-10-02,C1,invoice,INV-2,20.00,,2030-01-01,,\n")
    project.build(as_of=date.today().isoformat())
    app = create_app({"PORTAL_ROOT": str(project.root), "TESTING": True})
    app.project = project
    return app


def form_of(project, cid="C1"):
    token = Signer([KEY]).pay_token(cid, 1, date.today())
    return {"token": token, "currency": "USD", "choice": "balance"}


def post(app, data):
    with app.test_client() as c:
        r = c.post("/pay", data=data)
        return r.status_code, r.get_data(as_text=True)


def nothing_recorded(app):
    return not (app.project.ledger / FILE).exists()


def test_the_statement_pay_form_carries_a_token_the_service_accepts(app):
    from portal.signing import load_keys
    s = app.project.settings()
    link = Signer(load_keys(s.state_dir)).link_token("C1", 1)
    html = (s.out / "s" / link / "index.html").read_text()
    token = re.search(r'name="token" value="([^"]+)"', html)[1]
    status, body = post(app, {"token": token, "currency": "USD", "choice": "balance"})
    assert status == 503 and "You would pay $120.00" in body and "STRIPE_SECRET_KEY" in body


@pytest.mark.parametrize("token", ["", "garbage", Signer(["another-key-0123456789"]).pay_token("C1", 1, date.today()),
                                   Signer([KEY]).link_token("C1", 1)])
def test_forged_or_foreign_tokens_are_refused_and_nothing_is_recorded(app, token, caplog):
    status, body = post(app, {"token": token, "currency": "USD", "choice": "balance"})
    assert status == 403 and "does not work" in body
    assert "pay: refused token" in caplog.text and nothing_recorded(app)


def test_expired_token_is_refused(app):
    old = Signer([KEY]).pay_token("C1", 1, date.today() - timedelta(days=200))
    status, body = post(app, {"token": old, "currency": "USD", "choice": "balance"})
    assert status == 403 and "expired" in body and nothing_recorded(app)


def test_token_of_a_revoked_link_version_is_refused(app):
    token = Signer([KEY]).pay_token("C1", 0, date.today())
    status, body = post(app, {"token": token, "currency": "USD", "choice": "balance"})
    assert status == 403 and "replaced" in body


def test_amount_over_what_is_owed_is_refused(app):
    status, body = post(app, {**form_of(app.project), "choice": "amount", "amount": "120.01"})
    assert status == 422 and "more than the $120.00 you owe" in body and nothing_recorded(app)


def test_invoice_paid_since_the_page_was_built_is_refused(app):
    app.project.write("b.csv", HEADER + f"{date.today()},C1,payment,P-1,100.00,,,INV-1,\n")
    status, body = post(app, {**form_of(app.project), "choice": "invoices", "invoice": "INV-1"})
    assert status == 409 and "INV-1 is no longer open" in body and nothing_recorded(app)


def test_pay_is_rate_limited(app):
    app.extensions["portal.pay"]["pay_limit"].limit = 2
    codes = [post(app, {"token": "x"})[0] for _ in range(3)]
    assert codes == [403, 403, 429]


def test_webhook_without_configuration_is_refused(app):
    with app.test_client() as c:
        r = c.post("/stripe/webhook", data=b"{}", headers={"Stripe-Signature": "t=1,v1=0"})
    assert r.status_code == 503 and nothing_recorded(app)


def test_payment_only_deployment_serves_no_statements_and_links_back_to_the_static_host(project, monkeypatch):
    monkeypatch.setenv("PORTAL_SERVE_SITE", "false")
    project.write("a.csv", HEADER + "2026-10-01,C1,invoice,INV-1,100.00,,2026-10-31,,\n")
    project.build(as_of=date.today().isoformat())
    app = create_app({"PORTAL_ROOT": str(project.root)})
    token = Signer([KEY]).link_token("C1", 1)
    with app.test_client() as c:
        assert c.get(f"/s/{token}/").status_code == 404 and c.get("/").status_code == 404
        r = c.post("/pay", data={"token": Signer([KEY]).pay_token("C1", 1, date.today()), "currency": "USD",
                                 "choice": "balance"})
    assert r.status_code == 503 and f"https://pay.acme.example/s/{token}/" in r.get_data(as_text=True)


def test_oversized_requests_are_refused(project, monkeypatch):
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_x")
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", "whsec_x")
    project.build()
    app = create_app({"PORTAL_ROOT": str(project.root)})
    with app.test_client() as c:
        assert c.post("/stripe/webhook", data=b"x" * (300 * 1024),
                      headers={"Stripe-Signature": "t=1,v1=0"}).status_code == 413
        assert c.post("/pay", data={"token": "x" * (300 * 1024)}).status_code == 413
    assert not (project.ledger / FILE).exists()
