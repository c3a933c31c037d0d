"""What the §9 forecast reads (the population figures and the age groups loaded) on any Core
connection, and the forecasts last published, in a unit of work's transaction."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from koshiqon.monitoring.adapters.repository.sql import SqlRepository, dumps, every, loads, run
from koshiqon.monitoring.domain.demand import AGE_GROUPS, AgeGroups
from koshiqon.monitoring.domain.forecast import PopulationFigure

# pg_advisory_xact_lock key: one transaction at a time compares and publishes forecasts
FORECAST_LOCK = 0x666F7265636173  # "forecas"


@dataclass
class ForecastInputs:
    figures: list[PopulationFigure] = field(default_factory=list)
    age_groups: dict[str, AgeGroups] = field(default_factory=dict)  # each KATO's latest


async def forecast_inputs(connection: AsyncConnection) -> ForecastInputs:
    """Every population figure and annual average loaded, and each territory's latest
    population figure with age groups (the nation's under 000000000)."""
    rows = await every(
        connection,
        "SELECT dataset, kato, period_from, period_to, figures::text AS figures FROM statistics "
        "WHERE dataset IN ('population', 'population-average') AND variant = '' "
        "ORDER BY kato, dataset, period_from",
    )
    out = ForecastInputs()
    for r in rows:
        figures = loads(r.figures)
        kato = r.kato.strip()
        name = "total" if r.dataset == "population" else "average"
        out.figures.append(
            PopulationFigure(kato, r.dataset, r.period_from, r.period_to, float(figures[name]))
        )
        if r.dataset == "population" and all(g in figures for g in AGE_GROUPS):
            out.age_groups[kato] = AgeGroups(r.period_from, {g: figures[g] for g in AGE_GROUPS})
    return out


class SqlForecastRepository(SqlRepository):
    async def lock(self) -> None:
        """Imports that may change forecasts compare and publish one after the other, each
        seeing the figures the one before committed."""
        await run(await self.connection(), "SELECT pg_advisory_xact_lock(:key)", key=FORECAST_LOCK)

    async def inputs(self) -> ForecastInputs:
        return await forecast_inputs(await self.connection())

    async def published(self) -> dict[str, dict[str, Any]]:
        """Each region's forecast last published: its base date, method and points."""
        rows = await every(
            await self.connection(),
            "SELECT region, base_date, method, points::text AS points FROM forecasts",
        )
        return {
            r.region.strip(): {
                "base_date": r.base_date.isoformat(), "method": r.method,
                "points": loads(r.points)["points"],
            }
            for r in rows
        }  # fmt: skip

    async def save(self, region: str, forecast: Mapping[str, Any], *, now: datetime) -> None:
        await run(
            await self.connection(),
            "INSERT INTO forecasts (region, base_date, method, points, published_at) VALUES "
            "(:region, :base_date, :method, CAST(:points AS jsonb), :now) "
            "ON CONFLICT (region) DO UPDATE SET base_date = EXCLUDED.base_date, "
            "method = EXCLUDED.method, points = EXCLUDED.points, "
            "published_at = EXCLUDED.published_at",
            region=region, base_date=date.fromisoformat(forecast["base_date"]),
            method=forecast["method"], points=dumps({"points": forecast["points"]}), now=now,
        )  # fmt: skip
