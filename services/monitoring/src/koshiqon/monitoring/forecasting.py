"""The §9 forecast on the read side: `region_forecast` reads the population figures loaded,
forecasts every region (the damping and spread are pooled over them), and answers for one,
with the places its population implies. The route and the dashboard both call it."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from koshiqon.common import kz
from koshiqon.common.errors import InvalidInput
from koshiqon.monitoring.adapters.repository.forecasts import ForecastInputs, forecast_inputs
from koshiqon.monitoring.config import MonitoringSettings
from koshiqon.monitoring.domain import demand
from koshiqon.monitoring.domain import forecast as fc
from koshiqon.monitoring.domain.errors import ForecastUnavailable, UnknownRegion
from koshiqon.monitoring.domain.statistics import NATIONAL
from koshiqon.monitoring.entrypoints.schemas import (
    ForecastNormsOut,
    ForecastPointOut,
    HistoryPointOut,
    Names,
    RegionForecastOut,
)

NO_AGES = (
    "no age groups are loaded for the region, the nation or any region (population figures "
    "with age_0, age_1_5, age_6_17, age_18_62 and age_63_plus)"
)


def default_norms() -> demand.Norms:
    """The norms' defaults as MonitoringSettings declares them (no environment read)."""
    fields = MonitoringSettings.model_fields
    return demand.Norms(
        school_places_per_child=fields["forecast_school_places_per_child"].default,
        kindergarten_places_per_child=fields["forecast_kindergarten_places_per_child"].default,
        primary_care_per_10000=fields["forecast_primary_care_per_10000"].default,
    )


def check_request(kato: str, years: int) -> kz.Region:
    if not 1 <= years <= fc.MAX_YEARS:
        raise InvalidInput(f"years must be 1 to {fc.MAX_YEARS}", field="years")
    if len(kato) != 9 or not kato.isdigit():
        raise InvalidInput("kato must be a region's 9-digit KATO code", field="kato")
    if kato == NATIONAL:
        raise UnknownRegion("the forecast is by region: 000000000 is the nation", field="kato")
    if not kz.is_region_code(kato):
        raise UnknownRegion(f"{kato} is not the KATO code of a region", field="kato")
    return kz.region_by_kato(kato)


async def region_forecast(
    engine: AsyncEngine, kato: str, years: int, *, norms: demand.Norms | None = None
) -> RegionForecastOut:
    """The region's forecast for the next `years` (1..5) 1 Januaries after its series."""
    region = check_request(kato, years)
    async with engine.connect() as connection:
        inputs = await forecast_inputs(connection)
    return forecast_out(inputs, region, years, norms or default_norms())


def forecast_out(
    inputs: ForecastInputs, region: kz.Region, years: int, norms: demand.Norms
) -> RegionForecastOut:
    series = fc.regional_series(inputs.figures)
    own = series.get(region.kato, [])
    try:
        dynamics = fc.estimate(series.values())
    except fc.TooLittleData as exc:
        raise ForecastUnavailable(f"no forecast can be made yet: {exc}", field="kato") from None
    try:
        forecast = fc.project(own, dynamics, years)
    except fc.TooLittleData as exc:
        raise ForecastUnavailable(
            f"region {region.kato} has no forecast: {exc} (two 1 January figures on the same "
            "side of 2022 are needed, loaded or from annual averages)",
            field="kato",
        ) from None
    shares = age_shares(inputs, region.kato)
    return RegionForecastOut(
        region=region.kato,
        name=Names(kk=region.name_kk, ru=region.name_ru, en=region.name_en),
        method=fc.METHOD,
        base_date=fc.first_january(forecast.base_year),
        growth_rate=round(forecast.growth, 6),
        damping=round(dynamics.phi, 4),
        age_shares=shares.source.value,
        age_shares_date=shares.on,
        school_share=None if shares.school is None else round(shares.school, 6),
        kindergarten_share=None if shares.kindergarten is None else round(shares.kindergarten, 6),
        places_reason=NO_AGES if shares.source is demand.ShareSource.NONE else None,
        norms=ForecastNormsOut(**vars(norms)),
        history=[
            HistoryPointOut(
                date=fc.first_january(p.year),
                population=round(p.population, 1),
                kind=p.kind.value,
            )
            for p in own
        ],
        points=[_point(p, shares, norms) for p in forecast.points],
    )


def _point(p: fc.ForecastPoint, shares: demand.AgeShares, norms: demand.Norms) -> ForecastPointOut:
    implied = demand.places(p.population, shares, norms)
    return ForecastPointOut(
        date=fc.first_january(p.year), horizon_years=p.horizon, population=round(p.population),
        lower_80=round(p.lower_80), upper_80=round(p.upper_80), lower_95=round(p.lower_95),
        upper_95=round(p.upper_95), school_places=implied.school_places,
        kindergarten_places=implied.kindergarten_places, primary_care=implied.primary_care,
    )  # fmt: skip


def age_shares(inputs: ForecastInputs, kato: str) -> demand.AgeShares:
    regional = [g for k, g in inputs.age_groups.items() if kz.is_region_code(k)]
    return demand.choose_shares(
        inputs.age_groups.get(kato), inputs.age_groups.get(NATIONAL), regional
    )
