"""Download PDF on a statement in real headless Chromium: the download is the statement's PDF, at a
desktop and a phone width, and the page stays accessible with the button on it."""
from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import pytest
from conftest import ARTIFACTS
from pypdf import PdfReader

from portal.core.signing import Signer, load_keys

pytestmark = pytest.mark.browser

HEADER = "date,customer_id,type,ref,amount,currency,due_date,applies_to,memo\n"
WIDTHS = [{"width": 1280, "height": 900}, {"width": 390, "height": 844}]


@pytest.fixture
def statement_url(project, live_server, make_app):
    project.write("customers.csv", "customer_id,name,email,currency,terms_days\n"
                                   "C1,O'Brien & Daughters,ap@obrien.example,USD,30\n")
    project.write("a.csv", HEADER + "2026-10-01,C1,invoice,INV-1,\"2,100.00\",,2026-10-31,,Widgets\n"
                                    "2026-10-02,C1,invoice,INV-2,40.25,,2030-01-31,,Gadgets\n")
    base = live_server(make_app(TESTING=False))  # built as of today: the PDF is too
    token = Signer(load_keys(project.settings().state_dir)).link_token("C1", 1)
    return f"{base}/s/{token}/"


@pytest.mark.parametrize("viewport", WIDTHS, ids=["desktop", "phone"])
def test_download_pdf_gets_the_statement_as_a_pdf_and_the_page_stays_accessible(chrome, statement_url, axe_source,
                                                                                 viewport):
    context = chrome.new_context(viewport=viewport, accept_downloads=True, bypass_csp=True)  # bypass: axe's script
    page = context.new_page()
    page.goto(statement_url)
    button = page.get_by_role("button", name="Download PDF")
    box = button.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"] and box["height"] >= 44
    with page.expect_download() as info:
        button.click()
    download = info.value
    assert download.suggested_filename == f"statement-C1-{date.today().isoformat()}.pdf"
    data = Path(download.path()).read_bytes()
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)
    assert "O'Brien & Daughters" in text and "$2,140.25" in text and "INV-1" in text and "INV-2" in text
    assert "Remittance advice" in text and "\nUSD $2,140.25" in text
    assert page.locator("h1").inner_text() == "Statement of account"  # still on the statement
    page.add_script_tag(content=axe_source)
    assert page.evaluate("async () => (await axe.run(document)).violations.map(v => v.id)") == []
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "statement-download.pdf").write_bytes(data)
    page.screenshot(path=str(ARTIFACTS / f"statement-download-{viewport['width']}.png"))
    context.close()


def test_print_hides_the_download_button(chrome, statement_url):
    page = chrome.new_page()
    page.goto(statement_url)
    assert page.locator("form.download").is_visible()
    page.emulate_media(media="print")
    assert page.locator("form.download").is_hidden()
    page.close()
