"""The Flask service: serves the built site (and, in production, only the payment routes)."""
from __future__ import annotations

import logging
import os
import re
from pathlib import Path

from flask import Flask, abort, redirect, request, send_file
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.security import safe_join

from . import payweb, settings as settings_mod
from .publish import Publisher

log = logging.getLogger(__name__)

# What logs must never show: statement tokens (a path under /s/ is a credential), signed tokens
# anywhere (pay tokens, return cookies), and Checkout Session ids (kept: their last 4 characters).
_SECRETS = (
    (re.compile(r"/s/[^/\s\"?']+"), "/s/[token]"),
    (re.compile(r"\bcs_(?:test_|live_)?[A-Za-z0-9]+?([A-Za-z0-9]{4})\b"), r"cs_[…\1]"),
    # itsdangerous tokens: payload[.timestamp].signature, the signature 27+ base64 characters
    (re.compile(r"[A-Za-z0-9_-]{6,}(?:\.[A-Za-z0-9_-]{4,})?\.[A-Za-z0-9_-]{27,}"), "[token]"),
)


def redact(text: str) -> str:
    """The text with statement tokens, signed tokens and Checkout Session ids blanked out."""
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


class RedactTokens(logging.Filter):
    """Applied to every handler's records: message, arguments and traceback text are redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    """The record with its message (formatted with its arguments) and traceback text redacted."""
    if getattr(record, "_portal_redacted", False):
        return record
    try:
        message = record.getMessage()
    except (TypeError, ValueError):  # arguments that do not fit the message: leave it to the handler
        message = None
    if message is not None:
        record.msg, record.args = redact(message), ()
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redact(record.exc_text)
    record._portal_redacted = True
    return record


def _redact_every_record() -> None:
    """Every log record this process makes is redacted where it is made, whichever handler
    prints it (Flask's exception log, werkzeug's and gunicorn's access logs, ours)."""
    factory = logging.getLogRecordFactory()
    if getattr(factory, "_portal_redacts", False):
        return

    def make(*args, **kwargs):
        return redact_record(factory(*args, **kwargs))

    make._portal_redacts = True
    logging.setLogRecordFactory(make)
    logging.getLogger("stripe").setLevel(logging.INFO)  # the SDK's DEBUG output carries request bodies


def create_app(test_config: dict | None = None) -> Flask:
    """App factory: settings from the project root (PORTAL_ROOT or the working directory), then overrides."""
    app = Flask(__name__, static_folder=None)
    app.config.from_mapping(PORTAL_ROOT=".", SERVE_SITE=True, MAX_CONTENT_LENGTH=256 * 1024)
    app.config.from_prefixed_env("PORTAL")
    if test_config:
        app.config.update(test_config)
    _redact_every_record()
    settings = settings_mod.load(app.config["PORTAL_ROOT"])
    app.extensions["portal.settings"] = settings
    proxies = settings.trusted_proxies
    if proxies:  # the client's address and scheme as the proxies in front of us saw them
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)
    Publisher(settings.out).recover()  # finish a publish a crashed build committed
    payweb.init(app, settings)
    if app.config["SERVE_SITE"]:
        _site_routes(app, settings.out)
    csp = ("default-src 'none'; style-src 'self'; img-src 'self'; script-src 'self'; "
           f"form-action 'self' {settings.checkout_origin}; frame-ancestors 'none'; base-uri 'none'")
    app.after_request(lambda resp: _security_headers(resp, csp))
    return app


def _site_routes(app: Flask, out: Path) -> None:
    @app.get("/", defaults={"path": ""})
    @app.get("/<path:path>")
    def site(path: str):
        wanted = path + "index.html" if path == "" or path.endswith("/") else path
        found = safe_join(str(out), wanted)  # never a file outside the site, whatever the path says
        if found is None:
            abort(404)
        try:
            if not wanted.endswith("index.html") and os.path.isdir(found):
                return redirect(request.path + "/", 308)
            if not os.path.isfile(found):
                abort(404)
        except OSError:  # a name too long for the file system, say: no such page
            abort(404)
        resp = send_file(found, max_age=0)
        if wanted.startswith("s/"):
            resp.headers["Cache-Control"] = "private, no-store"
        return resp

    @app.errorhandler(404)
    def not_found(_e):
        page = out / "404.html"
        body = page.read_text(encoding="utf-8") if page.exists() else "Not found"
        return body, 404, {"Content-Type": "text/html; charset=utf-8"}


def _security_headers(resp, csp: str):
    h = resp.headers
    h.setdefault("Content-Security-Policy", csp)
    h["Referrer-Policy"] = "no-referrer"
    h["X-Content-Type-Options"] = "nosniff"
    h["X-Frame-Options"] = "DENY"
    h["X-Robots-Tag"] = "noindex, nofollow"
    if request.is_secure:
        h["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
    return resp
