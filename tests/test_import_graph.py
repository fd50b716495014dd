"""featlib's import graph, read from the sources: no module imports itself through others, the core never
imports Streamlit, and imports sit at the top of their files.

Every ``import featlib...`` and ``from featlib... import ...`` counts, at any depth (inside functions too:
a lazy import still ties the two modules together), relative imports resolved; a name imported from a
package counts as its submodule when it is one; so does a proxy, ``LazyModule("featlib.maps.kernels")``
(:mod:`featlib.lazy`): it imports its module at first use. Imports under ``if TYPE_CHECKING:`` do not count
(they never run). Imports only go down: errors, settings and small helpers, then ``featlib.datasets``,
``featlib.models``, ``featlib.read`` (reductions, extract), ``featlib.maps`` (embed, metrics, auto_metric),
``featlib.share`` (views, compare, bundle), the store, jobs, and ``featlib.cli`` and ``featlib.app`` on top.
A package's ``__init__`` counts as a module: inside ``featlib.models`` and ``featlib.datasets``, whose
``__init__`` imports their modules, a module imports its siblings by their own names, not the package.

Imports sit at the top of their files: featlib's own modules are imported there, and the heavy third-party
packages (:data:`HEAVY`) are reached through :mod:`featlib.lazy`'s proxies (``from featlib.lazy import keras``),
which import them at first use. :data:`FUNCTION_IMPORTS_ALLOWED` lists the imports of either left inside a
function, each with its reason.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "featlib"
APP = "featlib.app"
LAZY = "LazyModule"
"""The proxy class of :mod:`featlib.lazy`; ``LazyModule("featlib.x")`` is an import of ``featlib.x``."""
HEAVY = frozenset(
    {
        "keras",
        "tensorflow",
        "umap",
        "pynndescent",
        "openTSNE",
        "numba",
        "sklearn",
        "scipy",
        "h5py",
        "dask",
        "distributed",
        "plotly",
        "pandas",
        "PIL",
        "cuml",
        "cupy",
        "kaleido",
    }
)
"""Third-party packages that take long to import: never imported inside a function (use :mod:`featlib.lazy`)."""
FUNCTION_IMPORTS_ALLOWED: dict[tuple[str, str], str] = {}
"""``(module, imported name) -> why``: the imports of featlib's modules or heavy packages left inside functions,
e.g. ``("featlib.jobs.worker", "featlib.jobs.tasks"): "..."``. None today: every cycle was broken and every heavy
package goes through :mod:`featlib.lazy`."""


def module_name(path: Path) -> str:
    """``featlib/store/__init__.py`` -> ``featlib.store``; ``featlib/jobs/tasks.py`` -> ``featlib.jobs.tasks``."""
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(test: ast.expr) -> bool:
    """``TYPE_CHECKING`` or ``typing.TYPE_CHECKING``."""
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node of ``tree`` but those under ``if TYPE_CHECKING:`` (its ``else`` branch is kept)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


def imported_names(path: Path, name: str) -> Iterator[tuple[str, int]]:
    """``(dotted name, line)`` of everything ``path`` (module ``name``) imports, relative imports resolved.

    ``from a.b import c`` yields ``a.b.c`` (a submodule, if ``c`` is one) and ``a.b`` itself.
    """
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in _nodes(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            yield base, node.lineno
            for alias in node.names:
                yield f"{base}.{alias.name}", node.lineno
        elif (target := lazy_target(node)) is not None:
            yield target, node.lineno


def lazy_target(node: ast.AST) -> str | None:
    """The module a proxy stands for: ``"featlib.x"`` for ``LazyModule("featlib.x")`` (or ``lazy.LazyModule(...)``)."""
    if not isinstance(node, ast.Call) or not node.args:
        return None
    func = node.func
    name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
    first = node.args[0]
    if name == LAZY and isinstance(first, ast.Constant) and isinstance(first.value, str):
        return first.value
    return None


def function_imports(source: str) -> Iterator[tuple[str, int]]:
    """``(dotted name, line)`` of what ``source`` imports inside functions (statements, not proxies; relative
    imports as ``featlib.``-prefixed names). Imports under ``if TYPE_CHECKING:`` do not count."""
    tree = ast.parse(source)
    seen: set[int] = set()
    for function in [n for n in _nodes(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]:
        for node in _nodes(function):
            if not isinstance(node, (ast.Import, ast.ImportFrom)) or id(node) in seen:
                continue
            seen.add(id(node))
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield alias.name, node.lineno
            else:
                yield ("featlib." if node.level else "") + (node.module or ""), node.lineno


def import_graph() -> tuple[dict[str, dict[str, list[int]]], dict[str, set[str]]]:
    """``(edges, outside)``: ``edges[m][n]`` the lines where featlib module ``m`` imports featlib module ``n``;
    ``outside[m]`` the top-level names of the other packages ``m`` imports."""
    modules = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}
    edges: dict[str, dict[str, list[int]]] = {m: {} for m in modules}
    outside: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        for target, line in imported_names(path, name):
            if target.split(".")[0] != "featlib":
                outside[name].add(target.split(".")[0])
                continue
            while target and target not in modules:  # featlib.store.Workspace -> featlib.store
                target = target.rpartition(".")[0]
            if target and target != name:
                edges[name].setdefault(target, []).append(line)
    return edges, outside


def cycles(edges: dict[str, dict[str, list[int]]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm, without recursion)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
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
    return found


def describe(component: list[str], edges: dict[str, dict[str, list[int]]]) -> str:
    """One line per module of a cycle: the modules of the cycle it imports, with the lines."""
    members = set(component)
    text = [f"cycle of {len(component)} modules:"]
    for module in component:
        inside = {target: sorted(set(at)) for target, at in sorted(edges[module].items()) if target in members}
        text.append(f"  {module} -> " + ", ".join(f"{t} (line {', '.join(map(str, at))})" for t, at in inside.items()))
    return "\n".join(text)


def test_the_graph_is_read():
    edges, outside = import_graph()
    assert {"featlib.models", "featlib.store", "featlib.store.workspace", "featlib.jobs.tasks"} <= set(edges)
    assert "featlib.datasets" in edges["featlib.models.checks"]  # a top-level import
    assert "featlib.models.budget" in edges["featlib.models.load"]
    assert "featlib.models.load" in edges["featlib.models"]  # a package's __init__ is a module
    assert "streamlit" in outside["featlib.app.widgets"]


def test_lazy_module_proxies_count_as_imports(tmp_path):
    edges, _ = import_graph()
    assert "featlib.maps.kernels" in edges["featlib.maps.knn"]  # knn reaches its Numba kernels through a proxy
    # A proxy that closes a circle makes a cycle like any import.
    (tmp_path / "a.py").write_text("from featlib import b\n")
    (tmp_path / "b.py").write_text('from featlib import lazy\nfirst = lazy.LazyModule("featlib.a", "a")\n')
    found = {name: {t for t, _ in imported_names(tmp_path / f"{name}.py", f"featlib.{name}")} for name in "ab"}
    assert "featlib.a" in found["b"]
    small = {
        f"featlib.{name}": {t: [1] for t in targets if t in ("featlib.a", "featlib.b")}
        for name, targets in found.items()
    }
    assert cycles(small) == [["featlib.a", "featlib.b"]]


def test_type_checking_imports_do_not_count():
    source = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import featlib.x\nelse:\n    import featlib.y\n"
    tree = ast.parse(source + "def f():\n    import featlib.z\n")
    names = {n.names[0].name for n in _nodes(tree) if isinstance(n, ast.Import)}
    assert names == {"featlib.y", "featlib.z"}


def test_the_cycle_finder_finds_cycles():
    edges = {"a": {"b": [1]}, "b": {"c": [2]}, "c": {"a": [3], "d": [4]}, "d": {}, "e": {"e": [5]}}
    assert cycles(edges) == [["a", "b", "c"]]
    assert "a -> b (line 1)" in describe(["a", "b", "c"], edges)


def test_no_import_cycle():
    edges, _ = import_graph()
    found = cycles(edges)
    assert not found, "featlib's imports form cycles (imports must only go down):\n" + "\n".join(
        describe(component, edges) for component in found
    )


def test_the_core_never_imports_streamlit():
    edges, outside = import_graph()
    core = [m for m in edges if m != APP and not m.startswith(APP + ".")]
    assert core
    assert not [m for m in core if "streamlit" in outside[m]], "featlib's core imports Streamlit"
    for module in core:  # nor through a featlib module that does, at any depth
        seen, todo = set(), [module]
        while todo:
            for target in edges[todo.pop()]:
                if target not in seen:
                    seen.add(target)
                    todo.append(target)
        leaks = sorted(t for t in seen if t == APP or t.startswith(APP + ".") or "streamlit" in outside[t])
        assert not leaks, f"{module} imports Streamlit through {leaks}"


def test_imports_sit_at_the_top():
    """No function imports a featlib module or a heavy package (:data:`HEAVY`), but those allowed, each with its reason:
    featlib's modules are imported at the top of the file, heavy packages through :mod:`featlib.lazy`'s proxies."""
    modules = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}
    found, used = [], set()
    for name, path in modules.items():
        for target, line in function_imports(path.read_text(encoding="utf-8")):
            top = target.split(".")[0]
            if top != "featlib" and top not in HEAVY:
                continue
            if (name, target) in FUNCTION_IMPORTS_ALLOWED:
                used.add((name, target))
                continue
            found.append(f"  {path.relative_to(PACKAGE.parent)}:{line}: {target}")
    assert not found, (
        "imports inside functions (import featlib's modules at the top of the file; heavy packages through "
        "featlib.lazy, e.g. `from featlib.lazy import keras`; or list one in FUNCTION_IMPORTS_ALLOWED with "
        "its reason):\n" + "\n".join(found)
    )
    assert not set(FUNCTION_IMPORTS_ALLOWED) - used, f"allowed but gone: {sorted(set(FUNCTION_IMPORTS_ALLOWED) - used)}"
    assert all(reason.strip() for reason in FUNCTION_IMPORTS_ALLOWED.values())


def test_the_import_check_sees_function_imports():
    source = (
        "import os\n"
        "def f():\n"
        "    import keras\n"
        "    from featlib.maps import embed\n"
        "    if True:\n"
        "        import sklearn.neighbors\n"
        "    def g():\n"
        "        from . import lazy\n"
        "def h():\n"
        "    if TYPE_CHECKING:\n"
        "        import scipy\n"
    )
    assert sorted(function_imports(source), key=lambda item: item[1]) == [
        ("keras", 3),
        ("featlib.maps", 4),
        ("sklearn.neighbors", 6),
        ("featlib.", 8),
    ]
