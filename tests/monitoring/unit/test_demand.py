"""The places a forecast population implies (domain/demand.py): the arithmetic of the norms,
and whose age structure is used."""

from __future__ import annotations

from datetime import date

import pytest

from koshiqon.monitoring.domain import demand
from koshiqon.monitoring.domain.demand import AgeGroups, ShareSource

NORMS = demand.Norms(
    school_places_per_child=1.0, kindergarten_places_per_child=0.85, primary_care_per_10000=181.5
)


def groups(on: date, *, kids: int, school: int, rest: int) -> AgeGroups:
    return AgeGroups(
        on, {"age_0": 0, "age_1_5": kids, "age_6_17": school, "age_18_62": rest, "age_63_plus": 0}
    )


def test_places_are_the_children_of_the_age_times_the_norm() -> None:
    shares = demand.shares_of(groups(date(2024, 1, 1), kids=100, school=250, rest=650),
                              ShareSource.REGION)  # fmt: skip
    assert (shares.school, shares.kindergarten) == (0.25, 0.1)
    implied = demand.places(1_500_000, shares, NORMS)
    assert implied.school_places == 375_000  # 1,500,000 x 25 % x 1.0
    assert implied.kindergarten_places == 127_500  # 1,500,000 x 10 % x 0.85
    assert implied.primary_care == 27_225.0  # 1,500,000 / 10,000 x 181.5


def test_other_norms_scale_the_places() -> None:
    shares = demand.shares_of(
        groups(date(2024, 1, 1), kids=1, school=3, rest=6), ShareSource.REGION
    )
    norms = demand.Norms(
        school_places_per_child=0.5, kindergarten_places_per_child=1.0, primary_care_per_10000=100
    )
    implied = demand.places(1001, shares, norms)
    assert implied.school_places == round(1001 * 0.3 * 0.5)  # 150.15 -> 150
    assert implied.kindergarten_places == 100  # 100.1 -> 100
    assert implied.primary_care == pytest.approx(10.0, abs=0.05)


def test_without_age_shares_there_are_no_school_or_kindergarten_places() -> None:
    implied = demand.places(10_000, demand.NO_SHARES, NORMS)
    assert implied.school_places is None
    assert implied.kindergarten_places is None
    assert implied.primary_care == 181.5


def test_the_region_s_own_age_groups_come_first_then_the_nation_s_then_the_regions() -> None:
    own = groups(date(2023, 1, 1), kids=1, school=2, rest=7)
    nation = groups(date(2024, 1, 1), kids=2, school=3, rest=5)
    others = [groups(date(2022, 1, 1), kids=10, school=0, rest=90),
              groups(date(2023, 1, 1), kids=0, school=20, rest=80)]  # fmt: skip
    assert demand.choose_shares(own, nation, others).source is ShareSource.REGION
    national = demand.choose_shares(None, nation, others)
    assert (national.source, national.school, national.on) == (
        ShareSource.NATIONAL, 0.3, date(2024, 1, 1),
    )  # fmt: skip
    summed = demand.choose_shares(None, None, others)
    assert summed.source is ShareSource.REGIONS
    assert (summed.kindergarten, summed.school) == (0.05, 0.1)  # 10 and 20 of 200
    assert summed.on == date(2023, 1, 1)
    assert demand.choose_shares(None, None, []) is demand.NO_SHARES


def test_an_empty_age_structure_gives_no_shares() -> None:
    empty = groups(date(2024, 1, 1), kids=0, school=0, rest=0)
    assert demand.choose_shares(empty, None, []) is demand.NO_SHARES
