"""The official Yueqing register and the unit check."""

import pandas as pd
import pytest

from childspace import DataError
from childspace.inputs.register import DEFAULT_REGISTER, check_units, load_register, normalise_unit_name


@pytest.fixture(scope="module")
def register():
    return load_register()


@pytest.fixture(scope="module")
def townships(register):
    t = register[register["level"] == "township"]
    return pd.DataFrame(
        {"unit_id": t["code"].values, "name": t["name"].values, "code": t["code"].values, "level": "township"}
    )


def test_register_contents(register):
    assert DEFAULT_REGISTER.exists()
    assert (register["level"] == "township").sum() == 25
    assert (register["level"] == "community").sum() == 514
    assert register["code"].str.fullmatch(r"\d{12}").all()
    assert register.loc[register["code"] == "330382001000", "name"].item() == "城东街道"
    assert (register["county_name"] == "乐清市").all()


def test_register_explicit_path_and_missing(tmp_path, register):
    copy = tmp_path / "reg.csv"
    register.head(3).to_csv(copy, index=False)
    assert len(load_register(copy)) == 3
    with pytest.raises(DataError, match="register file not found"):
        load_register(tmp_path / "nope.csv")


def test_normalise_unit_name():
    assert normalise_unit_name("城东街道") == "城东"
    assert normalise_unit_name("城东") == "城东"
    assert normalise_unit_name("北白象镇") == "北白象"
    assert normalise_unit_name("智仁乡") == "智仁"
    assert normalise_unit_name("土墩塘村委会") == "土墩塘"
    assert normalise_unit_name("土墩塘村") == "土墩塘"
    assert normalise_unit_name(" 旭阳社区 ") == "旭阳"


def test_complete_file_all_ok(townships):
    rep = check_units(townships)
    assert len(rep) == 25
    assert (rep["status"] == "ok").all()
    assert (rep["matched_by"] == "code").all()


def test_missing_township_is_reported(townships):
    part = townships[townships["name"] != "雁荡镇"]
    rep = check_units(part)
    missing = rep[rep["status"] == "missing"]
    assert missing["name"].tolist() == ["雁荡镇"]
    assert missing["code"].tolist() == ["330382104000"]
    assert (rep["status"] == "ok").sum() == 24


def test_names_without_codes_and_misspelling(townships):
    names = townships["name"].tolist()
    names[0] = "城东"  # suffix left out
    names[1] = "乐城街道"  # misspelt (乐成街道)
    f = pd.DataFrame({"unit_id": [f"T{i}" for i in range(25)], "name": names})
    rep = check_units(f, level="township")
    row = rep[rep["name"] == "城东街道"].iloc[0]
    assert row["status"] == "ok" and row["matched_by"] == "name" and row["file_name"] == "城东"
    assert rep.loc[rep["name"] == "乐成街道", "status"].item() == "missing"
    un = rep[rep["status"] == "unmatched"]
    assert un["file_name"].tolist() == ["乐城街道"]
    assert un["suggestions"].iloc[0].split("; ")[0] == "乐成街道"


def test_code_name_mismatch(townships):
    f = townships.copy()
    f.loc[f["code"] == "330382002000", "name"] = "城南街道X"
    rep = check_units(f)
    row = rep[rep["code"] == "330382002000"].iloc[0]
    assert row["status"] == "code_name_mismatch"
    assert "乐成街道" in row["note"] and "城南街道X" in row["note"]


def test_nine_digit_codes_and_duplicates(townships):
    f = townships.copy()
    f["code"] = f["code"].str[:9]
    extra = f.iloc[[0]].assign(unit_id="dup")
    rep = check_units(pd.concat([f, extra], ignore_index=True))
    assert (rep["status"] == "ok").sum() == 25
    dup = rep[rep["status"] == "duplicate"]
    assert dup["unit_id"].tolist() == ["dup"]


def test_communities_by_name_and_ambiguity(register):
    c = register[register["level"] == "community"]
    f = pd.DataFrame(
        {"unit_id": ["a", "b", "c"], "name": ["旭阳社区", "土墩塘村", "西门"], "level": "community"}
    )
    rep = check_units(f)
    assert rep.loc[rep["name"] == "旭阳社区", "status"].item() == "ok"
    assert rep.loc[rep["name"] == "土墩塘村委会", "status"].item() == "ok"
    # "西门" is a village/community name in two townships: reported, not guessed
    amb = rep[rep["status"] == "ambiguous"]
    assert amb["file_name"].tolist() == ["西门"]
    assert amb["suggestions"].iloc[0].count(";") == 1
    assert (rep["status"] == "missing").sum() == len(c) - 2
    # with the parent township it resolves
    xm = c[c["name"].map(normalise_unit_name) == "西门"].iloc[0]
    f2 = f.assign(parent_id=[None, None, xm["township_code"]])
    rep2 = check_units(f2)
    assert rep2.loc[rep2["code"] == xm["code"], "status"].item() == "ok"


def test_bad_level():
    with pytest.raises(DataError, match="cannot tell the level"):
        check_units(pd.DataFrame({"name": ["城东"]}))
    with pytest.raises(DataError, match="unknown level"):
        check_units(pd.DataFrame({"name": ["城东"]}), level="county")
