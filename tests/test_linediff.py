"""Comparing a re-exported file with the copy as last indexed: the lines that changed, and only them."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as s

from portal.build import linediff

LINE = s.binary(max_size=7).map(lambda b: bytes(b"ab,\r\"x"[c % 6] for c in b))
EDIT = s.tuples(s.sampled_from(["replace", "insert", "remove"]), s.integers(0, 200), LINE)


@pytest.fixture
def monkeypatch_steps(monkeypatch):
    def set_steps(first: int, longest: int) -> None:
        monkeypatch.setattr(linediff, "_FIRST_STEP", first)
        monkeypatch.setattr(linediff, "_LONGEST_STEP", longest)
    return set_steps


def split_reference(old: bytes, new: bytes):
    """What changed_lines must say, by splitting both files whole (the obvious way, ~10x slower)."""
    a, b = old.split(b"\n"), new.split(b"\n")
    if len(a) != len(b):
        return None
    return [(i, x, y) for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y], len(a)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=s.lists(LINE, max_size=40), edits=s.lists(EDIT, max_size=5), newline_at_end=s.booleans(),
       step=s.sampled_from([(2, 8), (1, 1), (4096, 1 << 20)]))
def test_changed_lines_agree_with_splitting_both_files(monkeypatch_steps, lines, edits, newline_at_end, step):
    monkeypatch_steps(*step)  # tiny steps: every branch of the stretch-at-a-time compare, on short files
    old = b"\n".join(lines)
    now = list(lines)
    for kind, i, text in edits:
        if kind == "replace" and now:
            now[i % len(now)] = text
        elif kind == "insert":
            now.insert(i % (len(now) + 1), text)
        elif kind == "remove" and now:
            now.pop(i % len(now))
    new = b"\n".join(now) + (b"\n" if newline_at_end else b"")
    expected = split_reference(old, new)
    got = linediff.changed_lines(old, new)
    if expected is None:
        assert got is None  # a line more or fewer: never read as lines changed in place
        return
    if got is None:  # allowed only for a long run of changed lines (an insertion above them)
        assert any(len(expected[0][k:k + linediff.RUN_OF_CHANGES]) == linediff.RUN_OF_CHANGES
                   for k in range(len(expected[0])))
        return
    changed, count = got
    assert ([(c.line, c.was, c.now) for c in changed], count) == expected
    for c in changed:
        assert new[c.start:c.start + len(c.now)] == c.now


def test_a_line_inserted_at_the_top_of_a_long_file_is_not_read_as_every_line_changed():
    body = b"".join(b"2026-01-01,K%d,invoice,I-%d,10.00,,2026-02-01,,\r\n" % (i % 97, i) for i in range(20_000))
    header = b"date,customer_id,type,ref,amount,currency,due_date,applies_to,memo\r\n"
    inserted = header + b"2026-01-01,K1,invoice,NEW,1.00,,,,\r\n" + body[:-len(body.split(b"\n")[-2]) - 1]
    assert linediff.changed_lines(header + body, inserted) is None


def test_a_file_is_one_line_records_when_no_quote_spans_a_line_and_no_cr_is_lone():
    assert linediff.one_line_records(b"a,b\r\nc,d\r\n")
    assert linediff.one_line_records(b'a,"b, c"\n')
    assert not linediff.one_line_records(b'a,"b\nc"\n')  # a memo over two lines
    assert not linediff.one_line_records(b"a,b\rc,d\n")  # a lone CR ends a line for the reader
