"""PDFs already made, kept for the rest of their day: <state>/pdf/<day>/<customer>/<digest>.pdf.

A statement's PDF is keyed by its customer, its day and the digest of what it was made from
(pdf.PdfSource.digest), so a repeat download costs a file read and a changed ledger, template or
setting makes a new one. Files are written whole (a temporary file renamed); a customer keeps one file a
day (the newest), and other days' folders are removed when a new day's first PDF is kept.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import threading
from datetime import date
from pathlib import Path

FOLDER = "pdf"


class PdfCache:
    """Made PDFs on disk, per customer per day per content (thread-safe; each process prunes its own way)."""

    def __init__(self, state_dir: Path):
        self.root = state_dir / FOLDER
        self._pruned: date | None = None
        self._lock = threading.Lock()

    def path(self, customer_id: str, day: date, digest: str) -> Path:
        """Where a PDF is kept: the customer's id is hashed (ids come from a CSV: any text)."""
        who = hashlib.sha256(customer_id.encode()).hexdigest()[:24]
        return self.root / day.isoformat() / who / f"{digest[:40]}.pdf"

    def get(self, customer_id: str, day: date, digest: str) -> bytes | None:
        """The PDF kept for this customer, day and content, or None."""
        try:
            return self.path(customer_id, day, digest).read_bytes()
        except FileNotFoundError:
            return None

    def put(self, customer_id: str, day: date, digest: str, data: bytes) -> None:
        """Keep a PDF (replacing the customer's older one of the day), and drop other days' PDFs."""
        path = self.path(customer_id, day, digest)
        _write_whole(path, data)
        for old in path.parent.glob("*.pdf"):  # the customer's own folder: a file or two
            if old != path:
                old.unlink(missing_ok=True)
        self.prune(day)

    def prune(self, today: date) -> None:
        """Remove the folders of days other than `today` (once a day per process)."""
        with self._lock:
            if self._pruned == today:
                return
            self._pruned = today
        for folder in self.root.iterdir():
            if folder.is_dir() and folder.name != today.isoformat():
                shutil.rmtree(folder, ignore_errors=True)


def _write_whole(path: Path, data: bytes) -> None:
    """Write a file whole: readers see none or all of it. A temporary file of its own (two threads may
    keep the same PDF at once), renamed into place; not fsynced: a cache lost in a crash is made again."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
