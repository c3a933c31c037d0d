"""Wire contracts of `monitoring.v1` (kz.migration.monitoring.*.v1).

Subject (and Kafka key): the alert id, so the raising and the clearing of one alert reach a
consumer in order; for a forecast, the region's KATO code.

The §8 rule of the Model Rules: when, in a region and over a period, the population's
outflow exceeds its reproduction -- net departures (external plus internal: departures less
arrivals) greater than the natural increase (births less deaths) -- the monitoring service
raises an alert once, and clears it once the condition no longer holds. One alert is one
(region, period) pair: a calendar year, or the rolling last twelve months ending with a month.

`forecast-published` (§9): a region's population forecast for the next five 1 Januaries,
published when new statistical inputs change it.

No personal data: the figures are counts of persons over a region and a period.
"""

from __future__ import annotations

import datetime as dt
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


class ForecastPoint(BaseModel):
    """A region's forecast population on one 1 January, with its prediction intervals."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    date: dt.date = Field(description="1 January of the year forecast")
    population: int = Field(ge=0)
    lower_80: int = Field(ge=0, description="80 % prediction interval, lower bound")
    upper_80: int = Field(ge=0)
    lower_95: int = Field(ge=0, description="95 % prediction interval, lower bound")
    upper_95: int = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if not self.lower_95 <= self.lower_80 <= self.population <= self.upper_80 <= self.upper_95:
            raise ValueError("the intervals must nest around the population")
        return self


@event("monitoring", "forecast-published")
class ForecastPublished(EventPayload):
    """A region's §9 population forecast changed with new statistical inputs: the next five
    1 Januaries after `base_date`. Subject (and key): the region's KATO code, so one
    region's forecasts reach a consumer in order. Counts of persons only."""

    region: str = KATO
    method: str = Field(max_length=500)
    base_date: date = Field(description="the last 1 January of the series forecast from")
    points: list[ForecastPoint] = Field(min_length=1, max_length=5)
    published_at: datetime
