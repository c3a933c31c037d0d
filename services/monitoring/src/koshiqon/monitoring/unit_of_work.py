"""The monitoring service's unit of work: what the handlers see of it (`UnitOfWork`, its
repositories typed as Protocols) and the real one, `SqlUnitOfWork`: one transaction on the
service's engine (API requests, the scheduler) or borrowed (the consumer runner's, the
rebuild's), the events written to the outbox at `commit` (koshiqon.common.unit_of_work).
`prefix` picks the projection tables: the live `p_*`, or a rebuild's `rb_*`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any, ClassVar, Protocol
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from koshiqon.common import unit_of_work as common
from koshiqon.common.events.monitoring import OutflowFigures
from koshiqon.monitoring.adapters.repository import (
    SqlAlertRepository,
    SqlProjectionRepository,
    SqlStatisticsRepository,
)
from koshiqon.monitoring.adapters.repository.alerts import ActiveAlert
from koshiqon.monitoring.adapters.repository.forecasts import (
    ForecastInputs,
    SqlForecastRepository,
)
from koshiqon.monitoring.adapters.repository.statistics import Current
from koshiqon.monitoring.adapters.tables import LIVE
from koshiqon.monitoring.domain.model import Changes
from koshiqon.monitoring.domain.periods import Period
from koshiqon.monitoring.domain.statistics import Figure, Key


class StatisticsRepository(Protocol):
    async def lock_dataset(self, dataset: str) -> None: ...

    async def current(self, key: Key) -> Current | None: ...

    async def add(self, figure: Figure, *, source: str, now: datetime) -> None: ...

    async def replace(self, figure: Figure, *, source: str, now: datetime) -> None: ...


class ProjectionRepository(Protocol):
    async def enter_gate(self) -> None: ...

    async def apply(self, changes: Changes) -> None: ...

    async def apply_many(self, chunk: Sequence[Changes]) -> None: ...


class AlertRepository(Protocol):
    async def lock(self, region: str) -> None: ...

    async def active(self, region: str, key: str) -> ActiveAlert | None: ...

    async def add(
        self, alert_id: UUID, *, region: str, period: str, key: str, span: Period,
        figures: OutflowFigures, now: datetime,
    ) -> None: ...  # fmt: skip

    async def clear(self, alert_id: UUID, *, figures: OutflowFigures, now: datetime) -> None: ...

    async def outflow_figures(self, region: str, period: Period) -> OutflowFigures | None: ...

    async def with_vital(self, regions: list[str], start: date, end: date) -> set[str]: ...

    async def years_with_figures(self) -> list[int]: ...


class ForecastRepository(Protocol):
    async def lock(self) -> None: ...

    async def inputs(self) -> ForecastInputs: ...

    async def published(self) -> dict[str, dict[str, Any]]: ...

    async def save(self, region: str, forecast: Mapping[str, Any], *, now: datetime) -> None: ...


class UnitOfWork(common.UnitOfWork, Protocol):
    statistics: StatisticsRepository
    projections: ProjectionRepository
    alerts: AlertRepository
    forecasts: ForecastRepository


class SqlUnitOfWork(common.SqlUnitOfWork):
    source: ClassVar[str] = "/koshiqon/monitoring"
    statistics: StatisticsRepository
    projections: ProjectionRepository
    alerts: AlertRepository
    forecasts: ForecastRepository

    def __init__(
        self,
        within: AsyncEngine | AsyncConnection,
        *,
        traceparent: str | None = None,
        prefix: str = LIVE,
    ) -> None:
        super().__init__(within, traceparent=traceparent)
        self.prefix = prefix

    def bind(self, transaction: common.Transaction) -> None:
        self.statistics = SqlStatisticsRepository(transaction)
        self.projections = SqlProjectionRepository(transaction, prefix=self.prefix)
        self.alerts = SqlAlertRepository(transaction, prefix=self.prefix)
        self.forecasts = SqlForecastRepository(transaction)
