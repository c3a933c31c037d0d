"""In-memory fakes of the monitoring unit of work's repositories, for the handlers' unit tests
(driven through `bootstrap`, the composition root). The projections' SQL and the readings
are tested on the real PostgreSQL (tests/monitoring/integration)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from uuid import UUID

from support.fakes import FakeUnitOfWork

from koshiqon.common.events.monitoring import OutflowFigures
from koshiqon.monitoring.adapters.repository.alerts import ActiveAlert
from koshiqon.monitoring.adapters.repository.forecasts import ForecastInputs
from koshiqon.monitoring.adapters.repository.statistics import Current
from koshiqon.monitoring.domain.demand import AGE_GROUPS, AgeGroups
from koshiqon.monitoring.domain.forecast import PopulationFigure
from koshiqon.monitoring.domain.model import Changes
from koshiqon.monitoring.domain.periods import Period
from koshiqon.monitoring.domain.statistics import Dataset, Figure, Key


@dataclass
class State:
    statistics: dict[Key, Current] = field(default_factory=dict)
    history: list[tuple[Key, Current]] = field(default_factory=list)
    applied: list[Changes] = field(default_factory=list)
    alerts: dict[tuple[str, str], ActiveAlert] = field(default_factory=dict)
    cleared: list[UUID] = field(default_factory=list)
    # what the rule's read gives, by region (None: no births and deaths)
    figures: dict[str, OutflowFigures] = field(default_factory=dict)
    forecasts: dict[str, dict[str, Any]] = field(default_factory=dict)


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


class FakeForecasts:
    """The forecasts' reads over the fake statistics (as adapters/repository/forecasts.py
    reads the table), and the forecasts published."""

    def __init__(self, state: State) -> None:
        self.state = state

    async def lock(self) -> None:
        return None

    async def inputs(self) -> ForecastInputs:
        out = ForecastInputs()
        for key, current in sorted(self.state.statistics.items(), key=lambda kv: _order(kv[0])):
            if key.dataset not in (Dataset.POPULATION, Dataset.POPULATION_AVERAGE):
                continue
            name = "total" if key.dataset is Dataset.POPULATION else "average"
            out.figures.append(
                PopulationFigure(
                    key.kato, key.dataset.value, key.period_from, key.period_to,
                    float(current.figures[name]),
                )
            )  # fmt: skip
            if key.dataset is Dataset.POPULATION and all(g in current.figures for g in AGE_GROUPS):
                groups = {g: current.figures[g] for g in AGE_GROUPS}
                out.age_groups[key.kato] = AgeGroups(key.period_from, groups)
        return out

    async def published(self) -> dict[str, dict[str, Any]]:
        return dict(self.state.forecasts)

    async def save(self, region: str, forecast: Mapping[str, Any], *, now: datetime) -> None:
        self.state.forecasts[region] = dict(forecast)


def _order(key: Key) -> tuple[str, str, date]:
    return (key.kato, key.dataset.value, key.period_from)


class FakeMonitoringUnitOfWork(FakeUnitOfWork[State]):
    def bind(self) -> None:
        self.statistics = FakeStatistics(self.state)
        self.projections = FakeProjections(self.state)
        self.alerts = FakeAlerts(self.state)
        self.forecasts = FakeForecasts(self.state)
