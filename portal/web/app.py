"""The Flask service: serves the built site (and, in production, only the payment routes)."""
from __future__ import annotations

import logging
import os
from pathlib import Path

from flask import Flask, abort, redirect, request, send_file
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.security import safe_join

from ..build.publish import Publisher
from ..ledger import settings as settings_mod
from . import messages as messageweb
from . import pay_routes as payweb
from . import pdf_routes
from .logs import _redact_every_record

log = logging.getLogger(__name__)


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
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)  # type: ignore[method-assign]
    Publisher(settings.out).recover()  # finish a publish a crashed build committed
    payweb.init(app, settings)
    messageweb.init(app, settings)
    pdf_routes.init(app, settings)
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
