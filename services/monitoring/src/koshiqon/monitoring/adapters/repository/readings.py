"""Reads the indicators and the §8 rule share, on any Core connection (a query's own, or a
unit of work's in the consumer's transaction): statistical figures by dataset and period,
and the projections' sums by region."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from koshiqon.monitoring.adapters.repository.sql import checked_prefix, every, loads, one
from koshiqon.monitoring.domain.figures import Fig, Source, missing
from koshiqon.monitoring.domain.periods import Period, month_start


@dataclass(frozen=True)
class Record:
    dataset: str
    kato: str
    variant: str
    period_from: date
    period_to: date
    figures: dict[str, Any]
    source: str
    loaded_at: datetime

    def source_of(self) -> Source:
        return Source("statistics", self.dataset, self.source, self.period_from, self.period_to)

    def fig(self, name: str) -> Fig:
        value = self.figures.get(name)
        if value is None:
            return missing(
                f"{self.dataset} of {self.period_from} gives no {name}", self.source_of()
            )
        return Fig(value, (self.source_of(),))


async def records(
    connection: AsyncConnection, dataset: str, *, start: date, end: date, variant: str = ""
) -> list[Record]:
    """The figures of `dataset` whose period lies within start..end, by region and date."""
    rows = await every(
        connection,
        "SELECT dataset, kato, variant, period_from, period_to, figures::text AS figures, "
        "source, loaded_at FROM statistics WHERE dataset = :dataset AND variant = :variant "
        "AND period_from >= :start AND period_to <= :end ORDER BY kato, period_from, period_to",
        dataset=dataset, variant=variant, start=start, end=end,
    )  # fmt: skip
    return [
        Record(
            r.dataset, r.kato.strip(), r.variant, r.period_from, r.period_to, loads(r.figures),
            r.source, r.loaded_at,
        )
        for r in rows
    ]  # fmt: skip


def latest_by_region(found: list[Record]) -> dict[str, Record]:
    out: dict[str, Record] = {}
    for record in found:  # ordered by period_from
        out[record.kato] = record
    return out


def cover(found: list[Record], period: Period) -> list[Record] | None:
    """Records of one region that cover `period` day by day without overlap (the period's
    own, or its quarters, or its months...): the longest at each step; None when a day is
    not covered."""
    starting: dict[date, list[Record]] = defaultdict(list)
    for record in found:
        starting[record.period_from].append(record)
    chosen, cursor = [], period.start
    while cursor <= period.end:
        options = [r for r in starting.get(cursor, []) if r.period_to <= period.end]
        if not options:
            return None
        best = max(options, key=lambda r: r.period_to)
        chosen.append(best)
        cursor = best.period_to + timedelta(days=1)
    return chosen


def vital_figs(found: list[Record], period: Period) -> tuple[Fig, Fig]:
    """Births and deaths of one region over `period`, summed over the records covering it."""
    covering = cover(found, period)
    if covering is None:
        reason = f"no births and deaths covering {period.start}..{period.end}"
        return missing(reason), missing(reason)
    sources = tuple(r.source_of() for r in covering)
    births = sum(int(r.figures["births"]) for r in covering)
    deaths = sum(int(r.figures["deaths"]) for r in covering)
    return Fig(births, sources), Fig(deaths, sources)


# --- projections -----------------------------------------------------------------------------


@dataclass(frozen=True)
class FlowSums:
    """Persons in and out of each region over a period, abroad and between regions."""

    sums: dict[tuple[str, str, str], int]  # (region, scope, direction) -> persons
    latest_event_at: datetime | None  # of the whole projection: None when it has no events

    def get(self, region: str, scope: str, direction: str) -> int:
        return self.sums.get((region, scope, direction), 0)

    def fig(self, region: str | None, scope: str, direction: str) -> Fig:
        source = Source("events", "flows", latest_event_at=self.latest_event_at)
        if self.latest_event_at is None:
            return missing("no arrivals or departures projected yet", source)
        if region is None:
            value = sum(v for (_, s, d), v in self.sums.items() if (s, d) == (scope, direction))
        else:
            value = self.get(region, scope, direction)
        return Fig(value, (source,))


async def flow_sums(
    connection: AsyncConnection, period: Period, *, prefix: str, region: str | None = None
) -> FlowSums:
    p = checked_prefix(prefix)
    rows = await every(
        connection,
        f"SELECT region, scope, direction, sum(persons) AS persons FROM {p}flows "
        "WHERE month >= :start AND month <= :end AND (CAST(:region AS text) IS NULL "
        "OR region = :region) GROUP BY region, scope, direction",
        start=month_start(period.start), end=period.end, region=region,
    )  # fmt: skip
    latest = await one(connection, f"SELECT max(last_event_at) AS at FROM {p}flows")
    sums = {(r.region.strip(), r.scope, r.direction): int(r.persons) for r in rows}
    return FlowSums(sums, None if latest is None else latest.at)


@dataclass(frozen=True)
class QuotaSums:
    limit: int | None
    reserved: int
    consumed: int


async def quota_sums(
    connection: AsyncConnection, year: int, *, prefix: str
) -> tuple[dict[tuple[str, str], QuotaSums], datetime | None]:
    """Per (region, kind), the quotas covering `year`: limits (None while a quota's
    establishing event is still to come), reserved and consumed."""
    p = checked_prefix(prefix)
    rows = await every(
        connection,
        'SELECT region, kind, bool_and("limit" IS NOT NULL) AS known, sum("limit") AS lim, '
        f"sum(reserved) AS reserved, sum(consumed) AS consumed FROM {p}quotas "
        "WHERE year_from <= :year AND year_to >= :year GROUP BY region, kind",
        year=year,
    )
    latest = await one(connection, f"SELECT max(last_event_at) AS at FROM {p}quotas")
    out = {
        (r.region.strip(), r.kind): QuotaSums(
            int(r.lim) if r.known else None, int(r.reserved), int(r.consumed)
        )
        for r in rows
    }
    return out, None if latest is None else latest.at


async def resettled(
    connection: AsyncConnection, period: Period, *, prefix: str
) -> tuple[dict[tuple[str, str], int], datetime | None]:
    """Persons resettled (completed) per (region, category) over `period`."""
    p = checked_prefix(prefix)
    rows = await every(
        connection,
        f"SELECT region, category, sum(completed) AS completed FROM {p}resettlement "
        "WHERE month >= :start AND month <= :end GROUP BY region, category",
        start=month_start(period.start), end=period.end,
    )  # fmt: skip
    latest = await one(connection, f"SELECT max(last_event_at) AS at FROM {p}resettlement")
    return (
        {(r.region.strip(), r.category): int(r.completed) for r in rows},
        None if latest is None else latest.at,
    )
