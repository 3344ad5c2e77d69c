"""Atomic publishing: nothing changes before the commit point, everything after it rolls forward."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from portal.build import publish
from portal.build.publish import Publisher, write_file


def tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()
            and p.name != publish.MARK}


@pytest.fixture
def site(tmp_path):
    pub = Publisher(tmp_path / "site")
    staging = pub.begin()
    write_file(staging, "index.html", "v1 home")
    write_file(staging, "s/a/index.html", "v1 a")
    write_file(staging, "s/b/index.html", "v1 b")
    pub.swap()
    return pub


def test_first_publish_creates_the_site(site):
    assert tree(site.out) == {"index.html": "v1 home", "s/a/index.html": "v1 a", "s/b/index.html": "v1 b"}
    assert not site.staging.exists() and not site.plan.exists()


def test_swap_replaces_the_whole_site_and_removes_the_old_tree(site):
    staging = site.begin()
    write_file(staging, "index.html", "v2 home")
    write_file(staging, "s/c/index.html", "v2 c")
    site.swap()
    assert tree(site.out) == {"index.html": "v2 home", "s/c/index.html": "v2 c"}
    deadline = time.time() + 10
    while list(site.out.parent.glob(".site.old-*")) and time.time() < deadline:
        time.sleep(0.05)
    assert not list(site.out.parent.glob(".site.old-*"))


def test_commit_moves_changed_files_and_deletes_stale_ones(site):
    staging = site.begin()
    write_file(staging, "s/a/index.html", "v2 a")
    site.commit(["s/a/index.html"], ["s/b/index.html"])
    assert tree(site.out) == {"index.html": "v1 home", "s/a/index.html": "v2 a"}
    assert not (site.out / "s" / "b").exists()


def test_abort_before_commit_leaves_the_site_as_it_was(site):
    before = tree(site.out)
    staging = site.begin()
    write_file(staging, "s/a/index.html", "half-done")
    site.abort()
    assert tree(site.out) == before and not site.staging.exists()


def test_uncommitted_staging_left_by_a_crash_is_discarded(site):
    before = tree(site.out)
    staging = site.begin()
    write_file(staging, "s/a/index.html", "never committed")
    assert Publisher(site.out).recover() is False
    assert tree(site.out) == before and not site.staging.exists()


def test_commit_interrupted_after_the_plan_is_rolled_forward(site, monkeypatch):
    staging = site.begin()
    write_file(staging, "s/a/index.html", "v2 a")
    write_file(staging, "s/new/index.html", "v2 new")
    moved = []
    real_replace = os.replace

    def crash_after_first(src, dst):
        real_replace(src, dst)
        if str(dst).startswith(str(site.out)):
            moved.append(dst)
            if len(moved) == 1:
                raise KeyboardInterrupt  # killed between two moves

    monkeypatch.setattr(publish.os, "replace", crash_after_first)
    with pytest.raises(KeyboardInterrupt):
        site.commit(["s/a/index.html", "s/new/index.html"], ["s/b/index.html"])
    monkeypatch.setattr(publish.os, "replace", real_replace)
    assert site.plan.exists()
    assert Publisher(site.out).recover() is True
    assert tree(site.out) == {"index.html": "v1 home", "s/a/index.html": "v2 a", "s/new/index.html": "v2 new"}
    assert not site.plan.exists() and not site.staging.exists()


def test_swap_interrupted_after_the_exchange_is_not_swapped_back(site, monkeypatch):
    staging = site.begin()
    write_file(staging, "index.html", "v2 home")
    monkeypatch.setattr(publish, "remove_later", lambda p: (_ for _ in ()).throw(KeyboardInterrupt))
    with pytest.raises(KeyboardInterrupt):
        site.swap()  # exchanged, then killed before cleaning up
    monkeypatch.undo()
    assert Publisher(site.out).recover() is True
    assert tree(site.out) == {"index.html": "v2 home"}


def test_swap_interrupted_before_the_exchange_is_completed_by_recovery(site):
    staging = site.begin()
    write_file(staging, "index.html", "v3 home")
    (staging / publish.MARK).write_text("pid-3")
    site.plan.write_text(json.dumps({"swap": "pid-3"}))  # committed, then killed
    assert tree(site.out)["index.html"] == "v1 home"
    assert Publisher(site.out).recover() is True
    assert tree(site.out) == {"index.html": "v3 home"}


def test_a_plan_left_by_an_earlier_version_is_still_carried_out(site):
    """Upgraded after a crash: the plan committed under its old name (.<site>.journal) is applied."""
    staging = site.begin()
    write_file(staging, "index.html", "v4 home")
    (staging / publish.MARK).write_text("pid-4")
    site.old_plan.write_text(json.dumps({"swap": "pid-4"}))
    assert Publisher(site.out).recover() is True
    assert tree(site.out) == {"index.html": "v4 home"} and not site.old_plan.exists() and not site.plan.exists()


def test_build_process_killed_while_rendering_leaves_the_old_site(project):
    """A real SIGKILL of `portal build` in the middle of rendering 3,000 pages."""
    rows = ["date,customer_id,type,ref,amount,currency,due_date,applies_to,memo"]
    cust = ["customer_id,name,email,terms_days"]
    for i in range(3000):
        cust.append(f"K{i},Customer {i},k{i}@x.example,30")
        rows.append(f"2026-10-01,K{i},invoice,I{i},100.00,,,,")
    project.write("customers.csv", "\n".join(cust) + "\n")
    project.write("e.csv", "\n".join(rows) + "\n")
    project.build()
    out = project.settings().out
    before = tree(out)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "portal", "--root", str(project.root), "build", "--as-of",
                             "2026-11-26", "--workers", "1"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    staging = out.parent / ".site.staging"
    deadline = time.time() + 60
    while time.time() < deadline:  # wait until it is writing pages
        if staging.is_dir() and (staging / "s").is_dir() and len(os.listdir(staging / "s")) > 100:
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    assert tree(out) == before
    r = project.build(as_of="2026-11-26")  # the next build throws the leftovers away and succeeds
    assert r.mode == "full" and r.written == 3000 and not staging.exists()


def test_a_tree_already_being_removed_gets_no_second_rm(tmp_path):
    """remove_later runs `rm` under `flock -n` on the tree: while one holds it, another is not started."""
    import fcntl
    import os
    import shutil
    import time

    from portal.build.publish import remove_later
    if not shutil.which("flock"):
        pytest.fail("flock(1) (util-linux) is not on this machine: remove_later would start an rm per build")
    tree = tmp_path / ".site.old-1"
    (tree / "s" / "a").mkdir(parents=True)
    (tree / "s" / "a" / "index.html").write_text("x")
    fd = os.open(tree, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)  # as an earlier build's rm holds it
    try:
        remove_later(tree)
        time.sleep(0.5)
        assert tree.exists()  # no second rm at work on it
    finally:
        os.close(fd)
    remove_later(tree)
    deadline = time.time() + 10
    while tree.exists() and time.time() < deadline:
        time.sleep(0.05)
    assert not tree.exists()


def staged_pages(site: Publisher, pages: dict[str, str]) -> list:
    site.begin()
    return [(f"{k}.html", rel, site.stage_page(f"{k}.html", text.encode()))
            for k, (rel, text) in enumerate(pages.items())]


def test_a_changed_page_is_exchanged_and_the_page_it_replaced_becomes_a_resting_spare(site):
    live = os.stat(site.out / "s/a/index.html").st_ino
    site.commit(staged_pages(site, {"s/a/index.html": "v2 a", "s/new/index.html": "v2 new"}), [])
    assert tree(site.out) == {"index.html": "v1 home", "s/a/index.html": "v2 a", "s/b/index.html": "v1 b",
                              "s/new/index.html": "v2 new"}
    spares = {os.stat(site.spares / n).st_ino: n for n in os.listdir(site.spares)}
    assert live in spares and spares[live].startswith("r")  # kept, not freed: nothing discarded
    assert (site.spares / spares[live]).read_text() == "v1 a"  # a reader of the old page still reads it whole
    assert publish.ready_spares(site.spares, time.time()) == []  # resting: not rewritten yet
    assert publish.ready_spares(site.spares, time.time() + publish.SPARE_REST + 1) == [spares[live]]
    assert not site.staging.exists() and not site.plan.exists()


def test_a_page_is_staged_in_a_ready_spare_rewritten_in_place(site):
    site.make_spares(2, "t")
    inodes = {os.stat(site.spares / n).st_ino for n in os.listdir(site.spares)}
    site.commit(staged_pages(site, {"s/b/index.html": "v2 b, longer than the spare was"}), [])
    assert os.stat(site.out / "s/b/index.html").st_ino in inodes
    assert (site.out / "s/b/index.html").read_text() == "v2 b, longer than the spare was"
    site.commit(staged_pages(site, {"s/b/index.html": "v3"}), [])  # shorter: the rest cut off
    assert (site.out / "s/b/index.html").read_text() == "v3"


def test_spares_a_full_build_leaves_are_a_share_of_its_pages_up_to_a_limit(tmp_path):
    pub = Publisher(tmp_path / "site")
    assert pub.spares_wanted(100_000) == 2000 and pub.spares_wanted(10) == 1
    assert pub.spares_wanted(10_000_000) == publish.SPARES_MOST
    pub.make_spares(1500, "x")
    assert pub.spares_wanted(100_000) == 500


def test_an_exchange_interrupted_midway_is_rolled_forward_once(site, monkeypatch):
    staged = staged_pages(site, {"s/a/index.html": "v2 a", "s/b/index.html": "v2 b"})
    real = publish._rename_exchange
    done = []

    def crash_after_first(a, b):
        ok = real(a, b)
        done.append(b)
        if len(done) == 1:
            raise KeyboardInterrupt  # killed between two exchanges
        return ok

    monkeypatch.setattr(publish, "_rename_exchange", crash_after_first)
    with pytest.raises(KeyboardInterrupt):
        site.commit(staged, [])
    monkeypatch.setattr(publish, "_rename_exchange", real)
    assert Publisher(site.out).recover() is True  # the first is not exchanged back
    assert tree(site.out) == {"index.html": "v1 home", "s/a/index.html": "v2 a", "s/b/index.html": "v2 b"}


def test_where_pages_cannot_be_exchanged_they_are_replaced(site, monkeypatch):
    monkeypatch.setattr(publish, "_rename_exchange", lambda a, b: False)  # another OS or filesystem
    site.commit(staged_pages(site, {"s/a/index.html": "v2 a"}), [])
    assert tree(site.out)["s/a/index.html"] == "v2 a"


def test_spares_made_by_another_maker_are_named_and_placed_as_the_publisher_says(tmp_path):
    """A full build's worker has its PageWriter make its spares (where its pages go fast)."""
    pub = Publisher(tmp_path / "site")
    pub.make_spares(3, "a")
    asked = []

    def make(names, fd):
        asked.append(names)
        for name in names:
            os.close(os.open(name, os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd))
    pub.make_spares(40, "b", make)
    assert asked == [[f"f-b-{k}" for k in range(40)]]
    names = sorted(os.listdir(pub.spares))
    assert names == sorted([f"f-a-{k}" for k in range(3)] + [f"f-b-{k}" for k in range(40)])
    assert pub.spares_wanted(100_000) == 2000 - 43
