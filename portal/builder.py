"""The build, start to end: settings → ledger → statements → the published site and staff files."""
from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

from . import state as st
from .fullbuild import full
from .incremental import incremental
from .publish import Publisher
from .settings import Settings
from .signing import Signer, load_keys
from .site import content_pages, input_files
from .staff import write_links

# Code whose change alters the pages: part of every page's inputs.
CODE = ("accounts.py", "site.py", "money.py", "ledger.py", "model.py", "signing.py", "fullbuild.py")


@dataclass
class Result:
    """What a build did, for the summary."""

    mode: str = "full"
    customers: int = 0
    written: int = 0
    deleted: int = 0
    receivables: dict = field(default_factory=dict)  # currency -> (balance, overdue)
    seconds: float = 0.0
    rolled_forward: bool = False

    @property
    def unchanged(self) -> int:
        return max(self.customers - self.written, 0) if self.mode != "full" else 0


def state_path(settings: Settings) -> Path:
    return settings.state_dir / "build-state.pickle"


def build(settings: Settings, as_of: date | None = None, full_build: bool = False, workers: int | None = None,
          progress=None) -> Result:
    """Build or bring up to date the public site and staff files. Raises InputError on bad input."""
    started = time.perf_counter()
    as_of = as_of or date.today()
    publisher = Publisher(settings.out)
    result = Result(rolled_forward=publisher.recover())
    signer = Signer(load_keys(settings.state_dir))
    pages = content_pages(settings)
    gdigest = global_digest(settings, as_of, signer)
    old = None if full_build else st.load(state_path(settings))
    if old and (old.global_digest != gdigest or old.out != str(settings.out) or not settings.out.is_dir()):
        old = None
    done = incremental(settings, as_of, gdigest, signer, pages, publisher, old) if old else None
    if done is None:
        new, result.written, result.deleted = full(settings, as_of, gdigest, signer, pages, publisher,
                                                   workers, progress)
        changed = True
    else:
        new, result.written, result.deleted, changed = done
        result.mode = "incremental"
    if changed:
        st.save(state_path(settings), new)
        if result.written or result.deleted or result.mode == "full":
            write_links(settings, new.pages)
    result.customers = len(new.pages)
    result.receivables = receivables(new.pages)
    result.seconds = time.perf_counter() - started
    return result


def check(settings: Settings, as_of: date | None = None, workers: int | None = None) -> int:
    """Read and validate everything, write nothing. Returns the number of customers."""
    signer = Signer(load_keys(settings.state_dir))
    new, _, _ = full(settings, as_of or date.today(), "", signer, [], None, workers)
    return len(new.customer_lines)


def global_digest(settings: Settings, as_of: date, signer: Signer) -> str:
    """A digest of everything every page depends on besides its own rows."""
    h = hashlib.sha256()
    h.update(f"{as_of}|{settings.out}|{signer.link_token('', 0)}\n".encode())
    h.update(settings.raw.encode())
    here = Path(__file__).parent
    for p in [here / c for c in CODE] + input_files(settings):
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def receivables(pages: dict) -> dict:
    """Total balance and overdue per currency."""
    out: dict[str, list] = {}
    for p in pages.values():
        for cur, (bal, overdue) in p.balances.items():
            t = out.setdefault(cur, [Decimal(0), Decimal(0)])
            t[0] += bal
            t[1] += overdue
    return {k: tuple(v) for k, v in sorted(out.items())}
