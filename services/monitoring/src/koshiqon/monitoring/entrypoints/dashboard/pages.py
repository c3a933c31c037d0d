"""The dashboard's pages as data: each page's tables (`Sheet`) and charts (`Chart`, a Plotly
figure), in the page's language, built from the same read path as the API
(`queries.indicator_table` through the API's own schema, so a figure on the page is the
figure of `/v1/indicators`) and the dashboard's reads."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from koshiqon.common import kz
from koshiqon.monitoring import forecasting, queries
from koshiqon.monitoring.domain.demand import Norms
from koshiqon.monitoring.domain.errors import ForecastUnavailable
from koshiqon.monitoring.domain.periods import Period
from koshiqon.monitoring.entrypoints.dashboard import reads
from koshiqon.monitoring.entrypoints.dashboard.i18n import Lang, Words, place_name, region_name
from koshiqon.monitoring.entrypoints.dashboard.sheets import Column, Row, Sheet
from koshiqon.monitoring.entrypoints.schemas import (
    INDICATORS,
    IndicatorsOut,
    IndicatorTableOut,
    QuotaUseOut,
    RegionForecastOut,
)

MAIN_INDICATORS = (
    "population", "net_migration", "net_migration_rate", "natural_increase",
    "arrivals_external", "departures_external", "arrivals_internal", "departures_internal",
    "urbanization", "density", "labour_market_balance", "outflow_exceeds_reproduction",
)  # fmt: skip
QUOTA_KINDS = ("kandas", "migrant", "foreign_labour")
QUOTA_MEASURES = ("limit", "reserved", "consumed", "utilization", "resettled")
FLOWS = (("external", "in"), ("external", "out"), ("internal", "in"), ("internal", "out"))
COUNTERPARTS_CHARTED = 15
FORECAST_YEARS = 5
FORECAST_COLUMNS = (
    "population", "lower_95", "lower_80", "upper_80", "upper_95", "school_places",
    "kindergarten_places", "primary_care",
)  # fmt: skip


@dataclass(frozen=True)
class Chart:
    key: str
    title: str
    figure: dict[str, Any]


@dataclass
class Page:
    """A page's charts and tables, in the order they are shown."""

    title: str
    parts: list[Chart | Sheet] = field(default_factory=list)

    def add(self, part: Chart | Sheet) -> None:
        self.parts.append(part)

    @property
    def sheets(self) -> dict[str, Sheet]:
        return {p.key: p for p in self.parts if isinstance(p, Sheet)}

    @property
    def charts(self) -> list[Chart]:
        return [p for p in self.parts if isinstance(p, Chart)]


def _layout(**extra: Any) -> dict[str, Any]:
    return {
        "margin": {"l": 60, "r": 20, "t": 10, "b": 120},
        "height": 420,
        "legend": {"orientation": "h", "y": 1.12},
        "font": {"family": "system-ui, sans-serif", "size": 12},
        **extra,
    }


def _value(item: IndicatorsOut, name: str) -> Any:
    return getattr(item, name).value


def _alert_cell(alerts: list[reads.ActiveAlert]) -> str | None:
    """The CSV value of a region's active alerts: `period:from..to`, `;` between several."""
    if not alerts:
        return None
    return ";".join(f"{a.period}:{a.period_from}..{a.period_to}" for a in alerts)


# --- the national page ---------------------------------------------------------------------


async def national(engine: AsyncEngine, period: Period, lang: Lang) -> Page:
    t = Words(lang)
    table = IndicatorTableOut.of(await queries.indicator_table(engine, period))
    alerts: dict[str, list[reads.ActiveAlert]] = defaultdict(list)
    for alert in await reads.active_alerts(engine):
        alerts[alert.region].append(alert)
    page = Page(t("national_page"))
    page.add(_regions_sheet(table, alerts, t))
    page.add(_net_migration_chart(table, t))
    page.add(_quota_chart(table, t))
    page.add(_quotas_sheet(table, t))
    return page


def _name(item: IndicatorsOut, lang: Lang) -> str:
    return str(getattr(item.name, lang))


def _regions_sheet(
    table: IndicatorTableOut, alerts: dict[str, list[reads.ActiveAlert]], t: Words
) -> Sheet:
    columns = [
        Column("kato", t("kato"), numeric=False),
        Column("name", t("region"), numeric=False),
        *(Column(name, t.indicator(name)) for name in MAIN_INDICATORS),
        Column("active_alert", t("active_alert"), numeric=False),
    ]
    rows = []
    for item in [*table.items, table.national]:
        found = alerts.get(item.kato, [])
        values = [
            item.kato, _name(item, t.lang), *(_value(item, n) for n in MAIN_INDICATORS),
            _alert_cell(found),
        ]  # fmt: skip
        shown: list[str | None] = [None] * len(values)
        shown[-1] = (
            ", ".join(f"{a.period_from:%Y-%m}…{a.period_to:%Y-%m}" for a in found)
            if found
            else t("alert_none")
        )
        national_row = item.kato == table.national.kato
        link = None if national_row else f"/dashboard/regions/{item.kato}"
        rows.append(Row(values, shown, link))
    return Sheet("regions", t("regions_table"), columns, rows)


def _quotas_sheet(table: IndicatorTableOut, t: Words) -> Sheet:
    columns = [
        Column("kato", t("kato"), numeric=False),
        Column("name", t("region"), numeric=False),
        Column("kind", t("kind"), numeric=False),
        *(Column(m, t.measure(m), percent=m == "utilization") for m in QUOTA_MEASURES),
    ]
    rows = []
    for item in [*table.items, table.national]:
        for kind in QUOTA_KINDS:
            use: QuotaUseOut | None = item.quotas.get(kind)
            if use is None:
                continue
            values = [item.kato, _name(item, t.lang), kind,
                      *(getattr(use, m).value for m in QUOTA_MEASURES)]  # fmt: skip
            shown: list[str | None] = [None, None, t.kind(kind)]
            rows.append(Row(values, shown))
    return Sheet("quotas", t("quota_table"), columns, rows, empty=t("missing"))


def _net_migration_chart(table: IndicatorTableOut, t: Words) -> Chart:
    names = [_name(i, t.lang) for i in table.items]
    values = [_value(i, "net_migration") for i in table.items]
    colours = ["#b03a2e" if (v or 0) < 0 else "#1f618d" for v in values]
    figure = {
        "data": [{"type": "bar", "x": names, "y": values, "marker": {"color": colours},
                  "name": t.indicator("net_migration")}],
        "layout": _layout(yaxis={"title": {"text": t("persons")}}),
    }  # fmt: skip
    return Chart("net-migration", t("net_migration_chart"), figure)


def _quota_chart(table: IndicatorTableOut, t: Words) -> Chart:
    names = [_name(i, t.lang) for i in table.items]
    data = []
    for kind in QUOTA_KINDS:
        if not any(kind in i.quotas for i in table.items):
            continue
        for measure, opacity in (("limit", 0.45), ("consumed", 1.0)):
            data.append(
                {
                    "type": "bar", "x": names, "opacity": opacity,
                    "name": f"{t.kind(kind)}: {t.measure(measure)}",
                    "y": [
                        getattr(i.quotas[kind], measure).value if kind in i.quotas else None
                        for i in table.items
                    ],
                }
            )  # fmt: skip
    figure = {"data": data, "layout": _layout(barmode="group")}
    return Chart("quotas", t("quota_chart"), figure)


# --- a region's page -----------------------------------------------------------------------


async def region(
    engine: AsyncEngine, region_: kz.Region, period: Period, lang: Lang, *, norms: Norms
) -> Page:
    t = Words(lang)
    kato = region_.kato
    item = IndicatorsOut.of(await queries.region_indicators(engine, kato, period))
    projections = await queries.region_projections(engine, kato, period)
    monthly = await reads.monthly_flows(engine, kato, period)
    counterparts = await reads.counterpart_flows(engine, kato, period)
    proposals = await reads.proposal_states(engine, kato)
    alerts = await reads.active_alerts(engine, kato)
    try:
        forecast: RegionForecastOut | str = await forecasting.region_forecast(
            engine, kato, FORECAST_YEARS, norms=norms
        )
    except ForecastUnavailable as unavailable:
        forecast = unavailable.detail
    page = Page(region_name(region_, lang))
    page.add(_alerts_sheet(alerts, t))
    page.add(_indicators_sheet(item, t))
    page.add(_monthly_chart(monthly, period, t))
    page.add(_monthly_sheet(monthly, t))
    page.add(_counterparts_chart(counterparts, t))
    page.add(_counterparts_sheet(counterparts, t))
    page.add(_quota_use_chart(projections.quotas, t))
    page.add(_quota_use_sheet(projections.quotas, t))
    if isinstance(forecast, RegionForecastOut):
        page.add(_forecast_chart(forecast, t))
    page.add(_forecast_sheet(forecast, t))
    page.add(_proposals_sheet(proposals, t))
    return page


def _alerts_sheet(alerts: list[reads.ActiveAlert], t: Words) -> Sheet:
    columns = [
        Column("period", t("alert_period"), numeric=False),
        Column("period_from", t("date"), numeric=False),
        Column("period_to", t("date"), numeric=False),
        Column("raised_at", t("alert_raised"), numeric=False),
        Column("net_departures", t("net_departures")),
        Column("natural_increase", t.indicator("natural_increase")),
    ]
    rows = [
        Row([a.period, a.period_from, a.period_to, a.raised_at, a.net_departures,
             a.natural_increase])
        for a in alerts
    ]  # fmt: skip
    return Sheet("alerts", t("alerts"), columns, rows, empty=t("no_alerts"))


def _indicators_sheet(item: IndicatorsOut, t: Words) -> Sheet:
    columns = [
        Column("indicator", t("indicator"), numeric=False),
        Column("value", t("value")),
    ]
    rows = []
    for name in INDICATORS:
        value = getattr(item, name).value
        if name == "ethnic_shares":
            value = (
                ";".join(f"{k}={v:g}" for k, v in sorted(value.items()))
                if isinstance(value, dict)
                else None
            )
        rows.append(Row([name, value], [t.indicator(name)]))
    return Sheet("indicators", t("indicators"), columns, rows)


def _monthly_sheet(monthly: list[reads.MonthlyFlow], t: Words) -> Sheet:
    columns = [
        Column("month", t("month"), numeric=False),
        Column("scope", t("scope"), numeric=False),
        Column("direction", t("direction"), numeric=False),
        Column("legal_status", t("legal_status"), numeric=False),
        Column("persons", t("persons")),
    ]
    rows = [
        Row([f"{m.month:%Y-%m}", m.scope, m.direction, m.legal_status, m.persons],
            [None, t.named(f"scope_{m.scope}", m.scope),
             t.named(f"direction_{m.direction}", m.direction), t.status(m.legal_status)])
        for m in monthly
    ]  # fmt: skip
    return Sheet("monthly", t("monthly_table"), columns, rows, empty=t("missing"))


def _monthly_chart(monthly: list[reads.MonthlyFlow], period: Period, t: Words) -> Chart:
    months = [f"{m:%Y-%m}" for m in period.months()]
    sums: dict[tuple[str, str, str], int] = defaultdict(int)
    for m in monthly:
        sums[(f"{m.month:%Y-%m}", m.scope, m.direction)] += m.persons
    data = []
    for scope, direction in FLOWS:
        sign = 1 if direction == "in" else -1
        data.append(
            {
                "type": "bar", "x": months,
                "y": [sign * sums.get((month, scope, direction), 0) for month in months],
                "name": f"{t(f'direction_{direction}')} ({t(f'scope_{scope}')})",
            }
        )  # fmt: skip
    figure = {"data": data, "layout": _layout(barmode="relative", xaxis={"type": "category"})}
    return Chart("monthly", t("monthly_chart"), figure)


def _counterparts_sheet(flows: list[reads.CounterpartFlow], t: Words) -> Sheet:
    columns = [
        Column("scope", t("scope"), numeric=False),
        Column("direction", t("direction"), numeric=False),
        Column("counterpart", t("counterpart"), numeric=False),
        Column("persons", t("persons")),
    ]
    rows = [
        Row([f.scope, f.direction, f.counterpart, f.persons],
            [t.named(f"scope_{f.scope}", f.scope), t.named(f"direction_{f.direction}", f.direction),
             place_name(f.counterpart, t.lang)])
        for f in flows
    ]  # fmt: skip
    return Sheet("counterparts", t("counterparts_table"), columns, rows, empty=t("missing"))


def _counterparts_chart(flows: list[reads.CounterpartFlow], t: Words) -> Chart:
    by_place: dict[str, dict[str, int]] = defaultdict(lambda: {"in": 0, "out": 0})
    for f in flows:
        by_place[f.counterpart][f.direction] += f.persons
    top = sorted(by_place, key=lambda p: -(by_place[p]["in"] + by_place[p]["out"]))
    top = top[:COUNTERPARTS_CHARTED][::-1]
    names = [place_name(p, t.lang) for p in top]
    data = [
        {"type": "bar", "orientation": "h", "y": names, "x": [by_place[p]["in"] for p in top],
         "name": t("direction_in")},
        {"type": "bar", "orientation": "h", "y": names,
         "x": [-by_place[p]["out"] for p in top], "name": t("direction_out")},
    ]  # fmt: skip
    layout = _layout(barmode="relative", margin={"l": 160, "r": 20, "t": 10, "b": 40})
    return Chart("counterparts", t("counterparts_chart"), {"data": data, "layout": layout})


def _quota_label(q: dict[str, Any], t: Words) -> str:
    same = q["year_from"] == q["year_to"]
    years = f"{q['year_from']}" if same else f"{q['year_from']}-{q['year_to']}"
    category = f" ({q['category']})" if q["category"] else ""
    return f"{t.kind(q['kind'])}{category} {years}"


def _quota_use_sheet(quotas: list[dict[str, Any]], t: Words) -> Sheet:
    columns = [
        Column("quota_id", t("quota"), numeric=False),
        Column("kind", t("kind"), numeric=False),
        Column("category", t("category"), numeric=False),
        Column("year_from", t("years_covered"), numeric=False),
        Column("year_to", t("years_covered"), numeric=False),
        *(Column(m, t.measure(m)) for m in ("limit", "reserved", "consumed", "remaining")),
        Column("utilization", t.measure("utilization"), percent=True),
    ]
    rows = []
    for q in quotas:
        used = q["reserved"] + q["consumed"]
        utilization = None if not q["limit"] else used / q["limit"]
        values = [
            q["quota_id"], q["kind"], q["category"], q["year_from"], q["year_to"], q["limit"],
            q["reserved"], q["consumed"], q["remaining"], utilization,
        ]  # fmt: skip
        rows.append(Row(values, [_quota_label(q, t), t.kind(q["kind"])]))
    return Sheet("quota-use", t("quota_use_table"), columns, rows, empty=t("missing"))


def _quota_use_chart(quotas: list[dict[str, Any]], t: Words) -> Chart:
    labels = [_quota_label(q, t) for q in quotas]
    data = [
        {"type": "bar", "x": labels, "y": [q[m] for q in quotas], "name": t.measure(m),
         "opacity": 0.45 if m == "limit" else 1.0}
        for m in ("limit", "reserved", "consumed")
    ]  # fmt: skip
    layout = _layout(barmode="group", xaxis={"type": "category"})
    return Chart("quota-use", t("quota_use_chart"), {"data": data, "layout": layout})


def _proposals_sheet(proposals: list[reads.ProposalState], t: Words) -> Sheet:
    columns = [
        Column("proposal_id", t("proposal"), numeric=False),
        Column("type", t("type"), numeric=False),
        Column("stage", t("stage"), numeric=False),
        Column("stage_at", t("since"), numeric=False),
        Column("first_at", t("first_seen"), numeric=False),
    ]
    rows = [
        Row([p.proposal_id, p.type, p.stage, p.stage_at, p.first_at],
            [str(p.proposal_id)[:8], t.proposal_type(p.type), t.stage(p.stage)])
        for p in proposals
    ]  # fmt: skip
    return Sheet("proposals", t("proposals_table"), columns, rows, empty=t("no_proposals"))


def _forecast_chart(forecast: RegionForecastOut, t: Words) -> Chart:
    history_x = [f"{h.date}" for h in forecast.history]
    x = [f"{p.date}" for p in forecast.points]
    last = forecast.history[-1] if forecast.history else None
    joined_x = ([f"{last.date}"] if last else []) + x  # the bands start at the last figure
    start = [last.population] if last else []

    def band(lower: str, upper: str, name: str, colour: str) -> list[dict[str, Any]]:
        low = start + [getattr(p, lower) for p in forecast.points]
        high = start + [getattr(p, upper) for p in forecast.points]
        return [
            {"type": "scatter", "mode": "lines", "x": joined_x, "y": low,
             "line": {"width": 0}, "showlegend": False, "hoverinfo": "skip"},
            {"type": "scatter", "mode": "lines", "x": joined_x, "y": high, "fill": "tonexty",
             "fillcolor": colour, "line": {"width": 0}, "name": name},
        ]  # fmt: skip

    data = [
        *band("lower_95", "upper_95", t("interval_95"), "rgba(31, 97, 141, 0.15)"),
        *band("lower_80", "upper_80", t("interval_80"), "rgba(31, 97, 141, 0.30)"),
        {"type": "scatter", "mode": "lines+markers", "x": history_x,
         "y": [h.population for h in forecast.history], "name": t("history"),
         "line": {"color": "#1b2631"}},
        {"type": "scatter", "mode": "lines+markers", "x": joined_x,
         "y": start + [p.population for p in forecast.points], "name": t("forecast"),
         "line": {"color": "#1f618d", "dash": "dot"}},
    ]  # fmt: skip
    layout = _layout(xaxis={"type": "date"}, margin={"l": 80, "r": 20, "t": 10, "b": 40})
    return Chart("forecast", t("forecast_chart"), {"data": data, "layout": layout})


def _forecast_sheet(forecast: RegionForecastOut | str, t: Words) -> Sheet:
    columns = [
        Column("date", t("date"), numeric=False),
        Column("population", t("population_forecast")),
        *(Column(c, t(c)) for c in FORECAST_COLUMNS[1:]),
    ]
    if isinstance(forecast, str):
        return Sheet("forecast", t("forecast_table"), columns, [],
                     empty=f"{t('forecast_unavailable')}: {forecast}")  # fmt: skip
    rows = [Row([p.date, *(getattr(p, c) for c in FORECAST_COLUMNS)]) for p in forecast.points]
    notes = [
        f"{t('forecast_method')}: {forecast.method}",
        f"{t('forecast_base')}: {forecast.base_date}",
        t.named(f"ages_{forecast.age_shares}", forecast.age_shares)
        + (f" ({forecast.places_reason})" if forecast.places_reason else ""),
    ]
    return Sheet("forecast", t("forecast_table"), columns, rows, notes=notes)
