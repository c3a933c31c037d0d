"""Wire contracts of `monitoring.v1` (kz.migration.monitoring.*.v1).

Subject (and Kafka key): the alert id, so the raising and the clearing of one alert reach a
consumer in order.

The §8 rule of the Model Rules: when, in a region and over a period, the population's
outflow exceeds its reproduction -- net departures (external plus internal: departures less
arrivals) greater than the natural increase (births less deaths) -- the monitoring service
raises an alert once, and clears it once the condition no longer holds. One alert is one
(region, period) pair: a calendar year, or the rolling last twelve months ending with a month.

No personal data: the figures are counts of persons over a region and a period.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Self
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

from koshiqon.common.events.contracts import EventPayload, event

KATO = Field(pattern=r"^[0-9]{9}$", description="9-digit KATO code of the region")


class AlertPeriod(StrEnum):
    YEAR = "year"  # a calendar year, `period_from` 1 January .. `period_to` 31 December
    ROLLING_12_MONTHS = "rolling_12_months"  # the twelve months ending with `period_to`


class OutflowFigures(BaseModel):
    """The figures the rule compared, in persons over the period."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    births: int = Field(ge=0)
    deaths: int = Field(ge=0)
    natural_increase: int = Field(description="births - deaths")
    arrivals_external: int = Field(ge=0, description="immigration from abroad")
    departures_external: int = Field(ge=0, description="emigration abroad")
    arrivals_internal: int = Field(ge=0, description="moves in from other regions")
    departures_internal: int = Field(ge=0, description="moves out to other regions")
    net_departures: int = Field(
        description="departures - arrivals, external plus internal (positive: outflow)"
    )
    population: int | None = Field(
        default=None, ge=0, description="population at the start of the period, when known"
    )

    @model_validator(mode="after")
    def _sums(self) -> Self:
        if self.natural_increase != self.births - self.deaths:
            raise ValueError("natural_increase must be births - deaths")
        departures = self.departures_external + self.departures_internal
        arrivals = self.arrivals_external + self.arrivals_internal
        if self.net_departures != departures - arrivals:
            raise ValueError("net_departures must be departures - arrivals")
        return self


class _Alert(EventPayload):
    alert_id: UUID
    region: str = KATO
    period: AlertPeriod
    period_from: date = Field(description="first day of the period")
    period_to: date = Field(description="last day of the period")
    figures: OutflowFigures

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.period_to < self.period_from:
            raise ValueError("period_to is before period_from")
        return self


@event("monitoring", "outflow-alert-raised")
class OutflowAlertRaised(_Alert):
    """A region's outflow exceeds its reproduction over the period (§8): net departures are
    greater than the natural increase."""

    raised_at: datetime


@event("monitoring", "outflow-alert-cleared")
class OutflowAlertCleared(_Alert):
    """The §8 condition of an alert no longer holds; `figures` are those that cleared it."""

    cleared_at: datetime
