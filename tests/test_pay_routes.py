"""/pay without Stripe: every refusal records nothing; without keys the page says what to set."""
from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from portal.core.signing import Signer
from portal.ledger.online import FILE

KEY = "test-key-0123456789abcdef"
HEADER = "date,customer_id,type,ref,amount,currency,due_date,applies_to,memo\n"


@pytest.fixture(autouse=True)
def ledger(project):
    """The ledger conftest's `app` serves (no Stripe settings: /pay says what to set)."""
    project.write("a.csv", HEADER + "2026-10-01,C1,invoice,INV-1,100.00,,2026-10-31,,\n"
                                    "2026-10-02,C1,invoice,INV-2,20.00,,2030-01-01,,\n")


def form_of(project, cid="C1"):
    token = Signer([KEY]).pay_token(cid, 1, date.today())
    return {"token": token, "currency": "USD", "choice": "balance"}


def post(app, data):
    with app.test_client() as c:
        r = c.post("/pay", data=data)
        return r.status_code, r.get_data(as_text=True)


def nothing_recorded(project):
    return not (project.ledger / FILE).exists()


def test_the_statement_pay_form_carries_a_token_the_service_accepts(app, project):
    from portal.core.signing import load_keys
    s = project.settings()
    link = Signer(load_keys(s.state_dir)).link_token("C1", 1)
    html = (s.out / "s" / link / "index.html").read_text()
    token = re.search(r'name="token" value="([^"]+)"', html)[1]
    status, body = post(app, {"token": token, "currency": "USD", "choice": "balance"})
    assert status == 503 and "You would pay $120.00" in body and "STRIPE_SECRET_KEY" in body


@pytest.mark.parametrize("token", ["", "garbage", Signer(["another-key-0123456789"]).pay_token("C1", 1, date.today()),
                                   Signer([KEY]).link_token("C1", 1)])
def test_forged_or_foreign_tokens_are_refused_and_nothing_is_recorded(app, project, token, caplog):
    status, body = post(app, {"token": token, "currency": "USD", "choice": "balance"})
    assert status == 403 and "does not work" in body
    assert "pay: refused token" in caplog.text and nothing_recorded(project)


def test_expired_token_is_refused(app, project):
    old = Signer([KEY]).pay_token("C1", 1, date.today() - timedelta(days=200))
    status, body = post(app, {"token": old, "currency": "USD", "choice": "balance"})
    assert status == 403 and "expired" in body and nothing_recorded(project)


def test_token_of_a_revoked_link_version_is_refused(app):
    token = Signer([KEY]).pay_token("C1", 0, date.today())
    status, body = post(app, {"token": token, "currency": "USD", "choice": "balance"})
    assert status == 403 and "replaced" in body


def test_amount_over_what_is_owed_is_refused(app, project):
    status, body = post(app, {**form_of(project), "choice": "amount", "amount": "120.01"})
    assert status == 422 and "more than the $120.00 you owe" in body and nothing_recorded(project)


def test_invoice_paid_since_the_page_was_built_is_refused(app, project):
    project.write("b.csv", HEADER + f"{date.today()},C1,payment,P-1,100.00,,,INV-1,\n")
    status, body = post(app, {**form_of(project), "choice": "invoices", "invoice": "INV-1"})
    assert status == 409 and "INV-1 is no longer open" in body and nothing_recorded(project)


def test_pay_is_rate_limited(app):
    app.extensions["portal.pay"].pay_limit.limit = 2
    codes = [post(app, {"token": "x"})[0] for _ in range(3)]
    assert codes == [403, 403, 429]


def test_webhook_without_configuration_is_refused(app, project):
    with app.test_client() as c:
        r = c.post("/stripe/webhook", data=b"{}", headers={"Stripe-Signature": "t=1,v1=0"})
    assert r.status_code == 503 and nothing_recorded(project)


def test_payment_only_deployment_serves_no_statements_and_links_back_to_the_static_host(project, make_app,
                                                                                         monkeypatch):
    monkeypatch.setenv("PORTAL_SERVE_SITE", "false")
    project.write("a.csv", HEADER + "2026-10-01,C1,invoice,INV-1,100.00,,2026-10-31,,\n")
    app = make_app(TESTING=False)
    token = Signer([KEY]).link_token("C1", 1)
    with app.test_client() as c:
        assert c.get(f"/s/{token}/").status_code == 404 and c.get("/").status_code == 404
        r = c.post("/pay", data={"token": Signer([KEY]).pay_token("C1", 1, date.today()), "currency": "USD",
                                 "choice": "balance"})
    assert r.status_code == 503 and f"https://pay.acme.example/s/{token}/" in r.get_data(as_text=True)


def test_oversized_requests_are_refused(project, make_app):
    app = make_app(stripe="http://127.0.0.1:9", TESTING=False)  # refused before Stripe is asked
    with app.test_client() as c:
        assert c.post("/stripe/webhook", data=b"x" * (300 * 1024),
                      headers={"Stripe-Signature": "t=1,v1=0"}).status_code == 413
        assert c.post("/pay", data={"token": "x" * (300 * 1024)}).status_code == 413
    assert not (project.ledger / FILE).exists()


# A form whose fields disagree with its choice is never charged for a guess: the customer is asked.

def test_an_invoice_ticked_with_the_whole_balance_chosen_is_asked_about_not_charged(app, project):
    status, body = post(app, {**form_of(project), "choice": "balance", "invoice": "INV-1"})
    assert status == 409 and "Which payment did you mean?" in body and nothing_recorded(project)
    options = re.findall(r'<form method="post" action="/pay">(.*?)</form>', body, re.S)
    assert len(options) == 2
    assert 'value="balance"' in options[0] and "Pay $120.00" in options[0]
    assert 'value="invoices"' in options[1] and 'name="invoice" value="INV-1"' in options[1]
    assert "Pay $100.00" in options[1]
    chosen = dict(re.findall(r'name="(token|currency|choice)" value="([^"]*)"', options[1]))
    status, body = post(app, {**chosen, "invoice": "INV-1"})  # the customer picks the invoice
    assert status == 503 and "You would pay $100.00 (INV-1)" in body


def test_an_amount_typed_without_choosing_another_amount_is_asked_about(app, project):
    status, body = post(app, {**form_of(project), "choice": "balance", "amount": "100"})
    assert status == 409 and "Pay $120.00" in body and "Pay $100.00" in body
    assert 'name="amount" value="100"' in body and nothing_recorded(project)


def test_an_invoice_and_an_amount_together_are_asked_about(app, project):
    status, body = post(app, {**form_of(project), "choice": "invoices", "invoice": "INV-2", "amount": "5"})
    assert status == 409 and "Pay $20.00" in body and "Pay $5.00" in body


def test_an_asked_option_that_cannot_be_paid_says_why(app, project):
    status, body = post(app, {**form_of(project), "choice": "balance", "amount": "500"})
    assert status == 409 and "$500.00 is more than the $120.00 you owe" in body
    assert len(re.findall(r'<form method="post"', body)) == 1


@pytest.mark.parametrize("fields, says", [
    ({"choice": "invoices", "invoice": "INV-1"}, "You would pay $100.00 (INV-1)"),
    ({"choice": "amount", "amount": "7.5"}, "You would pay $7.50 (payment on account)"),
    ({"choice": "balance"}, "You would pay $120.00 (balance)"),
    ({"choice": "", "invoice": "INV-2"}, "You would pay $20.00 (INV-2)"),  # nothing chosen: the ticked one
])
def test_a_form_whose_fields_agree_is_charged_as_it_says(app, project, fields, says):
    status, body = post(app, {**form_of(project), **fields})
    assert status == 503 and says in body


# /pay never renders the site and never forks: what is owed is worked out for one customer.

def test_pay_after_a_day_change_renders_nothing_and_counts_todays_ledger(project, make_app, monkeypatch):
    yesterday = date.today() - timedelta(days=1)
    project.write("a.csv", HEADER + "2026-10-01,C1,invoice,INV-1,100.00,,2026-10-31,,\n"
                                    f"{date.today()},C1,invoice,INV-3,30.00,,2030-01-01,,\n")
    app = make_app(as_of=yesterday.isoformat())  # last night's build, before today's invoice
    s = project.settings()
    pages = {p: p.stat().st_mtime_ns for p in (s.out / "s").rglob("index.html")}
    state = {p.name: p.read_bytes() for p in s.state_dir.glob("build-*.pickle")}

    def no_fork(*_a, **_k):
        raise AssertionError("the payment service forked")
    monkeypatch.setattr("os.fork", no_fork)
    status, body = post(app, form_of(project))
    assert status == 503 and "You would pay $130.00 (balance)" in body  # today's invoice counted
    assert {p: p.stat().st_mtime_ns for p in (s.out / "s").rglob("index.html")} == pages
    assert {p.name: p.read_bytes() for p in s.state_dir.glob("build-*.pickle")} == state


def test_pay_reads_a_staff_file_added_since_the_build(app, project):
    project.write("b.csv", HEADER + f"{date.today()},C1,payment,CHQ-7,100.00,,,INV-1,\n")
    status, body = post(app, form_of(project))
    assert status == 503 and "You would pay $20.00 (balance)" in body


def test_pay_refuses_calmly_when_a_changed_staff_file_does_not_read(app, project, caplog):
    project.write("b.csv", HEADER + f"{date.today()},C1,payment,CHQ-7,lots,,,INV-1,\n")
    status, body = post(app, form_of(project))
    assert status == 503 and "try again in a few minutes" in body and nothing_recorded(project)
    assert "b.csv:2: amount" in caplog.text


# Behind a proxy: limits per real client and per customer; HSTS when the proxy says HTTPS.

def proxied_app(project, make_app, proxies: int):
    path = project.root / "content" / "settings.toml"
    path.write_text(path.read_text() + f"trusted_proxies = {proxies}\n")
    return make_app(PAY_RATE_LIMIT=3, PAY_CUSTOMER_RATE_LIMIT=1000)


def test_behind_a_trusted_proxy_each_client_has_its_own_limit(project, make_app):
    proxied = proxied_app(project, make_app, 1)
    with proxied.test_client() as c:
        codes = [c.post("/pay", data={"token": "x"}, headers={"X-Forwarded-For": f"203.0.113.{i % 2}"},
                        environ_base={"REMOTE_ADDR": "10.0.0.1"}).status_code for i in range(8)]
    assert codes == [403] * 6 + [429, 429]  # two clients, three each, then both limited


def test_x_forwarded_for_is_ignored_without_a_trusted_proxy(project, make_app):
    direct = proxied_app(project, make_app, 0)
    with direct.test_client() as c:
        codes = [c.post("/pay", data={"token": "x"}, headers={"X-Forwarded-For": f"203.0.113.{i}"}).status_code
                 for i in range(4)]
    assert codes == [403, 403, 403, 429]  # a forged header does not buy more attempts


def test_hsts_when_the_trusted_proxy_terminated_tls(project, make_app):
    proxied = proxied_app(project, make_app, 1)
    with proxied.test_client() as c:
        r = c.get("/", headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}, buffered=True)
        r.close()
    assert r.headers["Strict-Transport-Security"].startswith("max-age=")


def test_one_customer_is_limited_whatever_address_it_comes_from(app, project):
    app.extensions["portal.pay"].customer_limit.limit = 2
    with app.test_client() as c:
        codes = [c.post("/pay", data=form_of(project), environ_base={"REMOTE_ADDR": f"198.51.100.{i}"}).status_code
                 for i in range(3)]
    assert codes == [503, 503, 429]


def test_the_services_pages_wear_the_sites_frame_phone_link_and_logo_included(project, make_app):
    (project.root / "content" / "logo.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"/>')
    path = project.root / "content" / "settings.toml"
    path.write_text(path.read_text().replace("[portal]", 'phone = "(555) 010-0100"\nlogo = "logo.svg"\n\n[portal]', 1))
    status, page = post(make_app(), {"token": "forged", "currency": "USD", "choice": "balance"})
    assert status == 403 and '<a href="tel:5550100100">(555) 010-0100</a>' in page
    assert '<img class="logo" src="/assets/logo.svg" alt="Acme Test Supply">' in page
