"""The read path: the indicators of a period (every region and the nation), the statistical
inputs loaded with their history, and the alerts. Plain functions over the engine."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from koshiqon.common import kz
from koshiqon.monitoring.adapters.repository import readings
from koshiqon.monitoring.adapters.repository.readings import Record
from koshiqon.monitoring.adapters.repository.sql import every, loads
from koshiqon.monitoring.adapters.tables import LIVE
from koshiqon.monitoring.domain.errors import UnknownRegion
from koshiqon.monitoring.domain.figures import Fig, Indicators, Source, missing, total
from koshiqon.monitoring.domain.indicators import QUOTA_KINDS, Inputs, QuotaInputs, compute
from koshiqon.monitoring.domain.periods import Period
from koshiqon.monitoring.domain.statistics import NATIONAL, Dataset

EARLIEST = date(1990, 1, 1)
NATION_NAMES = {"kk": "Қазақстан", "ru": "Казахстан", "en": "Kazakhstan"}
REFERENCE_AREA = Source("reference", "koshiqon.common.kz.REGIONS", "BNS, as commonly published")


@dataclass(frozen=True)
class TerritoryIndicators:
    kato: str
    names: dict[str, str]
    indicators: Indicators


@dataclass(frozen=True)
class IndicatorTable:
    period: Period
    items: list[TerritoryIndicators]
    national: TerritoryIndicators


def regions_at(day: date) -> list[kz.Region]:
    """The regions figures are kept for on `day` (statistics.py's rule: the three regions of
    8 June 2022 from 1 January 2022)."""
    return [r for r in kz.REGIONS if r.created is None or day >= date(r.created.year, 1, 1)]


def names(region: kz.Region) -> dict[str, str]:
    return {"kk": region.name_kk, "ru": region.name_ru, "en": region.name_en}


@dataclass
class _Loaded:
    population: dict[str, Record]
    average: dict[str, Record]
    area: dict[str, Record]
    vital: dict[str, list[Record]]
    labour: dict[str, Record]
    ethnicity: dict[str, Record]
    flows: readings.FlowSums
    quotas: dict[tuple[str, str], readings.QuotaSums]
    quotas_latest: datetime | None
    resettled: dict[tuple[str, str], int]
    resettled_latest: datetime | None


async def _load(connection: AsyncConnection, period: Period) -> _Loaded:
    year_start = period.start.replace(month=1, day=1)
    year_end = period.start.replace(month=12, day=31)

    async def rs(dataset: Dataset, start: date, end: date) -> list[Record]:
        return await readings.records(connection, dataset.value, start=start, end=end)

    vital: dict[str, list[Record]] = defaultdict(list)
    for record in await rs(Dataset.VITAL, period.start, period.end):
        vital[record.kato].append(record)
    quotas, quotas_latest = await readings.quota_sums(connection, period.start.year, prefix=LIVE)
    settled, settled_latest = await readings.resettled(connection, period, prefix=LIVE)
    return _Loaded(
        population=readings.latest_by_region(
            await rs(Dataset.POPULATION, year_start, period.start)
        ),
        average={
            r.kato: r
            for r in await rs(Dataset.POPULATION_AVERAGE, year_start, year_end)
            if (r.period_from, r.period_to) == (year_start, year_end)
        },
        area=readings.latest_by_region(await rs(Dataset.AREA, EARLIEST, period.end)),
        vital=vital,
        labour=readings.latest_by_region(await rs(Dataset.LABOUR_MARKET, period.start, period.end)),
        ethnicity=readings.latest_by_region(await rs(Dataset.ETHNICITY, EARLIEST, period.end)),
        flows=await readings.flow_sums(connection, period, prefix=LIVE),
        quotas=quotas,
        quotas_latest=quotas_latest,
        resettled=settled,
        resettled_latest=settled_latest,
    )


def _fig(records: dict[str, Record], kato: str, name: str, absent: str) -> Fig:
    record = records.get(kato)
    return missing(absent) if record is None else record.fig(name)


def _composition(records: dict[str, Record], kato: str, period: Period) -> Fig:
    record = records.get(kato)
    if record is None:
        return missing(f"no ethnic composition on or before {period.end}")
    return Fig(record.figures, (record.source_of(),))


def _quota_inputs(
    loaded: _Loaded, kato: str | None, katos: Sequence[str]
) -> dict[str, QuotaInputs]:
    quota_source = Source("events", "quotas", latest_event_at=loaded.quotas_latest)
    settled_source = Source("events", "resettlement", latest_event_at=loaded.resettled_latest)
    out: dict[str, QuotaInputs] = {}
    for kind in QUOTA_KINDS:
        rows = [loaded.quotas[(k, kind)] for k in katos if (k, kind) in loaded.quotas]
        if kato is not None and (kato, kind) not in loaded.quotas:
            continue
        if not rows:
            continue
        limits = [r.limit for r in rows]
        limit = (
            Fig(sum(x for x in limits if x is not None), (quota_source,))
            if all(x is not None for x in limits)
            else missing("a quota's establishing event is not projected yet", quota_source)
        )
        if kind == "foreign_labour":
            settled = missing("resettlement counts kandases and migrants only")
        else:
            settled = Fig(sum(loaded.resettled.get((k, kind), 0) for k in katos), (settled_source,))
        out[kind] = QuotaInputs(
            limit=limit,
            reserved=Fig(sum(r.reserved for r in rows), (quota_source,)),
            consumed=Fig(sum(r.consumed for r in rows), (quota_source,)),
            resettled=settled,
        )
    return out


def _region_inputs(loaded: _Loaded, region: kz.Region, period: Period) -> Inputs:
    k = region.kato
    year = period.start.year
    no_population = (
        f"no population between {period.start.replace(month=1, day=1)} and {period.start}"
    )
    no_average = f"no average population for {year}"
    population = _fig(loaded.population, k, "total", no_population)
    area = (
        loaded.area[k].fig("area_km2")
        if k in loaded.area
        else Fig(region.area_km2, (REFERENCE_AREA,))
    )
    births, deaths = readings.vital_figs(loaded.vital.get(k, []), period)
    return Inputs(
        population=population,
        urban=_fig(loaded.population, k, "urban", no_population),
        average=_fig(loaded.average, k, "average", no_average),
        average_urban=_fig(loaded.average, k, "urban", no_average),
        area=area,
        births=births,
        deaths=deaths,
        arrivals_external=loaded.flows.fig(k, "external", "in"),
        departures_external=loaded.flows.fig(k, "external", "out"),
        arrivals_internal=loaded.flows.fig(k, "internal", "in"),
        departures_internal=loaded.flows.fig(k, "internal", "out"),
        job_seekers=_fig(
            loaded.labour, k, "job_seekers", f"no labour market figures in {period.label}"
        ),
        vacancies=_fig(
            loaded.labour, k, "vacancies", f"no labour market figures in {period.label}"
        ),
        ethnicity=_composition(loaded.ethnicity, k, period),
        quotas=_quota_inputs(loaded, k, [k]),
    )


def _national_inputs(
    loaded: _Loaded, regions: list[kz.Region], period: Period, inputs: list[Inputs]
) -> Inputs:
    def national_or_sum(
        records: dict[str, Record], name: str, regional: list[Fig], what: str
    ) -> Fig:
        record = records.get(NATIONAL)
        if record is not None and name in record.figures:
            return record.fig(name)
        return total(regional, what)

    if NATIONAL in loaded.vital:
        births, deaths = readings.vital_figs(loaded.vital[NATIONAL], period)
    else:
        births = total([i.births for i in inputs], "births")
        deaths = total([i.deaths for i in inputs], "deaths")
    if not births.known:
        births = total([i.births for i in inputs], "births")
        deaths = total([i.deaths for i in inputs], "deaths")
    area_record = loaded.area.get(NATIONAL)
    return Inputs(
        population=national_or_sum(
            loaded.population, "total", [i.population for i in inputs], "population"
        ),
        urban=national_or_sum(
            loaded.population, "urban", [i.urban for i in inputs], "urban population"
        ),
        average=national_or_sum(
            loaded.average, "average", [i.average for i in inputs], "average population"
        ),
        average_urban=national_or_sum(
            loaded.average, "urban", [i.average_urban for i in inputs], "average urban population"
        ),
        area=area_record.fig("area_km2")
        if area_record
        else total([i.area for i in inputs], "area"),
        births=births,
        deaths=deaths,
        arrivals_external=loaded.flows.fig(None, "external", "in"),
        departures_external=loaded.flows.fig(None, "external", "out"),
        arrivals_internal=loaded.flows.fig(None, "internal", "in"),
        departures_internal=loaded.flows.fig(None, "internal", "out"),
        job_seekers=national_or_sum(
            loaded.labour, "job_seekers", [i.job_seekers for i in inputs], "job seekers"
        ),
        vacancies=national_or_sum(
            loaded.labour, "vacancies", [i.vacancies for i in inputs], "vacancies"
        ),
        ethnicity=_composition(loaded.ethnicity, NATIONAL, period),
        quotas=_quota_inputs(loaded, None, [r.kato for r in regions]),
    )


async def indicator_table(engine: AsyncEngine, period: Period) -> IndicatorTable:
    regions = regions_at(period.start)
    async with engine.connect() as connection:
        loaded = await _load(connection, period)
    inputs = [_region_inputs(loaded, r, period) for r in regions]
    items = [
        TerritoryIndicators(r.kato, names(r), compute(i))
        for r, i in zip(regions, inputs, strict=True)
    ]
    national = _national_inputs(loaded, regions, period, inputs)
    return IndicatorTable(
        period, items, TerritoryIndicators(NATIONAL, dict(NATION_NAMES), compute(national))
    )


async def region_indicators(engine: AsyncEngine, kato: str, period: Period) -> TerritoryIndicators:
    if kato == NATIONAL:
        return (await indicator_table(engine, period)).national
    if not kz.is_region_code(kato):
        raise UnknownRegion(f"{kato} is not the KATO code of a region", field="kato")
    region = kz.region_by_kato(kato)
    if region not in regions_at(period.start):
        raise UnknownRegion(
            f"region {kato} did not exist in {period.label} (formed {region.created})", field="kato"
        )
    async with engine.connect() as connection:
        loaded = await _load(connection, period)
    return TerritoryIndicators(kato, names(region), compute(_region_inputs(loaded, region, period)))


# --- statistical inputs loaded ---------------------------------------------------------------


@dataclass(frozen=True)
class LoadedFigure:
    kato: str
    variant: str
    period_from: date
    period_to: date
    figures: dict[str, Any]
    source: str
    loaded_at: datetime
    history: list[dict[str, Any]]


async def statistics(
    engine: AsyncEngine, dataset: Dataset, *, kato: str | None, after: tuple[Any, ...] | None,
    limit: int,
) -> list[LoadedFigure]:  # fmt: skip
    """The figures of `dataset` loaded, by region and date, each with the figures it replaced
    (newest first), their sources and when."""
    cursor = after or ("", "", EARLIEST, EARLIEST)
    async with engine.connect() as connection:
        rows = await every(
            connection,
            "SELECT kato, variant, period_from, period_to, figures::text AS figures, source, "
            "loaded_at FROM statistics WHERE dataset = :dataset AND (CAST(:kato AS text) IS NULL "
            "OR kato = :kato) AND (kato, variant, period_from, period_to) > "
            "(CAST(:c_kato AS char(9)), CAST(:c_variant AS text), CAST(:c_from AS date), "
            "CAST(:c_to AS date)) ORDER BY kato, variant, period_from, period_to LIMIT :limit",
            dataset=dataset.value, kato=kato, c_kato=cursor[0], c_variant=cursor[1],
            c_from=cursor[2], c_to=cursor[3], limit=limit,
        )  # fmt: skip
        history = await every(
            connection,
            "SELECT kato, variant, period_from, period_to, figures::text AS figures, source, "
            "loaded_at, replaced_at FROM statistics_history WHERE dataset = :dataset "
            "AND (CAST(:kato AS text) IS NULL OR kato = :kato) ORDER BY id DESC",
            dataset=dataset.value, kato=kato,
        )  # fmt: skip
    earlier: dict[tuple[str, str, date, date], list[dict[str, Any]]] = defaultdict(list)
    for h in history:
        earlier[(h.kato.strip(), h.variant, h.period_from, h.period_to)].append(
            {
                "figures": loads(h.figures),
                "source": h.source,
                "loaded_at": h.loaded_at,
                "replaced_at": h.replaced_at,
            }
        )
    return [
        LoadedFigure(
            r.kato.strip(), r.variant, r.period_from, r.period_to, loads(r.figures), r.source,
            r.loaded_at, earlier.get((r.kato.strip(), r.variant, r.period_from, r.period_to), []),
        )
        for r in rows
    ]  # fmt: skip


# --- alerts ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Alert:
    alert_id: UUID
    region: str
    period: str
    period_from: date
    period_to: date
    active: bool
    figures: dict[str, Any]
    raised_at: datetime
    cleared_at: datetime | None
    cleared_figures: dict[str, Any] | None


async def alerts(
    engine: AsyncEngine, *, region: str | None, active: bool | None,
    after: tuple[Any, ...] | None, limit: int,
) -> list[Alert]:  # fmt: skip
    after_at, after_id = (after[0], after[1]) if after else (None, None)
    async with engine.connect() as connection:
        rows = await every(
            connection,
            "SELECT alert_id, region, period, period_from, period_to, active, "
            "figures::text AS figures, raised_at, cleared_at, cleared_figures::text AS cleared "
            "FROM alerts WHERE (CAST(:region AS text) IS NULL OR region = :region) "
            "AND (CAST(:active AS boolean) IS NULL OR active = :active) "
            "AND (CAST(:after_at AS timestamptz) IS NULL OR (raised_at, alert_id) > "
            "(CAST(:after_at AS timestamptz), CAST(:after_id AS uuid))) "
            "ORDER BY raised_at, alert_id LIMIT :limit",
            region=region, active=active, after_at=after_at, after_id=after_id, limit=limit,
        )  # fmt: skip
    return [
        Alert(
            r.alert_id, r.region.strip(), r.period, r.period_from, r.period_to, r.active,
            loads(r.figures), r.raised_at, r.cleared_at,
            None if r.cleared is None else loads(r.cleared),
        )
        for r in rows
    ]  # fmt: skip


# --- the projections of one region ------------------------------------------------------------


@dataclass(frozen=True)
class RegionProjections:
    """One region's rows of every projection over a period, summed over its months."""

    flows: list[dict[str, Any]]
    registrations: list[dict[str, Any]]
    resettlement: list[dict[str, Any]]
    quotas: list[dict[str, Any]]
    proposals: list[dict[str, Any]]
    latest_event_at: dict[str, datetime | None]


PROJECTION_READS = {
    "flows": (
        "SELECT scope, direction, district, legal_status, kandas, counterpart, "
        "sum(persons)::bigint AS persons FROM p_flows WHERE region = :kato AND month >= :start "
        "AND month <= :end GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6"
    ),
    "registrations": (
        "SELECT district, kind, purpose, legal_status, kandas, sum(started)::bigint AS started, "
        "sum(ended)::bigint AS ended FROM p_registrations WHERE region = :kato "
        "AND month >= :start AND month <= :end GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5"
    ),
    "resettlement": (
        "SELECT category, sum(applications)::bigint AS applications, "
        "sum(requested)::bigint AS requested, sum(approved)::bigint AS approved, "
        "sum(rejected)::bigint AS rejected, sum(completed)::bigint AS completed, "
        "sum(withdrawn)::bigint AS withdrawn FROM p_resettlement WHERE region = :kato "
        "AND month >= :start AND month <= :end GROUP BY 1 ORDER BY 1"
    ),
    "quotas": (
        'SELECT quota_id, kind, category, year_from, year_to, "limit", reserved, consumed '
        "FROM p_quotas WHERE region = :kato AND year_from <= :year AND year_to >= :year "
        "ORDER BY kind, category, quota_id"
    ),
    "proposals": (
        "SELECT type, stage, sum(proposals)::bigint AS proposals FROM p_proposals "
        "WHERE region = :kato AND month >= :start AND month <= :end GROUP BY 1, 2 ORDER BY 1, 2"
    ),
}


async def region_projections(engine: AsyncEngine, kato: str, period: Period) -> RegionProjections:
    if not kz.is_region_code(kato):
        raise UnknownRegion(f"{kato} is not the KATO code of a region", field="kato")
    found: dict[str, list[dict[str, Any]]] = {}
    latest: dict[str, datetime | None] = {}
    async with engine.connect() as connection:
        for name, statement in PROJECTION_READS.items():
            rows = await every(
                connection, statement, kato=kato, start=period.start.replace(day=1),
                end=period.end, year=period.start.year,
            )  # fmt: skip
            found[name] = [dict(r._mapping) for r in rows]
            at = await every(connection, f"SELECT max(last_event_at) AS at FROM p_{name}")
            latest[name] = at[0].at if at else None
    for row in found["quotas"]:
        limit = row["limit"]
        row["remaining"] = None if limit is None else limit - row["reserved"] - row["consumed"]
        row["category"] = row["category"] or None
    for row in found["flows"] + found["registrations"]:
        row["district"] = row["district"] or None
        if "purpose" in row:
            row["purpose"] = row["purpose"] or None
    return RegionProjections(latest_event_at=latest, **found)
