"""Scanning a changed file: the same rows, hashes and places however many processes scan it."""
from __future__ import annotations

from array import array

import pytest

from portal.build import scan as sc
from portal.build.rows import line_offsets, rowhash
from portal.ledger import reading as ledger

HEADER = "date,customer_id,type,ref,amount,currency,due_date,applies_to,memo\n"


class Cols:
    customer_id = 1


def lines_of(rows: list[str]) -> list[str]:
    return (HEADER + "".join(rows)).splitlines(keepends=True)


def rows_of(n: int) -> list[str]:
    return [f"2026-10-{1 + i % 28:02d},K{i % 37},invoice,I-{i},{i}.00,,2026-11-30,,memo {i}\n" for i in range(n)]


class Found:
    """A scan's rows unpacked ({customer: [words]}), after checking each customer's sum of hashes."""

    def __init__(self, out: sc.Scanned):
        self.rows = {}
        for cid, packed in out.rows.items():
            words = array("Q")
            words.frombytes(packed)
            assert out.sums[cid] == sum(words[2::3])
            self.rows[cid] = list(words)
        assert out.sums.keys() == out.rows.keys()
        self.strays, self.problems = out.strays, out.problems


def scanned(lines, workers, monkeypatch, known=None):
    monkeypatch.setattr(sc, "PARALLEL_FROM_LINES", 10)
    known = known if known is not None else {f"K{i}" for i in range(37)}
    return Found(sc.scan_file(lines, 0, Cols, 3, known, "f.csv", workers=workers))


def test_a_file_cut_between_processes_scans_as_one_process_scans_it(monkeypatch):
    lines = lines_of(rows_of(1000))
    one, two = scanned(lines, 1, monkeypatch), scanned(lines, 2, monkeypatch)
    assert {k: list(v) for k, v in one.rows.items()} == {k: list(v) for k, v in two.rows.items()}
    offsets = line_offsets(lines, 0)
    packed = one.rows["K5"]
    first_line = packed[0] & 0xFFFFFFFF
    assert packed[0] >> 32 == 3 and packed[1] == offsets[first_line]
    assert packed[2] == rowhash(lines[first_line])


def test_rows_of_unknown_customers_come_back_to_be_reported(monkeypatch):
    lines = lines_of(rows_of(100))
    out = scanned(lines, 2, monkeypatch, known={"K1"})
    assert list(out.rows) == ["K1"] and len(out.rows["K1"]) == 3 * 3  # rows 1, 38 and 75: three words each
    assert len(out.strays) == 97 and all(s[0] >> 32 == 3 and s[1][1] != "K1" for s in out.strays)


def test_a_file_with_a_record_over_two_lines_is_not_cut(monkeypatch):
    rows = rows_of(60)
    rows[30] = '2026-10-03,K3,invoice,I-X,5.00,,2026-11-30,,"a memo\nover two lines"\n'
    lines = lines_of(rows)
    assert not sc.one_line_records(lines)
    one, two = scanned(lines, 1, monkeypatch), scanned(lines, 2, monkeypatch)
    assert {k: list(v) for k, v in one.rows.items()} == {k: list(v) for k, v in two.rows.items()}
    assert any((x & 0xFFFFFFFF) == 31 for x in one.rows["K3"][::3])


@pytest.mark.parametrize("workers", [1, 2])
def test_a_record_that_is_not_csv_is_a_problem_at_its_line(monkeypatch, workers):
    rows = rows_of(50)
    rows[20] = "2026-10-03,K3,invoice,I-Y,5.00,,2026-11-30,," + "x" * (ledger.csv.field_size_limit() + 5) + "\n"
    rows[40] = '2026-10-03,K4,invoice,I-Z,5.00,,2026-11-30,,"never closed\n'
    out = scanned(lines_of(rows), workers, monkeypatch)
    assert sorted(p.line for p in out.problems) == [22, 42]
    assert not any((x & 0xFFFFFFFF) in (21, 41) for rows_ in out.rows.values() for x in rows_[::3])


def test_many_files_spread_over_processes_scan_as_one_process_scans_them(monkeypatch):
    monkeypatch.setattr(sc, "PARALLEL_FROM_LINES", 10)
    files = [sc.FileScan(lines_of(rows_of(n)), 0, Cols, fno, f"f{fno}.csv") for fno, n in enumerate((300, 40, 900, 5))]
    files[1].lines[20] = '2026-10-03,K3,invoice,I-W,5.00,,2026-11-30,,"two\n'  # a record over two lines: one piece
    files[1].lines.insert(21, 'lines"\n')
    known = {f"K{i}" for i in range(37)}
    one, two = Found(sc.scan_files(files, known, workers=1)), Found(sc.scan_files(files, known, workers=2))
    assert {k: sorted(zip(v[::3], v[1::3], v[2::3], strict=True)) for k, v in one.rows.items()} == \
           {k: sorted(zip(v[::3], v[1::3], v[2::3], strict=True)) for k, v in two.rows.items()}
    assert sum(len(v) for v in one.rows.values()) == 3 * (300 + 40 + 900 + 5)


def test_plain_and_quoted_lines_mixed_scan_as_the_csv_module_reads_them(monkeypatch):
    """The loop for lines with no quote and the general one agree with a plain csv reading: each
    record's customer, line and hash; blank lines and rows of empty fields skipped; short rows strays."""
    rows = rows_of(40)
    rows[3] = '"2026-10-04",K4,invoice,I-Q,5.00,,2026-11-30,,"quoted, with a comma"\n'  # a quote before the id
    rows[7] = "\n"
    rows[8] = ",,,,,,,,\n"
    rows[9] = "2026-10-05\n"  # too few fields: no customer id
    rows[12] = '2026-10-03,K12,invoice,I-R,5.00,,2026-11-30,,"two\nlines"\n'
    rows[20] = "2026-10-03, K20 ,invoice,I-S,5.00,,2026-11-30,,spaces round the id\r\n"
    lines = lines_of(rows)
    expected: dict[str, list] = {}
    strays = []
    i = 1
    while i < len(lines):
        stop = ledger.scan(lines, i)[0]
        text = "".join(lines[i:stop])
        fields = next(ledger.csv.reader([text]))
        if any(f.strip() for f in fields):
            cid = fields[1].strip() if len(fields) > 1 else ""
            if cid.startswith("K"):
                expected.setdefault(cid, []).extend([(3 << 32) | i, line_offsets(lines, 0)[i], rowhash(text)])
            else:
                strays.append(i)
        i = stop
    for workers in (1, 2):
        out = scanned(lines, workers, monkeypatch)
        assert out.rows == expected and [s[0] & 0xFFFFFFFF for s in out.strays] == strays == [10]


def test_a_rows_hash_is_the_blake2b_64_of_its_text_without_its_line_break():
    """rows.rowhash copies one empty hash object for each row: the digest is still BLAKE2b-64 of
    the row (states saved before keep their meaning), whatever the line break."""
    from hashlib import blake2b
    for text in ["a,b,c", "2026-10-01,K1,invoice,I1,1.00,,,,\r\n", 'x,"multi\nline",y\n', "é,ü\n", "", "\n"]:
        expected = int.from_bytes(blake2b(text.rstrip("\r\n").encode(), digest_size=8).digest(), "little")
        assert rowhash(text) == expected
        assert rowhash(text) == expected  # the empty object copied is left as it was
    assert rowhash("a\n") == rowhash("a\r\n") == rowhash("a") != rowhash("b")
