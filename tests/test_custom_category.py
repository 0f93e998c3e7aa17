"""A category of the city's own (``[standards.categories.X]`` in the run config) goes through the analyses and is
named, in Chinese and English, on its maps, figures and QGIS style (outputs once failed on it: they named
categories from the default standards only)."""

from __future__ import annotations

import shutil
import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from childspace.inputs.standards import category_label, category_names
from childspace.outputs.style import CATEGORY_LABELS
from childspace.run import pipeline, writing_maps
from childspace.run.config import SAMPLE_DATA, load_config

YOUTH = """编号,名称,类型,经度,纬度
YC01,示例青少年活动站,青少年活动站,120.9665,28.1150
YC02,示例少年宫分站,青少年活动站,120.9700,28.1120
"""


@pytest.fixture(scope="module")
def custom(tmp_path_factory):
    """The bundled sample copied, with two youth stations (a category the defaults do not know) added."""
    root = tmp_path_factory.mktemp("custom")
    data = root / "data"
    shutil.copytree(Path(SAMPLE_DATA).parent if Path(SAMPLE_DATA).is_file() else SAMPLE_DATA, data)
    (data / "facilities" / "youth.csv").write_text(YOUTH, encoding="utf-8")
    text = (data / "sample.toml").read_text(encoding="utf-8")
    text = text.replace(
        "[[facilities]]", '[[facilities]]\npath = "facilities/youth.csv"\n\n[[facilities]]', 1
    )
    text = text.replace('"children_home"]', '"children_home", "youth_station"]', 1)
    text += (
        '\n[standards.categories.youth_station]\nzh = "青少年活动站"\nen = "Youth station"\n'
        'radius_m = 500\nlife_circle = 10\nlabels = ["青少年活动站"]\n'
    )
    (data / "custom.toml").write_text(text, encoding="utf-8")
    cfg = load_config(data / "custom.toml", outputs=root / "out")
    res = pipeline.run_analyses(cfg, routes=False)
    return cfg, res, root


def test_the_new_category_is_analysed_and_named(custom):
    cfg, res, _ = custom
    assert "youth_station" in cfg.categories
    fac = res.layers["facilities"]
    assert (fac["category"] == "youth_station").sum() == 2
    cov = res.tables["community_coverage"]
    assert (cov["category"] == "youth_station").sum() == len(res.inputs.communities)
    assert category_label("youth_station") == "青少年活动站 Youth station"
    assert category_names("youth_station") == ("青少年活动站", "Youth station")
    assert CATEGORY_LABELS.get("youth_station") == ("青少年活动站", "Youth station")
    assert "youth_station" in CATEGORY_LABELS and "no_such_category" not in CATEGORY_LABELS
    assert category_names("no_such_category") is None


def test_its_map_figure_and_qgis_style_are_written(custom):
    cfg, res, root = custom
    out = root / "maps_out"
    out.mkdir()
    tasks, captions = writing_maps.map_tasks(res, cfg, out)
    wanted = [t for t in tasks if "youth_station" in t.name or "overview" in t.name]
    assert len(wanted) == 2
    for t in wanted:
        t.run()
    html = (out / "maps" / "coverage_youth_station.html").read_text(encoding="utf-8")
    assert "青少年活动站" in html and "Youth station" in html
    assert (out / "figures" / "coverage_youth_station.png").stat().st_size > 10_000
    assert (out / "maps" / "overview.html").exists() and (out / "figures" / "overview.png").exists()
    gpkg = pipeline.write_geopackage(out / "run.gpkg", {"facilities": res.layers["facilities"]})
    with sqlite3.connect(gpkg) as con:
        (qml,) = con.execute("SELECT styleQML FROM layer_styles WHERE f_table_name = 'facilities'").fetchone()
    labels = {c.get("value"): c.get("label") for c in ET.fromstring(qml).iter("category")}
    assert labels["youth_station"] == "青少年活动站 Youth station"
    assert set(res.layers["facilities"]["category"]) <= set(labels)
