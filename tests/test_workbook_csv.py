"""CSV tables: formula text neutralised and lists joined, looking at each distinct value once."""

from __future__ import annotations

import pandas as pd

from childspace.outputs import workbook as wb


def test_csv_neutralises_only_formula_text_and_joins_lists(tmp_path):
    n = 5000
    names = ["示例社区 A", '=HYPERLINK("x")', "-1 楼", "B"] * (n // 4)
    df = pd.DataFrame(
        {
            "name": names,
            "schools": [["S1", "S2"], ("S3",), None, "S4"] * (n // 4),
            "mixed": [1, "x", None, "@y"] * (n // 4),
            "children": range(n),
        }
    )
    p = wb.write_csv_tables(tmp_path, {"t": df})["t"]
    back = pd.read_csv(p, encoding="utf-8-sig", keep_default_na=False)
    assert back["name"].tolist() == ["示例社区 A", '\'=HYPERLINK("x")', "'-1 楼", "B"] * (n // 4)
    assert back["schools"].tolist() == ["S1; S2", "S3", "", "S4"] * (n // 4)
    assert back["mixed"].astype(str).tolist() == ["1", "x", "", "'@y"] * (n // 4)
    assert back["children"].tolist() == list(range(n))
    # a table without formula text is written as it is
    q = wb.write_csv_tables(tmp_path, {"u": df[["children"]].assign(name="甲")})["u"]
    assert pd.read_csv(q, encoding="utf-8-sig")["name"].eq("甲").all()
