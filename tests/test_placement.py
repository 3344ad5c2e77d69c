"""Where a full build's page folders are made, and the page writer moving on from slow disk."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from portal.build import placement
from portal.build.placement import PageWriter, finish, make_pages_folder


def topdir(path: Path) -> bool:
    fd = os.open(path, os.O_RDONLY)
    try:
        flags = placement._flags(fd)
    finally:
        os.close(fd)
    return flags is not None and bool(flags & placement._FS_TOPDIR_FL)


def test_pages_folder_is_made_beside_a_spread_folder_that_finish_removes(tmp_path):
    spreads = make_pages_folder(tmp_path)
    assert sorted(os.listdir(tmp_path)) == [placement.SPREAD, "s"]
    assert (tmp_path / "s").is_dir() and os.listdir(tmp_path / "s") == []
    assert topdir(tmp_path / placement.SPREAD) == spreads  # the flag, where the filesystem takes it
    assert not topdir(tmp_path / "s")  # not inherited: page folders follow s/ as usual
    assert os.listdir(tmp_path / placement.SPREAD) == []  # the probes and the tried places are gone
    finish(tmp_path)
    assert os.listdir(tmp_path) == ["s"]


def test_pages_folder_is_a_plain_folder_where_flags_are_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(placement, "_set_flags", lambda fd, flags: False)
    assert make_pages_folder(tmp_path) is False
    finish(tmp_path)
    assert os.listdir(tmp_path) == ["s"]


def test_where_every_probe_is_slow_the_fastest_place_is_kept_and_the_others_removed(tmp_path, monkeypatch):
    monkeypatch.setattr(placement, "PROBE_SLOW", -1.0)
    (tmp_path / placement.SPREAD).mkdir()
    tried = []
    real = placement._probe
    monkeypatch.setattr(placement, "_probe", lambda folder: tried.append(folder.name) or real(folder))
    name = placement.spread_folder(tmp_path, "w")
    assert len(tried) == placement.TRIES
    assert os.listdir(tmp_path / placement.SPREAD) == [name.split("/")[1]]
    assert name.split("/")[1] in tried and os.listdir(tmp_path / name) == []


def pages(n: int, start: int = 0) -> list[tuple[str, str]]:
    return [(f"tok{k}", f"<p>page {k}</p>" * (k % 7 + 1)) for k in range(start, start + n)]


def written(staging: Path) -> dict[str, str]:
    s = staging / "s"
    assert all((s / name).is_dir() for name in os.listdir(s))
    return {name: (s / name / "index.html").read_text() for name in os.listdir(s)}


def write_batches(staging: Path, spreads: bool, batches: int, size: int = 5) -> PageWriter:
    writer = PageWriter(staging, spreads)
    try:
        for b in range(batches):
            batch = pages(size, b * size)
            writer.write(batch)
            assert batch == []  # emptied for the next
    finally:
        writer.close()
    return writer


def test_a_writer_whose_pages_are_slow_moves_and_every_page_still_lands_in_s(tmp_path, monkeypatch):
    monkeypatch.setattr(placement, "PAGE_SLOW", -1.0)  # every run of pages is slow
    monkeypatch.setattr(placement, "CHECK", 1)  # a run is a page
    make_pages_folder(tmp_path)
    writer = write_batches(tmp_path, spreads=True, batches=3)
    assert writer.moves == 7  # after every second page: most pages made elsewhere and renamed in
    assert written(tmp_path) == dict(pages(15))
    assert os.listdir(tmp_path / placement.SPREAD) == []  # the folders moved to are gone
    finish(tmp_path)
    assert os.listdir(tmp_path) == ["s"]


def test_a_writer_makes_empty_files_where_its_pages_go_moving_on_as_they_do(tmp_path, monkeypatch):
    """The spares a full build leaves: made beside the writer's pages, renamed into their folder."""
    monkeypatch.setattr(placement, "PAGE_SLOW", -1.0)  # every run slow
    monkeypatch.setattr(placement, "CHECK", 3)
    make_pages_folder(tmp_path)
    (tmp_path / "spares").mkdir()
    writer = PageWriter(tmp_path, True)
    fd = os.open(tmp_path / "spares", os.O_RDONLY | os.O_DIRECTORY)
    try:
        writer.make_files([f"f-{k}" for k in range(20)], fd)
        assert writer.moves == 3  # after every second run of three
    finally:
        os.close(fd)
        writer.close()
    assert sorted(os.listdir(tmp_path / "spares")) == sorted(f"f-{k}" for k in range(20))
    assert os.listdir(tmp_path / "s") == [] and os.listdir(tmp_path / placement.SPREAD) == []


class Clock:
    """thread_time for placement: each run of pages takes the next of `runs` CPU seconds."""

    def __init__(self, runs):
        self.runs, self.now, self.started = list(runs), 0.0, False

    def thread_time(self):
        if self.started:  # the end of a run
            self.now += self.runs.pop(0)
        self.started = not self.started
        return self.now


def test_one_slow_run_is_not_a_reason_to_move_two_in_a_row_are(tmp_path, monkeypatch):
    monkeypatch.setattr(placement, "CHECK", 2)
    make_pages_folder(tmp_path)
    slow, fast = 1.0, 0.0
    monkeypatch.setattr(placement, "time", Clock([fast, slow, fast, slow, slow, fast, slow]))
    monkeypatch.setattr(placement, "_probe", lambda folder: 0.0)  # places are probed with no clock here
    writer = PageWriter(tmp_path, spreads=True)
    writer.write(pages(6))  # runs of 2: fast, slow, fast
    assert writer.moves == 0
    writer.write(pages(8, 6))  # slow, slow (moves), fast, slow
    writer.close()
    assert writer.moves == 1 and writer.slow_runs == 1
    assert written(tmp_path) == dict(pages(14))


def test_a_writer_moves_at_most_MOVES_times(tmp_path, monkeypatch):
    monkeypatch.setattr(placement, "PAGE_SLOW", -1.0)
    monkeypatch.setattr(placement, "CHECK", 1)
    monkeypatch.setattr(placement, "MOVES", 2)
    monkeypatch.setattr(placement, "MOVE_EVERY", 10**9)
    make_pages_folder(tmp_path)
    writer = write_batches(tmp_path, spreads=True, batches=4)
    assert writer.moves == 2 and written(tmp_path) == dict(pages(20))


def test_a_writer_that_used_its_moves_moves_again_as_it_makes_more_pages(tmp_path, monkeypatch):
    """Where every place is slow: after its MOVES, one more move for every MOVE_EVERY pages made,
    never stuck among freed inodes for the rest of a build."""
    monkeypatch.setattr(placement, "PAGE_SLOW", -1.0)  # every run slow: a move after every second
    monkeypatch.setattr(placement, "CHECK", 1)
    monkeypatch.setattr(placement, "MOVES", 2)
    monkeypatch.setattr(placement, "MOVE_EVERY", 4)
    make_pages_folder(tmp_path)
    writer = write_batches(tmp_path, spreads=True, batches=4)
    # pages 2 and 4 move (the first two, then a third allowed at 4 pages), then 6 (3 allowed from
    # page 4), 9 (4 from page 8), 13 (5 from 12), 17 (6 from 16): 6 moves, every page in s/
    assert writer.moves == 6 and written(tmp_path) == dict(pages(20))
    assert os.listdir(tmp_path / placement.SPREAD) == []


def test_a_writer_does_not_move_where_folders_cannot_be_spread_or_the_disk_is_fast(tmp_path, monkeypatch):
    make_pages_folder(tmp_path)
    monkeypatch.setattr(placement, "PAGE_SLOW", 10.0)  # no run of pages takes 10 s a page
    monkeypatch.setattr(placement, "CHECK", 1)
    assert write_batches(tmp_path, spreads=True, batches=2).moves == 0
    monkeypatch.setattr(placement, "PAGE_SLOW", -1.0)
    writer = PageWriter(tmp_path, spreads=False)
    writer.write(pages(5, 10))
    writer.close()
    assert writer.moves == 0 and written(tmp_path) == dict(pages(15))


def site_files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.name != ".publish-id"}


@pytest.mark.parametrize("workers", [1, 2])
def test_a_full_build_whose_writers_move_makes_the_same_site(project, monkeypatch, tmp_path, workers):
    from portal.build.full import WRITE_BATCH, shard_of
    n = 2 * WRITE_BATCH + 3
    project.write("customers.csv", "customer_id,name,email,currency\n"
                  + "".join(f"K{c},Customer {c},k{c}@x.example,USD\n" for c in range(n)))
    project.write("entries.csv", "date,customer_id,type,ref,amount,currency,due_date,applies_to,memo\n"
                  + "".join(f"2026-10-01,K{c},invoice,I-{c},{c + 1}.00,,2026-11-30,,\n" for c in range(n)))
    project.build(full_build=True, workers=workers)
    out = project.settings().out
    before = site_files(out)
    moves = tmp_path / "moves"  # the workers are other processes: each move leaves a line here
    real = placement.spread_folder

    def counted(staging, prefix):
        with open(moves, "a") as f:
            f.write(prefix + "\n")
        return real(staging, prefix)

    monkeypatch.setattr(placement, "spread_folder", counted)
    monkeypatch.setattr(placement, "PAGE_SLOW", -1.0)
    (tmp_path / "probe").mkdir()
    if not make_pages_folder(tmp_path / "probe"):  # a filesystem without the flag (tmpfs): moves all the same
        monkeypatch.setattr(placement, "_flags", lambda fd: 0)
        monkeypatch.setattr(placement, "_set_flags", lambda fd, flags: True)
    moves.unlink(missing_ok=True)
    r = project.build(full_build=True, workers=workers)
    assert r.written == n
    shards = [sum(1 for c in range(n) if shard_of(f"K{c}", workers) == w) for w in range(workers)]
    runs = [sum(-(-min(WRITE_BATCH, count - b) // placement.CHECK) for b in range(0, count, WRITE_BATCH))
            for count in shards]  # 17 for one worker (256 + 256 + 3 pages), 9 each for two
    expected = sum(min(placement.MOVES, r // 2) for r in runs)  # a move after every second run
    assert expected >= 8
    assert moves.read_text().split() == ["s"] + ["w"] * expected  # s/ made once
    assert site_files(out) == before
    assert not any(name.startswith(".") and name != ".publish-id" for name in os.listdir(out))
