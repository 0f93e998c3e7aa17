"""The action plan's indicators for readers: target vs current, per city and per township (report and atlas).

:func:`city_rows` turns :func:`childspace.analysis.indicators.plan_indicators` into the lines of the report's first
page (one per target: the indicator, the plan's wording, target, current value, gap, status, and the data it rests
on or "missing data: ..."); :func:`township_matrix` gives townships x indicators; :func:`indicators_html` and
:func:`key_figure` are the report's pieces. Status keys: ``met``, ``not_met``, ``missing`` (:data:`PLAN_STATUS`).
"""

from __future__ import annotations

import html
from typing import Any

import numpy as np
import pandas as pd

from childspace._errors import DataError

__all__ = ["PLAN_STATUS", "city_rows", "indicators_html", "key_figure", "status_key", "township_matrix"]

#: status key -> (中文, English, colour, symbol); the symbol tells them apart without colour
PLAN_STATUS: dict[str, tuple[str, str, str, str]] = {
    "met": ("达标", "Met", "#2166ac", "✓"),
    "not_met": ("未达标", "Not met", "#9e0142", "×"),
    "missing": ("缺数据", "Missing data", "#888888", "?"),
}
_NEED = ("level", "unit_id", "unit", "target_id", "indicator", "target", "value", "status")


def _check(ind: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in _NEED if c not in ind.columns]
    if missing:
        raise DataError(
            f"indicators table lacks columns {missing}",
            fix="pass the output of childspace.analysis.indicators.plan_indicators",
        )
    return pd.DataFrame(ind)


def status_key(status: object) -> str:
    """``"达标 met"`` -> ``"met"``, ``"未达标 not met"`` -> ``"not_met"``, anything else -> ``"missing"``."""
    s = str(status)
    if s.startswith("未达标") or "not met" in s:
        return "not_met"
    if s.startswith("达标") or s.endswith(" met"):
        return "met"
    return "missing"


def _num(v: object, digits: int = 2) -> str:
    try:
        x = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "—"
    if not np.isfinite(x):
        return "—"
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:,.{digits}f}".rstrip("0").rstrip(".")


def _text(v: object) -> str:
    return "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)


def city_rows(indicators: pd.DataFrame) -> pd.DataFrame:
    """One line per target for the city, as the report's first page prints it.

    Returns
    -------
    DataFrame
        ``target_id``, ``indicator``, ``wording``, ``target`` (text: comparison, number, unit, year), ``value``
        (text, "—" when missing), ``gap`` (text), ``status`` (key of :data:`PLAN_STATUS`), ``status_text``,
        ``basis`` (the data the value rests on), ``missing`` ("missing data: ..." or empty), ``source``.
    """
    ind = _check(indicators)
    city = ind[ind["level"].astype(str) == "city"]
    rows = []
    for r in city.to_dict("records"):
        unit = _text(r.get("unit_of_measure"))
        year = r.get("year")
        yr = f"（{int(year)}年）" if year is not None and pd.notna(year) else ""
        comp = "≥" if str(r.get("comparison", ">=")) == ">=" else "≤"
        key = status_key(r["status"])
        zh, en, _c, sym = PLAN_STATUS[key]
        rows.append(
            {
                "target_id": r["target_id"],
                "indicator": _text(r["indicator"]),
                "wording": _text(r.get("wording")),
                "target": f"{comp} {_num(r['target'])} {unit}{yr}".strip(),
                "value": _num(r["value"]),
                "gap": _num(r.get("gap")) if key == "not_met" else ("0" if key == "met" else "—"),
                "status": key,
                "status_text": f"{sym} {zh} {en}",
                "basis": _text(r.get("basis")),
                "missing": _text(r.get("missing")),
                "source": _text(r.get("source")),
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "target_id",
            "indicator",
            "wording",
            "target",
            "value",
            "gap",
            "status",
            "status_text",
            "basis",
            "missing",
            "source",
        ],
    )


def township_matrix(indicators: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Townships x indicators: ``(values, statuses, labels)``.

    ``values`` and ``statuses`` are indexed by township name with one column per target measured per township
    (status keys of :data:`PLAN_STATUS`); ``labels`` the indicator names in column order. Empty frames when the
    table has no township rows.
    """
    ind = _check(indicators)
    town = ind[ind["level"].astype(str) == "township"]
    if not len(town):
        return pd.DataFrame(), pd.DataFrame(), []
    order = list(pd.unique(town["target_id"]))
    names = list(pd.unique(town["unit"].astype(str)))
    val = town.pivot_table(index="unit", columns="target_id", values="value", aggfunc="first", dropna=False)
    val = val.reindex(index=names, columns=order)
    st = (
        town.assign(k=town["status"].map(status_key))
        .pivot(index="unit", columns="target_id", values="k")
        .reindex(index=names, columns=order)
    )
    labels = [str(town.loc[town["target_id"] == t, "indicator"].iloc[0]) for t in order]
    return val, st, labels


def key_figure(indicators: pd.DataFrame) -> tuple[str, str] | None:
    """(value, label) for the key figures: how many of the plan's targets the city meets."""
    rows = city_rows(indicators)
    if not len(rows):
        return None
    met = int((rows["status"] == "met").sum())
    miss = int((rows["status"] == "missing").sum())
    return (
        f"{met} / {len(rows)}",
        f"项规划指标达标（{miss} 项缺数据） plan targets met ({miss} missing data)",
    )


def _esc(v: object) -> str:
    return html.escape(_text(v))


def _badge(key: str) -> str:
    zh, en, _c, sym = PLAN_STATUS[key]
    cls = {"met": "meets", "not_met": "gap", "missing": "unknown"}[key]
    return f'<span class="status {cls}">{sym} {zh} {en}</span>'


def indicators_html(indicators: pd.DataFrame, plan_title: str | None = None) -> str:
    """The report's plan section: the city's targets vs current values, then townships x indicators.

    Every target has a line: its value, or "missing data: ..." saying what to add; nothing is left out.
    """
    rows = city_rows(indicators)
    head = (
        "<tr><th>指标 Indicator</th><th>规划原文 Plan wording</th><th>目标 Target</th><th>现状 Current</th>"
        "<th>差距 Gap</th><th>状态 Status</th><th>数据依据 / 缺少的数据 Data used / missing</th></tr>"
    )
    body = []
    for r in rows.to_dict("records"):
        note = _esc(r["basis"])
        if r["missing"]:
            note = (note + "<br>" if note else "") + f'<b class="missing">{_esc(r["missing"])}</b>'
        body.append(
            f'<tr data-target="{_esc(r["target_id"])}" data-status="{r["status"]}">'
            f"<td><b>{_esc(r['indicator'])}</b></td><td>{_esc(r['wording'])}</td>"
            f'<td class="num">{_esc(r["target"])}</td><td class="num big">{_esc(r["value"])}</td>'
            f'<td class="num">{_esc(r["gap"])}</td><td>{_badge(r["status"])}</td><td class="note">{note}</td></tr>'
        )
    intro = (f"<p>{_esc(plan_title)}</p>" if plan_title else "") + (
        "<p>全市现状与规划目标对照；缺数据的指标写明需补充的数据。 The city's current values against the plan's "
        "targets; a target without data says what to add. 来源见各指标 Sources: see the workbook sheet "
        "“规划指标 Plan indicators”.</p>"
    )
    out = f'{intro}<table class="plan"><thead>{head}</thead><tbody>{"".join(body)}</tbody></table>'
    val, st, labels = township_matrix(indicators)
    if len(val):
        th = "".join(f"<th>{_esc(lab)}</th>" for lab in labels)
        trs = []
        for name in val.index:
            cells = []
            for t in val.columns:
                k = str(st.at[name, t]) if pd.notna(st.at[name, t]) else "missing"
                k = k if k in PLAN_STATUS else "missing"
                zh, en, colour, sym = PLAN_STATUS[k]
                cells.append(
                    f'<td class="num pm {k}" style="border-left:5px solid {colour}" title="{zh} {en}">'
                    f"{sym} {_esc(_num(val.at[name, t]))}</td>"
                )
            trs.append(f"<tr><td><b>{_esc(name)}</b></td>{''.join(cells)}</tr>")
        out += (
            "<h3>分乡镇（街道） By township</h3><p>✓ 达标 met · × 未达标 not met · ? 缺数据 missing data；"
            "“有/无”类指标的乡镇目标为至少 1 个 (count targets: at least one per township).</p>"
            f'<div class="scroll"><table class="plan-towns"><thead><tr><th>乡镇街道 Township</th>{th}</tr>'
            f"</thead><tbody>{''.join(trs)}</tbody></table></div>"
        )
    return out


def rule_lines(rules: Any) -> list[str]:
    """One bilingual line per mother-and-baby-room rule, with its thresholds (for map legends).

    ``rules``: :attr:`childspace.inputs.plan.Plan.venue_rules` (objects or dicts with ``zh``, ``floor_area_m2``,
    ``daily_visitors``, ``inclusive``).
    """
    out = []
    items = list(rules.values()) if isinstance(rules, dict) else list(rules or [])
    for r in items:
        spec: dict[str, Any] = (
            dict(r)
            if isinstance(r, dict)
            else {
                k: getattr(r, k, None) for k in ("id", "zh", "floor_area_m2", "daily_visitors", "inclusive")
            }
        )
        op = "≥" if spec.get("inclusive") else ">"
        zh, en = [], []
        area, visitors = spec.get("floor_area_m2"), spec.get("daily_visitors")
        if area is not None:
            zh.append(f"建筑面积 {op} {float(area):,.0f} m²")
            en.append(f"floor area {op} {float(area):,.0f} m²")
        if visitors is not None:
            zh.append(f"日均客流 {op} {float(visitors):,.0f} 人次")
            en.append(f"{op} {float(visitors):,.0f} visitors a day")
        out.append(f"{spec.get('zh') or spec.get('id')}：{'或'.join(zh)} ({' or '.join(en)})")
    return out
