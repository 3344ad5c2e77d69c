"""Atomic publishing of the public site: stage, commit a journal, then move files into place.

The build writes every new or changed file into a staging folder beside the site. Nothing in
the site changes until the journal (the list of files to put in place and to delete) is
written, fsynced and renamed into place: that rename is the commit point. A build that fails or
is killed before it leaves the previous site exactly as it was (the staging folder is thrown
away next time). One killed after it is rolled forward by the next build or server start.
Copying 100,000 unchanged pages into a fresh tree for a directory swap costs seconds; this
costs only the changed files.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path


class Publisher:
    """Owns the public site folder: every file in it is put there by `commit`."""

    def __init__(self, out: Path):
        self.out = Path(out)
        self.staging = self.out.parent / f".{self.out.name}.staging"
        self.journal = self.out.parent / f".{self.out.name}.journal"

    def recover(self) -> bool:
        """Finish a committed publish that was interrupted; discard an uncommitted one."""
        rolled = False
        if self.journal.exists():
            self._apply(json.loads(self.journal.read_text()))
            rolled = True
        if self.staging.exists():
            shutil.rmtree(self.staging)
        return rolled

    def begin(self) -> Path:
        """A clean staging folder to write the new and changed files into."""
        self.recover()
        self.staging.mkdir(parents=True)
        return self.staging

    def abort(self) -> None:
        """Throw the staged files away; the site is untouched."""
        if self.staging.exists():
            shutil.rmtree(self.staging)

    def commit(self, written: list[str], deleted: list[str]) -> None:
        """Make the staged files (paths relative to the site) and deletions the published site."""
        fresh = not self.out.exists()
        tmp = self.journal.with_suffix(".tmp")
        with open(tmp, "w") as f:
            json.dump({"write": written, "delete": deleted, "fresh": fresh}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.journal)
        _fsync_dir(self.journal.parent)
        self._apply(json.loads(self.journal.read_text()))

    def _apply(self, plan: dict) -> None:
        if plan.get("fresh") and not self.out.exists() and self.staging.exists():
            os.rename(self.staging, self.out)
        else:
            made: set[str] = set()
            for rel in plan["write"]:
                src = self.staging / rel
                if not src.exists():  # already moved before an interruption
                    continue
                parent = os.path.dirname(rel)
                if parent not in made:
                    (self.out / parent).mkdir(parents=True, exist_ok=True)
                    made.add(parent)
                os.replace(src, self.out / rel)
            for rel in plan["delete"]:
                target = self.out / rel
                if target.exists():
                    target.unlink()
                try:
                    target.parent.rmdir()  # s/<token>/ once its page is gone
                except OSError:
                    pass
        _fsync_dir(self.out)
        self.journal.unlink()
        if self.staging.exists():
            shutil.rmtree(self.staging)


def write_file(root: Path, rel: str, data: str | bytes) -> None:
    """Write one staged file, making its folder."""
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)


def write_atomic(path: Path, data: str | bytes) -> None:
    """Replace a staff file whole: temp file, fsync, rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
