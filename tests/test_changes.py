"""What changed since the last build, and the work done beside finding it out (hashing, copies)."""
from __future__ import annotations

import hashlib
import os
import threading

import pytest

from portal.build import linediff
from portal.build import state as st
from portal.build.changes import changed_inputs
from portal.core.records import InputError
from portal.ledger.reading import file_sig

CUSTOMERS = "customer_id,name,email,currency\nA1,Ann,a@x.example,USD\nB2,Bob,b@x.example,USD\n"
HEADER = "date,customer_id,type,ref,amount,currency,due_date,applies_to,memo\n"
ROWS = ("2026-10-01,A1,invoice,I-1,100.00,,2026-11-30,,\n"
        "2026-10-02,B2,invoice,I-2,200.00,,2026-11-30,,\n"
        + "".join(f"2026-10-{d:02d},A1,invoice,I-1{d},{d}.00,,2026-11-30,,\n" for d in range(3, 28)))


def build_threads() -> list[str]:
    """The hashing and copy-writing threads still running (other tests' servers may be)."""
    return [t.name for t in threading.enumerate() if t.name in ("portal-hash", "portal-copies")]


def built(project):
    project.write("customers.csv", CUSTOMERS)
    project.write("entries.csv", HEADER + ROWS)
    project.build()
    s = project.settings()
    return s, st.load_head(s.state_dir)


def test_a_changed_file_is_hashed_in_another_thread_while_meanwhile_runs(project):
    s, head = built(project)
    project.write("entries.csv", HEADER + ROWS.replace("100.00", "150.00"))
    seen = []

    def meanwhile():
        seen.append([t.name for t in threading.enumerate()])

    changes = changed_inputs(s, head, meanwhile)
    assert len(seen) == 1 and "portal-hash" in seen[0]
    assert changes.changed == ["content/ledger/entries.csv"]
    assert changes.sigs == changed_inputs(s, head).sigs  # the same answer as hashing in this thread
    assert changes.data == changed_inputs(s, head).data
    assert not build_threads()


def test_nothing_moved_means_no_thread_and_meanwhile_is_not_run(project):
    s, head = built(project)
    calls = []
    changes = changed_inputs(s, head, lambda: calls.append(1))
    assert calls == [] and not changes.any


def test_a_failure_meanwhile_is_raised_after_the_hashing_thread_ends(project):
    s, head = built(project)
    project.write("entries.csv", HEADER + ROWS + "2026-10-03,A1,payment,P-1,10.00,,,I-1,\n")

    def meanwhile():
        raise OSError("the state could not be read")

    with pytest.raises(OSError, match="the state could not be read"):
        changed_inputs(s, head, meanwhile)
    assert not build_threads()


def test_a_failure_while_hashing_is_raised_in_the_callers_thread(project):
    s, head = built(project)
    (project.ledger / "entries.csv").unlink()
    (project.ledger / "entries.csv").mkdir()  # listed as an entry file, but not one to read
    with pytest.raises(OSError):
        changed_inputs(s, head, lambda: None)
    assert not build_threads()


def test_the_copy_writer_writes_each_copy_under_its_digest(tmp_path):
    data = (HEADER + ROWS).encode()
    digest = hashlib.sha256(data).hexdigest()
    writer = linediff.CopyWriter(tmp_path / "state")
    writer.start({digest: data})
    writer.join()
    assert linediff.copy_of(tmp_path / "state", digest).read_bytes() == data
    assert not build_threads()


def test_a_copy_the_writer_cannot_write_is_left_to_keep_copies(tmp_path):
    (tmp_path / "state").write_text("a file where the state folder should be")
    writer = linediff.CopyWriter(tmp_path / "state")
    writer.start({"0" * 64: b"x\n"})
    writer.join()  # no exception from the thread: keep_copies writes it at the end and says what stops it
    assert (tmp_path / "state").is_file()


def test_an_incremental_build_that_compared_lines_leaves_the_new_copy_and_no_thread(project):
    built(project)
    new = HEADER + ROWS.replace("200.00", "250.00")  # one line of 28: compared, not scanned
    project.write("entries.csv", new)
    r = project.build()
    assert r.mode == "incremental" and r.compared == ["content/ledger/entries.csv"]
    copies = linediff.copies_dir(project.settings().state_dir)
    assert [p.name for p in copies.iterdir()] == [hashlib.sha256(new.encode()).hexdigest() + ".lines"]
    assert (copies / f"{hashlib.sha256(new.encode()).hexdigest()}.lines").read_bytes() == new.encode()
    assert not build_threads()


def test_a_full_build_leaves_a_copy_of_each_entry_file_as_indexed(project):
    built(project)
    data = (project.ledger / "entries.csv").read_bytes()
    copies = linediff.copies_dir(project.settings().state_dir)
    assert [p.name for p in copies.iterdir()] == [hashlib.sha256(data).hexdigest() + ".lines"]
    assert (copies / f"{hashlib.sha256(data).hexdigest()}.lines").read_bytes() == data


@pytest.mark.parametrize("workers", [1, 2])
def test_a_full_build_makes_its_copies_as_it_goes_and_removes_the_last_ones_only_once_saved(project, workers):
    """The copies are made while the workers work; the last build's are removed with the state
    saved, so a full build that fails keeps the state and copies that go together."""
    project.write("customers.csv", CUSTOMERS)
    project.write("entries.csv", HEADER + ROWS)
    project.build(full_build=True, workers=workers)
    copies = linediff.copies_dir(project.settings().state_dir)
    first = hashlib.sha256((HEADER + ROWS).encode()).hexdigest() + ".lines"
    bad = HEADER + ROWS + "2026-10-28,A1,invoice,I-99,ten,,2026-11-30,,\n"
    project.write("entries.csv", bad)
    with pytest.raises(InputError):
        project.build(full_build=True, workers=workers)
    assert first in {p.name for p in copies.iterdir()}  # the saved state's copy is still there
    good = HEADER + ROWS.replace("200.00", "250.00")
    project.write("entries.csv", good)
    project.build(full_build=True, workers=workers)
    assert [p.name for p in copies.iterdir()] == [hashlib.sha256(good.encode()).hexdigest() + ".lines"]


def test_no_copy_of_a_file_changed_since_it_was_indexed(project, tmp_path):
    path = project.ledger / "entries.csv"
    project.write("entries.csv", HEADER + ROWS)
    sig = file_sig(path, None)
    project.write("entries.csv", HEADER + ROWS.replace("200.00", "250.00"))  # after its sig was taken
    os.utime(path, ns=(sig[1] + 10**9, sig[1] + 10**9))  # a second later (not within the clock's step)
    state = tmp_path / "state"
    linediff.keep_copies(state, {"content/ledger/entries.csv": sig}, {"content/ledger/entries.csv": path}, {})
    assert not linediff.copies_dir(state).exists() or list(linediff.copies_dir(state).iterdir()) == []
