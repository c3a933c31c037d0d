"""API shapes of the monitoring service (separate from the tables and the wire events)."""

from __future__ import annotations

import datetime as dt
from datetime import date, datetime
from typing import Any, Self
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from koshiqon.common.http.text import TextInput
from koshiqon.monitoring import queries
from koshiqon.monitoring.domain.commands import ImportResult
from koshiqon.monitoring.domain.figures import Fig
from koshiqon.monitoring.domain.statistics import MAX_ROWS, Dataset

RowValue = int | float | str | None


class StatisticsIn(TextInput):
    """A JSON import: the rows (the same fields as the CSV columns) and their source."""

    model_config = ConfigDict(extra="forbid")

    source: str = Field(min_length=1, max_length=500, description="who published the figures")
    rows: list[dict[str, RowValue]] = Field(min_length=1, max_length=MAX_ROWS)


class ImportOut(BaseModel):
    dataset: Dataset
    added: int = Field(description="figures for keys not loaded before")
    replaced: int = Field(description="figures that replaced different ones (replace=true)")
    unchanged: int = Field(description="figures equal to those loaded: nothing changed")
    kept: int = Field(description="different figures left as loaded (load-reference only)")

    @classmethod
    def of(cls, r: ImportResult) -> Self:
        return cls(
            dataset=r.dataset, added=r.added, replaced=r.replaced, unchanged=r.unchanged,
            kept=r.kept,
        )  # fmt: skip


class EarlierOut(BaseModel):
    figures: dict[str, Any]
    source: str
    loaded_at: datetime
    replaced_at: datetime


class LoadedOut(BaseModel):
    kato: str
    variant: str = Field(description="ecological or religious for a situation; else empty")
    period_from: date
    period_to: date
    figures: dict[str, Any]
    source: str
    loaded_at: datetime
    history: list[EarlierOut] = Field(description="the figures this one replaced, newest first")

    @classmethod
    def of(cls, f: queries.LoadedFigure) -> Self:
        return cls(
            kato=f.kato, variant=f.variant, period_from=f.period_from, period_to=f.period_to,
            figures=f.figures, source=f.source, loaded_at=f.loaded_at,
            history=[EarlierOut(**h) for h in f.history],
        )  # fmt: skip


class SourceOut(BaseModel):
    kind: str = Field(description="statistics, events or reference")
    name: str = Field(description="the dataset, the projection or the reference table")
    source: str | None = None
    date: dt.date | None = None
    period_from: dt.date | None = None
    period_to: dt.date | None = None
    latest_event_at: datetime | None = Field(
        default=None, description="events: the projection's latest event time"
    )


class FigureOut(BaseModel):
    value: bool | int | float | dict[str, float] | None
    sources: list[SourceOut]
    reason: str | None = Field(description="why value is null")

    @classmethod
    def of(cls, fig: Fig) -> Self:
        return cls.model_validate(fig.as_dict(digits=4))


class Names(BaseModel):
    kk: str
    ru: str
    en: str


class QuotaUseOut(BaseModel):
    limit: FigureOut
    reserved: FigureOut
    consumed: FigureOut
    remaining: FigureOut
    utilization: FigureOut = Field(description="(reserved + consumed) / limit")
    resettled: FigureOut = Field(description="persons resettled (completed) in the period")
    resettled_share: FigureOut = Field(description="resettled / limit: target against actual")


INDICATORS = (
    "population", "average_population", "area_km2", "density", "urbanization", "births",
    "deaths", "natural_increase", "natural_increase_rate", "birth_rate", "death_rate",
    "arrivals_external", "departures_external", "arrivals_internal", "departures_internal",
    "net_migration_external", "net_migration_internal", "net_migration", "net_migration_rate",
    "net_migration_external_rate", "net_migration_internal_rate",
    "outflow_exceeds_reproduction", "job_seekers", "vacancies", "labour_market_balance",
    "ethnic_shares",
)  # fmt: skip


class IndicatorsOut(BaseModel):
    """One territory's indicators for the period (formulas in docs/domain.md)."""

    kato: str
    name: Names
    population: FigureOut = Field(description="at the start of the period")
    average_population: FigureOut = Field(description="the year's average (mid-period)")
    area_km2: FigureOut
    density: FigureOut = Field(description="population / area, per km2")
    urbanization: FigureOut = Field(description="urban / population, percent")
    births: FigureOut
    deaths: FigureOut
    natural_increase: FigureOut = Field(description="births - deaths")
    natural_increase_rate: FigureOut = Field(description="per 1,000 of the average population")
    birth_rate: FigureOut
    death_rate: FigureOut
    arrivals_external: FigureOut
    departures_external: FigureOut
    arrivals_internal: FigureOut
    departures_internal: FigureOut
    net_migration_external: FigureOut
    net_migration_internal: FigureOut
    net_migration: FigureOut
    net_migration_rate: FigureOut = Field(description="per 1,000 of the average population")
    net_migration_external_rate: FigureOut
    net_migration_internal_rate: FigureOut
    outflow_exceeds_reproduction: FigureOut = Field(description="the §8 condition")
    job_seekers: FigureOut
    vacancies: FigureOut
    labour_market_balance: FigureOut = Field(description="vacancies - job seekers")
    ethnic_shares: FigureOut = Field(description="percent by group")
    quotas: dict[str, QuotaUseOut] = Field(description="by kind, the quotas covering the year")

    @classmethod
    def of(cls, t: queries.TerritoryIndicators) -> Self:
        figures = {name: FigureOut.of(t.indicators.figures[name]) for name in INDICATORS}
        quotas = {
            kind: QuotaUseOut(**{k: FigureOut.of(v) for k, v in use.items()})
            for kind, use in t.indicators.quotas.items()
        }
        return cls(kato=t.kato, name=Names(**t.names), quotas=quotas, **figures)


class IndicatorTableOut(BaseModel):
    period: str
    period_from: date
    period_to: date
    items: list[IndicatorsOut]
    national: IndicatorsOut

    @classmethod
    def of(cls, table: queries.IndicatorTable) -> Self:
        return cls(
            period=table.period.label,
            period_from=table.period.start,
            period_to=table.period.end,
            items=[IndicatorsOut.of(i) for i in table.items],
            national=IndicatorsOut.of(table.national),
        )


class RegionIndicatorsOut(IndicatorsOut):
    period: str
    period_from: date
    period_to: date


class OutflowFiguresOut(BaseModel):
    births: int
    deaths: int
    natural_increase: int
    arrivals_external: int
    departures_external: int
    arrivals_internal: int
    departures_internal: int
    net_departures: int
    population: int | None = None


class AlertOut(BaseModel):
    alert_id: UUID
    region: str
    period: str = Field(description="year or rolling_12_months")
    period_from: date
    period_to: date
    active: bool
    figures: OutflowFiguresOut = Field(description="the figures that raised it")
    raised_at: datetime
    cleared_at: datetime | None
    cleared_figures: OutflowFiguresOut | None

    @classmethod
    def of(cls, a: queries.Alert) -> Self:
        return cls(
            alert_id=a.alert_id, region=a.region, period=a.period, period_from=a.period_from,
            period_to=a.period_to, active=a.active,
            figures=OutflowFiguresOut(**a.figures), raised_at=a.raised_at,
            cleared_at=a.cleared_at,
            cleared_figures=None if a.cleared_figures is None else OutflowFiguresOut(
                **a.cleared_figures
            ),
        )  # fmt: skip


class FlowOut(BaseModel):
    scope: str = Field(description="external (abroad) or internal (between regions)")
    direction: str = Field(description="in or out")
    district: str | None = Field(description="the district's KATO code, when the event has one")
    legal_status: str
    kandas: str = Field(description="kandas, other or unknown")
    counterpart: str = Field(
        description="external: the country (ISO alpha-3); internal: the other region (KATO)"
    )
    persons: int


class RegistrationsOut(BaseModel):
    district: str | None
    kind: str = Field(description="permanent or temporary")
    purpose: str | None = Field(description="a temporary stay's purpose; work: labour migration")
    legal_status: str
    kandas: str
    started: int
    ended: int


class ResettlementOut(BaseModel):
    category: str
    applications: int
    requested: int = Field(description="persons")
    approved: int
    rejected: int
    completed: int
    withdrawn: int


class QuotaOut(BaseModel):
    quota_id: UUID
    kind: str
    category: str | None
    year_from: int
    year_to: int
    limit: int | None = Field(description="null until the quota's establishing event arrives")
    reserved: int
    consumed: int
    remaining: int | None


class ProposalsOut(BaseModel):
    type: str
    stage: str
    proposals: int


class ProjectionsOut(BaseModel):
    """One region's projections over the period (quotas: those covering its first year)."""

    kato: str
    period: str
    flows: list[FlowOut]
    registrations: list[RegistrationsOut]
    resettlement: list[ResettlementOut]
    quotas: list[QuotaOut]
    proposals: list[ProposalsOut]
    latest_event_at: dict[str, datetime | None] = Field(
        description="each projection's latest event time"
    )

    @classmethod
    def of(cls, kato: str, period: str, p: queries.RegionProjections) -> Self:
        return cls(
            kato=kato, period=period,
            flows=[FlowOut(**r) for r in p.flows],
            registrations=[RegistrationsOut(**r) for r in p.registrations],
            resettlement=[ResettlementOut(**r) for r in p.resettlement],
            quotas=[QuotaOut(**r) for r in p.quotas],
            proposals=[ProposalsOut(**r) for r in p.proposals],
            latest_event_at=p.latest_event_at,
        )  # fmt: skip


# --- the §9 forecast ---------------------------------------------------------------------------


class ForecastNormsOut(BaseModel):
    school_places_per_child: float = Field(description="school places per child aged 6-17")
    kindergarten_places_per_child: float = Field(description="places per child aged 1-5")
    primary_care_per_10000: float = Field(
        description="primary-care capacity (visits per shift) per 10,000 population"
    )


class HistoryPointOut(BaseModel):
    date: dt.date = Field(description="1 January of the year")
    population: float
    kind: str = Field(
        description="1-january (loaded), from-average (an annual average and the 1 January "
        "next to it), between-averages (the mean of two averages), share-of-parent (before "
        "2022: the region's 2022 share of the region in the old borders)"
    )


class ForecastPointOut(BaseModel):
    date: dt.date = Field(description="1 January of the year forecast")
    horizon_years: int = Field(description="years after base_date")
    population: int
    lower_80: int
    upper_80: int
    lower_95: int
    upper_95: int
    school_places: int | None = Field(description="children 6-17 x the norm; null: no age shares")
    kindergarten_places: int | None = Field(description="children 1-5 x the norm")
    primary_care: float = Field(description="visits per shift: population / 10,000 x the norm")


class RegionForecastOut(BaseModel):
    """A region's §9 forecast: its population on the next 1 Januaries with 80 % and 95 %
    prediction intervals, and the places that population implies (docs/forecast.md)."""

    region: str = Field(description="the region's KATO code")
    name: Names
    method: str
    base_date: date = Field(description="the last 1 January of the series (loaded or derived)")
    growth_rate: float = Field(description="the last yearly growth rate (log), continued")
    damping: float = Field(
        description="phi of the damped model (each year's growth rate phi times the last), "
        "averaged with the undamped one by their BIC weights (docs/forecast.md)"
    )
    age_shares: str = Field(
        description="whose age structure gives the places: region, national, "
        "national-from-regions (the regions with age groups, summed), or none"
    )
    age_shares_date: date | None = Field(description="the date of the age groups used")
    school_share: float | None = Field(description="share of ages 6-17 in the population")
    kindergarten_share: float | None = Field(description="share of ages 1-5")
    places_reason: str | None = Field(description="why school and kindergarten places are null")
    norms: ForecastNormsOut
    history: list[HistoryPointOut] = Field(description="the 1 January series fitted")
    points: list[ForecastPointOut]
