"""POST /pay/statement.pdf: one customer's statement as a PDF, made on demand behind the pay token.

The statement page's Download PDF form posts the same signed token as its pay form. The PDF is
what /pay would charge from: the customer's accounts as of today, read from the ledger
(lookup.LedgerView), printed through the page's own templates (build.pdf) by WeasyPrint
(build.pdf_writer) in the request's thread. At most PDF_CONCURRENCY renders at once per process
(one writer each; a request finding none free is told to try again), each PDF kept for its day
(build.pdf_cache). No request renders the site, forks, or makes more than one PDF.
"""
from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass, field
from datetime import date

from flask import Blueprint, Flask, current_app, request

from ..build.pdf import PdfComposer, PdfSource, pdf_filename
from ..build.pdf_cache import PdfCache
from ..build.pdf_writer import PdfWriter
from ..core.records import InputError
from ..ledger.settings import Settings
from .pay_routes import Asker, PayService, TokenCustomer, _page, token_customer
from .ratelimit import RateLimit

log = logging.getLogger("portal.pdf")
bp = Blueprint("pdf", __name__)
BUSY_RETRY_SECONDS = 5
STATEMENT = Asker("pdf", "statement link", "Statements")


@dataclass
class PdfService:
    """What the PDF route shares, attached to the app as `app.extensions["portal.pdf"]`."""

    composer: PdfComposer
    cache: PdfCache
    writers: queue.Queue[PdfWriter]  # one per render allowed at once: taking one is the semaphore
    addr_limit: RateLimit  # per client address
    customer_limit: RateLimit  # per customer (a pay token), whatever address it comes from
    renders: int = 0  # PDFs made rather than read from the cache (tests and logs read it)
    _count_lock: threading.Lock = field(default_factory=threading.Lock)

    def counted(self) -> None:
        """One more PDF made."""
        with self._count_lock:
            self.renders += 1


def init(app: Flask, settings: Settings) -> None:
    """Attach the PDF route to an app that has the payment service (pay_routes.init) already."""
    writers: queue.Queue[PdfWriter] = queue.Queue()
    for _ in range(max(1, int(app.config.get("PDF_CONCURRENCY", 2)))):
        writers.put(PdfWriter())
    app.extensions["portal.pdf"] = PdfService(
        composer=PdfComposer(settings), cache=PdfCache(settings.state_dir), writers=writers,
        addr_limit=RateLimit(app.config.get("PDF_RATE_LIMIT", 10), 60),
        customer_limit=RateLimit(app.config.get("PDF_CUSTOMER_RATE_LIMIT", 6), 60))
    app.register_blueprint(bp)


def _services() -> tuple[PayService, PdfService]:
    return current_app.extensions["portal.pay"], current_app.extensions["portal.pdf"]


def _too_many():
    return _page(429, "Too many attempts", ["Please wait a minute and try again."])


@bp.post("/pay/statement.pdf")
def statement_pdf():
    """The customer's statement as of today, as a PDF download; 403 for a token that is not good now."""
    pay, svc = _services()
    if not svc.addr_limit.allow(request.remote_addr or "?"):
        log.warning("pdf: rate limited %s", request.remote_addr)
        return _too_many()
    found = token_customer(pay, STATEMENT, svc.customer_limit)
    if not isinstance(found, TokenCustomer):
        return found
    customer, accounts, today, cid = found.customer, found.accounts, found.today, found.customer.id
    try:
        source = svc.composer.source(customer, accounts, today)
    except InputError as e:  # a template that does not render: the staff's to fix, said in the log
        log.error("pdf: the statement template does not render: %s", e)
        return _page(503, "The PDF is not available just now", ["Please try again later, or print the page."])
    data = svc.cache.get(cid, today, source.digest)
    if data is None:
        data = _render(svc, cid, today, source)
        if data is None:
            log.warning("pdf: busy, refused %s", cid)
            page = _page(503, "Busy: please try again", ["Many statements are being made just now. "
                                                          "Please try again in a few seconds."])
            return page[0], page[1], {**page[2], "Retry-After": str(BUSY_RETRY_SECONDS)}
    return data, 200, {
        "Content-Type": "application/pdf",
        "Content-Disposition": f'attachment; filename="{pdf_filename(customer.id, today)}"',
        "Cache-Control": "private, no-store",
    }


def _render(svc: PdfService, cid: str, today: date, source: PdfSource) -> bytes | None:
    """Make and keep the PDF with a free writer; None when every writer is busy (never waits)."""
    try:
        writer = svc.writers.get_nowait()
    except queue.Empty:
        return None
    try:
        data = writer.write(source, svc.composer.asset)
    finally:
        svc.writers.put(writer)
    svc.counted()
    svc.cache.put(cid, today, source.digest, data)
    log.info("pdf: made %s's statement (%d bytes)", cid, len(data))
    return data

