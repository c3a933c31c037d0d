"""The forecast held against what happened: the last `horizon` years of every region's
1 January series held back, forecast from the years before (the dynamics and the models'
weights estimated on those years only), and compared with two naive forecasts made from the
same years: the last value, and the last growth rate continued. Pure."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from koshiqon.monitoring.domain.forecast import (
    MAX_YEARS,
    Dynamics,
    TooLittleData,
    YearPoint,
    estimate,
    project,
    steps,
)


@dataclass(frozen=True)
class Check:
    """One held-back 1 January: the actual figure and the three forecasts of it."""

    kato: str
    year: int
    horizon: int
    actual: float
    forecast: float
    lower_80: float
    upper_80: float
    lower_95: float
    upper_95: float
    last_value: float
    last_growth: float

    def error(self, value: float) -> float:
        """The absolute percentage error of `value`."""
        return abs(value - self.actual) / self.actual * 100

    @property
    def in_80(self) -> bool:
        return self.lower_80 <= self.actual <= self.upper_80

    @property
    def in_95(self) -> bool:
        return self.lower_95 <= self.actual <= self.upper_95


@dataclass(frozen=True)
class Score:
    points: int
    mape: float
    coverage_80: float
    coverage_95: float
    mape_last_value: float
    mape_last_growth: float


@dataclass(frozen=True)
class Backtest:
    horizon: int
    dynamics: Dynamics  # estimated on the years kept
    checks: list[Check]
    skipped: list[str]  # regions with too few years to hold any back

    def score(self, checks: Sequence[Check] | None = None) -> Score:
        chosen = self.checks if checks is None else checks
        n = len(chosen)
        if n == 0:
            return Score(0, float("nan"), float("nan"), float("nan"), float("nan"), float("nan"))
        return Score(
            points=n,
            mape=sum(c.error(c.forecast) for c in chosen) / n,
            coverage_80=sum(c.in_80 for c in chosen) / n * 100,
            coverage_95=sum(c.in_95 for c in chosen) / n * 100,
            mape_last_value=sum(c.error(c.last_value) for c in chosen) / n,
            mape_last_growth=sum(c.error(c.last_growth) for c in chosen) / n,
        )

    def by_region(self) -> dict[str, Score]:
        katos = sorted({c.kato for c in self.checks})
        return {k: self.score([c for c in self.checks if c.kato == k]) for k in katos}

    def at_horizon(self, h: int) -> Score:
        return self.score([c for c in self.checks if c.horizon == h])


def run(series: Mapping[str, Sequence[YearPoint]], horizon: int) -> Backtest:
    """Every region's last `horizon` years held back and forecast (1..5 years)."""
    if not 1 <= horizon <= MAX_YEARS:
        raise ValueError(f"horizon must be 1..{MAX_YEARS}")
    kept: dict[str, list[YearPoint]] = {}
    held: dict[str, list[YearPoint]] = {}
    for kato, points in series.items():
        if not points:
            continue
        cut = points[-1].year - horizon
        kept[kato] = [p for p in points if p.year <= cut]
        held[kato] = [p for p in points if p.year > cut]
    dynamics = estimate(kept.values())
    checks: list[Check] = []
    skipped: list[str] = []
    for kato in sorted(kept):
        try:
            checks += _checks(kato, kept[kato], held[kato], dynamics=dynamics)
        except TooLittleData:
            skipped.append(kato)
    return Backtest(horizon, dynamics, checks, skipped)


def _checks(
    kato: str, kept: Sequence[YearPoint], held: Sequence[YearPoint], *, dynamics: Dynamics
) -> list[Check]:
    forecast = project(kept, dynamics, MAX_YEARS)
    by_year = {p.year: p for p in forecast.points}
    base = kept[-1]
    rate = steps(kept)[-1].rate
    out = []
    for actual in held:
        point = by_year.get(actual.year)
        if point is None:
            continue
        h = actual.year - base.year
        out.append(
            Check(
                kato=kato, year=actual.year, horizon=h, actual=actual.population,
                forecast=point.population, lower_80=point.lower_80, upper_80=point.upper_80,
                lower_95=point.lower_95, upper_95=point.upper_95, last_value=base.population,
                last_growth=base.population * math.exp(rate * h),
            )
        )  # fmt: skip
    return out
