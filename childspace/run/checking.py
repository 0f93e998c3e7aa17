"""What ``childspace check`` says: every input loaded and summarised (counts, repairs, exclusions, overlapping
boundaries, what the report will do with the pilots, the register check), before any analysis."""

from __future__ import annotations

from typing import Any

from childspace._errors import ChildspaceError
from childspace.run.config import RunConfig
from childspace.run.pipeline import load_inputs, preflight, require_origins
from childspace.run.results import Progress
from childspace.run.results import quiet as _quiet

#: ids shown per line of a `check` repair report; the rest are counted (every id is in the workbook's tables)
CHECK_MAX_IDS = 10


def _report_line(r: Any) -> str:
    """One repair/exclusion row of `check`: its check, count, message and file, and at most CHECK_MAX_IDS ids."""
    parts = []
    for key, v in r.items():
        s = str(v)
        if s in ("", "nan", "None"):
            continue
        if key == "ids":
            ids = [i for i in (v if isinstance(v, (list, tuple)) else s.split(";")) if str(i).strip()]
            if len(ids) > CHECK_MAX_IDS:
                s = (
                    "; ".join(str(i).strip() for i in ids[:CHECK_MAX_IDS])
                    + f" … (+{len(ids) - CHECK_MAX_IDS} more)"
                )
            else:
                s = "; ".join(str(i).strip() for i in ids)
        parts.append(s)
    return "; ".join(parts)


def _pilot_plan(pilots: Any) -> str:
    """What the report will do with the pilots, said by `check` before any analysis: how many are assessed on
    their community polygon, how many as points (community pilots among them, which no boundary matched), and
    which are not assessed (kept out by the loader: outside the study area)."""
    from childspace.inputs.geometry import excluded_rows

    kind = pilots["kind"].astype(str).to_numpy()
    poly = pilots.geometry.geom_type.isin(["Polygon", "MultiPolygon"]).to_numpy()
    comm = kind == "community"
    parts = [f"{int((comm & poly).sum())} communities on their polygon (children covered)"]
    lost = comm & ~poly
    if lost.any():
        ids = pilots.loc[lost, "pilot_id"].astype(str).tolist()
        parts.append(
            f"{len(ids)} communities as points, no boundary matched ({', '.join(ids[:CHECK_MAX_IDS])}"
            f"{' …' if len(ids) > CHECK_MAX_IDS else ''})"
        )
    parts.append(f"{int((~comm).sum())} other pilots as points (nearest facility)")
    text = "    评估 assessed: " + "; ".join(parts)
    out = excluded_rows(pilots)
    if len(out) and "pilot_id" in out.columns:
        ids = out["pilot_id"].astype(str).tolist()
        text += (
            f"; 未评估 not assessed: {len(ids)} outside the study area ({', '.join(ids[:CHECK_MAX_IDS])}"
            f"{' …' if len(ids) > CHECK_MAX_IDS else ''})"
        )
    return text


def check_inputs(cfg: RunConfig, progress: Progress = _quiet) -> str:
    """Load every input and return a readable summary (counts, repairs, exclusions, register check)."""
    from childspace.inputs import register

    inp = load_inputs(cfg, progress)
    require_origins(cfg, inp)
    lines = [*cfg.describe(), "", f"输入检查 Inputs: {cfg.name}"]
    for name in ("townships", "communities", "facilities", "pilots", "origins"):
        g = getattr(inp, name)
        if g is None:
            continue
        extra = ""
        if name == "facilities":
            extra = " — " + ", ".join(
                f"{k} {v}" for k, v in g["category"].value_counts().sort_index().items()
            )
        if name == "pilots":
            extra = " — " + ", ".join(f"{k}: {v}" for k, v in g["batch"].value_counts().sort_index().items())
        if name == "origins":
            extra = f" — {int(g['children'].sum())} children"
            if g.attrs.get("method"):  # homes estimated from the OSM extract ([from_osm])
                extra += f" (估算 estimated from {cfg.osm.name}: {g.attrs['method']})"
        lines.append(f"  {name}: {len(g)} features{extra}")
        rep = inp.reports.get(name)
        if rep is not None and len(rep):
            for _, r in rep.iterrows():
                lines.append(f"    - {_report_line(r)}")
        if name == "pilots":
            lines.append(_pilot_plan(g))
    try:
        lines.append(f"  outputs: {preflight(cfg)}")
    except ChildspaceError as exc:
        lines.append(f"  outputs: ! {exc}")
    from childspace.analysis.units import overlapping_units

    for name in ("townships", "communities"):
        g = getattr(inp, name)
        ov = overlapping_units(g) if g is not None else None
        if ov is not None and len(ov):
            pairs = "; ".join(
                f"{r.name_a} ({r.unit_id_a}) / {r.name_b} ({r.unit_id_b}): {r.overlap_m2 / 1e4:,.2f} ha, "
                f"{r.share:.0%} of the smaller"
                for r in ov.head(5).itertuples()
            )
            more = f"; and {len(ov) - 5} more" if len(ov) > 5 else ""
            lines.append(
                f"  ! {name}: {len(ov)} pair(s) overlap — {pairs}{more}. A home in two of them is counted in "
                "the one it lies deepest inside; fix the boundary file (QGIS Topology Checker, 'must not overlap')"
            )
    reg = register.load_register()
    for name, level in (("townships", "township"), ("communities", "community")):
        g = getattr(inp, name)
        if g is None:
            continue
        chk = register.check_units(g, reg, level=level)
        matched = int((chk["status"] == "ok").sum()) if "status" in chk else 0
        if matched == 0:
            lines.append(
                f"  register: none of the {name} matches the Yueqing register (another city, or "
                "synthetic data) — not checked"
            )
        else:
            counts = chk["status"].value_counts().to_dict()
            lines.append(f"  register ({level}): " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return "\n".join(lines)
