"""The §5 indicators from their inputs (formulas in docs/domain.md, "Indicators"). Pure: the
inputs of one territory and period in, the figures out, each with its sources or the reason
it is missing.

"Population" in a rate is the mid-period population: the average annual population of the
period's year (for a quarter or a month too: the Bureau publishes averages by year)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from koshiqon.monitoring.domain.figures import (
    Fig,
    Indicators,
    derive,
    per_thousand,
    percent,
    ratio,
)

QUOTA_KINDS = ("kandas", "migrant", "foreign_labour")


@dataclass(frozen=True)
class QuotaInputs:
    limit: Fig
    reserved: Fig
    consumed: Fig
    resettled: Fig


@dataclass(frozen=True)
class Inputs:
    """What the indicators of one territory and period are computed from."""

    population: Fig  # at the start of the period
    urban: Fig  # at the start of the period
    average: Fig  # mid-period (average) population
    average_urban: Fig
    area: Fig
    births: Fig
    deaths: Fig
    arrivals_external: Fig
    departures_external: Fig
    arrivals_internal: Fig
    departures_internal: Fig
    job_seekers: Fig
    vacancies: Fig
    ethnicity: Fig  # {"kind": "count"|"share", "groups": {...}}
    quotas: Mapping[str, QuotaInputs] = field(default_factory=dict)


def _difference(a: float, b: float) -> float:
    return a - b


def urbanization(inputs: Inputs) -> Fig:
    """Urban population / population, in percent: at the start of the period when the
    population figure there gives urban, else from the year's averages."""
    if inputs.urban.known and inputs.population.known:
        return derive(percent, inputs.urban, inputs.population)
    if inputs.average_urban.known:
        return derive(percent, inputs.average_urban, inputs.average)
    reason = "no urban population at the start of the period nor in the year's average"
    return Fig(None, inputs.urban.sources + inputs.average_urban.sources, reason)


def ethnic_shares(ethnicity: Fig) -> Fig:
    """Each group's share in percent: counts divided by their sum, shares as given."""

    def shares(composition: Mapping[str, Any]) -> dict[str, float] | None:
        groups: Mapping[str, float] = composition["groups"]
        if composition["kind"] == "share":
            return {k: float(v) for k, v in groups.items()}
        whole = sum(groups.values())
        if whole == 0:
            return None
        return {k: 100.0 * v / whole for k, v in groups.items()}

    return derive(shares, ethnicity)


def compute(inputs: Inputs) -> Indicators:
    out = Indicators()
    f = out.figures
    f["population"] = inputs.population
    f["average_population"] = inputs.average
    f["area_km2"] = inputs.area
    f["density"] = derive(ratio, inputs.population, inputs.area)
    f["urbanization"] = urbanization(inputs)
    f["births"] = inputs.births
    f["deaths"] = inputs.deaths
    f["natural_increase"] = derive(_difference, inputs.births, inputs.deaths)
    f["natural_increase_rate"] = derive(per_thousand, f["natural_increase"], inputs.average)
    f["birth_rate"] = derive(per_thousand, inputs.births, inputs.average)
    f["death_rate"] = derive(per_thousand, inputs.deaths, inputs.average)
    f["arrivals_external"] = inputs.arrivals_external
    f["departures_external"] = inputs.departures_external
    f["arrivals_internal"] = inputs.arrivals_internal
    f["departures_internal"] = inputs.departures_internal
    f["net_migration_external"] = derive(
        _difference, inputs.arrivals_external, inputs.departures_external
    )
    f["net_migration_internal"] = derive(
        _difference, inputs.arrivals_internal, inputs.departures_internal
    )
    f["net_migration"] = derive(
        lambda a, b: a + b, f["net_migration_external"], f["net_migration_internal"]
    )
    f["net_migration_rate"] = derive(per_thousand, f["net_migration"], inputs.average)
    f["net_migration_external_rate"] = derive(
        per_thousand, f["net_migration_external"], inputs.average
    )
    f["net_migration_internal_rate"] = derive(
        per_thousand, f["net_migration_internal"], inputs.average
    )
    f["outflow_exceeds_reproduction"] = derive(
        lambda net, increase: -net > increase, f["net_migration"], f["natural_increase"]
    )
    f["job_seekers"] = inputs.job_seekers
    f["vacancies"] = inputs.vacancies
    f["labour_market_balance"] = derive(_difference, inputs.vacancies, inputs.job_seekers)
    f["ethnic_shares"] = ethnic_shares(inputs.ethnicity)
    for kind, quota in inputs.quotas.items():
        used = derive(lambda r, c: r + c, quota.reserved, quota.consumed)
        out.quotas[kind] = {
            "limit": quota.limit,
            "reserved": quota.reserved,
            "consumed": quota.consumed,
            "remaining": derive(_difference, quota.limit, used),
            "utilization": derive(ratio, used, quota.limit),
            "resettled": quota.resettled,
            "resettled_share": derive(ratio, quota.resettled, quota.limit),
        }
    return out
