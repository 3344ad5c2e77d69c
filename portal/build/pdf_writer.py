"""HTML and print CSS to PDF bytes with WeasyPrint: the only module that imports it.

A writer keeps one FontConfiguration and its parsed stylesheets for every PDF it makes: reusing
them saved 15-25% of a small statement's time and most of the memory a fresh one per render leaks
(docs/pdf-measurements.md). A writer makes one PDF at a time; make one per thread that renders.
"""
from __future__ import annotations

import mimetypes
from collections.abc import Callable

import weasyprint  # type: ignore[import-untyped]
from weasyprint.text.fonts import FontConfiguration  # type: ignore[import-untyped]
from weasyprint.urls import URLFetcher, URLFetcherResponse  # type: ignore[import-untyped]

from .pdf import ASSETS_URL, BASE_URL, PdfSource

Assets = Callable[[str], bytes | None]  # an asset's name under assets/ -> its bytes, or None: not one of ours


class _OwnAssets(URLFetcher):
    """Serves the page's own assets and nothing else: no network, no other file. Its <link>ed
    stylesheets come back empty: the writer gives them parsed, in order (see STYLESHEETS)."""

    def __init__(self, assets: Assets):
        super().__init__(allowed_protocols=("https",), allow_redirects=False)
        self.assets = assets

    def fetch(self, url: str, headers: object = None) -> URLFetcherResponse:
        if url.startswith(ASSETS_URL):
            name = url[len(ASSETS_URL):]
            if name.endswith(".css"):
                return URLFetcherResponse(url, b"", {"Content-Type": "text/css"})
            data = self.assets(name)
            if data is not None:
                kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
                return URLFetcherResponse(url, data, {"Content-Type": kind})
        raise ValueError(f"not an asset of the statement: {url}")


class PdfWriter:
    """Makes PDFs one at a time, reusing its fonts and parsed stylesheets."""

    def __init__(self) -> None:
        self.fonts: FontConfiguration | None = None  # made on first use (fontconfig setup is not free)
        self.sheets: tuple[tuple[str, ...], list] = ((), [])

    def write(self, source: PdfSource, assets: Assets) -> bytes:
        """The PDF of a statement's HTML, printed with its stylesheets."""
        if self.fonts is None:
            self.fonts = FontConfiguration()
        if self.sheets[0] != source.stylesheets:
            self.sheets = (source.stylesheets, [weasyprint.CSS(string=text, base_url=BASE_URL, font_config=self.fonts)
                                                for text in source.stylesheets if text])
        html = weasyprint.HTML(string=source.html, base_url=BASE_URL, url_fetcher=_OwnAssets(assets))
        pdf: bytes = html.write_pdf(stylesheets=self.sheets[1], font_config=self.fonts)
        return pdf
