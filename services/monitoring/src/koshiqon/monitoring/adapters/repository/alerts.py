"""The §8 alerts the service raised: one active alert at most per region and period key
(`year:2023`, `rolling_12_months`), each raised once and cleared once; and the figures the
rule compares, read in the unit of work's transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID

from koshiqon.common.events.monitoring import OutflowFigures
from koshiqon.common.unit_of_work import Transaction
from koshiqon.monitoring.adapters.repository import readings
from koshiqon.monitoring.adapters.repository.sql import (
    SqlRepository,
    dumps,
    every,
    fetch,
    one,
    run,
)
from koshiqon.monitoring.adapters.tables import LIVE
from koshiqon.monitoring.domain import outflow
from koshiqon.monitoring.domain.periods import Period


@dataclass(frozen=True)
class ActiveAlert:
    alert_id: UUID
    period_from: date
    period_to: date


class SqlAlertRepository(SqlRepository):
    def __init__(self, transaction: Transaction, *, prefix: str = LIVE) -> None:
        super().__init__(transaction)
        self.prefix = prefix

    async def active(self, region: str, key: str) -> ActiveAlert | None:
        row = await one(
            await self.connection(),
            "SELECT alert_id, period_from, period_to FROM alerts WHERE region = :region "
            "AND alert_key = :key AND active FOR UPDATE",
            region=region, key=key,
        )  # fmt: skip
        return None if row is None else ActiveAlert(row.alert_id, row.period_from, row.period_to)

    async def lock(self, region: str) -> None:
        """One evaluation of a region's alerts at a time (two consumers, the scheduler)."""
        await run(
            await self.connection(),
            "SELECT pg_advisory_xact_lock(hashtext('monitoring.alerts:' || :region))",
            region=region,
        )

    async def add(
        self, alert_id: UUID, *, region: str, period: str, key: str, span: Period,
        figures: OutflowFigures, now: datetime,
    ) -> None:  # fmt: skip
        await run(
            await self.connection(),
            "INSERT INTO alerts (alert_id, region, period, alert_key, period_from, period_to, "
            "active, figures, raised_at) VALUES (:alert_id, :region, :period, :key, :start, "
            ":end, true, CAST(:figures AS jsonb), :now)",
            alert_id=alert_id, region=region, period=period, key=key, start=span.start,
            end=span.end, figures=dumps(figures.model_dump(mode="json")), now=now,
        )  # fmt: skip

    async def clear(self, alert_id: UUID, *, figures: OutflowFigures, now: datetime) -> None:
        await run(
            await self.connection(),
            "UPDATE alerts SET active = false, cleared_at = :now, "
            "cleared_figures = CAST(:figures AS jsonb) WHERE alert_id = :alert_id",
            alert_id=alert_id, figures=dumps(figures.model_dump(mode="json")), now=now,
        )  # fmt: skip

    async def outflow_figures(self, region: str, period: Period) -> OutflowFigures | None:
        """The rule's figures for `region` over `period`; None while births and deaths do not
        cover the period (the rule cannot be told)."""
        connection = await self.connection()
        vital = await readings.records(connection, "vital", start=period.start, end=period.end)
        births, deaths = readings.vital_figs([r for r in vital if r.kato == region], period)
        if not births.known:
            return None
        flows = await readings.flow_sums(connection, period, prefix=self.prefix, region=region)
        population = await readings.records(
            connection, "population", start=period.start.replace(month=1, day=1),
            end=period.start,
        )  # fmt: skip
        at_start = readings.latest_by_region(population).get(region)
        return outflow.figures(
            births=int(births.value),
            deaths=int(deaths.value),
            arrivals_external=flows.get(region, "external", "in"),
            departures_external=flows.get(region, "external", "out"),
            arrivals_internal=flows.get(region, "internal", "in"),
            departures_internal=flows.get(region, "internal", "out"),
            population=None if at_start is None else int(at_start.figures["total"]),
        )

    async def with_vital(self, regions: list[str], start: date, end: date) -> set[str]:
        """Those of `regions` with births and deaths for some period within start..end: the
        only ones the rule can be told for (one read, so that projecting an event whose
        regions have none costs no more)."""
        rows = await fetch(
            await self.transaction.driver(),
            "SELECT DISTINCT kato FROM statistics WHERE dataset = 'vital' "
            "AND kato = ANY(CAST(:regions AS text[])) AND period_from >= :start "
            "AND period_to <= :end",
            regions=regions, start=start, end=end,
        )  # fmt: skip
        return {str(r["kato"]).strip() for r in rows}

    async def years_with_figures(self) -> list[int]:
        """The years some region has births and deaths or arrivals and departures for."""
        rows = await every(
            await self.connection(),
            "SELECT DISTINCT extract(year FROM period_from)::int AS year FROM statistics "
            f"WHERE dataset = 'vital' UNION SELECT DISTINCT extract(year FROM month)::int "
            f"FROM {self.prefix}flows ORDER BY 1",
        )
        return [int(r.year) for r in rows]
