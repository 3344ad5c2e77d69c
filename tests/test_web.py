"""The Flask app serving the built site: statements, 404s, headers, no listings."""
from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def ledger(project):
    """The ledger conftest's `app` serves."""
    project.write("e.csv", """\
        date,customer_id,type,ref,amount,currency,due_date,applies_to,memo
        2026-10-01,C1,invoice,INV-1,100.00,,,,
        """)


@pytest.fixture
def client(app):
    return Client(app.test_client())


class Client:
    """The Flask test client, closing each response (files are streamed)."""

    def __init__(self, c):
        self.c = c

    def get(self, path, **kw):
        r = self.c.get(path, buffered=True, **kw)
        r.close()
        return r


def _token(project, cid="C1"):
    from portal.core.signing import Signer, load_keys
    return Signer(load_keys(project.settings().state_dir)).link_token(cid, 1)


def test_statement_is_served_at_its_signed_url(client, project):
    r = client.get(f"/s/{_token(project)}/")
    assert r.status_code == 200 and b"First Customer" in r.data
    assert r.headers["Cache-Control"] == "private, no-store"


def test_statement_url_without_slash_redirects(client, project):
    r = client.get(f"/s/{_token(project)}")
    assert r.status_code == 308 and r.headers["Location"].endswith("/")


def test_unknown_or_forged_token_is_404_with_help(client, project):
    r = client.get(f"/s/{_token(project)[:-2]}xx/")
    assert r.status_code == 404 and b"This link does not work" in r.data


def test_statements_folder_is_not_listed(client):
    r = client.get("/s/")
    assert r.status_code == 200 and b"First Customer" not in r.data and b"/s/W" not in r.data


def test_path_traversal_is_refused(client):
    assert client.get("/../content/ledger/customers.csv").status_code == 404
    assert client.get("/s/..%2f..%2fcontent/settings.toml").status_code == 404


def test_security_headers(client):
    r = client.get("/")
    assert r.headers["Referrer-Policy"] == "no-referrer"
    assert "default-src 'none'" in r.headers["Content-Security-Policy"]
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert "Strict-Transport-Security" not in r.headers  # plain HTTP here
    assert "Strict-Transport-Security" in client.get("/", base_url="https://localhost").headers


def test_access_logs_do_not_show_statement_tokens(client, project, caplog):
    import logging
    caplog.set_level(logging.INFO, logger="werkzeug")  # not left to whatever an earlier test configured
    token = _token(project)
    logging.getLogger("werkzeug").info('%s - - "%s" %s', "127.0.0.1", f"GET /s/{token}/ HTTP/1.1", "200")
    assert token not in caplog.text and '"GET /s/[token]/ HTTP/1.1"' in caplog.text


def test_a_path_segment_too_long_for_the_file_system_is_a_404(client):
    assert client.get("/s/" + "a" * 300 + "/").status_code == 404
    assert client.get("/s/" + "a" * 300).status_code == 404


def test_folders_outside_the_site_cannot_be_probed(client):
    assert client.get("/s/..%2f..%2fcontent").status_code == 404  # a folder that exists: no 308
    assert client.get("/s/..%2f..%2fno-such-folder").status_code == 404
    assert client.get("/s/..%2f..%2f..%2fetc").status_code == 404
    assert client.get("/s/%2e%2e/%2e%2e/%2e%2e/etc").status_code == 404


def test_no_log_record_shows_a_token_whatever_prints_it(client, project, caplog):
    import logging

    from portal.core.signing import Signer
    caplog.set_level(logging.INFO)
    token = _token(project)
    pay = Signer(["test-key-0123456789abcdef"]).pay_token("C1", 1, __import__("datetime").date(2026, 11, 25))
    try:
        with open(f"/nonexistent/site/s/{token}/index.html"):
            pass
    except OSError:
        logging.getLogger("flask.app").exception("Exception on /s/%s/ [GET]", token)
    logging.getLogger("gunicorn.access").info("POST /pay token=%s", pay)
    logging.getLogger("anything").warning(f"a message with the token in it: {token}")
    assert token not in caplog.text and pay not in caplog.text
    assert caplog.text.count("/s/[token]") >= 2 and "[token]" in caplog.text
    formatted = "\n".join(logging.Formatter().format(r) for r in caplog.records)
    assert token not in formatted and "Traceback" in formatted  # the traceback itself, redacted
