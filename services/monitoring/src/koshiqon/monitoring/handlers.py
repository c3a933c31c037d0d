"""The monitoring handlers, `async def verb_noun(message, deps)`: importing statistical
inputs, projecting each consumed event, and the §8 rule. Each is one transaction
(`async with deps.uow() as uow: ... await uow.commit()`); the routing tables are at the
foot."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from koshiqon.common.events import monitoring as wire
from koshiqon.common.events.contracts import EventPayload
from koshiqon.common.kz import REGIONS
from koshiqon.common.messagebus import Handler
from koshiqon.monitoring.bus import Deps
from koshiqon.monitoring.domain import commands as c
from koshiqon.monitoring.domain import forecast as fc
from koshiqon.monitoring.domain import outflow, periods
from koshiqon.monitoring.domain.errors import FigureConflict
from koshiqon.monitoring.domain.model import PROJECTORS, project
from koshiqon.monitoring.domain.statistics import (
    NATIONAL,
    Dataset,
    Figure,
    bad_rows_error,
    parse,
    same_figures,
)
from koshiqon.monitoring.unit_of_work import UnitOfWork

ROLLING_KEY = "rolling_12_months"


# --- statistical inputs ---------------------------------------------------------------------


async def import_statistics(cmd: c.ImportStatistics, deps: Deps) -> c.ImportResult:
    """All of the file in one transaction, or nothing: every bad row named (422), or every
    figure that differs from one loaded without `replace` (409)."""
    parsed = parse(cmd.dataset, cmd.rows)
    if parsed.bad:
        raise bad_rows_error(parsed.bad)
    for figure in parsed.figures:  # a token limited to a region loads that region's figures
        cmd.actor.require_region(figure.key.kato, field=f"line {figure.line}")
    now = deps.now()
    added = replaced = unchanged = kept = 0
    async with deps.uow() as uow:
        await uow.statistics.lock_dataset(cmd.dataset.value)
        conflicts: list[dict[str, Any]] = []
        plan: list[tuple[str, Figure]] = []
        for figure in parsed.figures:
            current = await uow.statistics.current(figure.key)
            if current is None:
                plan.append(("add", figure))
            elif same_figures(current.figures, figure.figures):
                unchanged += 1
            elif cmd.existing is c.Existing.REPLACE:
                plan.append(("replace", figure))
            elif cmd.existing is c.Existing.KEEP:
                kept += 1
            else:
                conflicts.append(
                    {"line": figure.line, "reason": "different figures are loaded for this "
                     f"region and date (from {current.source}); send replace=true to replace "
                     "them"}
                )  # fmt: skip
        if conflicts:
            raise FigureConflict(
                f"{len(conflicts)} row(s) differ from figures already loaded; nothing was imported",
                extra={"rows": conflicts},
            )
        for action, figure in plan:
            if action == "add":
                await uow.statistics.add(figure, source=cmd.source, now=now)
                added += 1
            else:
                await uow.statistics.replace(figure, source=cmd.source, now=now)
                replaced += 1
        if cmd.dataset in (Dataset.VITAL, Dataset.POPULATION) and plan:
            scopes = {
                (f.key.kato, day)
                for _, f in plan
                if f.key.kato != NATIONAL
                for day in (f.key.period_from, f.key.period_to)
            }
            await evaluate_scopes(uow, scopes, now=now)
        if cmd.dataset in FORECAST_DATASETS and plan:
            await publish_forecasts(uow, now=now)
        await uow.commit()
    return c.ImportResult(cmd.dataset, added, replaced, unchanged, kept)


# --- the §9 forecast --------------------------------------------------------------------------

FORECAST_DATASETS = (Dataset.POPULATION, Dataset.POPULATION_AVERAGE)


async def publish_forecasts(uow: UnitOfWork, *, now: datetime) -> int:
    """Every region's forecast from the figures now loaded (this transaction's included),
    compared with the one last published: `forecast-published` for each that changed, in
    this transaction. The damping and spread are pooled over regions, so one region's
    figures may change another's intervals."""
    await uow.forecasts.lock()
    inputs = await uow.forecasts.inputs()
    try:
        _, forecasts = fc.forecast_all(fc.regional_series(inputs.figures), fc.MAX_YEARS)
    except fc.TooLittleData:
        return 0
    published = await uow.forecasts.published()
    changed = 0
    for region, forecast in sorted(forecasts.items()):
        if forecast is None:
            continue
        wire_points = [_wire_point(p) for p in forecast.points]
        current = {
            "base_date": fc.first_january(forecast.base_year).isoformat(),
            "method": fc.METHOD,
            "points": [p.model_dump(mode="json") for p in wire_points],
        }
        if published.get(region) == current:
            continue
        await uow.forecasts.save(region, current, now=now)
        uow.emit(
            wire.ForecastPublished(
                region=region, method=fc.METHOD, base_date=fc.first_january(forecast.base_year),
                points=wire_points, published_at=now,
            ),
            subject=region,
        )  # fmt: skip
        changed += 1
    return changed


def _wire_point(p: fc.ForecastPoint) -> wire.ForecastPoint:
    return wire.ForecastPoint(
        date=fc.first_january(p.year), population=round(p.population),
        lower_80=round(p.lower_80), upper_80=round(p.upper_80),
        lower_95=round(p.lower_95), upper_95=round(p.upper_95),
    )  # fmt: skip


# --- projections ------------------------------------------------------------------------------


async def project_event(event: EventPayload, deps: Deps) -> None:
    """The event's increments into the projections, in the consumer's transaction (with its
    processed_events row: a redelivered event changes nothing), then the §8 rule for the
    regions and periods it moved."""
    changes = project(event)
    async with deps.uow() as uow:
        await uow.projections.enter_gate()
        await uow.projections.apply(changes)
        if deps.evaluate:
            await evaluate_scopes(uow, changes.outflow_scopes(), now=deps.now())
        await uow.commit()


async def project_events(events: Sequence[EventPayload], deps: Deps) -> None:
    """A chunk of consumed events (the consumer's `transaction_batch`), in its transaction,
    leaving the tables and alerts as `project_event` for each in turn would: when no region
    the chunk moves has births and deaths (the rule cannot be told for it, one read), every
    event's changes at once (`apply_many`); otherwise each event's changes and the rule
    after it, in order."""
    changes = [project(event) for event in events]
    async with deps.uow() as uow:
        await uow.projections.enter_gate()
        scopes = {scope for change in changes for scope in change.outflow_scopes()}
        if deps.evaluate and await _told(uow, _spans(scopes, now=deps.now())):
            for change in changes:
                await uow.projections.apply(change)
                await evaluate_scopes(uow, change.outflow_scopes(), now=deps.now())
        else:
            await uow.projections.apply_many(changes)
        await uow.commit()


# --- the §8 rule ------------------------------------------------------------------------------


async def evaluate_outflow(cmd: c.EvaluateOutflow, deps: Deps) -> int:
    """Every region over the rolling twelve months and over each year with figures."""
    now = deps.now()
    async with deps.uow() as uow:
        years = await uow.alerts.years_with_figures()
        changed = 0
        for region in REGIONS:
            spans = [periods.year(y) for y in years] + [periods.rolling_window(now.date())]
            changed += await _evaluate_region(uow, region.kato, spans, now=now)
        await uow.commit()
    return changed


async def evaluate_scopes(
    uow: UnitOfWork, scopes: Iterable[tuple[str, date]], *, now: datetime
) -> int:
    """The rule for each (region, day): the day's calendar year, and the rolling window when
    the day lies in it."""
    by_region = _spans(scopes, now=now)
    told = await _told(uow, by_region)
    changed = 0
    for region in sorted(told):
        changed += await _evaluate_region(uow, region, sorted(by_region[region]), now=now)
    return changed


def _spans(scopes: Iterable[tuple[str, date]], *, now: datetime) -> dict[str, set[periods.Period]]:
    """Per region, the periods the rule is evaluated over for these (region, day) pairs."""
    by_region: dict[str, set[periods.Period]] = {}
    rolling = periods.rolling_window(now.date())
    for region, day in scopes:
        spans = by_region.setdefault(region, set())
        spans.add(periods.year(day.year))
        if rolling.contains(day):
            spans.add(rolling)
    return by_region


async def _told(uow: UnitOfWork, by_region: dict[str, set[periods.Period]]) -> set[str]:
    """Those regions with births and deaths over some of their periods (one read)."""
    if not by_region:
        return set()
    every_span = [span for region_spans in by_region.values() for span in region_spans]
    start = min(s.start for s in every_span)
    end = max(s.end for s in every_span)
    return await uow.alerts.with_vital(sorted(by_region), start, end)


async def _evaluate_region(
    uow: UnitOfWork, region: str, spans: Iterable[periods.Period], *, now: datetime
) -> int:
    await uow.alerts.lock(region)
    changed = 0
    for span in spans:
        rolling = span.kind is periods.PeriodKind.ROLLING
        key = ROLLING_KEY if rolling else f"year:{span.label}"
        period = wire.AlertPeriod.ROLLING_12_MONTHS if rolling else wire.AlertPeriod.YEAR
        figures = await uow.alerts.outflow_figures(region, span)
        if figures is None:
            continue
        active = await uow.alerts.active(region, key)
        decision = outflow.decide(figures, active=active is not None)
        if decision is outflow.Decision.RAISE:
            alert_id = uuid.uuid4()
            await uow.alerts.add(
                alert_id, region=region, period=period.value, key=key, span=span,
                figures=figures, now=now,
            )  # fmt: skip
            uow.emit(
                wire.OutflowAlertRaised(
                    alert_id=alert_id, region=region, period=period, period_from=span.start,
                    period_to=span.end, figures=figures, raised_at=now,
                ),
                subject=alert_id,
            )  # fmt: skip
            changed += 1
        elif decision is outflow.Decision.CLEAR and active is not None:
            await uow.alerts.clear(active.alert_id, figures=figures, now=now)
            uow.emit(
                wire.OutflowAlertCleared(
                    alert_id=active.alert_id, region=region, period=period,
                    period_from=active.period_from, period_to=active.period_to,
                    figures=figures, cleared_at=now,
                ),
                subject=active.alert_id,
            )  # fmt: skip
            changed += 1
    return changed


COMMAND_HANDLERS: dict[type[Any], Handler[Deps]] = {
    c.ImportStatistics: import_statistics,
    c.EvaluateOutflow: evaluate_outflow,
}

EVENT_HANDLERS: dict[type[EventPayload], Handler[Deps]] = dict.fromkeys(PROJECTORS, project_event)

__all__ = ["COMMAND_HANDLERS", "EVENT_HANDLERS"]
