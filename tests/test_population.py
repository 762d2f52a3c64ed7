import numpy as np
import pandas as pd
import pytest

from facility_planner import ValidationError
from facility_planner.areas import load_haidian_census
from facility_planner.population import (
    control_to_census,
    largest_remainder,
    load_city_age_shares,
    load_district_census,
    older_population,
)


def test_largest_remainder_preserves_totals_and_is_close():
    rng = np.random.default_rng(1)
    groups = rng.integers(0, 50, 5000)
    totals_by_group = rng.integers(0, 100000, 50)
    w = rng.random(5000)
    w[rng.random(5000) < 0.1] = 0
    out = largest_remainder(totals_by_group[groups], w, groups)
    assert out.dtype == np.int64 and (out >= 0).all()
    got = np.bincount(groups, weights=out, minlength=50)
    present = np.unique(groups)
    assert (got[present] == totals_by_group[present]).all()
    wsum = np.bincount(groups, weights=w, minlength=50)
    exact = totals_by_group[groups] * w / wsum[groups]
    assert np.abs(out - exact).max() < 1


def test_largest_remainder_zero_weights_split_equally():
    assert largest_remainder([5, 5, 5], [0, 0, 0], [1, 1, 1]).tolist() == [2, 2, 1]


def test_census_files_are_the_published_totals():
    census = load_district_census()
    assert len(census) == 16
    assert census["pop_2020"].sum() == 21_893_095
    shares = load_city_age_shares()
    assert shares["60+"] == pytest.approx(0.196, abs=5e-4)
    assert shares["65+"] == pytest.approx(0.133, abs=5e-4)


def test_control_meets_every_district_total_and_haidian_townships(beijing_areas):
    census = load_district_census()
    hd = load_haidian_census()
    z = control_to_census(beijing_areas.townships, census, zone_census=hd)
    by_d = z.groupby("district_code")["pop"].sum()
    assert (by_d == census.set_index("district_code")["pop_2020"]).all()
    got = z.set_index("township_code").loc[hd["township_code"], "pop"]
    assert (got.to_numpy() == hd["pop_2020"].to_numpy()).all()
    assert set(z.loc[z["district_code"] == "110108", "pop_source"]) == {"census_2020_township"}
    assert (z.loc[z["district_code"] != "110108", "pop_source"].str.startswith("census_2020_district_split")).all()


def test_census_errors_are_listed_together(beijing_areas):
    bad = pd.DataFrame({"district_code": ["110101", "110102", "999999"], "pop_2020": [-5, "lots", 10]})
    with pytest.raises(ValidationError) as e:
        control_to_census(beijing_areas.townships, bad)
    msg = str(e.value)
    assert "negative" in msg and "non-numeric" in msg and "999999" in msg


def test_missing_census_column():
    with pytest.raises(ValidationError, match="missing column"):
        control_to_census(
            pd.DataFrame({"district_code": ["1"], "wp_pop": [1], "township_code": ["a"]}),
            pd.DataFrame({"district_code": ["1"]}),
        )


def test_zone_census_inconsistent_with_district(beijing_areas):
    census = load_district_census()
    hd = load_haidian_census()
    hd.loc[0, "pop_2020"] += 7
    with pytest.raises(ValidationError, match="add up to"):
        control_to_census(beijing_areas.townships, census, zone_census=hd)


def test_older_population_share_and_override(beijing_areas):
    z = control_to_census(beijing_areas.townships, load_district_census())
    a = older_population(z, share=0.2)
    assert a.groupby("district_code")["pop_60"].sum().loc["110101"] == round(708829 * 0.2)
    b = older_population(z, share=0.2, by_district={"110101": 0.3})
    assert b.groupby("district_code")["pop_60"].sum().loc["110101"] == round(708829 * 0.3)
    assert (b.loc[b["district_code"] == "110101", "pop_60_share_source"] == "district table").all()
    with pytest.raises(ValidationError, match="between 0 and 1"):
        older_population(z, share=19.6)
