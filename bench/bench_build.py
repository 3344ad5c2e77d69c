"""Build benchmark: the builds staff make, on a generated ledger (12 monthly files).

    python bench/bench_build.py [--customers 100000] [--workdir DIR] [--reuse] [--only full]

In order: a full build; a no-change rebuild; a new billing-run file touching 1% of customers;
the whole ledger re-exported (every file rewritten) with 1% of customers changed; the same files
with their rows in another order; the rows re-cut into quarterly files; a --full rebuild over the
site. Pages rewritten are in each build's summary line (reordered and re-cut: none).

Each build runs as `portal build` in its own process; peak memory is the largest sum of PSS
over the build's process tree (the parent and its worker processes, shared pages split between
them), sampled every 100 ms; the RSS sum, which counts shared pages twice (sampled every 20 ms), is
printed beside it.
Targets (2 cores, 100k customers / 1M rows): full ≤ 15 s, 1%-changed ≤ 2 s, peak ≤ 1 GiB.
"""
from __future__ import annotations

import argparse
import csv
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from genledger import generate

ROOT = Path(__file__).resolve().parent.parent


PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
# Reading smaps_rollup walks the process's page tables: ~2 ms of CPU for a 400 MB worker. Read for
# three processes every 20 ms it took about a fifth of a core from the two-core build it measured,
# so PSS is read every 100 ms and the (cheap) RSS every 20 ms.
PSS_EVERY = 0.1


def tree_pids(pid: int) -> list[int]:
    """pid and its descendants, from each task's list of children (no scan of /proc)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            tasks = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for t in tasks:
            try:
                with open(f"/proc/{p}/task/{t}/children") as f:
                    todo += map(int, f.read().split())
            except OSError:
                pass
    return out


def rss_sum(pids: list[int]) -> int:
    """Sum of RSS in bytes. It counts a page shared by forked workers once per process."""
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/statm") as f:
                total += int(f.read().split()[1]) * PAGE_SIZE
        except (OSError, IndexError, ValueError):
            pass
    return total


def pss_sum(pids: list[int]) -> int:
    """Sum of PSS in bytes: shared pages split between the processes, the memory the build really holds."""
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                total += next(int(ln.split()[1]) * 1024 for ln in f if ln.startswith("Pss:"))
        except (OSError, StopIteration):
            pass
    return total


def run_build(project: Path, *args: str) -> tuple[float, int, int, str]:
    """(seconds, peak tree RSS, peak tree PSS, output) of one `portal build`."""
    env = {**os.environ, "PORTAL_SECRET_KEY": "bench-key-0123456789abcdef"}
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "portal", "--root", str(project), "build", "-q",
                             "--as-of", "2026-11-25", *args], cwd=project, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    peak = peak_pss = 0
    last_pss = 0.0
    while proc.poll() is None:
        pids = tree_pids(proc.pid)
        peak = max(peak, rss_sum(pids))
        if time.perf_counter() - last_pss >= PSS_EVERY:
            last_pss = time.perf_counter()
            peak_pss = max(peak_pss, pss_sum(pids))
        time.sleep(0.02)
    seconds = time.perf_counter() - start
    out = proc.stdout.read()
    if proc.returncode:
        raise SystemExit(f"build failed ({proc.returncode}):\n{out}")
    return seconds, peak, peak_pss, out


def change_one_percent(project: Path, customers: int, seed: int = 7) -> int:
    """A billing run touching 1% of customers: a new entry file with one invoice each."""
    rnd = random.Random(seed)
    picked = rnd.sample(range(customers), max(1, customers // 100))
    with open(project / "content" / "ledger" / "2026-12-run.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["date", "customer_id", "type", "ref", "amount", "currency", "due_date", "applies_to", "memo"])
        for n, i in enumerate(picked):
            w.writerow(["2026-11-24", f"C{i:07d}", "invoice", f"DEC-{n:07d}", "123.45", "", "", "", "December run"])
    return len(picked)


def monthly_files(project: Path) -> list[Path]:
    return sorted(p for p in (project / "content" / "ledger").glob("20[0-9][0-9]-[0-9][0-9].csv"))


def re_export(project: Path, customers: int, seed: int = 11) -> int:
    """Staff re-export the whole ledger after a billing run: every monthly file written anew, with
    one invoice amount changed for 1% of the customers (the rest byte for byte as before)."""
    picked = {f"C{i:07d}" for i in random.Random(seed).sample(range(customers), max(1, customers // 100))}
    done: set[str] = set()
    for path in monthly_files(project):
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
        for row in rows[1:]:
            if row[1] in picked and row[1] not in done and row[2] == "invoice":
                row[4] = f"{Decimal(row[4]) + 1:.2f}"
                done.add(row[1])
        with open(path, "w", newline="") as f:
            csv.writer(f).writerows(rows)
    return len(done)


def reorder(project: Path, seed: int = 13) -> None:
    """The same export with its rows in another order (sorted by customer instead of date, say)."""
    rnd = random.Random(seed)
    for path in monthly_files(project):
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
        body = rows[1:]
        rnd.shuffle(body)
        with open(path, "w", newline="") as f:
            csv.writer(f).writerows([rows[0], *body])


def re_cut(project: Path) -> None:
    """The same rows cut into quarterly files instead of monthly ones (rows moved between files)."""
    months = monthly_files(project)
    header, quarters = None, {}
    for path in months:
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
        header = rows[0]
        year, month = path.stem.split("-")
        quarters.setdefault(f"{year}-q{(int(month) - 1) // 3 + 1}", []).extend(rows[1:])
        path.unlink()
    for name, rows in quarters.items():
        with open(project / "content" / "ledger" / f"{name}.csv", "w", newline="") as f:
            csv.writer(f).writerows([header, *rows])


# Deleting a 100k-page site just before a build made that build's own page writes several times
# slower here: ext4 without a journal (this machine's disk) does not reuse an inode freed in the
# last minute (six while its inode table block is dirty), and scans past every such inode for
# each new file or folder. Measured: 35-45 us a page on a quiet disk, 100-300 us within minutes
# of deleting a site beside it. So what an earlier run left is set aside and deleted after the
# measurements, and a run started within SETTLE seconds of that waits (--no-settle: don't).
SETTLE = 360


def set_aside(paths, trash: Path) -> None:
    """Move what an earlier run left into `trash`, to delete after this run's measurements."""
    trash.mkdir(parents=True, exist_ok=True)
    for n, path in enumerate(p for p in paths if p.exists()):
        path.rename(trash / f"{n}-{path.name}")


def reset(work: Path, trash: Path) -> None:
    """Back to a freshly generated project: no site, build state, staff files or billing run."""
    wait_for_background_removal()
    set_aside([work / "site", work / ".portal", work / "staff", *work.glob(".site.*")], trash)
    shutil.rmtree(work / "site_templates", ignore_errors=True)
    (work / "content" / "ledger" / "2026-12-run.csv").unlink(missing_ok=True)
    shutil.copytree(ROOT / "site_templates", work / "site_templates")


def wait_for_background_removal() -> None:
    """A full rebuild deletes the replaced site in the background; don't time the next build over it."""
    while subprocess.run(["pgrep", "-f", "rm -rf -- .*\\.old-"], capture_output=True).returncode == 0:
        time.sleep(0.5)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--rows", type=int, default=10, help="rows per customer (about)")
    ap.add_argument("--workdir", type=Path, help="where to generate the project (default: a temp dir)")
    ap.add_argument("--reuse", action="store_true",
                    help="keep a ledger generated earlier in --workdir with the same options (the site, build "
                         "state and templates are still made afresh)")
    ap.add_argument("--only", choices=("full", "no-change", "changed", "re-export", "reordered", "re-cut",
                                       "rebuild"), action="append",
                    help="run only these builds (repeatable; 'changed' runs after the full build it needs)")
    ap.add_argument("--no-settle", action="store_true",
                    help="don't wait for the files an earlier run deleted to settle (see SETTLE)")
    args = ap.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="portal-bench-"))
    freed = work.parent / f".{work.name}.freed"  # when a run last deleted what it had set aside
    if freed.exists() and not args.no_settle:
        wait = int(freed.read_text()) + SETTLE - time.time()
        if wait > 0:
            print(f"waiting {wait:.0f} s: the last run deleted a site here {SETTLE - wait:.0f} s ago, and new "
                  "files cost several times more until the disk reuses its inodes (--no-settle: don't wait)")
            time.sleep(wait)
    stamp = f"{args.customers} {args.rows}\n"
    marker = work / "generated.txt"
    trash = work.parent / f".{work.name}.trash-{os.getpid()}"
    if args.reuse and marker.exists() and marker.read_text() == stamp:
        reset(work, trash)
        print(f"reusing the ledger generated earlier in {work}")
    else:
        set_aside([work], trash)
        work.mkdir(parents=True)
        shutil.copytree(ROOT / "site_templates", work / "site_templates")
        t = time.perf_counter()
        counts = generate(work, args.customers, args.rows)
        marker.write_text(stamp)
        print(f"generated {counts['customers']:,} customers, {counts['rows']:,} rows in {counts['files']} files "
              f"({time.perf_counter() - t:.1f} s) in {work}")
    only = set(args.only or ("full", "no-change", "changed", "re-export", "reordered", "re-cut", "rebuild"))
    figures = []
    for key, label, prepare, extra in (
        ("full", "full build", None, ()),
        ("no-change", "no-change rebuild", None, ()),
        ("changed", "1%-changed rebuild (a new file)", lambda: change_one_percent(work, args.customers), ()),
        ("re-export", "1%-changed whole re-export", lambda: re_export(work, args.customers), ()),
        ("reordered", "re-export, rows reordered", lambda: reorder(work), ()),
        ("re-cut", "re-cut into quarterly files", lambda: re_cut(work), ()),
        ("rebuild", "full rebuild over the site (--full)", None, ("--full",)),
    ):
        if key not in only and not (key == "full" and only - {"full", "rebuild"}):
            continue
        if prepare:
            if key in ("re-export", "reordered", "re-cut"):
                marker.unlink(missing_ok=True)  # the ledger is no longer as generated: --reuse makes it again
            prepare()
        wait_for_background_removal()
        os.sync()  # don't time this build against the writeback of the last one
        load = os.getloadavg()[0]  # others' work on the same cores, just before this build
        seconds, peak, pss, out = run_build(work, *extra)
        figures.append((label, seconds, peak, pss))
        summary = next((ln for ln in out.splitlines() if " customers · " in ln), out.strip())
        print(f"{label:38s} {seconds:7.2f} s   peak PSS {pss / 2**20:5.0f} MiB (RSS sum {peak / 2**20:5.0f})"
              f"   load {load:4.2f}   | {summary}")
        timings = [ln for ln in out.splitlines() if ln.startswith("[timing]")]
        if timings:
            print("    " + "\n    ".join(timings))
    print("targets: full ≤ 15 s, 1%-changed (new file or whole re-export) ≤ 2 s, reordered and re-cut: no page "
          "rewritten, peak ≤ 900 MiB")
    wait_for_background_removal()
    if trash.exists() or not args.workdir:
        shutil.rmtree(trash, ignore_errors=True)
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
        freed.write_text(f"{int(time.time())}\n")  # whole seconds


if __name__ == "__main__":
    main()
