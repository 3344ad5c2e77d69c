"""Where a full build's page folders land on disk, and moving on from where the disk is slow.

ext4 without a journal (as on this project's machines) does not hand out an inode freed in the
last minutes (six, while its inode table block is unwritten): each new file or folder scans past
every such free inode of its block group (`recently_deleted()`, fs/ext4/ialloc.c), up to ~8,000
of them. Made where a site was just deleted, a statement page cost 0.37 ms of kernel time
instead of 0.05 ms (measured, two writers, 50,000 pages each: 18.6 s beside 800,000 inodes freed
three minutes before, 2.9 s on the same disk minutes later, 1.0 s on tmpfs).

A new folder goes into the block groups after its parent's last one, and a folder made in a folder
flagged TOPDIR is placed as a top-level folder is: in a lightly used part of the disk, searched
from a point its name's hash picks. So the pages folder s/ is made in such a spread folder (then
renamed into place), after one probe folder and file made in it came back fast; where the probe
is slow (a group of freed inodes scanned), it is made again under another name. And a writer whose
pages run slow (its folders reached freed groups part-way) moves to a new probed spread
folder, makes its page folders there and renames each into s/ (16 us a page, where the slow place
cost hundreds). Where the flag is refused (other filesystems, other systems) s/ is a plain folder
and nothing moves.
"""
from __future__ import annotations

import fcntl
import os
import secrets
import shutil
import struct
import sys
import time
from pathlib import Path

SPREAD = ".spread"  # in staging, flagged TOPDIR: folders made in it are spread over the disk
PROBE_SLOW = 0.0003  # CPU seconds for a probe folder and file: above it, try another place (clean: ~0.03 ms)
# Pages are slow above PAGE_SLOW CPU seconds a page plus BYTE_SLOW a byte of them: a 9 KB page
# takes ~0.05 ms on clean disk (0.02 ms on tmpfs), 0.2-1 ms among freed inodes.
PAGE_SLOW, BYTE_SLOW = 0.00015, 5e-9
CHECK = 32  # pages a writer times together
TRIES = 6  # places tried for one folder
# A writer moves at most MOVES times, and once more for every MOVE_EVERY files it has made since:
# on a disk where a great many inodes were just freed (measured: after a test suite and a fresh
# clone's venv were deleted), a writer that had used its 32 moves in its first 2,000 pages stayed
# among freed inodes for the other 48,000 (25.6 s where its sibling took 3.3). A move costs at most
# TRIES probes (~0.05-1 ms each): one every MOVE_EVERY files adds well under the slow pages' toll.
MOVES = 32
MOVE_EVERY = 128

# ext4 inode flags (FS_IOC_GETFLAGS / FS_IOC_SETFLAGS): TOPDIR, new subfolders placed as top-level ones are.
_FS_IOC_GETFLAGS, _FS_IOC_SETFLAGS, _FS_TOPDIR_FL = 0x80086601, 0x40086602, 0x00020000


def make_pages_folder(staging: Path) -> bool:
    """Make staging/s, where a full build writes its page folders, on fresh disk where it can.

    Returns whether folders can be spread here (PageWriter may move); the spread folder it leaves
    in staging is removed by `finish`."""
    spread = staging / SPREAD
    os.mkdir(spread)
    fd = os.open(spread, os.O_RDONLY | os.O_DIRECTORY)
    try:
        flags = _flags(fd)
        spreads = flags is not None and _set_flags(fd, flags | _FS_TOPDIR_FL)
    finally:
        os.close(fd)
    if spreads:
        name = spread_folder(staging, "s")
        os.rename(staging / name, staging / "s")
    else:
        os.mkdir(staging / "s")
    return spreads


def spread_folder(staging: Path, prefix: str) -> str:
    """A new empty folder in staging's spread folder where a probe folder and file were made fast
    (or the fastest of TRIES places); its path relative to staging."""
    tried: list[tuple[float, str]] = []  # (probe's CPU seconds, folder)
    for _ in range(TRIES):
        name = f"{SPREAD}/{prefix}-{secrets.token_hex(8)}"
        os.mkdir(staging / name)
        tried.append((_probe(staging / name), name))
        if tried[-1][0] <= PROBE_SLOW:
            break
    keep = min(tried)[1]
    for _, name in tried:
        if name != keep:
            os.rmdir(staging / name)
    return keep


def _probe(folder: Path) -> float:
    """CPU seconds to make a folder and a file in it inside `folder` (both removed again)."""
    start = time.thread_time()
    os.mkdir(folder / "p")
    os.close(os.open(folder / "p" / "x", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
    spent = time.thread_time() - start
    os.unlink(folder / "p" / "x")
    os.rmdir(folder / "p")
    return spent


def finish(staging: Path) -> None:
    """Remove the spread folder (empty once every writer closed) before the staging tree is published."""
    shutil.rmtree(staging / SPREAD)  # empty, unless a writer's folder was left: never part of the site


class PageWriter:
    """Writes statement pages, <token>/index.html, into staging/s a batch at a time; moves on
    (see the module's note) when two runs of CHECK pages in a row each took more CPU time than
    PAGE_SLOW a page and BYTE_SLOW a byte (one slow run can be a page that waited for memory)."""

    def __init__(self, staging: Path, spreads: bool):
        self.staging, self.spreads = staging, spreads
        self.pages_fd = os.open(staging / "s", os.O_RDONLY | os.O_DIRECTORY)
        self.fd = self.pages_fd  # where page folders are made: s/, or the folder moved to
        self.folder: str | None = None  # that folder, relative to staging
        self.moves = 0
        self.made = 0  # pages and files made, for MOVE_EVERY
        self.slow_runs = 0  # slow runs in a row where the writer is

    def write(self, batch: list[tuple[str, str]]) -> None:
        """Write the batch's (token, html) pages and empty it."""
        for k in range(0, len(batch), CHECK):
            self._write(batch[k:k + CHECK])
        batch.clear()

    def _write(self, run: list[tuple[str, str]]) -> None:
        start = time.thread_time()
        fd, size = self.fd, 0
        for token, html in run:
            write_page(fd, token, html)
            size += len(html)
        if fd != self.pages_fd:
            for token, _ in run:
                os.rename(token, token, src_dir_fd=fd, dst_dir_fd=self.pages_fd)
        self._judge(start, len(run), size)

    def make_files(self, names: list[str], into_fd: int) -> None:
        """Empty files by these names in the folder open as into_fd, made where this writer's
        pages go now (moving on as it does where that is slow) and renamed there (the spare files
        a full build leaves: publish.make_spares)."""
        for k in range(0, len(names), CHECK):
            run = names[k:k + CHECK]
            start = time.thread_time()
            for name in run:
                os.close(os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644, dir_fd=self.fd))
                os.rename(name, name, src_dir_fd=self.fd, dst_dir_fd=into_fd)
            self._judge(start, len(run), 0)

    def _judge(self, start: float, files: int, size: int) -> None:
        """Move on after two slow runs in a row (a run of `files` made from `start`, CPU time)."""
        self.made += files
        if not self.spreads or self.moves >= MOVES + self.made // MOVE_EVERY:
            return
        if time.thread_time() - start <= PAGE_SLOW * files + BYTE_SLOW * size:
            self.slow_runs = 0
            return
        self.slow_runs += 1
        if self.slow_runs == 2:
            self._move()

    def _move(self) -> None:
        folder = spread_folder(self.staging, "w")
        self._leave()
        self.folder, self.fd = folder, os.open(self.staging / folder, os.O_RDONLY | os.O_DIRECTORY)
        self.moves += 1
        self.slow_runs = 0

    def _leave(self) -> None:
        if self.folder is not None:
            os.close(self.fd)
            os.rmdir(self.staging / self.folder)  # every page in it was renamed into s/
            self.folder, self.fd = None, self.pages_fd

    def close(self) -> None:
        try:
            self._leave()
        finally:
            os.close(self.pages_fd)


def write_page(pages_fd: int, token: str, html: str) -> None:
    """Write one statement page, <token>/index.html, in the folder open as pages_fd
    (the hot path: relative to that folder, no long path to walk twice per page)."""
    os.mkdir(token, dir_fd=pages_fd)
    fd = os.open(f"{token}/index.html", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644, dir_fd=pages_fd)
    try:
        os.write(fd, html.encode())
    finally:
        os.close(fd)


def _flags(fd: int) -> int | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return int(struct.unpack("I", fcntl.ioctl(fd, _FS_IOC_GETFLAGS, bytes(4)))[0])
    except OSError:
        return None


def _set_flags(fd: int, flags: int) -> bool:
    try:
        fcntl.ioctl(fd, _FS_IOC_SETFLAGS, struct.pack("I", flags))
        return True
    except OSError:
        return False
