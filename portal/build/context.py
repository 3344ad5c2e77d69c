"""What one build is: the settings, the statement date, the keys, what every page shares, where
the pages go. Built once by run.py and handed whole to the full and the incremental build."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from ..core.signing import Signer
from ..ledger.settings import Settings
from .linediff import CopyWriter
from .publish import Publisher


@dataclass
class Context:
    settings: Settings
    as_of: date
    signer: Signer
    global_digest: str = ""  # run.global_digest: "" when nothing is published (a check, a report)
    pages: list = field(default_factory=list)  # the content pages (render.content_pages)
    publisher: Publisher | None = None  # None: read and check only, publish nothing
    workers: int | None = None  # None: one per core; 1: in this process (the payment service)
    # What is wrong with rows the payment service recorded: said, never a reason to refuse a build.
    warnings: list = field(default_factory=list)
    # Entry files this build read whole as bytes ({rel path: bytes}): kept as the copies linediff
    # compares the next version of each with.
    read: dict = field(default_factory=dict)
    # Writes the copies of those files in a thread as soon as they are compared (None: at the end).
    copies: CopyWriter | None = None
