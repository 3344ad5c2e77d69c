"""POST /pay/statement.pdf: the statement as a PDF, read back with pypdf; refusals make nothing."""
from __future__ import annotations

import html
import io
import re
from datetime import date, timedelta

import pytest
from pypdf import PdfReader

from portal.core.signing import Signer

KEY = "test-key-0123456789abcdef"
HEADER = "date,customer_id,type,ref,amount,currency,due_date,applies_to,memo\n"
TODAY = date.today()


@pytest.fixture(autouse=True)
def today():
    """Today as the code under test sees it while this test runs, not when the module was collected
    (a suite running across midnight compared with yesterday: seen at 00:00 UTC)."""
    global TODAY
    TODAY = date.today()
    return TODAY
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


@pytest.fixture(autouse=True)
def ledger(project, today):
    """C1: two open USD invoices (one overdue, with a memo), one paid in part, and one in EUR.
    C2 (EUR): paid more than it owes, so a credit."""
    project.write("customers.csv", """\
        customer_id,name,email,currency,terms_days,link_version
        C1,"Smith & Sons <Ltd>",ap@first.example,USD,30,1
        C2,Second Customer,ap@second.example,EUR,30,1
        """)
    project.write("a.csv", HEADER + "2026-10-01,C1,invoice,INV-1,\"1,100.00\",,2026-10-31,,Spare parts\n"
                                    "2026-10-02,C1,invoice,INV-2,20.50,,2030-01-01,,\n"
                                    "2026-10-03,C1,invoice,INV-3,99.99,,2030-01-01,,\n"
                                    "2026-10-20,C1,payment,P-1,40.00,,,INV-3,\n"
                                    "2026-10-05,C1,invoice,INV-E1,70.00,EUR,2030-01-01,,\n"
                                    "2026-10-01,C2,invoice,E-1,10.00,,2030-01-01,,\n"
                                    "2026-10-10,C2,payment,E-P,35.00,,,,\n")


def pay_token(cid="C1", version=1, day=None, key=KEY) -> str:
    return Signer([key]).pay_token(cid, version, day or TODAY)


def post(app, token: str, addr: str = "127.0.0.1"):
    with app.test_client() as c:
        return c.post("/pay/statement.pdf", data={"token": token}, environ_base={"REMOTE_ADDR": addr})


def text_of(pdf: bytes) -> str:
    return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)


def slip_of(text: str) -> str:
    return text[text.index("Remittance advice"):]


def service(app):
    return app.extensions["portal.pdf"]


def open_invoices(page: str) -> list[tuple[str, str]]:
    """(ref, open amount) of each row of the page's open-invoice tables, as the page prints them."""
    rows = re.findall(r'<tr[^>]*><th scope="row">([^<]+)(?:<.*?)?</th>.*?<td class="num">([^<]+)</td></tr>', page)
    return [(html.unescape(ref), amount) for ref, amount in rows]


def test_the_download_form_on_the_page_gets_the_statements_figures_and_a_slip_as_a_pdf(app, project):
    page = project.page_for("C1")
    form = re.search(r'<form class="download" method="post" action="([^"]+)">\s*'
                     r'<input type="hidden" name="token" value="([^"]+)">', page)
    assert form and form[1] == "/pay/statement.pdf"
    r = post(app, form[2])
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    assert r.headers["Content-Disposition"] == f'attachment; filename="statement-C1-{TODAY.isoformat()}.pdf"'
    assert r.headers["Cache-Control"] == "private, no-store"
    text = text_of(r.data)
    assert "Smith & Sons <Ltd>" in text and "\nC1\n" in text and "Balance due in USD" in text
    assert "$1,180.49" in text and "$1,100.00 of this is overdue." in text  # 1,100 + 20.50 + 99.99 - 40
    invoices = open_invoices(page)
    assert [ref for ref, _ in invoices] == ["INV-1", "INV-2", "INV-3", "INV-E1"]
    for ref, amount in invoices:  # each open invoice's row (its memo on a line of its own), its open amount last
        assert re.search(rf"^{re.escape(ref)}(?: |\n.*\n).* {re.escape(amount)}$", text, re.M), ref
    assert "$59.99" in [a for _, a in invoices] and "P-1" in text  # INV-3 was paid in part
    slip = slip_of(text)
    assert "Remittance advice - please return this part with your payment" in slip
    assert "Customer Smith & Sons <Ltd>" in slip and "Account C1" in slip
    assert f"Statement date {TODAY.day} {TODAY:%b %Y}" in slip
    assert "AMOUNT ENCLOSED" in slip.upper() and "Cheques payable to Acme Test Supply" in slip


def test_a_multi_currency_slip_has_a_row_per_currency_and_no_statement_reference(app):
    text = text_of(post(app, pay_token()).data)
    assert "Balance due in USD" in text and "Balance due in EUR" in text and "€70.00" in text
    slip = slip_of(text)
    assert "\nUSD $1,180.49" in slip and "\nEUR €70.00" in slip
    reference = re.search(r"Statement reference (\S+)", text)[1]  # on the statement, not on the slip
    assert "reference" not in slip.lower() and reference not in slip


def test_a_credit_balance_says_it_is_in_the_customers_favour_with_nothing_to_pay(app):
    text = text_of(post(app, pay_token("C2")).data)
    assert "Credit balance" in text and "€25.00" in text
    assert "\nEUR €25.00 in your favour, nothing to pay" in slip_of(text)


def test_the_pdf_shows_what_is_owed_today_not_what_the_site_was_built_with(app, project):
    project.write("b.csv", HEADER + f"{TODAY},C1,payment,P-2,1100.00,,,INV-1,\n")  # after the build
    text = text_of(post(app, pay_token()).data)
    assert "\nUSD $80.49" in slip_of(text) and "P-2" in text


def test_the_company_logo_and_brand_colour_are_on_the_pdf(project, make_app):
    (project.root / "content" / "logo.png").write_bytes(PNG)
    path = project.root / "content" / "settings.toml"
    path.write_text(path.read_text().replace("[portal]", 'logo = "logo.png"\nbrand_color = "#7a1f5c"\n\n[portal]', 1))
    app = make_app()
    pdf = PdfReader(io.BytesIO(post(app, pay_token()).data))
    first = pdf.pages[0]
    images = [x for x in first["/Resources"]["/XObject"].values() if x.get_object()["/Subtype"] == "/Image"]
    assert len(images) == 1  # the logo
    ops = first.get_contents().get_data().decode("latin-1")
    r, g, b = (round(int("7a1f5c"[i:i + 2], 16) / 255, 2) for i in (0, 2, 4))
    colours = re.findall(r"([\d.]+) ([\d.]+) ([\d.]+) (?:rg|RG)", ops)
    assert any((round(float(x), 2), round(float(y), 2), round(float(z), 2)) == (r, g, b) for x, y, z in colours)


@pytest.mark.parametrize("token, said", [
    ("", "not valid"), ("garbage", "not valid"),
    (pay_token(key="another-key-0123456789"), "not valid"),  # forged: signed with another key
    (Signer([KEY]).link_token("C1", 1), "not valid"),  # a statement link's token is not a pay token
    (pay_token(day=TODAY - timedelta(days=200)), "expired"),
])
def test_forged_or_expired_tokens_are_refused_and_nothing_is_rendered(app, project, token, said, caplog):
    r = post(app, token)
    assert r.status_code == 403 and said in r.get_data(as_text=True) and r.mimetype == "text/html"
    assert "pdf: refused token" in caplog.text
    assert service(app).renders == 0 and not (project.settings().state_dir / "pdf").exists()


def test_a_token_of_a_replaced_link_version_is_refused(app, project, caplog):
    r = post(app, pay_token(version=0))
    assert r.status_code == 403 and "replaced" in r.get_data(as_text=True)
    assert "refused revoked or unknown" in caplog.text and service(app).renders == 0


def test_downloads_are_rate_limited_per_address_and_per_customer(app):
    service(app).addr_limit.limit = 2
    assert [post(app, "x").status_code for _ in range(3)] == [403, 403, 429]
    service(app).customer_limit.limit = 2  # from other addresses: still the same customer
    codes = [post(app, pay_token(), addr=f"10.0.0.{i}").status_code for i in range(3)]
    assert codes == [200, 200, 429] and service(app).renders == 1


def test_beyond_the_renders_allowed_at_once_the_service_says_busy_and_renders_nothing(make_app):
    app = make_app(PDF_CONCURRENCY=1)
    writer = service(app).writers.get_nowait()  # the one render slot, taken (as by a render in progress)
    r = post(app, pay_token())
    assert r.status_code == 503 and "try again" in r.get_data(as_text=True) and r.headers["Retry-After"] == "5"
    assert service(app).renders == 0
    service(app).writers.put(writer)
    assert post(app, pay_token()).status_code == 200 and service(app).renders == 1


def test_a_repeat_download_is_read_from_the_cache_and_a_changed_ledger_makes_a_new_one(app, project):
    cache = project.settings().state_dir / "pdf"
    (cache / "2020-01-01" / "someone").mkdir(parents=True)  # an old day's PDFs: pruned
    first = post(app, pay_token()).data
    again = post(app, pay_token()).data
    assert again == first and service(app).renders == 1
    kept = list(cache.rglob("*.pdf"))
    assert len(kept) == 1 and kept[0].read_bytes() == first and kept[0].parts[-3] == TODAY.isoformat()
    assert not (cache / "2020-01-01").exists()
    project.write("b.csv", HEADER + f"{TODAY},C1,payment,P-2,20.50,,,INV-2,\n")
    changed = post(app, pay_token()).data
    assert changed != first and service(app).renders == 2
    assert not any(line.startswith("INV-2 ") for line in text_of(changed).splitlines())  # no longer open
    assert [p.read_bytes() for p in cache.rglob("*.pdf")] == [changed]  # the customer's older one replaced


def test_the_download_form_posts_beside_a_pay_url_on_another_host(project):
    path = project.root / "content" / "settings.toml"
    path.write_text(path.read_text().replace("[portal]", '[portal]\npay_url = "https://pay.acme.example/pay"', 1))
    project.build()
    assert '<form class="download" method="post" action="https://pay.acme.example/pay/statement.pdf">' \
        in project.page_for("C1")


def test_a_pdf_template_that_does_not_render_is_a_clear_503_and_logged(app, project, caplog):
    template = project.root / "site_templates" / "statement_pdf.html"
    template.write_text(template.read_text().replace("{{ company.name }}</strong>", "{{ company.nam }}</strong>"))
    r = post(app, pay_token())
    assert r.status_code == 503 and "not available just now" in r.get_data(as_text=True)
    assert "statement_pdf.html" in caplog.text and service(app).renders == 0
