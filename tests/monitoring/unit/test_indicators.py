"""The indicator formulas (docs/domain.md, "Indicators") against figures worked by hand,
and the rule that a missing input gives no value and the reason, never a zero."""

from __future__ import annotations

import pytest

from koshiqon.monitoring.domain import outflow
from koshiqon.monitoring.domain.figures import Fig, Source, missing
from koshiqon.monitoring.domain.indicators import Inputs, QuotaInputs, compute

STAT = Source("statistics", "test", "hand")


def fig(value: object) -> Fig:
    return Fig(value, (STAT,))


def inputs(**changes: Fig | dict[str, QuotaInputs]) -> Inputs:
    base: dict[str, object] = {
        "population": fig(534_024),
        "urban": missing("no urban"),
        "average": fig(20_158_620.5),
        "average_urban": fig(12_640_517.5),
        "area": fig(97_993),
        "births": fig(365_923),
        "deaths": fig(132_916),
        "arrivals_external": fig(29_948),
        "departures_external": fig(12_784),
        "arrivals_internal": fig(1_000),
        "departures_internal": fig(3_500),
        "job_seekers": fig(12_000),
        "vacancies": fig(9_500),
        "ethnicity": fig({"kind": "count", "groups": {"kazakh": 300, "russian": 100}}),
    }
    base.update(changes)
    return Inputs(**base)  # type: ignore[arg-type]


def test_density_natural_increase_and_their_rates() -> None:
    f = compute(inputs()).figures
    assert f["density"].value == pytest.approx(5.45, abs=0.01)  # 534,024 / 97,993
    assert f["natural_increase"].value == 233_007  # 365,923 - 132,916
    assert f["natural_increase_rate"].value == pytest.approx(11.56, abs=0.005)
    assert f["birth_rate"].value == pytest.approx(18.15, abs=0.005)  # the published 2024 rate


def test_crude_birth_rate_2022_is_the_published_one() -> None:
    f = compute(inputs(births=fig(403_893), average=fig(19_634_983))).figures
    assert round(f["birth_rate"].value, 2) == 20.57


def test_urbanization_from_the_averages_when_the_start_has_no_urban() -> None:
    assert compute(inputs()).figures["urbanization"].value == pytest.approx(62.7, abs=0.05)
    start = compute(inputs(urban=fig(267_012))).figures["urbanization"].value
    assert start == pytest.approx(50.0, abs=0.001)  # 267,012 / 534,024


def test_net_migration_external_internal_total_and_rate() -> None:
    f = compute(inputs()).figures
    assert f["net_migration_external"].value == 17_164  # 29,948 - 12,784
    assert f["net_migration_internal"].value == -2_500
    assert f["net_migration"].value == 14_664
    assert f["net_migration_rate"].value == pytest.approx(1000 * 14_664 / 20_158_620.5)


def test_labour_market_balance_and_ethnic_shares() -> None:
    f = compute(inputs()).figures
    assert f["labour_market_balance"].value == -2_500  # 9,500 - 12,000
    assert f["ethnic_shares"].value == {"kazakh": 75.0, "russian": 25.0}
    given = fig({"kind": "share", "groups": {"kazakh": 70.1, "other": 29.9}})
    assert compute(inputs(ethnicity=given)).figures["ethnic_shares"].value == {
        "kazakh": 70.1, "other": 29.9,
    }  # fmt: skip


def test_quota_utilization_and_resettled_against_the_limit() -> None:
    quota = QuotaInputs(limit=fig(977), reserved=fig(200), consumed=fig(288), resettled=fig(288))
    q = compute(inputs(quotas={"kandas": quota})).quotas["kandas"]
    assert q["utilization"].value == pytest.approx(488 / 977)
    assert q["remaining"].value == 489
    assert q["resettled_share"].value == pytest.approx(288 / 977)


def test_a_missing_input_gives_no_value_and_its_reason_never_zero() -> None:
    f = compute(inputs(births=missing("no births and deaths covering 2024"))).figures
    for name in ("natural_increase", "natural_increase_rate", "birth_rate"):
        assert f[name].value is None
        assert f[name].reason == "no births and deaths covering 2024"
    assert f["death_rate"].known
    zero = compute(inputs(area=fig(0))).figures["density"]
    assert zero.value is None
    assert zero.reason == "the divisor is zero"


def test_the_outflow_condition() -> None:
    # North Kazakhstan's case: deaths above births and more leave than arrive
    shrinking = outflow.figures(
        births=5_000, deaths=6_000, arrivals_external=100, departures_external=900,
        arrivals_internal=2_000, departures_internal=5_000, population=534_024,
    )  # fmt: skip
    assert (shrinking.natural_increase, shrinking.net_departures) == (-1_000, 3_800)
    assert outflow.decide(shrinking, active=False) is outflow.Decision.RAISE
    assert outflow.decide(shrinking, active=True) is outflow.Decision.KEEP
    growing = outflow.figures(
        births=9_000, deaths=6_000, arrivals_external=100, departures_external=900,
        arrivals_internal=2_000, departures_internal=3_000, population=None,
    )  # fmt: skip
    assert growing.net_departures == 1_800
    assert growing.natural_increase == 3_000
    assert outflow.decide(growing, active=True) is outflow.Decision.CLEAR
    assert outflow.decide(growing, active=False) is outflow.Decision.KEEP
    # equal is not "exceeds"
    even = outflow.figures(
        births=2, deaths=1, arrivals_external=0, departures_external=1, arrivals_internal=0,
        departures_internal=0, population=None,
    )  # fmt: skip
    assert outflow.decide(even, active=False) is outflow.Decision.KEEP
