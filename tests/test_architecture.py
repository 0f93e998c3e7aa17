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
    # imports under TYPE_CHECKING are seen, and kept apart from the run-time graph
    typing_only = _imports(
        "childspace.network.types", MODULES["childspace.network.types"], set(MODULES), True
    )
    assert "childspace.network.paths" in typing_only
    assert "childspace.network.paths" not in GRAPH["childspace.network.types"]
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


# A private name (``_x``) imported by another module is a shared helper in disguise: make it public in the module
# that owns it (no underscore, listed in its ``__all__``) or move it there. The ones still left, per (importer,
# exporter) below the package; this list may only shrink (a new one fails, and so does an entry that is gone).
ALLOWED_PRIVATE_IMPORTS: dict[tuple[str, str], set[str]] = {
    ("analysis.areas", "analysis._coverage_base"): {
        "_categories",
        "_label",
        "_metric_crs",
        "_metric_xy",
        "_points_of",
        "_require",
        "_snap_facilities",
        "_warn",
    },
    ("analysis.coverage", "analysis._coverage_base"): {
        "_categories",
        "_default_standards",
        "_files_of",
        "_label",
        "_metric_crs",
        "_metric_xy",
        "_points_of",
        "_radius_classes",
        "_require",
        "_snap",
        "_snap_facilities",
        "_spatial_order",
        "_target_pct",
        "_warn",
    },
    ("analysis.coverage", "analysis.areas"): {"_raster_areas", "_raster_dissolved"},
    ("analysis.pilots", "analysis.coverage"): {"_default_standards", "_require", "_target_pct"},
    ("analysis.route_tables", "analysis.safety"): {"_cfg"},
    ("analysis.routes", "analysis._route_eval"): {
        "_RouteData",
        "_concat_paths",
        "_geometry",
        "_same_paths",
        "_take_paths",
    },
    ("analysis._route_seqs", "analysis._route_eval"): {
        "_RouteData",
        "_concat_paths",
        "_evaluate",
        "_same_paths",
        "_take_paths",
    },
    ("analysis._route_tree", "analysis._route_eval"): {"_turns"},
    ("analysis.routes", "analysis.route_tables"): {"_set_verdicts"},
    ("analysis.routes", "analysis.safety"): {"_cfg"},
    ("analysis.scenarios", "analysis._coverage_base"): {"_assign_units"},
    ("analysis.school_zones", "analysis._safety_config"): {"_cfg"},
    ("analysis.school_zones", "analysis._safety_crossings"): {"_CONTROL_CODES", "_control_codes"},
    ("analysis.siting", "analysis._coverage_base"): {"_assign_units", "_require", "_row_name", "_snap"},
    ("analysis.units", "analysis._coverage_base"): {
        "_assign_units",
        "_default_standards",
        "_is_standards",
        "_label",
        "_require",
        "_target_pct",
        "_warn",
    },
    ("network.paths", "network._helpers"): {"_group_argmin"},
    ("network.queries", "network._helpers"): {
        "_group_argmin",
        "_group_min_columns",
        "_part",
        "_with_virtual",
    },
    ("network.reach", "network._helpers"): {"_csr_from_parts", "_with_virtual"},
    ("outputs.atlas", "outputs.figures"): {
        "_crs_for",
        "_decorate",
        "_metric",
        "_new_figure",
        "_style",
    },
    ("outputs.figures", "outputs._figure_base"): {
        "_Labels",
        "_SYNTHETIC_NOTE",
        "_crs_for",
        "_decorate",
        "_draw_boundaries",
        "_fix_extent",
        "_metric",
        "_new_figure",
        "_note_left_out",
        "_scale_label",
    },
    ("outputs.figures_overview", "outputs.figures"): {
        "_SYNTHETIC_NOTE",
        "_crs_for",
        "_decorate",
        "_draw_boundaries",
        "_fix_extent",
        "_metric",
        "_new_figure",
        "_scale_label",
        "_style",
    },
    ("outputs.figures_routes", "outputs.figures"): {
        "_Labels",
        "_crs_for",
        "_decorate",
        "_draw_boundaries",
        "_fix_extent",
        "_metric",
        "_new_figure",
        "_note_left_out",
        "_style",
    },
    ("outputs.figures_venues", "outputs._figure_base"): {
        "_crs_for",
        "_decorate",
        "_draw_boundaries",
        "_fix_extent",
        "_metric",
        "_new_figure",
    },
    ("outputs.figures_venues", "outputs.figures"): {"_style"},
    ("run.batch", "run.pipeline"): {"_for_file"},
    ("run.config", "run._config_checks"): {
        "_Checker",
        "_decode",
        "_input",
        "_safe_max_level",
        "_safety_profile",
        "_standards",
    },
    ("run.pipeline", "run.results"): {"_quiet"},
    ("run.pipeline", "run.writing"): {"_for_file"},
    ("run.writing", "run.results"): {"_quiet"},
}


def _private_imports() -> dict[tuple[str, str], set[str]]:
    """Private names imported from another module of the package, at run time or for annotations."""
    out: dict[tuple[str, str], set[str]] = {}
    for name, path in MODULES.items():
        pkg = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ImportFrom):
                continue
            base = node.module or ""
            if node.level:
                parts = pkg.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            if not base.startswith("childspace") or base == name:
                continue
            for a in node.names:
                # a private module imported whole (``from childspace.inputs import _validate``) is not a name
                if (
                    a.name.startswith("_")
                    and not a.name.startswith("__")
                    and f"{base}.{a.name}" not in MODULES
                ):
                    key = (name.removeprefix("childspace."), base.removeprefix("childspace."))
                    out.setdefault(key, set()).add(a.name)
    return out


def test_no_new_private_import_across_modules():
    found = _private_imports()
    new = {k: v - ALLOWED_PRIVATE_IMPORTS.get(k, set()) for k, v in found.items()}
    new = {k: v for k, v in new.items() if v}
    assert not new, (
        "private names imported from another module (make them public where they are defined): "
        + ("; ".join(f"{a} imports {sorted(v)} from {b}" for (a, b), v in sorted(new.items())))
    )
    gone = {k: v - found.get(k, set()) for k, v in ALLOWED_PRIVATE_IMPORTS.items()}
    gone = {k: v for k, v in gone.items() if v}
    assert not gone, "no longer imported, remove from ALLOWED_PRIVATE_IMPORTS: " + (
        "; ".join(f"{a} <- {b}: {sorted(v)}" for (a, b), v in sorted(gone.items()))
    )


def test_the_private_import_check_sees_them():
    """The scan finds a known private import (a broken scan would pass the test above with an empty result)."""
    found = _private_imports()
    assert "_for_file" in found[("run.batch", "run.pipeline")]
    assert ("analysis.safety", "analysis._safety_config") not in found  # public names there now
