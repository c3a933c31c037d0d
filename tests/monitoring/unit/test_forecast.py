"""The §9 forecast's domain (domain/forecast.py, domain/backtest.py) on series with a known
answer: a pure exponential series forecast exactly with narrow intervals, the damped and the
undamped model averaged by their BIC weights, the interval coverage on synthetic noise, the
1 January series from annual averages, and the 2022 border change."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pytest

from koshiqon.monitoring.domain import backtest
from koshiqon.monitoring.domain import forecast as fc
from koshiqon.monitoring.domain.forecast import PointKind, PopulationFigure, YearPoint

ABAI, EAST_KAZ, ASTANA, AKMOLA = "100000000", "630000000", "710000000", "110000000"


def exponential(start: int, years: int, first: float, rate: float) -> list[YearPoint]:
    return [
        YearPoint(start + i, first * math.exp(rate * i), PointKind.LOADED) for i in range(years)
    ]


def first_january(kato: str, year: int, total: float) -> PopulationFigure:
    return PopulationFigure(kato, "population", date(year, 1, 1), date(year, 1, 1), total)


def average(kato: str, year: int, value: float) -> PopulationFigure:
    return PopulationFigure(kato, "population-average", date(year, 1, 1), date(year, 12, 31), value)


# --- known answers ---------------------------------------------------------------------------


def test_a_pure_exponential_series_is_forecast_exactly_with_narrow_intervals() -> None:
    series = {
        ASTANA: exponential(2022, 6, 1_300_000, 0.05),
        AKMOLA: exponential(2022, 6, 780_000, -0.01),
    }
    dynamics, forecasts = fc.forecast_all(series, 5)
    assert dynamics.phi == pytest.approx(1.0)
    assert dynamics.sigma == pytest.approx(0.0, abs=1e-12)
    astana = forecasts[ASTANA]
    assert astana is not None
    assert astana.base_year == 2027
    for point in astana.points:
        exact = 1_300_000 * math.exp(0.05 * (point.year - 2022))
        assert point.population == pytest.approx(exact, rel=1e-9)
        assert point.upper_95 - point.lower_95 < 1e-3  # persons
    akmola = forecasts[AKMOLA]
    assert akmola is not None
    assert akmola.points[-1].population == pytest.approx(780_000 * math.exp(-0.01 * 10))


def test_a_damped_growth_rate_decays_by_phi_each_year() -> None:
    dynamics = fc.Dynamics(phi=0.5, sigma=0.0, pairs=10)
    series = [YearPoint(2022, 1000.0, PointKind.LOADED), YearPoint(2023, 1000 * math.e**0.04,
              PointKind.LOADED)]  # fmt: skip
    out = fc.project(series, dynamics, 3)
    logs = [math.log(p.population / 1000) for p in out.points]
    assert logs == pytest.approx([0.04 + 0.02, 0.04 + 0.02 + 0.01, 0.04 + 0.02 + 0.01 + 0.005])


def test_intervals_widen_with_the_horizon_as_the_innovations_accumulate() -> None:
    dynamics = fc.Dynamics(phi=1.0, sigma=0.01, pairs=10)
    out = fc.project(exponential(2022, 3, 1000, 0.02), dynamics, 3)
    # phi = 1: the log level's variance after h years is sigma^2 (1 + 4 + ... + h^2)
    for point, h in zip(out.points, (1, 2, 3), strict=True):
        sd = 0.01 * math.sqrt(sum(k * k for k in range(1, h + 1)))
        assert math.log(point.upper_80 / point.population) == pytest.approx(fc.Z80 * sd)
        assert math.log(point.population / point.lower_95) == pytest.approx(fc.Z95 * sd)


def simulated(
    rng: np.random.Generator, regions: int, *, phi: float, sigma: float
) -> dict[str, list[YearPoint]]:
    """Regions whose yearly growth rates follow the model: each the last times phi, plus
    a normal innovation (sd sigma), from 2015 to 2025."""
    out: dict[str, list[YearPoint]] = {}
    for i in range(regions):
        rate, level = rng.normal(0.01, 0.015), math.log(rng.uniform(2e5, 2e6))
        points = [YearPoint(2015, math.exp(level), PointKind.LOADED)]
        for year in range(2016, 2026):
            rate = phi * rate + rng.normal(0.0, sigma)
            level += rate
            points.append(YearPoint(year, math.exp(level), PointKind.LOADED))
        out[f"r{i}"] = points
    return out


@pytest.mark.parametrize("phi", [0.9, 1.0])
def test_the_80_and_95_percent_intervals_cover_their_share_of_synthetic_noise(phi: float) -> None:
    # phi 0.9: the damped model is the true one (weight near 1); phi 1: the undamped one
    # (weight near 0.1), so the mixture's quantiles make the intervals
    rng = np.random.default_rng(20260515)
    inside_80 = inside_95 = total = 0
    for _ in range(40):
        result = backtest.run(simulated(rng, 30, phi=phi, sigma=0.004), horizon=2)
        inside_80 += sum(c.in_80 for c in result.checks)
        inside_95 += sum(c.in_95 for c in result.checks)
        total += len(result.checks)
    assert total == 40 * 30 * 2
    assert 0.75 <= inside_80 / total <= 0.85
    assert 0.91 <= inside_95 / total <= 0.98


def test_phi_is_estimated_across_regions_and_kept_within_zero_and_one() -> None:
    rng = np.random.default_rng(7)
    assert fc.estimate(simulated(rng, 200, phi=0.8, sigma=0.002).values()).phi == pytest.approx(
        0.8, abs=0.03
    )
    growing = [[YearPoint(2022 + i, 100 * 2 ** (i * i), PointKind.LOADED) for i in range(4)]]
    assert fc.estimate(growing).phi == 1.0


def test_the_weight_of_the_damped_model_is_its_bic_posterior_probability() -> None:
    n, damped, unit = 20, 0.00016, 0.00020  # residual sums of squares
    bic_damped = n * math.log(damped / n) + 1 * math.log(n)  # phi estimated
    bic_unit = n * math.log(unit / n)  # phi = 1: nothing estimated
    expected = 1 / (1 + math.exp((bic_damped - bic_unit) / 2))
    assert fc.bic_weight(damped, unit, n) == pytest.approx(expected, rel=1e-12)
    assert fc.bic_weight(0.0, 0.0, n) == pytest.approx(1 / (1 + math.sqrt(n)))  # one model


def test_the_weight_goes_to_the_model_the_growth_rates_follow() -> None:
    rng = np.random.default_rng(11)
    damped = fc.estimate(simulated(rng, 200, phi=0.8, sigma=0.002).values())
    assert damped.weight > 0.999
    undamped = fc.estimate(simulated(rng, 200, phi=1.0, sigma=0.002).values())
    assert undamped.weight < 0.2
    assert undamped.unit_sigma == pytest.approx(0.002, rel=0.1)


def test_the_forecast_averages_the_damped_and_undamped_rates_by_their_weights() -> None:
    series = [YearPoint(2022, 1000.0, PointKind.LOADED), YearPoint(2023, 1000 * math.e**0.04,
              PointKind.LOADED)]  # fmt: skip
    exact = fc.Dynamics(phi=0.5, sigma=0.0, pairs=10, weight=0.25, unit_sigma=0.0)
    logs = [math.log(p.population / 1000) for p in fc.project(series, exact, 2).points]
    damped = [0.04 + 0.02, 0.04 + 0.02 + 0.01]
    undamped = [0.04 + 0.04, 0.04 + 0.04 + 0.04]
    assert logs == pytest.approx(
        [0.25 * d + 0.75 * u for d, u in zip(damped, undamped, strict=True)]
    )
    noisy = fc.Dynamics(phi=0.5, sigma=0.01, pairs=10, weight=0.25, unit_sigma=0.02)
    point = fc.project(series, noisy, 2).points[1]

    def mixture_cdf(population: float) -> float:  # the two models' normals on the log scale
        x = math.log(population / 1000)
        parts = ((0.25, damped[1], 0.01 * math.sqrt(1 + 1.5**2)),  # reach 1 + phi
                 (0.75, undamped[1], 0.02 * math.sqrt(1 + 2**2)))  # fmt: skip
        return sum(w * 0.5 * (1 + math.erf((x - m) / (sd * math.sqrt(2)))) for w, m, sd in parts)

    bounds = (point.lower_80, point.upper_80, point.lower_95, point.upper_95)
    assert [mixture_cdf(b) for b in bounds] == pytest.approx([0.1, 0.9, 0.025, 0.975], abs=1e-9)


# --- the 1 January series ----------------------------------------------------------------------


def test_an_average_and_one_1_january_give_the_other() -> None:
    out = fc.annual_series({2022: 1000.0, 2023: 1100.0}, {2023: 1150.0, 2024: 1250.0})
    assert [(p.year, p.population, p.kind) for p in out.values()] == [
        (2022, 1000.0, PointKind.LOADED),
        (2023, 1100.0, PointKind.LOADED),
        (2024, 1200.0, PointKind.FROM_AVERAGE),  # 2 x 1150 - 1100
        (2025, 1300.0, PointKind.FROM_AVERAGE),  # 2 x 1250 - 1200
    ]


def test_two_averages_give_the_1_january_between_them_but_not_across_the_break() -> None:
    out = fc.annual_series({}, {2022: 1000.0, 2023: 1100.0})
    assert [(p.year, p.population, p.kind) for p in out.values()] == [
        (2022, 950.0, PointKind.FROM_AVERAGE),  # 2 x 1000 - 1050
        (2023, 1050.0, PointKind.BETWEEN_AVERAGES),  # (1000 + 1100) / 2
        (2024, 1150.0, PointKind.FROM_AVERAGE),  # 2 x 1100 - 1050
    ]
    across = fc.annual_series({2021: 500.0}, {2021: 900.0, 2022: 1000.0})
    assert 2022 not in across  # the 2021 average spans two borders and two censuses


def test_no_growth_rate_is_taken_across_the_2022_break() -> None:
    series = [
        YearPoint(year, value, PointKind.LOADED)
        for year, value in ((2020, 100.0), (2021, 101.0), (2022, 130.0), (2023, 132.0))
    ]
    assert [(s.start, s.end) for s in fc.steps(series)] == [(2020, 2021), (2022, 2023)]
    with pytest.raises(fc.TooLittleData):
        fc.project(series[1:3], fc.Dynamics(1.0, 0.0, 2), 1)


def test_a_region_with_one_year_since_the_break_continues_the_rate_before_it() -> None:
    dynamics = fc.Dynamics(phi=1.0, sigma=0.01, pairs=10)
    series = [YearPoint(2020, 100.0, PointKind.LOADED), YearPoint(2021, 110.0, PointKind.LOADED),
              YearPoint(2022, 200.0, PointKind.LOADED)]  # fmt: skip
    out = fc.project(series, dynamics, 1)
    assert out.base_year == 2022
    assert out.growth_year == 2021
    assert out.points[0].population == pytest.approx(200 * 1.1)
    # the rate's innovations of 2022 and 2023 both reach 2023's level: sigma^2 (1 + 1)
    sd = math.log(out.points[0].upper_80 / out.points[0].population) / fc.Z80
    assert sd == pytest.approx(0.01 * math.sqrt(2))


# --- the border change ---------------------------------------------------------------------------


def test_abai_and_east_kazakhstan_before_2022_are_their_2022_shares_of_the_old_region() -> None:
    figures = [first_january(EAST_KAZ, y, v) for y, v in ((2020, 1_369_597), (2021, 1_363_797))]
    figures += [first_january(ABAI, 2022, 611_888), first_january(EAST_KAZ, 2022, 732_966)]
    figures += [first_january(ABAI, 2023, 610_205), first_january(EAST_KAZ, 2023, 730_236)]
    series = fc.regional_series(figures)
    share = 611_888 / (611_888 + 732_966)
    abai, east = series[ABAI], series[EAST_KAZ]
    assert [p.year for p in abai] == [2020, 2021, 2022, 2023]
    assert abai[0].population == pytest.approx(1_369_597 * share)
    assert east[0].population == pytest.approx(1_369_597 * (1 - share))
    assert abai[0].kind is east[1].kind is PointKind.SHARE_OF_PARENT
    assert abai[0].population + east[0].population == pytest.approx(1_369_597)
    # the shares keep the old region's growth rate before 2022, in both
    assert fc.steps(abai)[0].rate == pytest.approx(fc.steps(east)[0].rate)


def test_without_a_common_year_the_new_region_gets_no_earlier_years() -> None:
    figures = [first_january(EAST_KAZ, 2021, 1_363_797), first_january(ABAI, 2022, 611_888)]
    figures.append(first_january(ABAI, 2023, 610_205))
    series = fc.regional_series(figures)
    assert [p.year for p in series[ABAI]] == [2022, 2023]
    assert series[EAST_KAZ][0].kind is PointKind.LOADED  # its own, in the old borders


def test_the_nation_and_other_days_than_1_january_are_not_in_the_series() -> None:
    figures = [
        first_january("000000000", 2022, 19_503_159),
        PopulationFigure(ASTANA, "population", date(2022, 7, 1), date(2022, 7, 1), 1_300_000),
        first_january(ASTANA, 2022, 1_295_711),
        average(ASTANA, 2022, 1_325_135),
    ]
    series = fc.regional_series(figures)
    assert list(series) == [ASTANA]
    assert [p.year for p in series[ASTANA]] == [2022, 2023]


def test_too_little_data() -> None:
    with pytest.raises(fc.TooLittleData):
        fc.estimate([exponential(2020, 2, 100, 0.01)])  # one growth rate: no pair
    _, forecasts = fc.forecast_all(
        {ASTANA: exponential(2022, 4, 100, 0.01), AKMOLA: exponential(2023, 1, 100, 0.0)}, 2
    )
    assert forecasts[AKMOLA] is None
    assert forecasts[ASTANA] is not None
    with pytest.raises(ValueError, match="years"):
        fc.project(exponential(2020, 4, 100, 0.01), fc.Dynamics(1, 0, 2), 6)


def test_figures_that_imply_an_impossible_population_give_no_forecast() -> None:
    wild = [
        YearPoint(2022 + i, value, PointKind.LOADED)
        for i, value in enumerate((1.0, 1e12, 1.0, 1e12, 1.0, 1e12))
    ]
    dynamics = fc.estimate([wild, exponential(2022, 6, 1000, 0.01)])
    with pytest.raises(fc.TooLittleData, match="10\\^13"):
        fc.project(wild, dynamics, 5)
