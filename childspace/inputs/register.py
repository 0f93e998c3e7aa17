"""The official administrative register of Yueqing (乐清市): townships and villages/communities with their codes.

The register (``data/boundaries/yueqing_register.csv``: 25 townships/streets, 514 villages/communities, statistical
division codes 统计用区划代码) is used to check the units of a boundary file: which register units are missing,
which file names match no register unit (with the closest register names as suggestions), and where a code and a
name disagree.
"""

from __future__ import annotations

import difflib
import os
import re
import unicodedata
from pathlib import Path

import pandas as pd

from childspace._errors import DataError

#: The register shipped with the repository (resolved relative to the package, works for an editable install).
DEFAULT_REGISTER = Path(__file__).resolve().parents[1] / "data" / "boundaries" / "yueqing_register.csv"

_COLUMNS = ["level", "code", "name", "township_code", "township_name", "county_code", "county_name"]

# Longest first: "社区居委会" must go before "居委会"/"社区".
_SUFFIXES: tuple[str, ...] = (
    "街道办事处",
    "村民委员会",
    "居民委员会",
    "社区居委会",
    "社区居民委员会",
    "村委会",
    "居委会",
    "街道办",
    "街道",
    "社区",
    "镇",
    "乡",
    "村",
)
_SUFFIXES = tuple(sorted(set(_SUFFIXES), key=len, reverse=True))


def load_register(path: str | Path | None = None) -> pd.DataFrame:
    """Read the administrative register.

    Parameters
    ----------
    path : str or Path, optional
        A register CSV with columns ``level, code, name, township_code, township_name, county_code,
        county_name``; default: the bundled Yueqing register.

    Returns
    -------
    pandas.DataFrame
        One row per unit; codes are strings (12-digit ``code``, 9-digit ``township_code``).
    """
    path = Path(path) if path is not None else DEFAULT_REGISTER
    if not path.exists():
        raise DataError(
            "register file not found",
            path=path,
            fix="pass path= to the register CSV (data/boundaries/yueqing_register.csv in the repo)",
        )
    df = pd.read_csv(path, dtype=str, encoding="utf-8-sig")
    missing = [c for c in _COLUMNS if c not in df.columns]
    if missing:
        raise DataError(
            f"register lacks columns {missing}; found {list(df.columns)}",
            path=path,
            fix="use the register layout " + ", ".join(_COLUMNS),
        )
    df = df[_COLUMNS].copy()
    for col in df.columns:
        df[col] = df[col].str.strip()
    return df


def normalise_unit_name(name: object) -> str:
    """A unit name reduced for matching: NFKC, no whitespace, one administrative suffix removed.

    ``"城东街道"`` and ``"城东"`` give ``"城东"``; ``"土墩塘村委会"`` and ``"土墩塘村"`` give ``"土墩塘"``;
    ``"旭阳社区"`` gives ``"旭阳"``.
    """
    text = _plain(name)
    for suf in _SUFFIXES:
        if text.endswith(suf) and len(text) > len(suf):
            return text[: -len(suf)]
    return text


def _plain(name: object) -> str:
    if name is None or (isinstance(name, float) and pd.isna(name)):
        return ""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(name)))


def _norm_code(code: object, width: int) -> str:
    """Digits of a code, padded on the right to ``width`` (9-digit township codes -> 12 digits)."""
    if code is None or (isinstance(code, float) and pd.isna(code)):
        return ""
    text = re.sub(r"\D", "", str(code).split(".")[0] if isinstance(code, float) else str(code))
    if len(text) == 9 and width == 12:
        text += "000"
    return text


def closest(key: str, candidates: list[str], n: int = 3, cutoff: float = 0.4) -> list[str]:
    """The ``n`` candidates most similar to ``key``, most similar first (difflib ratio, plus a bonus for a
    shared beginning: a typo in a Chinese name is rarely in its first character, nor in a code's county prefix).

    For a name, compare reduced forms (:func:`normalise_unit_name`); for a division code, the digits.
    """
    scored = []
    for cand in candidates:
        ratio = difflib.SequenceMatcher(None, key, cand).ratio()
        if ratio >= cutoff:
            prefix = len(os.path.commonprefix([key, cand]))
            scored.append((ratio + 0.1 * min(prefix, 2), cand))
    scored.sort(key=lambda t: -t[0])
    return [c for _, c in scored[:n]]


def _assign(by_reg: dict, extra: list, i: int, rec: dict, reg: pd.DataFrame) -> None:
    """Attach a file unit to register unit ``i``; a second file unit for the same register unit is reported."""
    if i in by_reg:
        first = by_reg[i]
        extra.append(
            rec
            | {
                "status": "duplicate",
                "matched_by": rec["matched_by"],
                "suggestions": f"{reg.at[i, 'name']} ({reg.at[i, 'code']})",
                "note": f"the register unit is already matched by file unit {first['unit_id']}",
            }
        )
    else:
        by_reg[i] = rec


def check_units(
    boundaries: pd.DataFrame, register: pd.DataFrame | None = None, level: str | None = None
) -> pd.DataFrame:
    """Compare the units of a boundary layer with the register.

    Each file unit is matched by code (``code``, 12 digits, or a 9-digit township code) and, failing that, by
    normalised name (suffixes 街道/镇/乡/社区/村委会/居委会/村 ignored); a name shared by several register units is
    resolved with the file's ``parent_id`` (township code) when present.

    Parameters
    ----------
    boundaries : DataFrame or GeoDataFrame
        Canonical boundaries (``unit_id``, ``name``, optional ``code``, ``parent_id``, ``level``).
    register : DataFrame, optional
        From :func:`load_register`; default the bundled Yueqing register.
    level : {"township", "community"}, optional
        Register level to compare with; default the ``level`` column of ``boundaries`` (its most common value).

    Returns
    -------
    pandas.DataFrame
        Columns ``status``, ``level``, ``code``, ``name`` (register), ``township_name``, ``unit_id``,
        ``file_name``, ``file_code``, ``matched_by`` (``code``/``name``/``""``), ``suggestions`` and ``note``.
        One row per register unit (``status`` ``ok``, ``missing``, ``code_name_mismatch``) followed by one row per
        file unit that matches none (``unmatched``, with the closest register names in ``suggestions``) or
        several (``ambiguous``), or whose register unit already has a file unit (``duplicate``). Register
        units come first, in register order.
    """
    reg = load_register() if register is None else register
    if "name" not in boundaries.columns:
        raise DataError(
            f"boundaries have no 'name' column; found {list(boundaries.columns)}",
            fix="load them with childspace.inputs.loaders.load_boundaries",
        )
    if level is None:
        if "level" in boundaries.columns and boundaries["level"].notna().any():
            level = str(boundaries["level"].mode().iloc[0])
        else:
            raise DataError(
                "cannot tell the level of the boundaries", fix="pass level='township' or 'community'"
            )
    if level not in ("township", "community"):
        raise DataError(f"unknown level {level!r}", fix="use level='township' or 'community'")
    reg = reg[reg["level"] == level].reset_index(drop=True)

    reg_codes = reg["code"].astype(str).tolist()
    code_index = {c: i for i, c in enumerate(reg_codes)}
    key_index: dict[str, list[int]] = {}
    for i, name in enumerate(reg["name"]):
        for key in dict.fromkeys([normalise_unit_name(name), _plain(name)]):
            key_index.setdefault(key, []).append(i)
    reg_keys = {normalise_unit_name(n): n for n in reg["name"]}

    n = len(boundaries)
    names = boundaries["name"].tolist()
    codes = boundaries["code"].tolist() if "code" in boundaries.columns else [None] * n
    parents = boundaries["parent_id"].tolist() if "parent_id" in boundaries.columns else [None] * n
    ids = boundaries["unit_id"].tolist() if "unit_id" in boundaries.columns else list(range(n))

    by_reg: dict[int, dict] = {}
    extra: list[dict] = []
    for name, code, parent, uid in zip(names, codes, parents, ids):
        fcode = _norm_code(code, 12)
        rec = {"unit_id": uid, "file_name": name, "file_code": "" if not fcode else fcode}
        if fcode in code_index:
            i = code_index[fcode]
            same = normalise_unit_name(name) == normalise_unit_name(reg.at[i, "name"]) or not _plain(name)
            rec.update(
                matched_by="code",
                mismatch=not same,
                note=""
                if same
                else f"code {fcode} is {reg.at[i, 'name']} in the register, the file says {name}",
            )
            _assign(by_reg, extra, i, rec, reg)
            continue
        cands = key_index.get(normalise_unit_name(name)) or key_index.get(_plain(name)) or []
        if len(cands) > 1 and parent is not None and not (isinstance(parent, float) and pd.isna(parent)):
            pcode = _norm_code(parent, 12)[:9]
            narrowed = [
                i
                for i in cands
                if reg.at[i, "township_code"] == pcode
                or normalise_unit_name(reg.at[i, "township_name"]) == normalise_unit_name(parent)
            ]
            cands = narrowed or cands
        if len(cands) == 1:
            i = cands[0]
            note = ""
            if fcode:
                note = f"name matches {reg.at[i, 'name']} ({reg.at[i, 'code']}) but the file code is {fcode}"
            rec.update(matched_by="name", note=note, mismatch=bool(fcode))
            _assign(by_reg, extra, i, rec, reg)
        elif len(cands) > 1:
            extra.append(
                rec
                | {
                    "status": "ambiguous",
                    "matched_by": "",
                    "suggestions": "; ".join(
                        f"{reg.at[i, 'name']} ({reg.at[i, 'township_name']}, {reg.at[i, 'code']})"
                        for i in cands
                    ),
                    "note": "name shared by several register units; give the code or parent_id",
                }
            )
        else:
            close = closest(normalise_unit_name(name), list(reg_keys))
            extra.append(
                rec
                | {
                    "status": "unmatched",
                    "matched_by": "",
                    "suggestions": "; ".join(reg_keys[k] for k in close),
                    "note": "no register unit with this code or name",
                }
            )

    rows = []
    for i in range(len(reg)):
        base = {
            "level": level,
            "code": reg.at[i, "code"],
            "name": reg.at[i, "name"],
            "township_name": reg.at[i, "township_name"],
        }
        found = by_reg.get(i)
        if found is None:
            rows.append(
                base
                | {
                    "status": "missing",
                    "unit_id": None,
                    "file_name": None,
                    "file_code": None,
                    "matched_by": "",
                    "suggestions": "",
                    "note": "not in the file",
                }
            )
        else:
            status = "code_name_mismatch" if found.get("mismatch") else "ok"
            rows.append(
                base
                | {
                    "status": status,
                    "unit_id": found["unit_id"],
                    "file_name": found["file_name"],
                    "file_code": found["file_code"],
                    "matched_by": found["matched_by"],
                    "suggestions": "",
                    "note": found.get("note", ""),
                }
            )
    for rec in extra:
        rows.append({"level": level, "code": None, "name": None, "township_name": None} | rec)
    cols = [
        "status",
        "level",
        "code",
        "name",
        "township_name",
        "unit_id",
        "file_name",
        "file_code",
        "matched_by",
        "suggestions",
        "note",
    ]
    return pd.DataFrame(rows, columns=cols)
