"""The build's hot modules, compiled to C by mypyc when the package is installed, and the guard that
imports their source instead whenever the compiled modules are not of that very source.

setup.py compiles MODULES (as they are: the same source, type-checked, made into C extension modules
beside it) and writes STAMP, the SHA-256 of each module's source it compiled. Where no compiler is
found the package installs as plain Python, with the same behaviour, slower: a full build of
100,000 customers spent 1.3 s less on two cores compiled (measured, docs/performance.md).

Python imports an extension module before a source file of the same name, so a compiled module
left beside a source edited since (an editable install) would run the old code. `install()`, run
when the package is imported, puts a finder first on the import path that imports the source of
every compiled module instead, unless all of them were compiled from the source as it is now and
PORTAL_NATIVE is not "0" (the test suite runs both ways: scripts/test.sh). All or none: compiled
modules call each other directly.
"""
from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import sys
from pathlib import Path

MODULES = (
    "portal.core.accounts",
    "portal.core.aging",
    "portal.core.cells",
    "portal.core.money",
    "portal.core.signing",
    "portal.ledger.checks",
    "portal.ledger.reading",
    "portal.build.aging_report",
    "portal.build.full",
    "portal.build.links",
    "portal.build.page",
    "portal.build.render",
    "portal.build.rows",
    "portal.build.state",
)
GROUP = "portal.compiled"  # mypyc's library of the compiled code: portal/compiled__mypyc.<abi>.so
STAMP = "compiled.json"  # beside this file: {module: SHA-256 of the source compiled}
PACKAGE = Path(__file__).resolve().parent
ENV = "PORTAL_NATIVE"  # "0": run the source even where compiled modules are fresh


def source_path(module: str, package: Path = PACKAGE) -> Path:
    """Where a compiled module's source is (`portal.core.money` -> portal/core/money.py)."""
    return package.joinpath(*module.split(".")[1:]).with_suffix(".py")


def digests(package: Path = PACKAGE) -> dict[str, str]:
    """Each compiled module's source, as SHA-256: what STAMP records at compile time."""
    return {m: hashlib.sha256(source_path(m, package).read_bytes()).hexdigest() for m in MODULES}


def compiled_modules(package: Path = PACKAGE) -> list[Path]:
    """The extension modules a compile left beside the sources (and mypyc's library)."""
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    return [p for p in package.rglob("*") if p.name.endswith(suffixes)]


def status(package: Path = PACKAGE, check_env: bool = True) -> str:
    """Which code runs: "compiled", or why the source does ("not compiled", "stale: …", "off: …");
    without `check_env`, whether the compiled modules could run here (PORTAL_NATIVE aside)."""
    if not compiled_modules(package):
        return "not compiled"
    try:
        stamp = json.loads((package / STAMP).read_text())
    except (OSError, ValueError):
        return f"stale: no {STAMP} (the last compile failed or was interrupted)"
    changed = [m for m, d in digests(package).items() if stamp.get(m) != d]
    if changed:
        return f"stale: {', '.join(changed)} edited since compiled (pip install again)"
    if check_env and os.environ.get(ENV) == "0":
        return f"off: {ENV}=0"
    return "compiled"


class _SourceFirst(importlib.abc.MetaPathFinder):
    """Finds a compiled module's source file where the compiled ones may not run (see the module)."""

    def __init__(self, package: Path = PACKAGE) -> None:
        self.package = package
        self.status: str | None = None  # status(), worked out at the first import of a compiled module

    def decided(self) -> str:
        if self.status is None:
            self.status = status(self.package)
        return self.status

    def find_spec(self, name, path=None, target=None):
        if name not in MODULES:
            return None
        if self.decided() == "compiled":
            return None  # the usual finders: the extension module comes first
        return importlib.util.spec_from_file_location(name, source_path(name, self.package))


def install() -> None:
    """Put the guard first on the import path, once (the package's __init__ calls it)."""
    if not any(isinstance(f, _SourceFirst) for f in sys.meta_path):
        sys.meta_path.insert(0, _SourceFirst())


def running() -> str:
    """Which code this process runs: status() as the guard worked it out (once) for its imports."""
    for finder in sys.meta_path:
        if isinstance(finder, _SourceFirst):
            return finder.decided()
    return status()
