"""The §8 rule: in a region, over a period, the population's outflow exceeds its
reproduction when net departures (departures less arrivals, external plus internal) are
greater than the natural increase (births less deaths). An alert is raised once when the
rule starts to hold and cleared once when it stops (events/monitoring.py)."""

from __future__ import annotations

from enum import StrEnum

from koshiqon.common.events.monitoring import OutflowFigures


class Decision(StrEnum):
    RAISE = "raise"
    CLEAR = "clear"
    KEEP = "keep"


def figures(
    *,
    births: int,
    deaths: int,
    arrivals_external: int,
    departures_external: int,
    arrivals_internal: int,
    departures_internal: int,
    population: int | None,
) -> OutflowFigures:
    departures = departures_external + departures_internal
    arrivals = arrivals_external + arrivals_internal
    return OutflowFigures(
        births=births,
        deaths=deaths,
        natural_increase=births - deaths,
        arrivals_external=arrivals_external,
        departures_external=departures_external,
        arrivals_internal=arrivals_internal,
        departures_internal=departures_internal,
        net_departures=departures - arrivals,
        population=population,
    )


def outflow_exceeds_reproduction(f: OutflowFigures) -> bool:
    return f.net_departures > f.natural_increase


def decide(f: OutflowFigures, *, active: bool) -> Decision:
    holds = outflow_exceeds_reproduction(f)
    if holds and not active:
        return Decision.RAISE
    if active and not holds:
        return Decision.CLEAR
    return Decision.KEEP
