"""The hot modules compiled by mypyc (portal/native.py, setup.py): they run only when compiled from
the source as it is, the source runs otherwise, and the compiled code keeps the source's behaviour
where mypyc would change it."""
from __future__ import annotations

import ast
import importlib.machinery
import json
import os
import runpy
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

from portal import native

EXT = importlib.machinery.EXTENSION_SUFFIXES[0]


def fake_package(tmp_path: Path, compiled: bool = True, stamped: bool = True) -> Path:
    """A copy of the compiled modules' sources, with a stand-in extension module and a stamp."""
    pkg = tmp_path / "portal"
    for m in native.MODULES:
        dest = native.source_path(m, pkg)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(native.source_path(m), dest)
    if compiled:
        (pkg / f"compiled__mypyc{EXT}").write_bytes(b"")
    if stamped:
        (pkg / native.STAMP).write_text(json.dumps(native.digests(pkg)))
    return pkg


def test_status_says_compiled_only_for_the_sources_compiled(tmp_path, monkeypatch):
    monkeypatch.delenv(native.ENV, raising=False)
    pkg = fake_package(tmp_path)
    assert native.status(pkg) == "compiled"
    monkeypatch.setenv(native.ENV, "0")
    assert native.status(pkg) == "off: PORTAL_NATIVE=0"
    monkeypatch.delenv(native.ENV)
    with native.source_path("portal.core.money", pkg).open("a") as f:
        f.write("# edited since\n")
    assert native.status(pkg) == "stale: portal.core.money edited since compiled (pip install again)"


def test_status_without_a_stamp_or_without_compiled_modules(tmp_path):
    assert native.status(fake_package(tmp_path / "a", stamped=False)).startswith("stale: no compiled.json")
    assert native.status(fake_package(tmp_path / "b", compiled=False)) == "not compiled"


def run_python(code: str, path: Path, **env: str) -> str:
    environ = {k: v for k, v in os.environ.items() if k != native.ENV} | env
    r = subprocess.run([sys.executable, "-c", code], cwd=path, env=environ | {"PYTHONPATH": str(path)},
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


SHOW = ("import portal.native as n, portal.core.money as m, portal.build.full as f; "
        "print(m.__file__, f.__file__, n.status())")


def test_an_edited_module_runs_from_its_source_and_so_do_the_others(tmp_path):
    """The installed package copied whole (compiled or not), one compiled module's source edited:
    every compiled module is imported from its source, never the compiled code of the old one."""
    shutil.copytree(native.PACKAGE, tmp_path / "portal", ignore=shutil.ignore_patterns("__pycache__"))
    before = run_python(SHOW, tmp_path).split(maxsplit=2)
    if native.status() == "compiled":
        assert before[0].endswith(EXT) and before[1].endswith(EXT) and before[2] == "compiled"
    with (tmp_path / "portal" / "build" / "full.py").open("a") as f:
        f.write("EDITED = True\n")
    after = run_python(SHOW + "; print(f.EDITED)", tmp_path).splitlines()
    money, full, status = after[0].split(maxsplit=2)
    assert money.endswith("money.py") and full.endswith("full.py") and after[1] == "True"
    if before[2] == "compiled":
        assert status == "stale: portal.build.full edited since compiled (pip install again)"


def test_portal_native_0_runs_the_source(tmp_path):
    money, full, status = run_python(SHOW, REPO, PORTAL_NATIVE="0").split(maxsplit=2)
    assert money.endswith("money.py") and full.endswith("full.py")
    assert status in ("off: PORTAL_NATIVE=0", "not compiled")


def test_the_test_lanes_run_what_they_say():
    """scripts/test.sh runs the suite compiled, then again with PORTAL_NATIVE=0: where it asks for
    compiled modules (PORTAL_EXPECT_COMPILED=1), they must be the ones running."""
    import portal.core.accounts as accounts
    if os.environ.get(native.ENV) == "0":
        assert accounts.__file__.endswith(".py")
    elif os.environ.get("PORTAL_EXPECT_COMPILED") == "1":
        assert native.status() == "compiled" and accounts.__file__.endswith(EXT)


def test_compiled_modules_take_problems_as_found_never_as_a_list():
    """Compiled code calls a list's own append and len on a value typed as a list, past Problems'
    overrides (which count and cap): a bad row would pass unsaid. Seen: a build of a ledger with
    an amount 'lots' in it succeeded, compiled. Where a Problems may come, the type is `Found`."""
    wrong = []
    for m in native.MODULES:
        path = native.source_path(m)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                for arg in node.args.args + node.args.kwonlyargs:
                    if arg.annotation is not None and "list[Problem]" in ast.unparse(arg.annotation):
                        wrong.append(f"{path.relative_to(REPO)}:{arg.lineno}: {node.name}({arg.arg})")
    assert wrong == []


def test_a_whole_number_below_its_minimum_is_refused_not_read_as_zero():
    """Compiled, `value if value >= minimum else False` was an int, and so was a union of int and
    False: False came back as 0, and customers.csv rows with terms_days -1 or link_version 0 passed."""
    from portal.ledger.reading import NotWhole, _whole
    for text, minimum in (("-1", 0), ("0", 1), ("x", 0), ("1.5", 0)):
        with pytest.raises(NotWhole):
            _whole(text, minimum)
    assert _whole("0", 0) == 0 and _whole("", 1) is None and _whole("30", 0) == 30


@pytest.mark.parametrize("module", native.MODULES)
def test_each_compiled_module_is_a_source_file_of_the_package(module):
    assert native.source_path(module).is_file()


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.name != ".publish-id"}  # a build's random id


@pytest.mark.slow
def test_the_compiled_build_writes_what_the_source_writes(tmp_path):
    """The demo company's ledger (every kind of entry, four currencies, stories told by hand) and a
    generated one of 3,000 customers built on two workers, once with the compiled modules and once
    from source, in the same folder: the same site and staff files, byte for byte."""
    sys.path.insert(0, str(REPO / "bench"))
    try:
        import genledger
    finally:
        sys.path.remove(str(REPO / "bench"))
    for name in ("demo", "generated"):
        root = tmp_path / name
        if name == "demo":
            shutil.copytree(REPO / "content", root / "content",
                            ignore=shutil.ignore_patterns("online-payments.csv", "contacts.csv"))
        else:
            genledger.generate(root, 3000)
        shutil.copytree(REPO / "site_templates", root / "site_templates")
        built = {}
        for mode, env in (("compiled", {}), ("source", {native.ENV: "0"})):
            for made in ("site", "staff", ".portal"):
                shutil.rmtree(root / made, ignore_errors=True)
            environ = {k: v for k, v in os.environ.items() if k != native.ENV} | env | {
                "PORTAL_SECRET_KEY": "native-test-key-0123456789abcdef", "PORTAL_TIMING": "1"}
            r = subprocess.run([sys.executable, "-m", "portal", "--root", str(root), "build", "--as-of", "2026-11-25",
                                "--workers", "2"], env=environ, capture_output=True, text=True, timeout=600)
            assert r.returncode == 0, r.stderr
            ran = "hot modules: compiled" in r.stderr
            assert ran == (mode == "compiled" and native.status(check_env=False) == "compiled"), r.stderr[:300]
            built[mode] = tree(root / "site"), tree(root / "staff")
        assert built["compiled"][0] == built["source"][0] and len(built["source"][0]) > 50
        assert built["compiled"][1] == built["source"][1]


def build_ext_of(tmp_path: Path, source: str):
    """setup.py's BuildExt over one extension module made of `source`, building into tmp_path/lib
    (where a stamp of an earlier compile is left)."""
    from setuptools import Distribution, Extension

    setup = runpy.run_path(str(REPO / "setup.py"), run_name="setup")  # its classes, without running setup()
    (tmp_path / "probe.c").write_text(source)
    dist = Distribution({"name": "probe", "ext_modules": [Extension("probe", [str(tmp_path / "probe.c")])]})
    cmd = setup["BuildExt"](dist)
    cmd.build_lib, cmd.build_temp = str(tmp_path / "lib"), str(tmp_path / "temp")
    cmd.ensure_finalized()
    stamp = tmp_path / "lib" / "portal" / native.STAMP
    stamp.parent.mkdir(parents=True)
    stamp.write_text("{}")
    return cmd, stamp


def test_a_compile_that_fails_installs_plain_python_and_says_so(tmp_path, capfd):
    cmd, stamp = build_ext_of(tmp_path, "this is not C\n")
    cmd.run()
    assert cmd.extensions == [] and not stamp.exists()  # no stamp: no compiled module would ever run
    assert "portal: not compiled" in capfd.readouterr().err


PROBE_C = """\
#include <Python.h>
static struct PyModuleDef m = {PyModuleDef_HEAD_INIT, "probe"};
PyMODINIT_FUNC PyInit_probe(void) { return PyModule_Create(&m); }
"""


def test_a_compile_that_works_stamps_the_sources_it_compiled(tmp_path):
    cmd, stamp = build_ext_of(tmp_path, PROBE_C)
    cmd.run()
    assert (tmp_path / "lib" / f"probe{EXT}").exists()
    assert json.loads(stamp.read_text()) == native.digests()
