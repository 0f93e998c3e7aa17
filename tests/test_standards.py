"""Standards config: categories, labels, radii and overrides."""

import numpy as np
import pytest

from childspace import DataError
from childspace.inputs.standards import CATEGORIES, canonical_category, category_label, load_standards


def test_default_config_has_every_category_with_basis():
    s = load_standards()
    assert tuple(s.categories) == CATEGORIES
    for cat in s.categories.values():
        assert cat.basis.strip(), cat.name
        assert cat.life_circle in (5, 10, 15)
        assert cat.radius_m > 0
    assert s.target_pct == 80.0
    assert {k: v.radius_m for k, v in s.life_circles.items()} == {5: 300, 10: 500, 15: 1000}
    assert "GB 50180" in s.life_circles[5].basis


def test_default_radii_from_design_table():
    s = load_standards()
    assert s.radius("kindergarten") == 300
    assert s.radius("primary_school") == 500
    assert s.radius("middle_school") == 1000
    assert s.radius("playground") == 300
    assert s.radius("mother_baby_room") == 500
    assert s.radius("children_home") == 1000
    assert s.categories["children_home"].min_per_township == 1
    assert "GB 50180" in s.categories["kindergarten"].basis


def test_park_radius_depends_on_area():
    s = load_standards()
    assert s.radius("park") == 300
    assert s.radius("park", area_ha=0.3) == 300
    assert s.radius("park", area_ha=0.5) == 500
    r = s.radius("park", area_ha=np.array([0.1, 0.49, 0.5, 3.0, np.nan]))
    assert r.tolist() == [300, 300, 500, 500, 300]
    # other categories ignore the area
    assert s.radius("kindergarten", area_ha=np.array([5.0])).tolist() == [300]


@pytest.mark.parametrize(
    "label,expected",
    [
        ("幼儿园", "kindergarten"),
        ("Kindergarten", "kindergarten"),
        ("托育机构", "infant_care"),
        ("托儿所", "infant_care"),
        ("婴幼儿照护服务驿站", "infant_care"),
        ("托育", "infant_care"),
        ("公办托育中心", "infant_care"),
        ("nursery", "infant_care"),
        ("Daycare", "infant_care"),
        ("nursery school", "kindergarten"),
        ("ＫＩＮＤＥＲＧＡＲＴＥＮ", "kindergarten"),
        ("  kindergarten ", "kindergarten"),
        ("公办幼儿园", "kindergarten"),
        ("小学", "primary_school"),
        ("Primary  School", "primary_school"),
        ("primary_school", "primary_school"),
        ("初中", "middle_school"),
        ("中学", "middle_school"),
        ("middle school", "middle_school"),
        ("儿童游戏场地", "playground"),
        ("游乐场", "playground"),
        ("儿童乐园", "playground"),
        ("公园", "park"),
        ("口袋公园", "park"),
        ("社区公园", "park"),
        ("绿地", "park"),
        ("母婴室", "mother_baby_room"),
        ("哺乳室", "mother_baby_room"),
        ("母婴关爱室", "mother_baby_room"),
        ("母婴室/哺乳室", "mother_baby_room"),
        ("母婴室／哺乳室", "mother_baby_room"),
        ("母婴室、哺乳室", "mother_baby_room"),
        ("儿童之家", "children_home"),
        ("children's home", "children_home"),
        ("Children’s Home", "children_home"),
        ("图书馆", "library"),
        ("少儿图书馆", "library"),
        ("医院", "hospital"),
        ("儿科", "hospital"),
    ],
)
def test_canonical_category(label, expected):
    assert canonical_category(label) == expected


def test_unknown_label_lists_known_labels():
    with pytest.raises(DataError) as exc:
        canonical_category("高中")
    msg = str(exc.value)
    assert "unknown category label '高中'" in msg
    assert "kindergarten: 幼儿园" in msg and "mother_baby_room: 母婴室/哺乳室/母婴关爱室" in msg


def test_label_naming_two_categories_is_an_error():
    with pytest.raises(DataError, match="several categories"):
        canonical_category("幼儿园/小学")


def test_category_label_bilingual_chinese_first():
    assert category_label("kindergarten") == "幼儿园 Kindergarten"
    assert category_label("小学") == "小学 Primary school"
    assert load_standards().life_circles[15].label == "15分钟生活圈 15-minute life circle"


def test_user_toml_overrides_and_merges(tmp_path):
    user = tmp_path / "mine.toml"
    user.write_text(
        'target_pct = 90\n[categories.kindergarten]\nradius_m = 250\nlabels = ["幼儿园", "托班"]\n'
        "[categories.park]\nradius_large_m = 800\n",
        encoding="utf-8",
    )
    s = load_standards(user)
    assert s.radius("kindergarten") == 250
    assert s.categories["kindergarten"].basis.startswith("GB 50180")  # untouched keys kept
    assert s.radius("park", area_ha=2.0) == 800 and s.radius("park", area_ha=0.1) == 300
    assert s.target_pct == 90 and s.target("primary_school") == 90
    assert s.canonical("托班") == "kindergarten"
    with pytest.raises(DataError, match="unknown category label"):  # the user's labels replace the list
        s.canonical("preschool")
    assert s.sources[-1] == str(user)
    # the defaults are not changed by a user file
    assert load_standards().radius("kindergarten") == 300


def test_overrides_mapping_and_new_category():
    s = load_standards(
        overrides={
            "categories": {
                "primary_school": {"radius_m": 800, "target_pct": 95},
                "sports": {
                    "zh": "体育场",
                    "en": "Sports ground",
                    "radius_m": 1000,
                    "life_circle": 15,
                    "labels": ["体育场"],
                },
            }
        }
    )
    assert s.radius("primary_school") == 800 and s.target("primary_school") == 95
    assert s.target("kindergarten") == 80
    assert s.canonical("体育场") == "sports"


def test_bad_user_files(tmp_path):
    with pytest.raises(DataError, match="standards file not found"):
        load_standards(tmp_path / "none.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[categories.kindergarten\nradius_m = 1", encoding="utf-8")
    with pytest.raises(DataError, match="not a valid TOML"):
        load_standards(bad)
    with pytest.raises(DataError, match="radius_m must be > 0"):
        load_standards(overrides={"categories": {"kindergarten": {"radius_m": 0}}})
    with pytest.raises(DataError, match="given for both"):
        load_standards(overrides={"categories": {"park": {"labels": ["幼儿园"]}}})


def test_infant_care_is_its_own_category_with_basis():
    s = load_standards()
    ic, kg = s.categories["infant_care"], s.categories["kindergarten"]
    assert ic.radius_m == 300 and ic.life_circle == 5
    assert "托儿所" in ic.basis and "GB 50180" in ic.basis and "4.5" in ic.basis
    assert not set(ic.labels) & set(kg.labels)
    assert category_label("infant_care") == "托育机构 Infant care (0-3)"


@pytest.mark.parametrize("label", ["托幼", "幼托", "托幼机构", "公办托幼中心", "托幼/幼儿园"])
def test_infant_or_kindergarten_labels_are_ambiguous_not_guessed(label):
    with pytest.raises(DataError) as exc:
        canonical_category(label)
    msg = str(exc.value)
    assert "ambiguous" in msg and "'托育机构'" in msg and "'幼儿园'" in msg and "0-3" in msg


def test_a_category_may_claim_an_ambiguous_label(tmp_path):
    # a city whose 托幼 are all kindergartens says so; then 托幼 is no longer ambiguous
    s = load_standards(overrides={"categories": {"kindergarten": {"labels": ["幼儿园", "托幼"]}}})
    assert s.canonical("托幼") == "kindergarten"
    with pytest.raises(DataError, match="ambiguous"):
        s.canonical("幼托")
    with pytest.raises(DataError, match=r"\[ambiguous\]"):
        load_standards(overrides={"ambiguous": {"托班": ["kindergarten", "nursery_school"]}})


def test_ambiguous_label_in_a_file_names_file_rows_and_fix(tmp_path):
    from childspace.inputs import load_facilities

    p = tmp_path / "register.csv"
    p.write_text(
        "名称,类型,经度,纬度\n甲幼儿园,幼儿园,120.97,28.12\n乙托幼中心,托幼,120.98,28.12\n"
        "丙托育园,托育机构,120.99,28.12\n",
        encoding="utf-8",
    )
    with pytest.raises(DataError) as exc:
        load_facilities(p)
    msg = str(exc.value)
    assert "register.csv" in msg and "乙托幼中心" in msg and "ambiguous" in msg
    assert "'托育机构' / '幼儿园'" in msg
    p.write_text(
        "名称,类型,经度,纬度\n甲幼儿园,幼儿园,120.97,28.12\n丙托育园,托育机构,120.99,28.12\n",
        encoding="utf-8",
    )
    assert load_facilities(p)["category"].tolist() == ["kindergarten", "infant_care"]
