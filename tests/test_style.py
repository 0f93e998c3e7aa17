"""The shared style: classes tied to the target, and statuses that stay apart under colour blindness."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from matplotlib.colors import to_rgb

from childspace._errors import DataError
from childspace.outputs import style

# Machado, Oliveira & Fernandes (2009), "A physiologically-based model for simulation of color vision deficiency",
# IEEE TVCG 15(6): deuteranopia and protanopia at severity 1.0, applied to linear RGB.
DEUTERANOPIA = np.array(
    [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413], [-0.011820, 0.042940, 0.968881]]
)
PROTANOPIA = np.array(
    [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216], [-0.003882, -0.048116, 1.051998]]
)


def _linear(c: np.ndarray) -> np.ndarray:
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _lab(rgb_linear: np.ndarray) -> np.ndarray:
    """CIE L*a*b* (D65) of linear sRGB."""
    m = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
    xyz = (m @ np.clip(rgb_linear, 0, 1)) / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def _delta_e(c1: str, c2: str, matrix: np.ndarray | None) -> float:
    a, b = _linear(np.array(to_rgb(c1))), _linear(np.array(to_rgb(c2)))
    if matrix is not None:
        a, b = matrix @ a, matrix @ b
    return float(np.linalg.norm(_lab(a) - _lab(b)))


@pytest.mark.parametrize(
    "matrix", [None, DEUTERANOPIA, PROTANOPIA], ids=["normal", "deuteranopia", "protanopia"]
)
@pytest.mark.parametrize("labels", ["STATUS_LABELS", "VERDICT_LABELS", "ZONE_STATUS_LABELS"])
def test_statuses_stay_apart_without_red_green(labels, matrix):
    colours = [v[2] for v in getattr(style, labels).values()]
    for c1, c2 in itertools.combinations(colours, 2):
        assert _delta_e(c1, c2, matrix) > 25, (labels, c1, c2)
    # and each status carries a symbol besides its colour
    symbols = [v[3] for v in getattr(style, labels).values()]
    assert len(set(symbols)) == len(symbols) and all(symbols)


@pytest.mark.parametrize("matrix", [None, DEUTERANOPIA, PROTANOPIA])
def test_stress_levels_and_coverage_classes_stay_apart(matrix):
    stress = [v[2] for v in style.STRESS_LABELS.values()]
    for c1, c2 in itertools.combinations(stress, 2):
        assert _delta_e(c1, c2, matrix) > 15, (c1, c2)
    classes = [c.colour for c in style.coverage_classes(80)]
    for c1, c2 in zip(classes, classes[1:]):
        assert _delta_e(c1, c2, matrix) > 10, (c1, c2)
    # the class that meets the target differs strongly from every class below it
    for c in classes[:-1]:
        assert _delta_e(c, classes[-1], matrix) > 30


def test_coverage_classes_follow_the_target():
    c80 = style.coverage_classes(80)
    assert [(c.lower, c.upper) for c in c80[:4]] == [(0, 20), (20, 40), (40, 60), (60, 80)]
    assert c80[-1].meets and c80[-1].lower == 80 and not any(c.meets for c in c80[:4])
    idx = style.coverage_class_index([0, 19.9, 20, 79.9, 80, 100, np.nan])
    assert list(idx) == [0, 0, 1, 3, 4, 4, -1]
    # another target moves the bounds: 75.7 % is below an 80 % target but meets a 75 % one
    assert style.coverage_class_index([75.7], 80)[0] == 3 and style.coverage_class_index([75.7], 75)[0] == 4
    assert style.coverage_colours([np.nan])[0] == style.NO_DATA_COLOUR
    with pytest.raises(DataError, match="target"):
        style.coverage_classes(0)


def test_one_category_label_and_words_for_codes():
    from childspace.inputs.standards import category_label

    assert style.category_label is category_label
    assert style.element_label("park_playground") == "公园或儿童游戏场地 Park or playground"
    assert style.element_label("kindergarten") == "幼儿园 Kindergarten"
    with pytest.raises(DataError):
        style.element_label("swimming_pool")
    assert style.highway_label("residential") == "居住区道路 residential"
    assert style.status_text("gap") == "× 缺口 Gap"
    assert (
        style.column_label("dist_park_playground")
        == "公园或儿童游戏场地距离(米) Park or playground: Distance (m)"
    )
