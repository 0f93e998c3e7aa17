"""`childspace check` lists what the loaders repaired or set aside, one short line per problem."""

from __future__ import annotations

import pandas as pd

from childspace.run.checking import CHECK_MAX_IDS, _report_line


def test_a_long_id_list_is_cut_with_a_count():
    ids = [f"H{i:06d}" for i in range(190_330)]
    row = pd.Series(
        {
            "check": "outside_area",
            "count": len(ids),
            "ids": ids,
            "message": "homes outside the study area",
            "file": "homes.gpkg",
        }
    )
    line = _report_line(row)
    assert len(line) < 400 and f"(+{len(ids) - CHECK_MAX_IDS} more)" in line
    assert "H000000" in line and "H000009" in line and "H000010" not in line
    assert line.startswith("outside_area; 190330; ") and line.endswith("homes.gpkg")


def test_a_short_id_list_is_shown_whole():
    row = pd.Series(
        {"check": "empty_coordinates", "count": 2, "ids": "E2; E3", "message": "dropped", "file": None}
    )
    assert _report_line(row) == "empty_coordinates; 2; E2; E3; dropped"
