"""Line numbers of the tables and keys of a TOML text (``tomllib`` gives the values but not where they are).

A light scanner, not a parser: it follows table headers (``[a.b]``, ``[[a]]`` with a running count per array),
dotted keys and the top-level keys of inline tables, and skips comments, strings and multi-line arrays/strings.
It only has to find where a key that the parsed document contains was written, so that a config error can say
"line 23".
"""

from __future__ import annotations

import re

Key = tuple[object, ...]  # ("facilities", 1, "coords"): table names, array indices (0-based), key names

_BARE = r"[A-Za-z0-9_\-]+"
_QUOTED = r'"(?:[^"\\]|\\.)*"|\'[^\']*\''
_PART = rf"(?:{_BARE}|{_QUOTED})"
_DOTTED = rf"{_PART}(?:\s*\.\s*{_PART})*"
_HEADER = re.compile(rf"^\s*(\[\[?)\s*({_DOTTED})\s*\]\]?")
_KEYLINE = re.compile(rf"^\s*({_DOTTED})\s*=\s*(.*)$")
_INLINE_KEY = re.compile(rf"(?:^|[{{,])\s*({_DOTTED})\s*=")


def _parts(dotted: str) -> list[str]:
    out = []
    for m in re.finditer(_PART, dotted):
        p = m.group(0)
        if p[:1] in "\"'":
            p = p[1:-1]
        out.append(p)
    return out


def _strip_strings(text: str) -> str:
    """The text with the content of one-line strings blanked (so '#', '=' or '{' inside them do not count)."""
    return re.sub(_QUOTED, '""', text)


def key_lines(text: str) -> dict[Key, int]:
    """Map every table and key of a TOML document to the (1-based) line it is written on.

    Keys are tuples of table/key names, with the 0-based index of an array-of-tables entry after its name:
    ``[[facilities]]`` (second block) ``cords = ...`` gives ``("facilities", 1, "cords")``; the header line of a
    table is under the table's own tuple. Keys inside an inline table (``kindergarten = { radius = 250 }``) get
    the line of that inline table.
    """
    lines: dict[Key, int] = {}
    counts: dict[tuple[object, ...], int] = {}
    table: tuple[object, ...] = ()
    depth = 0  # open brackets of a multi-line array
    in_multi: str | None = None
    for no, raw in enumerate(text.splitlines(), start=1):
        line = raw
        if in_multi:  # inside a multi-line string
            if in_multi in line:
                line = line.split(in_multi, 1)[1]
                in_multi = None
            else:
                continue
        for q in ('"""', "'''"):
            if line.count(q) % 2 == 1:
                in_multi = q
                line = line.split(q, 1)[0]
        code = _strip_strings(line).split("#", 1)[0]
        if depth > 0:
            depth += code.count("[") - code.count("]")
            continue
        m = _HEADER.match(code)
        if m:
            names = tuple(_parts(m.group(2)))
            if m.group(1) == "[[":
                # an array of tables: the count is per array, and nested under the current parent entry
                parent = _resolve(names[:-1], table)
                key = (*parent, names[-1])
                idx = counts.get(key, -1) + 1
                counts[key] = idx
                table = (*key, idx)
            else:
                table = _resolve(names, table)
            lines.setdefault(table, no)
            for i in range(1, len(table)):
                lines.setdefault(table[:i], no)
            continue
        m = _KEYLINE.match(code)
        if m:
            names = tuple(_parts(m.group(1)))
            full = (*table, *names)
            for i in range(len(table) + 1, len(full) + 1):
                lines.setdefault(full[:i], no)
            value = m.group(2)
            if value.lstrip().startswith("{"):
                for km in _INLINE_KEY.finditer(value.lstrip()[1:]):
                    lines.setdefault((*full, *_parts(km.group(1))), no)
            depth += value.count("[") - value.count("]")
    return lines


def _resolve(names: tuple[str, ...], current: tuple[object, ...]) -> tuple[object, ...]:
    """``[facilities.columns]`` after ``[[facilities]]`` refers to the last facilities entry."""
    out: list[object] = []
    cur = list(current)
    for n in names:
        out.append(n)
        # follow the current path's array index where the names agree
        if len(cur) > len(out) and cur[: len(out)] == out and isinstance(cur[len(out)], int):
            out.append(cur[len(out)])
    return tuple(out)


def line_of(lines: dict[Key, int], key: Key) -> int | None:
    """The line of ``key`` or, failing that, of the nearest enclosing table."""
    k = tuple(key)
    while k:
        if k in lines:
            return lines[k]
        k = k[:-1]
    return None
