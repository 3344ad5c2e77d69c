"""The package's folders are its layers: imports run one way, and no module imports itself round a cycle."""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "portal"
# Lower layers first: a module may import from its own layer and those before it, never after.
# portal.native (which code runs: compiled or source) is loaded with the package, before any layer.
LAYERS = ("native", "core", "ledger", "imports", "build", "pay", "staff", "web", "cli")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> str:
    part = module.split(".")[1] if "." in module else "cli"
    return part if part in LAYERS else "cli"  # portal.cli, portal.__main__: the top


def imports(path: Path) -> set[str]:
    """Every portal module a file imports, at module level or inside functions (where a cycle hides)."""
    here = module_name(path).split(".")
    if path.name != "__init__.py":
        here = here[:-1]  # the package a relative import starts from
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = here[:len(here) - node.level + 1] if node.level else []
            mod = ".".join(base + ([node.module] if node.module else []))
            if not mod.startswith("portal"):
                continue
            for alias in node.names:  # `from . import x` names a module; `from .x import y` a name in x
                candidate = f"{mod}.{alias.name}"
                found.add(candidate if (PACKAGE.parent / candidate.replace(".", "/")).with_suffix(".py").exists()
                          or (PACKAGE.parent / candidate.replace(".", "/")).is_dir() else mod)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("portal")}
    return found - {"portal"}


def graph() -> dict[str, set[str]]:
    return {module_name(p): imports(p) for p in sorted(PACKAGE.rglob("*.py"))}


def test_imports_run_from_higher_layers_to_lower_ones_only():
    wrong = [f"{m} ({layer_of(m)}) imports {i} ({layer_of(i)})"
             for m, deps in graph().items() for i in sorted(deps)
             if LAYERS.index(layer_of(i)) > LAYERS.index(layer_of(m))]
    assert wrong == []


def test_no_module_imports_itself_round_a_cycle():
    g = graph()
    cycles = []

    def visit(m, path):
        for d in sorted(g.get(m, ())):
            if d in path:
                cycles.append(" → ".join(path[path.index(d):] + [d]))
            elif d not in done:
                visit(d, path + [d])
        done.add(m)

    done: set[str] = set()
    for m in sorted(g):
        if m not in done:
            visit(m, [m])
    assert cycles == []


def test_the_layer_check_sees_imports_inside_functions(tmp_path):
    g = graph()
    assert "portal.build.lookup" in g["portal.build.aging_report"]  # imported inside report.contacts
