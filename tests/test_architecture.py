"""The package's layers, checked on its import graph (every import, also those inside functions).

Data flows one way: inputs -> osm -> network -> analysis -> outputs -> run. A module may import its own layer and
the layers below it, never one above; no two modules import each other, directly or around a longer cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "childspace"
#: bottom to top; the underscore modules at the package root (_errors, _atomic, _parallel) are the base layer
LAYERS = ["", "inputs", "osm", "network", "analysis", "outputs", "run"]
#: the largest module size this layout allows (lines)
MAX_LINES = 800


def _modules() -> dict[str, Path]:
    out = {}
    for p in sorted(PKG.rglob("*.py")):
        rel = p.relative_to(PKG.parent).with_suffix("")
        name = ".".join(rel.parts)
        out[name.removesuffix(".__init__")] = p
    return out


def _is_type_checking(node: ast.AST) -> bool:
    """``if TYPE_CHECKING:`` (or ``typing.TYPE_CHECKING``): imports for annotations only, never run."""
    if not isinstance(node, ast.If):
        return False
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING"
    )


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node of ``tree`` except those inside ``if TYPE_CHECKING:`` blocks (their ``else`` is kept)."""
    out: list[ast.AST] = []
    todo: list[ast.AST] = [tree]
    while todo:
        node = todo.pop()
        out.append(node)
        if _is_type_checking(node):
            assert isinstance(node, ast.If)
            todo.extend(node.orelse)
            continue
        todo.extend(ast.iter_child_nodes(node))
    return out


def _imports(name: str, path: Path, known: set[str], typing_only: bool = False) -> set[str]:
    """childspace modules imported by ``name`` (a ``from X import y`` counts as X.y when X.y is a module).

    Imports under ``if TYPE_CHECKING:`` are left out: they name types for annotations and never run, so they
    may point upward (an analysis result typed by the engine's classes is not a dependency on them at run
    time). ``typing_only=True`` gives those instead.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"))
    pkg = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    nodes = _runtime_nodes(tree)
    if typing_only:
        ids = {id(n) for n in nodes}
        nodes = [n for n in ast.walk(tree) if id(n) not in ids]
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("childspace"))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = pkg.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            if not base.startswith("childspace"):
                continue
            subs = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in known]
            found.update(subs or [base])
    found.discard(name)
    return found


def _layer(module: str) -> int:
    parts = module.split(".")
    if module == "childspace.__main__":
        return len(LAYERS)  # the entry point sits above everything
    if len(parts) < 2 or parts[1].startswith("_") or parts[1] not in LAYERS:
        return 0
    return LAYERS.index(parts[1])


MODULES = _modules()
GRAPH = {m: _imports(m, p, set(MODULES)) for m, p in MODULES.items()}


def test_every_module_is_in_a_layer():
    loose = [
        m
        for m in MODULES
        if m.count(".") == 1
        and not m.split(".")[1].startswith("_")
        and m.split(".")[1] not in LAYERS
        and m != "childspace"
    ]
    assert not loose, f"modules outside the layer folders: {loose}"


def test_no_import_from_a_higher_layer():
    bad = [
        f"{m} ({LAYERS[_layer(m)] or 'base'}) imports {d} ({LAYERS[_layer(d)] or 'base'})"
        for m, deps in GRAPH.items()
        if m != "childspace.__main__"
        for d in deps
        if d in MODULES and _layer(d) > _layer(m) and not (m == "childspace" and d == "childspace._errors")
    ]
    assert not bad, "\n".join(bad)


def test_no_import_cycle():
    # Tarjan-free: repeated DFS with colours, report the first cycle found
    colour: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> list[str] | None:
        colour[m] = 1
        stack.append(m)
        for d in sorted(GRAPH.get(m, ())):
            if d not in MODULES or d in ("childspace",) or MODULES[d].name == "__init__.py":
                continue  # a package's __init__ only re-exports its own modules
            if colour.get(d) == 1:
                return stack[stack.index(d) :] + [d]
            if colour.get(d) is None and (cyc := visit(d)):
                return cyc
        stack.pop()
        colour[m] = 2
        return None

    for m in MODULES:
        if colour.get(m) is None and (cyc := visit(m)):
            pytest.fail("import cycle: " + " -> ".join(cyc))


def test_the_checks_see_the_imports():
    """The graph is not empty and knows the main edges (a broken parser would pass every test above)."""
    assert "childspace.network" in GRAPH["childspace.analysis.coverage"]
    assert any(d.startswith("childspace.analysis") for d in GRAPH["childspace.run.pipeline"])
    assert (
        _layer("childspace.run.cli")
        > _layer("childspace.outputs.maps")
        > _layer("childspace.analysis.routes")
    )
    assert (
        _layer("childspace.analysis.routes")
        > _layer("childspace.network.engine")
        > _layer("childspace.osm.reader")
    )


def test_modules_stay_readable():
    big = {
        str(p.relative_to(PKG.parent)): n
        for p in MODULES.values()
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not big, f"modules over {MAX_LINES} lines (split them by concern): {big}"
