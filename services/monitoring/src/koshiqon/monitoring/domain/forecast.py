"""The §9 forecast of a region's population: its 1 January series (loaded, or derived from
the annual averages), a damped growth rate averaged with the undamped one by the weight the
growth rates give each, and prediction intervals from the spread of the growth rates. Pure:
figures in, the forecast out. The method and its reasons are in docs/forecast.md.

The series has two segments: before 1 January 2022 (the 17 regions in their old borders,
figures estimated before the 2021 census) and from it (today's 20 regions, recalculated on
the census). No growth rate is taken across that break. Abai, Jetisu and Ulytau get the
earlier segment as their 2022 share of the region they were formed from (applied to its
figures in the old borders), and that region the rest."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from koshiqon.common import kz

BREAK_YEAR = 2022
MAX_YEARS = 5
CEILING = math.log(1e13)  # persons: a bound no region's forecast may pass
Z80, Z95 = 1.2815515655446004, 1.959963984540054
METHOD = (
    "damped and undamped growth of the 1 January series averaged by their BIC weights (annual "
    "averages give the 1 January after them), damping and spread of the growth rates "
    "estimated across regions"
)


class PointKind(StrEnum):
    LOADED = "1-january"  # a population loaded for 1 January
    FROM_AVERAGE = "from-average"  # from an annual average and the 1 January next to it
    BETWEEN_AVERAGES = "between-averages"  # the mean of two annual averages
    SHARE_OF_PARENT = "share-of-parent"  # old borders, split by the 2022 shares


@dataclass(frozen=True)
class YearPoint:
    year: int
    population: float
    kind: PointKind


@dataclass(frozen=True)
class Dynamics:
    """How growth rates move from one year to the next, pooled over regions. Two models: the
    damped one (the next rate is `phi` times the last, give or take an innovation of standard
    deviation `sigma`) with the probability `weight`, and the undamped one (the next rate is
    the last, innovations of sd `unit_sigma`) with the rest. `weight` 1 is the damped model
    alone."""

    phi: float
    sigma: float
    pairs: int
    weight: float = 1.0
    unit_sigma: float = 0.0


@dataclass(frozen=True)
class ForecastPoint:
    year: int
    horizon: int
    population: float
    lower_80: float
    upper_80: float
    lower_95: float
    upper_95: float


@dataclass(frozen=True)
class Forecast:
    base_year: int
    growth: float  # the last growth rate the forecast damps (log, per year)
    growth_year: int  # the year that rate ends in
    points: list[ForecastPoint]


class TooLittleData(Exception):
    """No forecast can be made from the figures: they give no growth rate (two 1 January
    figures in one segment), or one that implies an impossible population."""


# --- the 1 January series ---------------------------------------------------------------------


def annual_series(
    first_january: Mapping[int, float], averages: Mapping[int, float]
) -> dict[int, YearPoint]:
    """1 January figures by year, completed from the annual averages: the Bureau's annual
    average is the mean of the population on 1 January of the year and of the next, so an
    average and one of those gives the other; two averages next to each other give the
    1 January between them (their mean). Nothing is derived across the 2022 break."""
    out = {y: YearPoint(y, float(v), PointKind.LOADED) for y, v in first_january.items()}
    changed = True
    while changed:
        changed = False
        for y, average in sorted(averages.items()):
            if y == BREAK_YEAR - 1:
                continue  # its two 1 Januaries are in different borders and censuses
            found = _from_average(out, averages, y, float(average))
            if found is not None:
                out[found.year] = found
                changed = True
    return dict(sorted(out.items()))


def _from_average(
    known: Mapping[int, YearPoint], averages: Mapping[int, float], y: int, average: float
) -> YearPoint | None:
    start, end = known.get(y), known.get(y + 1)
    if start is not None and end is None:
        return YearPoint(y + 1, max(2 * average - start.population, 0.0), PointKind.FROM_AVERAGE)
    if end is not None and start is None:
        return YearPoint(y, max(2 * average - end.population, 0.0), PointKind.FROM_AVERAGE)
    before = averages.get(y - 1)
    if start is None and before is not None and y != BREAK_YEAR:
        return YearPoint(y, (float(before) + average) / 2, PointKind.BETWEEN_AVERAGES)
    return None


def split_border_change(
    child: Mapping[int, YearPoint], parent: Mapping[int, YearPoint]
) -> tuple[dict[int, YearPoint], dict[int, YearPoint]]:
    """The child region (Abai, Jetisu, Ulytau) and the region it was formed from, each with
    the years before 2022 as its share of the old region on the first 1 January both have
    from 2022. The parent's figures before 2022 are those of the old region. Without a
    common year the child gets no earlier years and the parent keeps the old figures."""
    common = sorted(y for y in child if y >= BREAK_YEAR and y in parent)
    if not common:
        return dict(child), dict(parent)
    y = common[0]
    total = child[y].population + parent[y].population
    if total <= 0:
        return dict(child), dict(parent)
    share = child[y].population / total
    old = {year: p for year, p in parent.items() if year < BREAK_YEAR}
    kid = {year: _scaled(p, share) for year, p in old.items()}
    rest = {year: _scaled(p, 1 - share) for year, p in old.items()}
    new_child = {**kid, **{k: v for k, v in child.items() if k >= BREAK_YEAR}}
    new_parent = {**rest, **{k: v for k, v in parent.items() if k >= BREAK_YEAR}}
    return dict(sorted(new_child.items())), dict(sorted(new_parent.items()))


def _scaled(point: YearPoint, share: float) -> YearPoint:
    return YearPoint(point.year, point.population * share, PointKind.SHARE_OF_PARENT)


# --- growth rates and their dynamics ------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """The growth from one 1 January to the next one in the series (log, per year)."""

    start: int
    end: int
    rate: float


def steps(series: Sequence[YearPoint]) -> list[Step]:
    """Growth rates between neighbouring years of one segment (none across the break, none
    from or to a zero)."""
    out = []
    for a, b in itertools.pairwise(series):
        if (a.year < BREAK_YEAR) != (b.year < BREAK_YEAR):
            continue
        if a.population <= 0 or b.population <= 0:
            continue
        out.append(Step(a.year, b.year, math.log(b.population / a.population) / (b.year - a.year)))
    return out


def estimate(every: Iterable[Sequence[YearPoint]]) -> Dynamics:
    """The damping `phi` (least squares through the origin of each one-year rate on the one
    before it, over every region, within [0, 1]), the innovations' spread, and the weight of
    the damped model against the undamped one (phi = 1) from their BIC."""
    pairs = [
        (a.rate, b.rate)
        for series in every
        for a, b in _neighbours(steps(series))
    ]  # fmt: skip
    n = len(pairs)
    if n < 2:
        raise TooLittleData("fewer than two pairs of consecutive yearly growth rates")
    sxx = sum(x * x for x, _ in pairs)
    sxy = sum(x * y for x, y in pairs)
    phi = 1.0 if sxx == 0 else min(max(sxy / sxx, 0.0), 1.0)
    damped = sum((y - phi * x) ** 2 for x, y in pairs)
    unit = sum((y - x) ** 2 for x, y in pairs)
    return Dynamics(
        phi=phi, sigma=math.sqrt(damped / (n - 1)), pairs=n,
        weight=bic_weight(damped, unit, n), unit_sigma=math.sqrt(unit / n),
    )  # fmt: skip


def bic_weight(damped: float, unit: float, n: int) -> float:
    """The probability of the damped model (one parameter more, phi) against the undamped one
    from their residual sums of squares on `n` pairs, by the Bayesian information criterion
    (n log(RSS / n) + k log n) with even prior odds: 1 / (1 + sqrt(n) (RSS_damped /
    RSS_undamped)^(n/2)). Least squares within [0, 1] never fits worse than phi = 1, so the
    ratio is at most 1; with both fits exact the two models are one."""
    ratio = 1.0 if unit <= 0 else damped / unit
    return 1 / (1 + math.sqrt(n) * math.pow(ratio, n / 2))


def _neighbours(found: Sequence[Step]) -> list[tuple[Step, Step]]:
    return [
        (a, b)
        for a, b in itertools.pairwise(found)
        if a.end == b.start and a.end - a.start == 1 and b.end - b.start == 1
    ]


# --- the forecast -------------------------------------------------------------------------------


def project(series: Sequence[YearPoint], dynamics: Dynamics, years: int) -> Forecast:
    """The next `years` 1 Januaries after the series' last, on the log scale: the last
    growth rate damped by `phi` each year, and continued undamped, averaged by the models'
    weights; the intervals are the quantiles of the two models' mixture, each model's
    variance from the innovations each year adds to the rates still to come."""
    if not 1 <= years <= MAX_YEARS:
        raise ValueError(f"years must be 1..{MAX_YEARS}")
    if not series:
        raise TooLittleData("no population figures")
    found = steps(series)
    if not found:
        raise TooLittleData("no two 1 January figures on the same side of 2022")
    last, base = found[-1], series[-1]
    if base.population <= 0:
        raise TooLittleData("the last population figure is zero")
    models = [
        (w, phi, sigma)
        for w, phi, sigma in (
            (dynamics.weight, dynamics.phi, dynamics.sigma),
            (1 - dynamics.weight, 1.0, dynamics.unit_sigma),
        )
        if w > 0
    ]
    points = []
    for h in range(1, years + 1):
        target = base.year + h
        parts = [
            _Normal(w, math.log(base.population) + _growth(last, base.year, target, phi),
                    sigma * math.sqrt(_spread(last.end, base.year, target, phi)))
            for w, phi, sigma in models
        ]  # fmt: skip
        mean, (lower_80, upper_80, lower_95, upper_95) = _log_bounds(parts)
        if upper_95 > CEILING:
            raise TooLittleData(
                f"the growth the figures give implies more than 10^13 persons by {target}"
            )
        points.append(
            ForecastPoint(
                year=target, horizon=h, population=math.exp(mean),
                lower_80=math.exp(lower_80), upper_80=math.exp(upper_80),
                lower_95=math.exp(lower_95), upper_95=math.exp(upper_95),
            )
        )  # fmt: skip
    return Forecast(base.year, last.rate, last.end, points)


@dataclass(frozen=True)
class _Normal:
    """One model's forecast of the log population: its weight, mean and sd."""

    weight: float
    mean: float
    sd: float


def _growth(last: Step, base: int, target: int, phi: float) -> float:
    """The log growth from the base to `target`: the last rate times phi^(years after it)."""
    return sum(last.rate * phi ** (s - last.end) for s in range(base + 1, target + 1))


def _log_bounds(parts: Sequence[_Normal]) -> tuple[float, list[float]]:
    """The point (the weighted mean of the models' log forecasts) and the bounds: the
    mixture's 10 %, 90 %, 2.5 % and 97.5 % quantiles (one model's are mean ± z·sd)."""
    mean = sum(p.weight * p.mean for p in parts)
    if len(parts) == 1:
        sd = parts[0].sd
        return mean, [mean - Z80 * sd, mean + Z80 * sd, mean - Z95 * sd, mean + Z95 * sd]
    return mean, [_quantile(parts, q) for q in (0.1, 0.9, 0.025, 0.975)]


def _quantile(parts: Sequence[_Normal], q: float) -> float:
    """The `q` quantile of the mixture of normals, by bisection of its distribution function
    (a model with sd 0 is a point mass)."""
    lo = min(p.mean - 10 * p.sd for p in parts)
    hi = max(p.mean + 10 * p.sd for p in parts)
    for _ in range(200):
        mid = (lo + hi) / 2
        if mid in (lo, hi):
            break
        if sum(p.weight * _cdf(mid, p) for p in parts) < q:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def _cdf(x: float, p: _Normal) -> float:
    if p.sd <= 0:
        return 1.0 if x >= p.mean else 0.0
    return 0.5 * (1 + math.erf((x - p.mean) / (p.sd * math.sqrt(2))))


def _spread(known_until: int, base: int, target: int, phi: float) -> float:
    """The variance of the log level at `target`, in units of sigma²: the innovation of
    each year m after the last known rate reaches the rate of every later year s by
    phi^(s-m), and the level sums the rates of the years after the base."""
    total = 0.0
    for m in range(known_until + 1, target + 1):
        reach = sum(phi ** (s - m) for s in range(max(m, base + 1), target + 1))
        total += reach * reach
    return total


def first_january(year: int) -> date:
    return date(year, 1, 1)


# --- every region -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PopulationFigure:
    """A loaded population figure: on one day (`population`) or a year's average
    (`population-average`)."""

    kato: str
    dataset: str
    period_from: date
    period_to: date
    value: float


def regional_series(figures: Iterable[PopulationFigure]) -> dict[str, list[YearPoint]]:
    """Every region's 1 January series, in today's borders where the shares allow: figures on
    other days than 1 January are not used, nor the nation's (`000000000`)."""
    first: dict[str, dict[int, float]] = {}
    averages: dict[str, dict[int, float]] = {}
    for f in figures:
        if not kz.is_region_code(f.kato):
            continue
        if f.dataset == "population" and (f.period_from.month, f.period_from.day) == (1, 1):
            first.setdefault(f.kato, {})[f.period_from.year] = f.value
        elif f.dataset == "population-average" and _whole_year(f.period_from, f.period_to):
            averages.setdefault(f.kato, {})[f.period_from.year] = f.value
    series = {
        r.kato: annual_series(first.get(r.kato, {}), averages.get(r.kato, {})) for r in kz.REGIONS
    }
    for region in kz.REGIONS:
        if region.formed_from is not None:
            child, parent = split_border_change(series[region.kato], series[region.formed_from])
            series[region.kato], series[region.formed_from] = child, parent
    return {kato: list(points.values()) for kato, points in series.items() if points}


def _whole_year(start: date, end: date) -> bool:
    return start == date(start.year, 1, 1) and end == date(start.year, 12, 31)


def forecast_all(
    series: Mapping[str, Sequence[YearPoint]], years: int
) -> tuple[Dynamics, dict[str, Forecast | None]]:
    """The dynamics pooled over every region's series, and each region's forecast (None
    where its figures give no growth rate)."""
    dynamics = estimate(series.values())
    out: dict[str, Forecast | None] = {}
    for kato, points in series.items():
        try:
            out[kato] = project(points, dynamics, years)
        except TooLittleData:
            out[kato] = None
    return dynamics, out
