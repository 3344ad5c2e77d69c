"""ruff and mypy, as configured in pyproject.toml, pass: the test environment's own copies, never ones on PATH."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

BIN = Path(sys.executable).parent  # scripts/test.sh installs both here (the `test` extra)
CHECKED = ["portal", "tests", "bench", "scripts", "tools", "build.py", "serve.py"]

# being rewritten; remove when clean
NOT_YET = [
    "portal/build/__init__.py",
    "portal/build/aging_report.py",
    "portal/build/full.py",
    "portal/build/incremental.py",
    "portal/build/lookup.py",
    "portal/build/render.py",
    "portal/build/rows.py",
    "portal/build/run.py",
    "portal/build/state.py",
    "tests/test_build.py",
    "tests/test_fullbuild.py",
]


def run(tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    exe = BIN / tool
    if not exe.exists():
        pytest.fail(f"{exe} not found: install the test extra into this environment (scripts/test.sh does)")
    return subprocess.run([str(exe), *args], cwd=REPO, capture_output=True, text=True, timeout=600)


def test_ruff_finds_nothing():
    r = run("ruff", "check", "--no-cache", "--force-exclude", "--extend-exclude", ",".join(NOT_YET), *CHECKED)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.slow  # a cold run reads every module and its imports: ~15 s
def test_mypy_finds_nothing():
    # --exclude only leaves a file out of the list to check; one imported by a checked module is still
    # read, and silent keeps its errors out of the report (every other module is on the list anyway).
    excluded = [arg for path in NOT_YET for arg in ("--exclude", f"^{re.escape(path)}$")]
    r = run("mypy", *excluded, "--follow-imports", "silent")
    assert r.returncode == 0, r.stdout + r.stderr
