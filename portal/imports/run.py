"""Importing the exports staff drop in content/exports/: detected, read, and written as ledger files.

Each `*.csv` in content/exports/ is recognised by its header (detect) and read with its preset
(convert); the result is written to content/imported/: an entry file per export and, from all of
them, customers.csv. The build reads content/imported/ beside the ledger folder, and takes its
customers.csv when the ledger folder has none (a staff customers.csv wins: it may add emails).
Exports are staff files and are only read. The folder is written whole or not at all, and only
when an export changed (a manifest of their digests); every problem is said at the export's line.
"""
from __future__ import annotations

import csv
import io
import json
import os
import shutil
from dataclasses import dataclass, field
from itertools import chain, islice
from pathlib import Path

from ..core.records import InputError, Problem
from ..ledger import reading as ledger
from ..ledger.settings import Settings, problem_at
from .convert import ENTRY_HEADER, HEADER_WITHIN, Converted, convert, find_header
from .profile import PRESETS, Profile, configured, for_file

MANIFEST = ".manifest.json"
VERSION = 1  # of what an import writes: a new one imports every export again


exports_dir = ledger.exports_dir


@dataclass
class Imported:
    """What an import did: the exports read (name -> preset), and what is worth saying."""

    presets: dict[str, str] = field(default_factory=dict)
    warnings: list[Problem] = field(default_factory=list)
    changed: bool = False


def detect(records: list[tuple[int, list[str]]]) -> list[Profile]:
    """The presets whose header this export has (the most specific first: most columns matched)."""
    found = [p for p in PRESETS.values() if find_header(records, p) is not None]
    return sorted(found, key=lambda p: -len(p.columns))


def read_export(path: Path, name: str) -> tuple[list[tuple[int, list[str]]], list[Problem]]:
    """An export's records, (line number, fields), as the csv module reads them."""
    lines, problems = ledger.read_lines(path, name)
    if problems:
        return [], problems
    found: list[Problem] = []
    records = [(i + 1, fields) for i, fields in ledger.records(lines, 0, name, found)]
    return records, found


def bring_up_to_date(settings: Settings) -> Imported:
    """Import the exports that changed since the last import (all of them again, as one). Raises
    InputError with every problem; content/imported/ is then left as it was."""
    source, target = exports_dir(settings), ledger.imported_dir(settings)
    files = sorted(source.glob("*.csv")) if source.is_dir() else []
    result = Imported()
    last = _manifest(target) or {}
    seen = last.get("sigs", {})  # an export hashed again only when its size or time moved
    sigs = {p.name: list(ledger.file_sig(p, seen.get(p.name))) for p in files}
    manifest = {"version": VERSION, "currency": settings.currency, "import": _jsonable(settings.import_profile),
                "files": {name: sig[2] for name, sig in sigs.items()}}
    if {k: v for k, v in last.items() if k != "sigs"} == manifest:
        if sigs != seen:  # touched, not changed: remember the new times
            (target / MANIFEST).write_text(json.dumps({**manifest, "sigs": sigs}, indent=1, sort_keys=True) + "\n")
        return result
    if not files:
        if target.exists():  # the exports were removed: so are their rows
            shutil.rmtree(target)
            result.changed = True
        return result
    profiles = _Profiles(settings)
    for path in files:
        profiles.of(path.name)
    if profiles.problems:
        raise InputError(profiles.problems)
    staging = target.with_name(f".{target.name}.new")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        problems: list[Problem] = []
        converted: dict[str, Converted] = {}
        for path in files:
            done = _import_one(settings, path, profiles.of(path.name), staging, len(files) > 1, result)
            problems += done.problems
            result.warnings += done.warnings
            converted[path.stem] = done
        customers: dict = {}
        for done in converted.values():
            for cid, c in done.customers.items():
                customers.setdefault(cid, c)
        problems += _clashes(converted, settings)
        if problems:
            raise InputError(problems)
        _csv(staging / ledger.CUSTOMERS, [("customer_id", "name", "email", "currency"),
                                          *((c.id, c.name, c.email, c.currency) for c in customers.values())])
        (staging / MANIFEST).write_text(json.dumps({**manifest, "sigs": sigs}, indent=1, sort_keys=True) + "\n")
        _swap(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    result.changed = True
    return result


class _Profiles:
    """The profile each export is read with: [import] (and [import.files."<pattern>"] for the files
    its pattern matches), or None to detect it; each table's problems once, at its line."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.problems: list[Problem] = []
        self.made: dict[str | None, Profile | None] = {}

    def of(self, name: str) -> Profile | None:
        pattern, given = for_file(self.settings.import_profile, name)
        if pattern not in self.made:
            where = ("import",) if pattern is None else ("import", "files", pattern)
            self.made[pattern], wrong = configured(given, "[import]" if pattern is None else
                                                   f'[import.files."{pattern}"]')
            self.problems += [problem_at(self.settings, "import", key, message, at=where) for key, message in wrong]
        return self.made[pattern]


def _import_one(settings: Settings, path: Path, own: Profile | None, staging: Path, track: bool,
                result: Imported) -> Converted:
    """One export read, its ledger rows written to staging as they are made (a million rows are not
    held); what it found in the Converted (problems, customers, and its numbers when `track`)."""
    name = ledger.rel(path, settings)
    done = Converted(numbers={} if track else None)
    lines, problems = ledger.read_lines(path, name)
    if problems:
        done.problems += problems
        return done
    records = ((i + 1, fields) for i, fields in ledger.records(lines, 0, name, done.problems))
    head = list(islice(records, HEADER_WITHIN))
    presets = [own] if own is not None else detect(head)  # [import] in the settings, else the header
    if not presets:
        done.problems.append(Problem(name, 1, "not an export this portal knows (expected one of: "
                                              f"{', '.join(p.title for p in PRESETS.values())}); see the README, "
                                              "'Importing exports', or describe it in [import]"))
        return done
    result.presets[path.name] = presets[0].name
    with open(staging / f"{path.stem}.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(ENTRY_HEADER)
        done.sink = lambda row, line: writer.writerow(row)
        convert(name, chain(head, records), presets[0], settings.currency, done)
    return done


def _clashes(converted: dict[str, Converted], settings: Settings) -> list[Problem]:
    """An invoice number in two exports (the same invoices exported twice): said at the later's line."""
    seen: dict[str, tuple[str, int]] = {}
    out = []
    for stem, done in converted.items():
        name = ledger.rel(exports_dir(settings) / f"{stem}.csv", settings)
        for number, line in (done.numbers or {}).items():
            first = seen.setdefault(number, (name, line))
            if first[0] != name:
                out.append(Problem(name, line, f"invoice number {number} is also in {first[0]}:{first[1]} "
                                               "(the same invoices exported twice? keep one export)"))
    return out


def _jsonable(value):
    """The settings' [import] as the manifest keeps it (tuples as lists, as JSON reads them back)."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in sorted(value.items())}
    return [_jsonable(v) for v in value] if isinstance(value, (list, tuple)) else value


def _manifest(target: Path) -> dict | None:
    try:
        found = json.loads((target / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def _swap(staging: Path, target: Path) -> None:
    """content/imported/ replaced whole by what was staged beside it."""
    old = target.with_name(f".{target.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        os.rename(target, old)
    os.rename(staging, target)
    shutil.rmtree(old, ignore_errors=True)


def _csv(path: Path, rows) -> None:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    path.write_text(out.getvalue(), encoding="utf-8")
