"""ruff and mypy, as configured in pyproject.toml, pass: the test environment's own copies, never ones on PATH."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

BIN = Path(sys.executable).parent  # scripts/test.sh installs both here (the `test` extra)
CHECKED = ["portal", "tests", "bench", "scripts", "tools", "build.py", "serve.py", "setup.py"]


def run(tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    exe = BIN / tool
    if not exe.exists():
        pytest.fail(f"{exe} not found: install the test extra into this environment (scripts/test.sh does)")
    return subprocess.run([str(exe), *args], cwd=REPO, capture_output=True, text=True, timeout=600)


def test_ruff_finds_nothing():
    r = run("ruff", "check", "--no-cache", *CHECKED)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.slow  # a cold run reads every module and its imports: ~15 s
def test_mypy_finds_nothing():
    r = run("mypy")
    assert r.returncode == 0, r.stdout + r.stderr
