"""The order of day and month in a file's dates: decided from the whole file, never row by row.

With `date_formats = ["%d/%m/%Y", "%m/%d/%Y"]` a text such as 03/04/2021 reads both ways. Tried
row by row, 03/04/2021 became 3 April and 04/13/2021 13 April in the same file, without a word.
Formats that can read one text as two dates form a group; of each group, a file is read with the
one format that reads every date of the file the group reads. A file no single format of the
group reads (13/04/2021 beside 04/13/2021) is refused, and so is one whose dates all read both
ways to different days (no day above 12 settles it). Pure logic: the texts come from the caller.
"""
from __future__ import annotations

from datetime import date, datetime

from ..core.records import Problem

# Dates whose texts expose formats that swap day and month (or month and year): 4 March, 11 Dec.
_PROBES = (date(2021, 3, 4), date(2011, 12, 11), date(2012, 1, 10))


def _parse(text: str, fmt: str) -> date | None:
    try:
        return datetime.strptime(text, fmt).date()
    except ValueError:
        return None


def conflicting(formats: tuple[str, ...]) -> list[tuple[str, ...]]:
    """The groups of formats (in settings order) that read some text as two different dates; a
    format that conflicts with none is in no group. [] for the usual single format."""
    group_of = {f: {f} for f in formats}
    for i, a in enumerate(formats):
        for b in formats[i + 1:]:
            if any(_reads_differently(d.strftime(fmt), a, b) for d in _PROBES for fmt in (a, b)):
                merged = group_of[a] | group_of[b]
                for f in merged:
                    group_of[f] = merged
    seen, out = set(), []
    for f in formats:
        group = group_of[f]
        if len(group) > 1 and id(group) not in seen:
            seen.add(id(group))
            out.append(tuple(g for g in formats if g in group))
    return out


def _reads_differently(text: str, a: str, b: str) -> bool:
    da, db = _parse(text, a), _parse(text, b)
    return da is not None and db is not None and da != db


def decide(name: str, texts: dict[str, int], formats: tuple[str, ...],
           groups: list[tuple[str, ...]]) -> tuple[tuple[str, ...], list[Problem]]:
    """The formats to read a file with: `formats` less, in each group, all but the one that reads
    every date of the file the group reads. `texts`: each distinct date text of the file and the
    line it is first on. A problem (at that line) when no format of a group reads them all, or when
    several do and read some text as different days."""
    keep = list(formats)
    problems = []
    for group in groups:
        reads = {t: {f: d for f in group if (d := _parse(t, f)) is not None} for t in texts}
        family = {t: line for t, line in texts.items() if reads[t]}
        if not family:
            continue  # no date of this kind in the file: nothing to decide
        viable = [f for f in group if all(f in reads[t] for t in family)]
        if not viable:
            problems.append(_mixed(name, family, reads))
            continue
        first = viable[0]
        split = next((t for t in sorted(family, key=family.__getitem__)
                      if any(reads[t][f] != reads[t][first] for f in viable[1:])), None)
        if split is not None:
            problems.append(_unsettled(name, split, family[split], reads[split], viable))
            continue
        keep = [f for f in keep if f not in group or f == first]
    return tuple(keep), problems


def _day(d: date) -> str:
    return f"{d.day} {d:%B %Y}"


def _mixed(name: str, family: dict[str, int], reads: dict[str, dict[str, date]]) -> Problem:
    """Dates in two orders in one file: said at the later of two dates no one format reads both of
    (13/04/2021 only day-first, 04/13/2021 only month-first)."""
    ordered = sorted(family, key=family.__getitem__)
    one = next((t for t in ordered if len(reads[t]) == 1), ordered[0])
    other = next((t for t in ordered if not reads[t].keys() & reads[one].keys()), None)
    if other is None:  # three or more formats, each two sharing one: the first the first's cannot read
        other = next(t for t in ordered if not reads[one].keys() <= reads[t].keys())
    first, later = sorted((one, other), key=family.__getitem__)
    return Problem(name, family[later], f"date {later!r} is in another order than {first!r} on line {family[first]} "
                                        f"({first!r} reads only as {' or '.join(reads[first])}, {later!r} only as "
                                        f"{' or '.join(reads[later])}): a file's dates must all be in one order "
                                        "(export it again with one date format)")


def _unsettled(name: str, text: str, line: int, reads: dict[str, date], viable: list[str]) -> Problem:
    a = viable[0]
    b = next(f for f in viable[1:] if reads[f] != reads[a])
    return Problem(name, line, f"no date in this file settles the order of day and month: {text!r} is "
                               f"{_day(reads[a])} as {a} and {_day(reads[b])} as {b} (expected a date whose day "
                               "is above 12 somewhere in the file, or date_formats in content/settings.toml "
                               "naming only the order your export uses)")
