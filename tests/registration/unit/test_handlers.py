"""Handlers driven through `bootstrap` with a fake unit of work (no database)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest
from registration.unit.conftest import FakeUnitOfWork, Store

from koshiqon.common.errors import Conflict, Forbidden, InvalidInput
from koshiqon.common.events.quota import QuotaReserved
from koshiqon.common.events.registration import (
    PersonRegistered,
    ResettlementCompleted,
    ResidenceEnded,
)
from koshiqon.common.kz import Sex
from koshiqon.common.messagebus import Actor
from koshiqon.registration.bus import Bus
from koshiqon.registration.domain import commands as c
from koshiqon.registration.domain.model import (
    KandasStatus,
    LegalStatus,
    ResidenceKind,
    StayPurpose,
)
from koshiqon.registration.domain.resettlement import ApplicationStatus, ResettlementCategory
from koshiqon.registration.handlers import on_quota_reserved

MINISTRY = Actor(subject="ministry")
SKO = Actor(subject="sko-akimat", region="590000000")
KOSTANAY = Actor(subject="kostanay-akimat", region="390000000")


def new_person(actor: Actor = MINISTRY, **changes: Any) -> c.RegisterPerson:
    fields: dict[str, Any] = dict(  # noqa: C408
        actor=actor,
        legal_status=LegalStatus.CITIZEN,
        iin="791028302728",
        travel_document=None,
        surname_latin="Abenov",
        given_names_latin="Nurlan",
        surname_cyrillic="Абенов",
        given_names_cyrillic="Нурлан",
        birth_date=date(1979, 10, 28),
        sex=Sex.MALE,
        citizenship="KAZ",
        ethnicity=None,
        kandas=KandasStatus("K-1", date(2020, 1, 1)),
    )
    fields.update(changes)
    return c.RegisterPerson(**fields)


def new_residence(person_id: uuid.UUID, actor: Actor = MINISTRY, **changes: Any) -> Any:
    fields: dict[str, Any] = dict(  # noqa: C408
        actor=actor,
        person_id=person_id,
        kind=ResidenceKind.PERMANENT,
        kato="591010000",
        street="Abaya",
        building="1",
        apartment=None,
        valid_from=date(2020, 1, 1),
        valid_until=None,
        purpose=None,
        arrived_from=None,
    )
    fields.update(changes)
    return c.RegisterResidence(**fields)


def subjects(uow: FakeUnitOfWork, prefix: str) -> set[str]:
    """The subjects (partition keys) of the published events whose name starts `prefix`."""
    return {e.subject for e in uow.published if e.payload.contract.name.startswith(prefix)}


async def test_register_person_emits_person_registered(
    bus: Bus, store: Store, uow: FakeUnitOfWork
) -> None:
    person = await bus.handle(new_person())
    assert store.persons[person.id] == person
    assert [type(e) for e in uow.outbox] == [PersonRegistered]
    assert uow.published[0].subject == str(person.id)


async def test_a_second_person_with_the_same_iin_writes_nothing(
    bus: Bus, store: Store, uow: FakeUnitOfWork
) -> None:
    await bus.handle(new_person())
    with pytest.raises(Conflict) as refused:
        await bus.handle(new_person())
    assert refused.value.field == "iin"
    assert len(store.persons) == 1
    assert len(uow.outbox) == 1


async def test_a_future_birth_date_is_refused(bus: Bus) -> None:
    with pytest.raises(InvalidInput) as refused:
        await bus.handle(
            new_person(
                legal_status=LegalStatus.STATELESS,
                iin=None,
                citizenship=None,
                birth_date=date(2030, 1, 1),
                travel_document=c.TravelDocument("X1", "UNK"),
                kandas=None,
            )
        )
    assert refused.value.field == "birth_date"


async def test_an_akimat_registers_only_in_its_region(bus: Bus, store: Store) -> None:
    person = await bus.handle(new_person(actor=SKO))
    with pytest.raises(Forbidden) as refused:
        await bus.handle(new_residence(person.id, actor=KOSTANAY))
    assert refused.value.field == "address.kato"
    await bus.handle(new_residence(person.id, actor=SKO))
    with pytest.raises(Forbidden):
        await bus.handle(c.GetPerson(actor=KOSTANAY, route="GET x", person_id=person.id))


async def test_reads_are_audited(bus: Bus, store: Store) -> None:
    person = await bus.handle(new_person(actor=SKO))
    await bus.handle(
        c.GetPerson(actor=SKO, route="GET /v1/persons/{person_id}", person_id=person.id)
    )
    (entry,) = store.audit
    assert (entry.subject, entry.person_id, entry.region) == ("sko-akimat", person.id, "590000000")
    assert entry.route == "GET /v1/persons/{person_id}"


async def test_a_permanent_registration_in_the_target_region_completes_the_application(
    bus: Bus, store: Store, uow: FakeUnitOfWork
) -> None:
    person = await bus.handle(new_person())
    app = await bus.handle(
        c.ApplyForResettlement(
            actor=MINISTRY,
            applicant_id=person.id,
            category=ResettlementCategory.KANDAS,
            family_member_ids=(),
            target_region="590000000",
            target_year=2026,
        )
    )
    reserved = QuotaReserved(
        application_id=app.id,
        quota_id=uuid.uuid4(),
        kind="kandas",
        region="590000000",
        year=2026,
        persons=1,
        remaining=9,
        reserved_at=datetime(2026, 3, 2, tzinfo=UTC),
    )
    await on_quota_reserved(reserved, bus.deps)
    assert store.applications[app.id].status is ApplicationStatus.APPROVED
    await bus.handle(new_residence(person.id, valid_from=date(2026, 4, 1)))
    assert store.applications[app.id].status is ApplicationStatus.COMPLETED
    assert isinstance(uow.outbox[-1], ResettlementCompleted)
    # resettlement events go by the application, person and residence events by the person
    assert subjects(uow, "resettlement-") == {str(app.id)}
    assert subjects(uow, "residence-") == subjects(uow, "person-") == {str(person.id)}


async def test_the_expiry_check_ends_past_temporary_stays(
    bus: Bus, store: Store, uow: FakeUnitOfWork
) -> None:
    person = await bus.handle(new_person())
    stay = await bus.handle(
        new_residence(
            person.id,
            kind=ResidenceKind.TEMPORARY,
            valid_until=date(2025, 12, 31),
            purpose=StayPurpose.STUDY,
        )
    )
    ended = await bus.handle(c.ExpireTemporaryStays(actor=MINISTRY, today=date(2026, 1, 1)))
    assert ended == 1
    assert store.residences[stay.id].ended_on == date(2025, 12, 31)
    assert isinstance(uow.outbox[-1], ResidenceEnded)
    assert uow.published[-1].subject == str(person.id)
    assert await bus.handle(c.ExpireTemporaryStays(actor=MINISTRY, today=date(2026, 1, 1))) == 0
