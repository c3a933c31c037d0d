"""The demo data set: the same seed gives the same data, request for request; every IIN is
valid, unique and agrees with its person; the figures derived from the national ones add up
to them; and the plan holds what the dashboard is to show (flows in every region, North
Kazakhstan's §8 condition, applications and proposals in their states)."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from koshiqon.common.kz import IIN, REGIONS, Sex, is_valid_iin
from koshiqon.devtools.stack import demo

TODAY = date(2026, 12, 2)
SMALL = 600


@pytest.fixture(scope="module")
def plan() -> demo.DemoPlan:
    return demo.build(seed=7, size=SMALL, today=TODAY)


def test_the_same_seed_gives_the_same_plan(plan: demo.DemoPlan) -> None:
    again = demo.build(seed=7, size=SMALL, today=TODAY)
    assert again.persons == plan.persons
    assert again.applications == plan.applications
    assert again.proposals == plan.proposals
    assert again.statistics == plan.statistics


def test_another_seed_gives_other_persons(plan: demo.DemoPlan) -> None:
    other = demo.build(seed=8, size=SMALL, today=TODAY)
    assert [p.iin for p in other.persons] != [p.iin for p in plan.persons]
    assert len(other.persons) == len(plan.persons)


def test_every_iin_is_valid_unique_and_agrees_with_its_person(plan: demo.DemoPlan) -> None:
    iins = [p.iin for p in plan.persons]
    assert len(set(iins)) == len(iins) == SMALL
    for person in plan.persons:
        iin = IIN.parse(person.iin)
        assert iin.birth_date.isoformat() == person.body["birth_date"]
        assert iin.sex.value == person.body["sex"]
    demo.check(plan)


@given(
    birth=st.dates(min_value=date(1900, 1, 1), max_value=date(2099, 12, 31)),
    male=st.booleans(),
    serial=st.integers(min_value=0, max_value=9999),
)
def test_make_iin_gives_valid_numbers_or_none(birth: date, male: bool, serial: int) -> None:
    iin = demo.make_iin(birth, male, serial)
    if iin is not None:
        assert is_valid_iin(iin)
        parsed = IIN.parse(iin)
        assert parsed.birth_date == birth
        assert parsed.sex is (Sex.MALE if male else Sex.FEMALE)


def test_the_idempotency_keys_are_fixed_by_the_seed_and_unique(plan: demo.DemoPlan) -> None:
    keys = [p.key for p in plan.persons] + [a.key for a in plan.applications]
    keys += [p.key for p in plan.proposals]
    assert len(set(keys)) == len(keys)
    assert demo.build(seed=7, size=SMALL, today=TODAY).persons[0].key == plan.persons[0].key
    assert demo.build(seed=8, size=SMALL, today=TODAY).persons[0].key != plan.persons[0].key


def test_every_region_has_persons_and_flows_in_the_window(plan: demo.DemoPlan) -> None:
    homes = Counter(p.steps[0].body["address"]["kato"] for p in plan.persons)
    assert set(homes) == {r.kato for r in REGIONS}
    assert min(homes.values()) >= demo.MIN_PER_REGION
    events = [s for p in plan.persons for s in p.steps[1:]] + [
        p.steps[0] for p in plan.persons if "arrived_from" in p.steps[0].body
    ]
    assert {s.kind for s in events} == {"residence", "emigration"}
    for step in events:
        assert plan.window_start <= step.on < TODAY
    assert plan.window_start == date(2024, 12, 1)


def test_each_persons_dates_follow_one_another(plan: demo.DemoPlan) -> None:
    for person in plan.persons:
        days = [s.on for s in person.steps]
        assert days == sorted(days)
        assert days[0] >= date.fromisoformat(person.body["birth_date"])


def test_the_derived_births_and_deaths_add_up_to_the_nation() -> None:
    births, deaths = demo.regional_vital()
    assert sum(births.values()) == demo.NATIONAL_2024[0]
    assert sum(deaths.values()) == demo.NATIONAL_2024[1]
    assert births[demo.NORTH_KAZAKHSTAN] < deaths[demo.NORTH_KAZAKHSTAN]  # docs/domain.md


def test_the_vital_rows_cover_the_24_months_and_say_they_are_derived(
    plan: demo.DemoPlan,
) -> None:
    (vital,) = [s for s in plan.statistics if s.dataset == "vital"]
    assert "derived" in vital.source
    periods = sorted({r["period"] for r in vital.rows})
    assert (periods[0], periods[-1], len(periods)) == ("2024-12", "2026-11", 24)
    births, _ = demo.regional_vital()
    year_2025 = [r for r in vital.rows if r["kato"] == "590000000" and r["period"][:4] == "2025"]
    assert sum(r["births"] for r in year_2025) == births["590000000"]
    for part in plan.statistics:
        assert part.source.startswith(("demo data, derived", "koshiqon.common.kz"))


def test_north_kazakhstan_loses_more_than_its_natural_increase(plan: demo.DemoPlan) -> None:
    nko = demo.NORTH_KAZAKHSTAN
    out = inn = 0
    for person in plan.persons:
        region = person.steps[0].body["address"]["kato"]
        if "arrived_from" in person.steps[0].body and region == nko:
            inn += 1
        for step in person.steps[1:]:
            if step.kind == "emigration":
                out += region == nko
            else:
                to = step.body["address"]["kato"]
                out += region == nko and to != nko
                inn += to == nko and region != nko
                region = to
    births, deaths = demo.regional_vital()
    assert out - inn > births[nko] - deaths[nko]
    assert out > inn


def test_applications_and_proposals_are_meant_to_end_in_every_state(
    plan: demo.DemoPlan,
) -> None:
    assert {a.outcome for a in plan.applications} >= {
        "approved", "completed", "withdrawn", "rejected"
    }  # fmt: skip
    assert sum(a.target_region == demo.KARAGANDA for a in plan.applications) == 8
    assert {p.outcome for p in plan.proposals} == {
        "draft",
        "submitted",
        "under_review",
        "rejected",
        "returned",
        "edited",
        "withdrawn",
        "applied",
        "application_failed",
    }  # fmt: skip (approved: the measures proposal North Kazakhstan's alert opens)
    people = [a.applicant for a in plan.applications] + [
        m for a in plan.applications for m in a.family
    ]
    assert len(set(people)) == len(people)  # nobody is in two applications


def test_too_small_a_size_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 500"):
        demo.build(seed=1, size=499, today=TODAY)


def test_the_dates_move_with_today() -> None:
    later = demo.build(seed=7, size=SMALL, today=TODAY + timedelta(days=40))
    assert later.window_start == date(2025, 1, 1)


def test_a_request_keeps_its_key_in_a_plan_of_another_size_or_day(plan: demo.DemoPlan) -> None:
    """Keys follow what a request is, not its place: the first persons of a larger plan
    are the same persons under the same keys, and a new day keeps a person's key."""
    larger = demo.build(seed=7, size=SMALL + 100, today=TODAY)
    assert larger.persons[0] == plan.persons[0]
    later = demo.build(seed=7, size=SMALL, today=TODAY + timedelta(days=1))
    assert later.persons[0].body == plan.persons[0].body
    assert later.persons[0].key == plan.persons[0].key
    assert plan.key("step", "x", 0, {"a": 1}) != plan.key("step", "x", 0, {"a": 2})
