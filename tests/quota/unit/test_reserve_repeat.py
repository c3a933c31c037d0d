"""A repeated reservation request (issue 12, item 12), through the composition root with the
in-memory unit of work: the same request re-publishes the entry's first outcome as first
published, so that a lost event heals; another request under the same application id is
refused as a conflict, with nothing changed or published."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from quota.fakes import FakeUnitOfWork
from quota.helpers import ACTOR, PAVLODAR, Clock

from koshiqon.common.errors import Conflict
from koshiqon.common.events import quota as wire
from koshiqon.quota.bootstrap import bootstrap
from koshiqon.quota.bus import Bus
from koshiqon.quota.domain import commands as c
from koshiqon.quota.domain.errors import ReservationConflict
from koshiqon.quota.domain.model import (
    Category,
    Kind,
    Outcome,
    Period,
    Quota,
    QuotaSpec,
    ReleaseReason,
    TerritoryKind,
)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork()


@pytest.fixture
def bus(uow: FakeUnitOfWork, clock: Clock) -> Bus:
    return bootstrap(lambda: uow, now=clock)


async def migrant_quota(bus: Bus, limit: int) -> Quota:
    await bus.handle(
        c.DesignateTerritory(
            PAVLODAR, TerritoryKind.MIGRANT, date(2026, 1, 1), "Decree 1", actor=ACTOR
        )
    )
    spec = QuotaSpec.of(kind=Kind.MIGRANT, region=PAVLODAR, period=Period.of(2026),
                        category=None, limit=limit)  # fmt: skip
    return await bus.handle(c.EstablishQuota(spec, actor=ACTOR))


def request(app: uuid.UUID, persons: int, **changes: object) -> c.ReserveQuota:
    fields: dict[str, object] = {"kind": Kind.MIGRANT, "region": PAVLODAR, "year": 2026}
    fields |= changes
    return c.ReserveQuota(app, persons=persons, actor=ACTOR, **fields)  # type: ignore[arg-type]


def payloads(uow: FakeUnitOfWork, app: uuid.UUID) -> list[object]:
    return [e.payload for e in uow.published if e.subject == str(app)]


async def test_a_repeat_republishes_the_reserved_event_as_first_published(
    bus: Bus, uow: FakeUnitOfWork, clock: Clock
) -> None:
    quota = await migrant_quota(bus, 10)
    app = uuid.uuid4()
    first = await bus.handle(request(app, 4))
    await bus.handle(request(uuid.uuid4(), 3))  # the quota moves on: 3 remain now
    clock.advance(hours=5)
    again = await bus.handle(request(app, 4))
    assert again == first
    (reserved, republished) = payloads(uow, app)
    assert isinstance(republished, wire.QuotaReserved)
    # remaining 6 and reserved_at as the first time, marked a repeat (counted once)
    assert not reserved.repeat
    assert republished == reserved.model_copy(update={"repeat": True})
    assert (republished.remaining, republished.reserved_at) == (6, first.requested_at)
    assert uow.state.quotas[quota.id].reserved == 7


async def test_a_repeat_republishes_the_denial_with_its_figures(
    bus: Bus, uow: FakeUnitOfWork
) -> None:
    await migrant_quota(bus, 5)
    await bus.handle(request(uuid.uuid4(), 4))
    app = uuid.uuid4()
    denied = await bus.handle(request(app, 3))
    assert denied.outcome is Outcome.DENIED
    await bus.handle(request(app, 3))
    first, republished = payloads(uow, app)
    assert isinstance(republished, wire.QuotaDenied)
    assert not first.repeat
    assert republished == first.model_copy(update={"repeat": True})
    assert (republished.reason, republished.remaining) == ("exhausted", 1)


async def test_a_repeat_after_a_release_republishes_the_first_outcome_and_reserves_nothing(
    bus: Bus, uow: FakeUnitOfWork
) -> None:
    quota = await migrant_quota(bus, 10)
    app = uuid.uuid4()
    await bus.handle(request(app, 4))
    await bus.handle(c.ReleaseReservation(app, ReleaseReason.CANCELLED, actor=ACTOR))
    again = await bus.handle(request(app, 4))
    assert again.outcome is Outcome.RESERVED
    assert [type(p).__name__ for p in payloads(uow, app)] == [
        "QuotaReserved", "QuotaReleased", "QuotaReserved",
    ]  # fmt: skip
    assert uow.state.quotas[quota.id].reserved == 0


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"persons": 5}, "persons"),
        ({"year": 2027}, "year"),
        ({"region": "590000000"}, "region"),
        ({"kind": Kind.KANDAS}, "kind"),
        ({"kind": Kind.FOREIGN_LABOUR, "category": Category.SKILLED}, "kind"),
    ],
)
async def test_a_repeat_that_asks_for_something_else_is_a_conflict(
    bus: Bus, uow: FakeUnitOfWork, changes: dict[str, object], field: str
) -> None:
    quota = await migrant_quota(bus, 10)
    app = uuid.uuid4()
    first = await bus.handle(request(app, 4))
    published = len(uow.published)
    other = {"persons": 4, **changes}
    with pytest.raises(ReservationConflict) as refused:
        await bus.handle(request(app, **other))  # type: ignore[arg-type]
    assert isinstance(refused.value, Conflict)
    assert refused.value.code == "reservation-conflict"
    assert refused.value.field == field
    assert len(uow.published) == published
    assert uow.state.reservations[app] == first
    assert uow.state.quotas[quota.id].reserved == 4
