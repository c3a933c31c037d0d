"""In-memory fakes of the monitoring unit of work's repositories, for the handlers' unit tests
(driven through `bootstrap`, the composition root). The projections' SQL and the readings
are tested on the real PostgreSQL (tests/monitoring/integration)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from uuid import UUID

from support.fakes import FakeUnitOfWork

from koshiqon.common.events.monitoring import OutflowFigures
from koshiqon.monitoring.adapters.repository.alerts import ActiveAlert
from koshiqon.monitoring.adapters.repository.statistics import Current
from koshiqon.monitoring.domain.model import Changes
from koshiqon.monitoring.domain.periods import Period
from koshiqon.monitoring.domain.statistics import Figure, Key


@dataclass
class State:
    statistics: dict[Key, Current] = field(default_factory=dict)
    history: list[tuple[Key, Current]] = field(default_factory=list)
    applied: list[Changes] = field(default_factory=list)
    alerts: dict[tuple[str, str], ActiveAlert] = field(default_factory=dict)
    cleared: list[UUID] = field(default_factory=list)
    # what the rule's read gives, by region (None: no births and deaths)
    figures: dict[str, OutflowFigures] = field(default_factory=dict)


class FakeStatistics:
    def __init__(self, state: State) -> None:
        self.state = state

    async def lock_dataset(self, dataset: str) -> None:
        return None

    async def current(self, key: Key) -> Current | None:
        return self.state.statistics.get(key)

    async def add(self, figure: Figure, *, source: str, now: datetime) -> None:
        self.state.statistics[figure.key] = Current(figure.figures, source, now)

    async def replace(self, figure: Figure, *, source: str, now: datetime) -> None:
        self.state.history.append((figure.key, self.state.statistics[figure.key]))
        self.state.statistics[figure.key] = Current(figure.figures, source, now)


class FakeProjections:
    def __init__(self, state: State) -> None:
        self.state = state

    async def enter_gate(self) -> None:
        return None

    async def apply(self, changes: Changes) -> None:
        self.state.applied.append(changes)

    async def apply_many(self, chunk: Sequence[Changes]) -> None:
        self.state.applied.extend(chunk)


class FakeAlerts:
    def __init__(self, state: State) -> None:
        self.state = state

    async def lock(self, region: str) -> None:
        return None

    async def active(self, region: str, key: str) -> ActiveAlert | None:
        return self.state.alerts.get((region, key))

    async def add(
        self, alert_id: UUID, *, region: str, period: str, key: str, span: Period,
        figures: OutflowFigures, now: datetime,
    ) -> None:  # fmt: skip
        self.state.alerts[(region, key)] = ActiveAlert(alert_id, span.start, span.end)

    async def clear(self, alert_id: UUID, *, figures: OutflowFigures, now: datetime) -> None:
        for k, alert in list(self.state.alerts.items()):
            if alert.alert_id == alert_id:
                del self.state.alerts[k]
        self.state.cleared.append(alert_id)

    async def outflow_figures(self, region: str, period: Period) -> OutflowFigures | None:
        return self.state.figures.get(region)

    async def with_vital(self, regions: list[str], start: date, end: date) -> set[str]:
        return {r for r in regions if r in self.state.figures}

    async def years_with_figures(self) -> list[int]:
        return [2024]


class FakeMonitoringUnitOfWork(FakeUnitOfWork[State]):
    def bind(self) -> None:
        self.statistics = FakeStatistics(self.state)
        self.projections = FakeProjections(self.state)
        self.alerts = FakeAlerts(self.state)
