"""HTTP routes of the monitoring service (scopes monitoring:read, monitoring:write): the
statistical inputs (§5), the indicators per region and for the nation, their CSV export,
and the §8 alerts. Each route parses, hands a command to the bus or reads through
`queries`, and returns its response model.

A token limited to a region may load figures of that region only; reading the indicators
and the alerts of any region takes monitoring:read (they are statistics, not records about
persons)."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from typing import Annotated, Any
from uuid import UUID

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine

from koshiqon.common.auth import Principal, require_scopes
from koshiqon.common.errors import InvalidInput
from koshiqon.common.http.links import link, links
from koshiqon.common.http.pagination import Page, PageQuery, make_page
from koshiqon.common.http.problems import problem_responses
from koshiqon.common.http.text import WITHOUT_NUL
from koshiqon.common.messagebus import Actor
from koshiqon.monitoring import forecasting, queries
from koshiqon.monitoring.bus import Bus
from koshiqon.monitoring.config import MonitoringSettings
from koshiqon.monitoring.domain import commands as c
from koshiqon.monitoring.domain.periods import Period, parse_period
from koshiqon.monitoring.domain.statistics import Dataset, Value, csv_rows, json_rows
from koshiqon.monitoring.entrypoints.schemas import (
    INDICATORS,
    AlertOut,
    ImportOut,
    IndicatorsOut,
    IndicatorTableOut,
    LoadedOut,
    ProjectionsOut,
    RegionForecastOut,
    RegionIndicatorsOut,
    StatisticsIn,
)

router = APIRouter(prefix="/v1")

KATO_PATTERN = r"^[0-9]{9}$"
PERIOD_PATTERN = r"^[0-9]{4}(-Q[1-4]|-(0[1-9]|1[0-2]))?$"


async def get_bus(request: Request) -> Bus:
    bus: Bus = request.app.state.bus
    return bus


async def get_engine(request: Request) -> AsyncEngine:
    engine: AsyncEngine = request.app.state.engine
    return engine


def actor_of(principal: Principal) -> Actor:
    return Actor(subject=principal.subject, agency=principal.agency, region=principal.region)


BusDep = Annotated[Bus, Depends(get_bus)]
Engine = Annotated[AsyncEngine, Depends(get_engine)]
Reader = Annotated[Principal, Depends(require_scopes("monitoring:read"))]
Writer = Annotated[Principal, Depends(require_scopes("monitoring:write"))]
PeriodQuery = Annotated[
    str,
    Query(
        pattern=PERIOD_PATTERN,
        description="a year (2023), a quarter (2023-Q2) or a month (2023-05)",
    ),
]
READ = problem_responses(401, 403, 422)
ONE = problem_responses(401, 403, 404, 422)
WRITE = problem_responses(401, 403, 409, 413, 422)


def _period(text: str) -> Period:
    return parse_period(text, field="period")


# --- statistical inputs ---------------------------------------------------------------------


@router.post(
    "/statistics/{dataset}",
    responses={
        **WRITE,
        **links(
            200,
            list_statistics=link(
                "GET", "/v1/statistics/{dataset}", dataset="$request.path.dataset"
            ),
        ),
    },
    tags=["statistics"],
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": StatisticsIn.model_json_schema()},
                "text/csv": {"schema": {"type": "string"}},
            },
        }
    },
)
async def import_statistics(
    dataset: Dataset,
    request: Request,
    bus: BusDep,
    principal: Writer,
    replace: Annotated[
        bool, Query(description="replace figures loaded for the same key (kept in history)")
    ] = False,
    source: Annotated[
        str | None,
        Query(min_length=1, max_length=500, description="who published a CSV file's figures"),
        WITHOUT_NUL,
    ] = None,
) -> ImportOut:
    """A whole file is one transaction: any bad row imports nothing (422, every bad row
    with its line and reason); the same figures again change nothing; different figures
    for a loaded key need `replace=true` (409 otherwise)."""
    body = await request.body()
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    rows: list[tuple[int, dict[str, Value]]]
    if media == "text/csv":
        if source is None:
            raise InvalidInput("a CSV file's source is given as ?source=", field="source")
        rows = csv_rows(_text(body), dataset)
    elif media == "application/json" or media.endswith("+json"):
        payload = _json(body)
        rows = json_rows(payload.rows)
        source = payload.source
    else:
        raise InvalidInput("send application/json or text/csv", field="content-type")
    command = c.ImportStatistics(
        dataset=dataset,
        rows=rows,
        source=source,
        existing=c.Existing.REPLACE if replace else c.Existing.REFUSE,
        actor=actor_of(principal),
    )
    return ImportOut.of(await bus.handle(command))


@router.get("/statistics/{dataset}", responses=READ, tags=["statistics"])
async def list_statistics(
    dataset: Dataset,
    engine: Engine,
    _: Reader,
    page: PageQuery,
    kato: Annotated[str | None, Query(pattern=KATO_PATTERN)] = None,
) -> Page[LoadedOut]:
    """What is loaded, by region and date, each figure with its source and the figures it
    replaced."""
    rows = await queries.statistics(
        engine, dataset, kato=kato, after=_statistics_cursor(page.after), limit=page.limit + 1
    )
    items = [LoadedOut.of(r) for r in rows]
    return make_page(
        items,
        limit=page.limit,
        cursor_of=lambda r: (r.kato, r.variant, r.period_from.isoformat(), r.period_to.isoformat()),
    )


# --- indicators -----------------------------------------------------------------------------


@router.get("/indicators", responses=READ, tags=["indicators"])
async def indicators(engine: Engine, _: Reader, period: PeriodQuery) -> IndicatorTableOut:
    """Every region's indicators for the period, and the nation's."""
    return IndicatorTableOut.of(await queries.indicator_table(engine, _period(period)))


@router.get(
    "/indicators.csv",
    responses={
        **READ,
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "CSV"},
    },
    response_class=Response,
    tags=["indicators"],
)
async def indicators_csv(engine: Engine, _: Reader, period: PeriodQuery) -> Response:
    """The same table as CSV: one row per region and a last row for the nation (kato
    000000000); the columns are in README ("Monitoring"). An empty cell is a figure whose
    input is missing (the JSON says why)."""
    table = IndicatorTableOut.of(await queries.indicator_table(engine, _period(period)))
    return Response(
        _csv(table),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="indicators-{table.period}.csv"'},
    )


@router.get("/regions/{kato}/indicators", responses=ONE, tags=["indicators"])
async def region_indicators(
    kato: Annotated[str, Path(pattern=KATO_PATTERN, description="a region's own KATO code")],
    engine: Engine,
    _: Reader,
    period: PeriodQuery,
) -> RegionIndicatorsOut:
    """One region's indicators for the period (000000000: the nation's)."""
    p = _period(period)
    found = IndicatorsOut.of(await queries.region_indicators(engine, kato, p))
    return RegionIndicatorsOut(**dict(found), period=p.label, period_from=p.start, period_to=p.end)


@router.get("/regions/{kato}/projections", responses=ONE, tags=["projections"])
async def region_projections(
    kato: Annotated[str, Path(pattern=KATO_PATTERN, description="a region's own KATO code")],
    engine: Engine,
    _: Reader,
    period: PeriodQuery,
) -> ProjectionsOut:
    """The region's projections of the event streams over the period: arrivals and
    departures by scope, legal and kandas status, district and counterpart (the country, or
    the other region: the origin-destination matrix), registrations, resettlement, quotas
    and proposals."""
    p = _period(period)
    return ProjectionsOut.of(kato, p.label, await queries.region_projections(engine, kato, p))


# --- the §9 forecast --------------------------------------------------------------------------


@router.get(
    "/regions/{kato}/forecast", responses=problem_responses(401, 403, 404, 409, 422),
    tags=["forecast"],
)  # fmt: skip
async def region_forecast(
    kato: Annotated[str, Path(pattern=KATO_PATTERN, description="a region's own KATO code")],
    request: Request,
    engine: Engine,
    _: Reader,
    years: Annotated[int, Query(ge=1, le=5, description="how many 1 Januaries ahead")] = 5,
) -> RegionForecastOut:
    """The region's population on the next 1 Januaries after its series, with 80 % and 95 %
    prediction intervals, and the school, kindergarten and primary-care places it implies
    (docs/forecast.md). 409 `forecast-unavailable` when its figures are too few."""
    settings: MonitoringSettings = request.app.state.settings
    norms = settings.forecast_norms()
    return await forecasting.region_forecast(engine, kato, years, norms=norms)


# --- alerts ---------------------------------------------------------------------------------


@router.get("/alerts", responses=READ, tags=["alerts"])
async def list_alerts(
    engine: Engine,
    _: Reader,
    page: PageQuery,
    region: Annotated[str | None, Query(pattern=KATO_PATTERN)] = None,
    active: bool | None = None,
) -> Page[AlertOut]:
    """The §8 outflow alerts raised, oldest first; `active=true` those not cleared."""
    after = _alert_cursor(page.after)
    rows = await queries.alerts(
        engine, region=region, active=active, after=after, limit=page.limit + 1
    )
    items = [AlertOut.of(a) for a in rows]
    return make_page(
        items, limit=page.limit, cursor_of=lambda a: (a.raised_at.isoformat(), str(a.alert_id))
    )


# --- helpers --------------------------------------------------------------------------------


def _text(body: bytes) -> str:
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("a CSV file is UTF-8 text", field="body") from None


def _json(body: bytes) -> StatisticsIn:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise InvalidInput("the body is not JSON", field="body") from None
    try:
        return StatisticsIn.model_validate(data)
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from None


def _statistics_cursor(after: tuple[Any, ...] | None) -> tuple[Any, ...] | None:
    if after is None:
        return None
    try:
        kato, variant, start, end = after
        return (str(kato), str(variant), date.fromisoformat(start), date.fromisoformat(end))
    except (ValueError, TypeError):
        raise InvalidInput("the cursor is not one this API gave out", field="cursor") from None


def _alert_cursor(after: tuple[Any, ...] | None) -> tuple[Any, ...] | None:
    if after is None:
        return None
    try:
        raised_at, alert_id = after
        return (datetime.fromisoformat(raised_at), UUID(alert_id))
    except (ValueError, TypeError):
        raise InvalidInput("the cursor is not one this API gave out", field="cursor") from None


QUOTA_COLUMNS = ("limit", "reserved", "consumed", "utilization", "resettled")
QUOTA_KINDS = ("kandas", "migrant", "foreign_labour")


def csv_columns() -> list[str]:
    """The CSV export's columns, in order."""
    columns = ["period", "kato", "name_kk", "name_ru", "name_en"]
    columns += [name for name in INDICATORS if name != "ethnic_shares"]
    columns.append("ethnic_shares")
    columns += [f"quota_{kind}_{c}" for kind in QUOTA_KINDS for c in QUOTA_COLUMNS]
    return columns


def _csv(table: IndicatorTableOut) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(csv_columns())
    for item in [*table.items, table.national]:
        row: list[object] = [table.period, item.kato, item.name.kk, item.name.ru, item.name.en]
        for name in INDICATORS:
            if name == "ethnic_shares":
                continue
            row.append(_cell(getattr(item, name).value))
        shares = item.ethnic_shares.value
        row.append(
            ";".join(f"{k}={v:g}" for k, v in sorted(shares.items()))
            if isinstance(shares, dict)
            else ""
        )
        for kind in QUOTA_KINDS:
            use = item.quotas.get(kind)
            for column in QUOTA_COLUMNS:
                row.append("" if use is None else _cell(getattr(use, column).value))
        writer.writerow(row)
    return out.getvalue()


def _cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value
