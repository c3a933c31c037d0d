"""`forecast-published` through `bootstrap` with the fake repositories: emitted in the
import's unit of work for each region whose forecast the new figures change, and not when
they change none (the same figures again, a figure on another day than 1 January)."""

from __future__ import annotations

from monitoring.fakes import FakeMonitoringUnitOfWork, State
from monitoring.helpers import PAVLODAR, Clock

from koshiqon.common.events.monitoring import ForecastPublished
from koshiqon.common.messagebus import Actor
from koshiqon.monitoring.bootstrap import bootstrap
from koshiqon.monitoring.domain import commands as c
from koshiqon.monitoring.domain.statistics import Dataset

AKMOLA = "110000000"
ACTOR = Actor(subject="test")


def population(*rows: tuple[str, str, int]) -> c.ImportStatistics:
    numbered = [(i, {"kato": k, "date": d, "total": t}) for i, (k, d, t) in enumerate(rows, 1)]
    return c.ImportStatistics(dataset=Dataset.POPULATION, rows=numbered, source="s", actor=ACTOR)


SERIES = population(
    *((PAVLODAR, f"{y}-01-01", 756_000 - 1_000 * i) for i, y in enumerate(range(2022, 2026))),
    *((AKMOLA, f"{y}-01-01", 785_000 + 2_000 * i + i * i) for i, y in enumerate(range(2022, 2026))),
)


def forecasts(uow: FakeMonitoringUnitOfWork) -> list[ForecastPublished]:
    return [e.payload for e in uow.published if isinstance(e.payload, ForecastPublished)]


async def test_published_for_each_region_a_new_figure_changes_and_only_then() -> None:
    state = State()
    uow, clock = FakeMonitoringUnitOfWork(state), Clock()
    bus = bootstrap(lambda: uow, now=clock)
    await bus.handle(SERIES)
    first = forecasts(uow)
    assert sorted(f.region for f in first) == [AKMOLA, PAVLODAR]
    pavlodar = next(f for f in first if f.region == PAVLODAR)
    assert str(pavlodar.base_date) == "2025-01-01"
    assert [str(p.date) for p in pavlodar.points] == [f"{y}-01-01" for y in range(2026, 2031)]
    assert set(state.forecasts) == {AKMOLA, PAVLODAR}
    await bus.handle(SERIES)  # the same figures: nothing added, nothing compared
    await bus.handle(population((PAVLODAR, "2025-07-01", 760_000)))  # not a 1 January
    assert forecasts(uow) == first
    await bus.handle(population((PAVLODAR, "2026-01-01", 740_000)))
    later = forecasts(uow)[len(first) :]
    assert PAVLODAR in [f.region for f in later]
    assert str(next(f for f in later if f.region == PAVLODAR).base_date) == "2026-01-01"


async def test_other_datasets_publish_no_forecast() -> None:
    uow, clock = FakeMonitoringUnitOfWork(State()), Clock()
    bus = bootstrap(lambda: uow, now=clock)
    await bus.handle(SERIES)
    assert len(forecasts(uow)) == 2
    rows = [(1, {"kato": PAVLODAR, "date": "2026-01-01", "area_km2": 124_800})]
    await bus.handle(c.ImportStatistics(dataset=Dataset.AREA, rows=rows, source="s", actor=ACTOR))
    vital = [(1, {"kato": PAVLODAR, "period": "2025", "births": 9_000, "deaths": 8_000})]
    await bus.handle(c.ImportStatistics(dataset=Dataset.VITAL, rows=vital, source="s", actor=ACTOR))
    assert len(forecasts(uow)) == 2
