"""The handlers through `bootstrap` with fake repositories: an import's all-or-nothing rules
(a differing figure refused without replace, replaced into the history with it, kept by
load-reference's mode, the same figure unchanged), a regional token's limit, and the §8
alert's raise-once / clear-once decisions with what they emit."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest
from monitoring.fakes import FakeMonitoringUnitOfWork, State
from monitoring.helpers import NORTH_KAZ, PAVLODAR, Clock

from koshiqon.common.errors import Forbidden
from koshiqon.common.events import registration as reg
from koshiqon.common.messagebus import Actor
from koshiqon.monitoring.bootstrap import bootstrap
from koshiqon.monitoring.bus import Deps
from koshiqon.monitoring.domain import commands as c
from koshiqon.monitoring.domain import outflow
from koshiqon.monitoring.domain.errors import FigureConflict
from koshiqon.monitoring.domain.statistics import Dataset
from koshiqon.monitoring.handlers import project_event

ACTOR = Actor(subject="test")


def setup() -> tuple[State, FakeMonitoringUnitOfWork, Clock]:
    state = State()
    return state, FakeMonitoringUnitOfWork(state), Clock()


def population(total: int) -> c.ImportStatistics:
    rows = [(1, {"kato": PAVLODAR, "date": "2023-01-01", "total": total})]
    return c.ImportStatistics(dataset=Dataset.POPULATION, rows=rows, source="s", actor=ACTOR)


async def test_import_rules() -> None:
    state, uow, clock = setup()
    bus = bootstrap(lambda: uow, now=clock)
    assert (await bus.handle(population(750_000))).added == 1
    assert (await bus.handle(population(750_000))).unchanged == 1
    with pytest.raises(FigureConflict):
        await bus.handle(population(751_000))
    [current] = state.statistics.values()
    assert current.figures == {"total": 750_000}
    keep = population(751_000)
    kept = await bus.handle(c.ImportStatistics(**{**keep.__dict__, "existing": c.Existing.KEEP}))
    assert kept.kept == 1
    assert [v.figures for v in state.statistics.values()] == [{"total": 750_000}]
    again = c.ImportStatistics(**{**keep.__dict__, "existing": c.Existing.REPLACE})
    assert (await bus.handle(again)).replaced == 1
    assert [h.figures for _, h in state.history] == [{"total": 750_000}]
    assert [v.figures for v in state.statistics.values()] == [{"total": 751_000}]


async def test_a_regional_actor_loads_its_region_only() -> None:
    state, uow, clock = setup()
    bus = bootstrap(lambda: uow, now=clock)
    command = population(1)
    with pytest.raises(Forbidden):
        await bus.handle(
            c.ImportStatistics(**{**command.__dict__, "actor": Actor("a", region=NORTH_KAZ)})
        )
    assert state.statistics == {}


def departure() -> reg.PersonEmigrated:
    return reg.PersonEmigrated(
        person_id=uuid.uuid4(), legal_status="citizen", destination_country="RUS",
        region=NORTH_KAZ, departed_on=date(2024, 1, 10),
    )  # fmt: skip


def figures(births: int) -> outflow.OutflowFigures:
    return outflow.figures(
        births=births, deaths=100, arrivals_external=0, departures_external=50,
        arrivals_internal=0, departures_internal=0, population=None,
    )  # fmt: skip


async def test_an_alert_is_raised_once_and_cleared_once() -> None:
    state, uow, clock = setup()
    deps = Deps(uow=lambda: uow, now=clock)
    await project_event(departure(), deps)  # no births and deaths: the rule is not told
    assert uow.published == []
    state.figures[NORTH_KAZ] = figures(births=120)  # 50 > 20
    await project_event(departure(), deps)
    await project_event(departure(), deps)
    raised = [e for e in uow.published if e.payload.contract.name == "outflow-alert-raised"]
    # the calendar year 2024 and the rolling months to February 2024 (the clock: 15 March)
    assert sorted(e.payload.period for e in raised) == ["rolling_12_months", "year"]  # type: ignore[attr-defined]
    assert all(e.subject == str(e.payload.alert_id) for e in raised)  # type: ignore[attr-defined]
    state.figures[NORTH_KAZ] = figures(births=200)  # 50 < 100
    await project_event(departure(), deps)
    await project_event(departure(), deps)
    names = [e.payload.contract.name for e in uow.published]
    assert names.count("outflow-alert-raised") == 2
    assert names.count("outflow-alert-cleared") == 2
    assert state.alerts == {}


async def test_the_scheduler_clears_when_the_window_moves_on() -> None:
    state, uow, clock = setup()
    bus = bootstrap(lambda: uow, now=clock)
    state.figures[NORTH_KAZ] = figures(births=120)
    assert await bus.handle(c.EvaluateOutflow(actor=c.WORKER)) == 2
    assert await bus.handle(c.EvaluateOutflow(actor=c.WORKER)) == 0
    clock.now = datetime(2025, 6, 1, tzinfo=UTC)
    state.figures[NORTH_KAZ] = figures(births=500)
    assert await bus.handle(c.EvaluateOutflow(actor=c.WORKER)) == 2
    assert len(state.cleared) == 2
