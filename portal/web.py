"""The Flask service: serves the built site (and, in production, only the payment routes)."""
from __future__ import annotations

import logging
import re
from pathlib import Path

from flask import Flask, abort, redirect, request, send_from_directory

from . import payweb, settings as settings_mod
from .publish import Publisher

log = logging.getLogger(__name__)


TOKEN_IN_PATH = re.compile(r"/s/[^/\s\"?]+")


class RedactTokens(logging.Filter):
    """Statement URLs are credentials: access logs show /s/[token] instead of the token."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.args = tuple(TOKEN_IN_PATH.sub("/s/[token]", a) if isinstance(a, str) else a
                                for a in record.args)
        if isinstance(record.msg, str):
            record.msg = TOKEN_IN_PATH.sub("/s/[token]", record.msg)
        return True


def _quiet_secrets() -> None:
    """No tokens, keys or payment details in logs (the SDK's DEBUG output carries request bodies)."""
    logging.getLogger("stripe").setLevel(logging.INFO)
    werkzeug_log = logging.getLogger("werkzeug")
    if not any(isinstance(f, RedactTokens) for f in werkzeug_log.filters):
        werkzeug_log.addFilter(RedactTokens())


def create_app(test_config: dict | None = None) -> Flask:
    """App factory: settings from the project root (PORTAL_ROOT or the working directory), then overrides."""
    app = Flask(__name__, static_folder=None)
    app.config.from_mapping(PORTAL_ROOT=".", SERVE_SITE=True, MAX_CONTENT_LENGTH=256 * 1024)
    app.config.from_prefixed_env("PORTAL")
    if test_config:
        app.config.update(test_config)
    _quiet_secrets()
    settings = settings_mod.load(app.config["PORTAL_ROOT"])
    app.extensions["portal.settings"] = settings
    Publisher(settings.out).recover()  # finish a publish a crashed build committed
    payweb.init(app, settings)
    if app.config["SERVE_SITE"]:
        _site_routes(app, settings.out)
    csp = ("default-src 'none'; style-src 'self'; img-src 'self'; "
           f"form-action 'self' {settings.checkout_origin}; frame-ancestors 'none'; base-uri 'none'")
    app.after_request(lambda resp: _security_headers(resp, csp))
    return app


def _site_routes(app: Flask, out: Path) -> None:
    @app.get("/", defaults={"path": ""})
    @app.get("/<path:path>")
    def site(path: str):
        if path == "" or path.endswith("/"):
            path += "index.html"
        elif (out / path).is_dir():
            return redirect(request.path + "/", 308)
        if not (out / path).is_file():
            abort(404)
        resp = send_from_directory(out, path, max_age=0)
        if path.startswith("s/"):
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
