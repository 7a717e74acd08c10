"""The import graph of the fourlens package has no cycles and no import of a higher floor (FLOORS) outside
the packages listed in UNCHECKED.

Every import counts, wherever it is written: at module top, inside a function (a deferred import hides
a cycle, it does not remove it) and under `if TYPE_CHECKING:` (a type-only import is still a dependency
that runs the other way). `from package import name` leads to the submodule that defines `name` when
the package re-exports it lazily (`fourlens._lazy.lazy_exports`), to the submodule `package.name` when
there is one, else to the package itself. Every module is held to this except those of the packages
in UNCHECKED (a cycle with one module outside them still fails).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

import fourlens

UNCHECKED: tuple[str, ...] = ()   # every package is held to the rules; a package listed here would not be
Graph = dict[str, set[str]]
# The floors of docs/architecture.md, lowest first: a module imports from its own floor or below. A module
# belongs to the floor of the longest package prefix that names it; a lens's command line (`cli*.py`) is on
# the applications floor wherever it lives.
FLOORS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("base", ("fourlens._cache", "fourlens._io", "fourlens._lazy", "fourlens._progress", "fourlens._quadrature",
              "fourlens._sniff", "fourlens._torch", "fourlens._version", "fourlens.errors")),
    ("report", ("fourlens.report",)),
    ("lens contract", ("fourlens.triage.bundle", "fourlens.triage.detect", "fourlens.triage.registry")),
    ("lenses", ("fourlens.behavior", "fourlens.training", "fourlens.transformer", "fourlens.weights",
                "fourlens.data", "fourlens.vision")),
    ("triage", ("fourlens.triage",)),
    ("runs", ("fourlens.runs",)),
    ("applications", ("fourlens", "fourlens.cli", "fourlens.cli_errors", "fourlens.cli_groups",
                      "fourlens.cli_output", "fourlens.server", "fourlens.demo")),
)


def module_files(root: Path, package: str) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file under `root` (the directory of `package`)."""
    modules = {}
    for path in sorted(root.rglob("*.py")):
        parts = [package, *path.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def lazy_exports(tree: ast.Module, package: str) -> dict[str, str]:
    """Exported name -> defining submodule, from a `lazy_exports(__name__, {".sub": ("name", ...)})` call."""
    found = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "lazy_exports":
            for mapping in (a for a in node.args if isinstance(a, ast.Dict)):
                for key, names in zip(mapping.keys, mapping.values, strict=True):
                    if isinstance(key, ast.Constant) and isinstance(names, (ast.Tuple, ast.List)):
                        for name in names.elts:
                            found[name.value] = package + key.value
    return found


def import_graph(root: Path, package: str) -> Graph:
    """module -> the modules of `package` it imports (every import statement in the file, see above)."""
    modules = module_files(root, package)
    trees = {name: ast.parse(path.read_text(encoding="utf-8"), str(path)) for name, path in modules.items()}
    lazy = {name: lazy_exports(tree, name) for name, tree in trees.items() if modules[name].name == "__init__.py"}

    def owner(name: str) -> str | None:  # the innermost module of `package` that `name` lies in
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    def targets(node: ast.stmt, module: str) -> Iterable[str | None]:
        if isinstance(node, ast.Import):
            return (owner(alias.name) for alias in node.names)
        here = module if modules[module].name == "__init__.py" else module.rpartition(".")[0]
        base = node.module or ""
        if node.level:  # relative: one level is this package, each further level its parent
            anchor = here.split(".")[:len(here.split(".")) - node.level + 1]
            base = ".".join(anchor + ([base] if base else []))
        out = []
        for alias in node.names:
            full = f"{base}.{alias.name}"
            out.append(lazy.get(base, {}).get(alias.name) or (full if full in modules else owner(base)))
        return out

    def packages_run(target: str, importer: str) -> list[str]:
        """Importing a.b.c runs a/b/__init__.py first: the packages above `target` that `importer` is not in,
        except those whose __init__ only declares lazy re-exports (it imports nothing when it runs)."""
        parts = target.split(".")
        above = [".".join(parts[:k]) for k in range(1, len(parts))]
        return [p for p in above if p in modules and not lazy.get(p)
                and not (importer == p or importer.startswith(p + "."))]

    graph: Graph = {name: set() for name in modules}
    for name, tree in trees.items():
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                found = [t for t in targets(node, name) if t is not None and t != name]
                graph[name].update(found)
                graph[name].update(p for t in found for p in packages_run(t, name))
    return graph


def cycles(graph: Graph) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(start: str) -> None:  # iterative, so deep graphs do not hit the recursion limit
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def cycles_outside(graph: Graph, unchecked: Iterable[str]) -> list[list[str]]:
    """The cycles with at least one module outside the packages `unchecked`."""
    unchecked = tuple(unchecked)

    def exempt(module: str) -> bool:
        return any(module == p or module.startswith(p + ".") for p in unchecked)

    return [c for c in cycles(graph) if not all(exempt(m) for m in c)]


def floor_of(module: str) -> int:
    """The index in FLOORS of the floor `module` stands on."""
    if module.rpartition(".")[2].startswith("cli"):
        return len(FLOORS) - 1
    matches = [(len(prefix), index) for index, (_, prefixes) in enumerate(FLOORS) for prefix in prefixes
               if module == prefix or module.startswith(prefix + ".")]
    if not matches:
        raise AssertionError(f"{module} stands on no floor; add its package to FLOORS and docs/architecture.md")
    return max(matches)[1]


def upward_imports(graph: Graph, unchecked: Iterable[str]) -> list[str]:
    """'a (floor) -> b (floor)' for every import of a higher floor, outside the packages `unchecked`."""
    unchecked = tuple(unchecked)
    return [f"{a} ({FLOORS[floor_of(a)][0]}) -> {b} ({FLOORS[floor_of(b)][0]})"
            for a, targets in sorted(graph.items()) for b in sorted(targets)
            if floor_of(b) > floor_of(a) and not any(a == p or a.startswith(p + ".") for p in unchecked)]


def test_no_module_imports_a_higher_floor():
    graph = import_graph(Path(fourlens.__file__).resolve().parent, "fourlens")
    assert floor_of("fourlens.training.cli") == floor_of("fourlens.server.app") > floor_of("fourlens.training.run")
    assert floor_of("fourlens.triage.registry") < floor_of("fourlens.behavior.triage") < floor_of(
        "fourlens.triage.runner")
    made_up = {"fourlens.report.html": {"fourlens.behavior.compare"}, "fourlens.behavior.compare": {"fourlens.report"}}
    assert upward_imports(made_up, ()) == ["fourlens.report.html (report) -> fourlens.behavior.compare (lenses)"]
    assert upward_imports(graph, UNCHECKED) == []


def test_no_import_cycles_outside_the_unchecked_packages():
    root = Path(fourlens.__file__).resolve().parent
    graph = import_graph(root, "fourlens")
    assert "fourlens.transformer.attention_html" in graph["fourlens.transformer.attention"]  # the graph is real
    assert "fourlens.report.html" in graph["fourlens.report.report"]
    assert cycles_outside(graph, UNCHECKED) == []


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def test_the_graph_sees_deferred_type_only_relative_and_lazy_imports(tmp_path):
    _write(tmp_path, {
        "__init__.py": "",
        "a/__init__.py": 'from pkg._lazy import lazy_exports\n'
                         '__all__, __getattr__, __dir__ = lazy_exports(__name__, {".result": ("Result",)})\n',
        "a/result.py": "def findings():\n    from pkg.a.rules import rules\n    return rules()\n",
        "a/rules.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.a import Result\n",
        "b/__init__.py": "",
        "b/page.py": "from . import view\n",
        "b/view.py": "from .page import render\n",
        "c/__init__.py": "",
        "c/one.py": "import pkg.c.two\n",
        "c/two.py": "import json\n",
    })
    graph = import_graph(tmp_path, "pkg")
    assert graph["pkg.a.rules"] == {"pkg.a.result"}  # through the lazy re-export, not the package
    assert cycles(graph) == [["pkg.a.result", "pkg.a.rules"], ["pkg.b.page", "pkg.b.view"]]
    assert cycles_outside(graph, ["pkg.a"]) == [["pkg.b.page", "pkg.b.view"]]
    assert cycles_outside(graph, ["pkg.a", "pkg.b"]) == []


def test_importing_a_module_runs_the_packages_above_it(tmp_path):
    """`from pkg.d.tools import x` runs pkg/d/__init__.py first: a cycle through an eager package __init__
    is a cycle (it fails at import time when entered from the other side); a lazy __init__ runs nothing."""
    _write(tmp_path, {
        "__init__.py": "",
        "field.py": "from pkg.d.tools import helper\n",
        "d/__init__.py": "from pkg.d.method import method\n",
        "d/method.py": "from pkg.field import field\n",
        "d/tools.py": "import json\n",
        "e/__init__.py": 'from pkg._lazy import lazy_exports\n'
                         '__all__, __getattr__, __dir__ = lazy_exports(__name__, {".run": ("run",)})\n',
        "e/run.py": "from pkg.f import g\n",
        "e/contract.py": "import json\n",
        "f.py": "from pkg.e.contract import thing\n",
    })
    graph = import_graph(tmp_path, "pkg")
    assert "pkg.d" in graph["pkg.field"] and "pkg.e" not in graph["pkg.f"]
    assert cycles(graph) == [["pkg.d", "pkg.d.method", "pkg.field"]]
