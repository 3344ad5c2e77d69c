"""The incremental build rewrites the pages of customers whose rows changed, whatever file they are in."""
from __future__ import annotations

import csv
import random

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as s

HEADER = "date,customer_id,type,ref,amount,currency,due_date,applies_to,memo\n"


def ledger_rows(customers: int, per: int, seed: int = 1) -> list[str]:
    rnd = random.Random(seed)
    rows = []
    for c in range(customers):
        for k in range(per):
            day = f"2026-{rnd.randint(1, 10):02d}-{rnd.randint(1, 28):02d}"
            if k % 3 == 2:
                rows.append(f"{day},K{c},payment,P-{c}-{k},{rnd.randint(1, 90)}.{rnd.randint(0, 99):02d},,,,\n")
            else:
                due = f"2026-11-{rnd.randint(1, 28):02d}"
                rows.append(f"{day},K{c},invoice,I-{c}-{k},{rnd.randint(100, 900)}.00,,{due},,memo {k}\n")
    return rows


def customers_csv(n: int) -> str:
    return "customer_id,name,email,currency\n" + "".join(f"K{c},Customer {c},k{c}@x.example,USD\n" for c in range(n))


def pages(project) -> dict[str, bytes]:
    out = project.settings().out
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and p.name != ".publish-id"}  # which publish made it: not the site


def assert_a_full_build_makes_the_same(project) -> None:
    """The site and staff files as the incremental builds left them are what a full build makes."""
    incremental = pages(project), staff(project)
    project.build(full_build=True)
    assert (pages(project), staff(project)) == incremental


def page_mtimes(project) -> dict[str, int]:
    out = project.settings().out / "s"
    return {str(p.relative_to(out)): p.stat().st_mtime_ns for p in out.rglob("index.html")}


def staff(project) -> dict[str, bytes]:
    d = project.settings().staff_dir
    return {p.name: p.read_bytes() for p in sorted(d.iterdir()) if p.is_file()}


def test_a_whole_ledger_re_exported_with_its_rows_reordered_rewrites_no_page(project):
    project.write("customers.csv", customers_csv(30))
    rows = ledger_rows(30, 6)
    rows[3] = rows[3].rstrip("\n").rsplit(",", 1)[0] + ',"memo, with a comma"\n'  # quoted: read by the csv module
    rows[9] = rows[9].rstrip("\n").rsplit(",", 1)[0] + ',"a memo\nover two lines"\n'  # a record of two lines
    project.write("export.csv", HEADER + "".join(rows))
    project.build()
    before, times = pages(project), page_mtimes(project)
    random.Random(7).shuffle(rows)
    project.write("export.csv", HEADER + "".join(rows))  # the same rows, another order, another file size? no
    r = project.build()
    assert (r.mode, r.written) == ("incremental", 0)
    assert pages(project) == before and page_mtimes(project) == times


def test_one_row_changed_in_a_big_export_rewrites_that_customers_page_and_the_staff_files(project):
    project.write("customers.csv", customers_csv(200))
    rows = ledger_rows(200, 5)
    project.write("export.csv", HEADER + "".join(rows))
    project.build()
    before, links = pages(project), staff(project)["links.csv"]
    i = next(n for n, row in enumerate(rows) if ",K57,invoice," in row)
    rows[i] = rows[i].replace(",K57,invoice,", ",K57,invoice,").replace(".00,", ".50,", 1)
    project.write("export.csv", HEADER + "".join(rows))
    r = project.build()
    after = pages(project)
    assert (r.mode, r.written) == ("incremental", 1)
    changed = [k for k in after if after[k] != before.get(k)]
    assert len(changed) == 1 and "Customer 57" in after[changed[0]].decode()
    old, new = links.decode().splitlines(), staff(project)["links.csv"].decode().splitlines()
    assert [(a, b) for a, b in zip(old, new, strict=True) if a != b] == [
        (a, b) for a, b in zip(old, new, strict=True) if a.startswith("K57,")]  # its line, and only its line
    assert next(b for b in new if b.startswith("K57,")) != next(a for a in old if a.startswith("K57,"))


def test_rows_moved_between_files_rewrite_nothing(project):
    project.write("customers.csv", customers_csv(20))
    rows = ledger_rows(20, 6)
    project.write("2026-h1.csv", HEADER + "".join(r for r in rows if r[5:7] <= "06"))
    project.write("2026-h2.csv", HEADER + "".join(r for r in rows if r[5:7] > "06"))
    project.build()
    before = pages(project)
    (project.ledger / "2026-h1.csv").unlink()
    (project.ledger / "2026-h2.csv").unlink()
    project.write("2026-q1-q2.csv", HEADER + "".join(r for r in rows if r[5:7] <= "03"))  # re-cut by quarter
    project.write("2026-q2-q4.csv", HEADER + "".join(r for r in rows if r[5:7] > "03"))
    r = project.build()
    assert (r.mode, r.written) == ("incremental", 0) and pages(project) == before


def test_a_new_billing_run_file_renders_only_its_customers(project):
    project.write("customers.csv", customers_csv(40))
    project.write("export.csv", HEADER + "".join(ledger_rows(40, 4)))
    project.build()
    project.write("run.csv", HEADER + "2026-11-02,K3,invoice,RUN-3,10.00,,2026-12-02,,\n"
                                      "2026-11-02,K9,invoice,RUN-9,10.00,,2026-12-02,,\n")
    r = project.build()
    assert (r.mode, r.written) == ("incremental", 2)


EDITS = s.lists(s.tuples(s.sampled_from(["amount", "delete", "add", "move", "shuffle", "customer", "new-file"]),
                         s.integers(0, 10_000)), min_size=1, max_size=5)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=EDITS)
@example(edits=[("new-file", 0), ("move", 2), ("new-file", 0)])  # once gave R-0 twice: a.csv and a new run-0.csv
def test_an_incremental_build_after_any_edits_gives_the_site_a_full_build_gives(tmp_path_factory, edits):
    from conftest import Project
    project = Project(tmp_path_factory.mktemp("p") / "proj")
    n = 12
    project.write("customers.csv", customers_csv(n))
    files = {"a.csv": ledger_rows(n, 3, 1), "b.csv": ledger_rows(n, 2, 2)}
    files["b.csv"] = [r.replace("I-", "J-").replace("P-", "Q-") for r in files["b.csv"]]  # refs unique across files
    for name, rows in files.items():
        project.write(name, HEADER + "".join(rows))
    project.build()
    extra = 0
    for kind, x in edits:
        name = sorted(files)[x % len(files)]
        rows = files[name]
        if kind == "amount" and rows:
            i = x % len(rows)
            parts = rows[i].split(",")
            parts[4] = f"{int(parts[4].split('.')[0]) + 1}.{parts[4].split('.')[1]}"
            rows[i] = ",".join(parts)
        elif kind == "delete" and rows:
            rows.pop(x % len(rows))
        elif kind == "add":
            extra += 1
            rows.append(f"2026-10-{1 + x % 28:02d},K{x % n},invoice,X-{extra}-{x},{10 + x % 90}.00,,2026-11-30,,\n")
        elif kind == "move" and len(files) > 1 and rows:
            row = rows.pop(x % len(rows))
            files[sorted(files)[(x + 1) % len(files)]].append(row)
        elif kind == "shuffle":
            random.Random(x).shuffle(rows)
        elif kind == "customer":
            text = customers_csv(n).replace(f"Customer {x % n},", f"Customer {x % n} Ltd,")
            project.write("customers.csv", text)
        elif kind == "new-file":  # a ref of its own: a row of an earlier run-{x}.csv may have moved elsewhere
            extra += 1
            files[f"run-{x}.csv"] = [f"2026-11-0{1 + x % 9},K{x % n},invoice,R-{extra}-{x},12.00,,2026-12-01,,\n"]
        for f, rs in files.items():
            project.write(f, HEADER + "".join(rs))
        project.build()  # incremental after each edit
    assert_a_full_build_makes_the_same(project)


def test_the_payment_service_file_growing_renders_only_the_payers(project):
    from datetime import date
    from decimal import Decimal

    from portal.pay.payment_log import Journal, Row
    project.write("customers.csv", customers_csv(30))
    project.write("export.csv", HEADER + "".join(ledger_rows(30, 3)))
    project.build()
    Journal(project.ledger).record([Row(date(2026, 11, 20), "K4", "payment", "pi_1", Decimal("5.00"), "USD")])
    r = project.build()
    assert (r.mode, r.written) == ("incremental", 1)




LINE_EDITS = s.lists(s.tuples(s.sampled_from(["amount", "longer-amount", "memo", "quoted-memo", "customer", "ref",
                                              "nothing"]), s.integers(0, 10_000)), min_size=1, max_size=6)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=LINE_EDITS, crlf=s.booleans())
def test_a_whole_ledger_re_exported_with_rows_edited_in_place_is_read_by_comparing_lines(tmp_path_factory, edits,
                                                                                        crlf):
    """The re-export staff make each billing run: the same rows on the same lines, a few edited
    (amounts of another length, memos, a row moved to another customer). Each rebuild compares lines
    with the copy the last build kept (result.compared), and gives the site a full build gives."""
    from conftest import Project
    project = Project(tmp_path_factory.mktemp("p") / "proj")
    n = 15
    project.write("customers.csv", customers_csv(n))
    rows = ledger_rows(n, 4, 3)
    end = "\r\n" if crlf else "\n"

    def write():
        (project.ledger / "export.csv").write_bytes((HEADER + "".join(rows)).replace("\n", end).encode())

    write()
    project.build()
    for kind, x in edits:
        i = x % len(rows)
        parts = next(csv.reader([rows[i].rstrip("\n")]))
        if kind in ("amount", "longer-amount"):
            whole, cents = parts[4].split(".")
            parts[4] = f"{int(whole) * (1000 if kind == 'longer-amount' else 1) + 1}.{cents}"
        elif kind == "memo":
            parts[8] = "memo " + "x" * (x % 40)
        elif kind == "quoted-memo":
            parts[8] = f"memo, with a comma {x}"
        elif kind == "customer" and parts[2] == "payment":
            parts[1] = f"K{x % n}"  # a payment recorded against another customer
        elif kind == "ref" and parts[2] == "payment":
            parts[3] = f"P-moved-{x}"
        edited = ",".join(f'"{p}"' if "," in p else p for p in parts) + "\n"
        if edited == rows[i]:
            continue  # this edit does not apply to this row
        rows[i] = edited
        write()
        r = project.build()
        assert r.mode == "incremental" and r.compared == ["content/ledger/export.csv"]
    assert_a_full_build_makes_the_same(project)


def test_a_re_export_with_a_row_inserted_is_scanned_and_still_right(project):
    project.write("customers.csv", customers_csv(10))
    rows = ledger_rows(10, 3)
    project.write("export.csv", HEADER + "".join(rows))
    project.build()
    rows.insert(4, "2026-10-05,K2,invoice,NEW-1,55.00,,2026-11-30,,\n")  # every line after it moves
    project.write("export.csv", HEADER + "".join(rows))
    r = project.build()
    assert (r.mode, r.written, r.compared) == ("incremental", 1, [])
    incremental = pages(project)
    project.build(full_build=True)
    assert pages(project) == incremental


def test_a_changed_line_naming_an_unknown_customer_is_scanned_and_said(project):
    from portal.core.records import InputError
    project.write("customers.csv", customers_csv(5))
    rows = ledger_rows(5, 3)
    project.write("export.csv", HEADER + "".join(rows))
    project.build()
    rows[2] = rows[2].replace(",K0,", ",K99,")
    project.write("export.csv", HEADER + "".join(rows))
    import pytest
    with pytest.raises(InputError) as e:
        project.build()
    assert any("K99" in str(p) for p in e.value.problems)


def assert_scanned_and_right(project, rows: list[str]) -> None:
    """export.csv re-exported as `rows`: read by the scan, not by comparing lines, to the site and
    staff files a full build makes."""
    project.write("export.csv", HEADER + "".join(rows))
    r = project.build()
    assert r.mode == "incremental" and r.compared == []
    assert_a_full_build_makes_the_same(project)


def test_a_changed_line_opening_a_record_over_two_lines_is_scanned_and_still_right(project):
    project.write("customers.csv", customers_csv(6))
    rows = ledger_rows(6, 3)
    project.write("export.csv", HEADER + "".join(rows))
    project.build()
    assert rows[1].endswith(",memo 1\n")
    rows[1] = rows[1].replace(",memo 1\n", ',"a memo\n')  # its quote closes a line later: the payment below
    rows[2] = 'over two lines"\n'  # is now the rest of that memo
    assert_scanned_and_right(project, rows)


def test_a_full_build_leaves_a_spare_file_the_next_build_stages_a_page_in(project):
    import os

    from portal.build.publish import Publisher
    project.write("customers.csv", customers_csv(60))
    rows = ledger_rows(60, 2)
    project.write("export.csv", HEADER + "".join(rows))
    project.build()
    spares = Publisher(project.settings().out).spares
    left = {os.stat(spares / n).st_ino for n in os.listdir(spares)}
    assert len(left) == 1  # 2% of 60 pages
    rows[0] = rows[0].replace(".00,", ".01,", 1)
    project.write("export.csv", HEADER + "".join(rows))
    assert project.build().written == 1
    page = project.settings().out / "s"
    assert {p.stat().st_ino for p in page.rglob("index.html")} & left  # the changed page, in the spare


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=s.lists(s.tuples(s.integers(0, 2), s.integers(0, 10_000), s.booleans()), min_size=1, max_size=6),
       insert_into=s.one_of(s.none(), s.integers(0, 2)))
def test_every_monthly_file_re_exported_is_read_by_comparing_lines(tmp_path_factory, edits, insert_into):
    """Staff re-export all their monthly files each billing run, a few rows edited in each: every
    file is compared with its copy, one after another (a customer has rows in several), and the site
    and staff files are what a full build makes. A row inserted in one file sends them all to the scan."""
    from conftest import Project
    project = Project(tmp_path_factory.mktemp("p") / "proj")
    n = 50  # 150 rows a file: six edits in one are under linediff.MAX_CHANGED_SHARE
    project.write("customers.csv", customers_csv(n))
    months = [[r.replace(",I-", f",I{seed}-").replace(",P-", f",P{seed}-") for r in ledger_rows(n, 3, seed)]
              for seed in (1, 2, 3)]  # invoice numbers of each month its own

    def write():
        for k, rows in enumerate(months):
            project.write(f"2026-{k + 1:02d}.csv", HEADER + "".join(rows))

    write()
    project.build()
    touched = set()
    for k, x, longer in edits:
        rows = months[k]
        i = x % len(rows)
        parts = rows[i].rstrip("\n").split(",")
        whole, cents = parts[4].split(".")
        parts[4] = f"{int(whole) * (100 if longer else 1) + 1}.{cents}"
        rows[i] = ",".join(parts) + "\n"
        touched.add(k)
    if insert_into is not None:
        months[insert_into].insert(2, "2026-10-05,K2,invoice,NEW-1,55.00,,2026-11-30,,\n")
        touched.add(insert_into)
    write()
    r = project.build()
    names = [f"content/ledger/2026-{k + 1:02d}.csv" for k in sorted(touched)]
    assert r.mode == "incremental" and r.compared == ([] if insert_into is not None else names)
    assert_a_full_build_makes_the_same(project)


def test_a_file_with_a_record_over_two_lines_gets_no_copy_and_is_scanned(project):
    project.write("customers.csv", customers_csv(6))
    rows = ledger_rows(6, 3)
    rows[1] = rows[1].replace(",memo 1\n", ',"a memo\nover two lines"\n')
    project.write("export.csv", HEADER + "".join(rows))
    project.build()
    copies = project.settings().state_dir / "copies"
    assert not copies.exists() or not any(copies.iterdir())  # only one-line files are compared
    rows[4] = rows[4].replace(".00,", ".01,", 1)
    assert_scanned_and_right(project, rows)


def test_a_small_change_saves_the_state_as_deltas_until_they_grow_past_a_tenth(project):
    from portal.build import state as st
    project.write("customers.csv", customers_csv(40))
    rows = ledger_rows(40, 2)
    project.write("export.csv", HEADER + "".join(rows))
    project.build()
    state_dir = project.settings().state_dir
    whole = {p.name: p.stat().st_ino for p in state_dir.glob("build-*.marshal")}
    assert len(whole) == 2 and not list(state_dir.glob("*.delta"))
    for k in range(3):  # three customers, one build each: deltas on the same whole files
        rows[2 * k] = rows[2 * k].replace(".00,", ".01,", 1)
        project.write("export.csv", HEADER + "".join(rows))
        assert project.build().written == 1
        assert {p.name: p.stat().st_ino for p in state_dir.glob("build-*.marshal")} == whole
        assert len(list(state_dir.glob("*.delta"))) == 2
    head = st.load_head(state_dir)
    body = st.load_body(state_dir, head)
    incremental = pages(project), staff(project)
    project.build(full_build=True)  # written whole: the deltas go
    assert not list(state_dir.glob("*.delta"))
    assert st.load_body(state_dir, st.load_head(state_dir)) == body  # what the deltas gave is what is there
    assert (pages(project), staff(project)) == incremental
    for k in range(5):  # five more customers changed at once: more than a tenth of 40, written whole
        rows[2 * k + 10] = rows[2 * k + 10].replace(".00,", ".02,", 1)
    project.write("export.csv", HEADER + "".join(rows))
    assert project.build().written == 5 and not list(state_dir.glob("*.delta"))


def test_a_delta_written_on_other_whole_files_is_not_applied(project):
    from portal.build import state as st
    project.write("customers.csv", customers_csv(40))
    rows = ledger_rows(40, 2)
    project.write("export.csv", HEADER + "".join(rows))
    project.build()
    state_dir = project.settings().state_dir
    kept = {p.name: p.read_bytes() for p in state_dir.glob("build-*.marshal")}
    rows[0] = rows[0].replace(".00,", ".01,", 1)
    project.write("export.csv", HEADER + "".join(rows))
    project.build()
    import marshal
    fmt, _, records = marshal.loads(kept["build-pages.marshal"])
    (state_dir / "build-pages.marshal").write_bytes(marshal.dumps((fmt, "another build's", records)))
    assert st.load_body(state_dir, st.load_head(state_dir)) is None  # not this head's: a full build next
    assert project.build().mode == "no change"
    rows[2] = rows[2].replace(".00,", ".01,", 1)
    project.write("export.csv", HEADER + "".join(rows))
    r = project.build()
    assert r.mode == "full"
    incremental = pages(project)
    project.build(full_build=True)
    assert pages(project) == incremental
