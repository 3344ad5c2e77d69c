"""Installs the package (pyproject.toml says what it is), its hot modules compiled to C by mypyc
where this machine can: portal/native.py says which and why. Where the compile fails (no C compiler,
no Python headers) the package installs as plain Python and says so; PORTAL_NATIVE=0 skips it."""
import json
import os
import runpy
import shutil
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).resolve().parent
native = runpy.run_path(str(HERE / "portal" / "native.py"))  # by path: the package's dependencies are not here


def say(text: str) -> None:
    print(f"portal: {text}", file=sys.stderr)


def not_compiled(error: BaseException) -> None:
    say(f"not compiled ({type(error).__name__}: {error}); installing the hot modules as plain Python")


# The commands that build the package. pip also runs this file for its metadata (egg_info, dist_info),
# where no extension module is wanted: mypyc's type check and C take ~15 s each time.
BUILDS = {"build", "build_ext", "bdist_wheel", "editable_wheel", "develop", "install", "bdist_egg"}


def compiled():
    """mypyc's extension modules for native.MODULES, or [] where they cannot be made here."""
    if not BUILDS & set(sys.argv[1:]):
        return []
    if os.environ.get(native["ENV"]) == "0":
        say(f"{native['ENV']}=0: installing the hot modules as plain Python")
        return []
    try:
        from mypyc.build import mypycify

        paths = [str(native["source_path"](m, Path("portal"))) for m in native["MODULES"]]
        # Of the package's dependencies only those the compiled modules call are in pip's build
        # environment (pyproject.toml): the others' types are Any here.
        return mypycify(["--ignore-missing-imports", *paths], opt_level="3", debug_level="0",
                        group_name=native["GROUP"])
    except (Exception, SystemExit) as e:  # any failure to make the C (mypyc exits on a type error)
        not_compiled(e)
        return []


class BuildExt(build_ext):
    """Compiles, and on success stamps the sources compiled (native.STAMP); on failure leaves plain Python."""

    def run(self) -> None:
        target = HERE / "portal" if self.inplace else Path(self.build_lib) / "portal"
        stamp = target / native["STAMP"]
        stamp.unlink(missing_ok=True)  # a compiled module is only run beside a stamp of its source
        try:
            super().run()
        except Exception as e:  # compiler missing or failing: plain Python, said
            not_compiled(e)
            shutil.rmtree(Path(self.build_temp), ignore_errors=True)
            self.extensions = []
            return
        target.mkdir(parents=True, exist_ok=True)
        stamp.write_text(json.dumps(native["digests"](HERE / "portal"), indent=1) + "\n")


if __name__ == "__main__":  # as pip's build backend runs it (tests import BuildExt alone)
    setup(ext_modules=compiled(), cmdclass={"build_ext": BuildExt})
