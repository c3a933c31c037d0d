"""Every query of the registration service. Rows in, domain objects out; nothing commits.

Uniqueness is SQL's job (unique partial indexes): a violation becomes the domain `Conflict`
naming the field, and the transaction it aborted is rolled back by the unit of work.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Row, and_, bindparam, insert, or_, select, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from koshiqon.common.errors import Conflict
from koshiqon.common.events.registration import (
    EndReason,
    LegalStatus,
    ResettlementCategory,
    ResidenceKind,
    StayPurpose,
)
from koshiqon.common.kz import Sex
from koshiqon.registration.adapters.tables import (
    application_members,
    applications,
    audit_log,
    persons,
    residences,
)
from koshiqon.registration.domain.errors import DuplicatePerson, OverlappingStay
from koshiqon.registration.domain.model import (
    Actor,
    Address,
    AuditEntry,
    KandasStatus,
    Person,
    Residence,
    ResidenceStatus,
    TravelDocument,
)
from koshiqon.registration.domain.resettlement import ApplicationStatus, ResettlementApplication

_CONFLICTS: dict[str, tuple[type[Conflict], str, str]] = {
    "uq_persons_iin": (DuplicatePerson, "iin", "a person with this IIN is already registered"),
    "uq_persons_travel_document": (
        DuplicatePerson,
        "travel_document",
        "a person with this travel document is already registered",
    ),
    "uq_residences_active_permanent": (
        OverlappingStay,
        "kind",
        "this person's permanent registration changed concurrently; retry",
    ),
    "uq_resettlement_applications_open": (
        Conflict,
        "applicant_id",
        "this applicant already has an open resettlement application",
    ),
}


def _conflict(error: IntegrityError) -> Exception:
    cause: Any = error.orig
    name = getattr(cause, "constraint_name", None) or getattr(
        getattr(cause, "__cause__", None), "constraint_name", None
    )
    known = _CONFLICTS.get(str(name))
    if known is None:
        return error
    cls, field, detail = known
    return cls(detail, field=field)


async def _insert(session: AsyncSession, statement: Any, row: dict[str, Any]) -> None:
    try:
        await session.execute(statement, row)
    except IntegrityError as error:
        raise _conflict(error) from None


# --- statements built once -----------------------------------------------------------------
# Building a statement costs more CPU than executing it from the compiled cache; the hot
# ones are built at import and take their values at execution.

_GET_PERSON = select(persons).where(persons.c.id == bindparam("person_id"))
_LOCK_PERSON = _GET_PERSON.with_for_update()
_INSERT_PERSON = insert(persons)
_INSERT_RESIDENCE = insert(residences)
_ACTIVE_RESIDENCES = (
    select(residences)
    .where(residences.c.person_id == bindparam("person_id"), residences.c.status == "active")
    .order_by(residences.c.valid_from, residences.c.id)
)
_INSERT_APPLICATION = insert(applications)


# --- persons -------------------------------------------------------------------------------


def _person_row(person: Person) -> dict[str, Any]:
    document, kandas = person.travel_document, person.kandas
    return {
        "id": person.id,
        "legal_status": person.legal_status.value,
        "iin": person.iin,
        "document_number": document.number if document else None,
        "document_country": document.country if document else None,
        "surname_latin": person.surname_latin,
        "given_names_latin": person.given_names_latin,
        "surname_cyrillic": person.surname_cyrillic,
        "given_names_cyrillic": person.given_names_cyrillic,
        "birth_date": person.birth_date,
        "sex": person.sex.value,
        "citizenship": person.citizenship,
        "ethnicity": person.ethnicity,
        "kandas_certificate_number": kandas.certificate_number if kandas else None,
        "kandas_certificate_date": kandas.certificate_date if kandas else None,
        "created_in_region": person.created_in_region,
        "created_at": person.created_at,
    }


def _person(row: Row[Any]) -> Person:
    m = row._mapping
    document = (
        TravelDocument(number=m["document_number"], country=m["document_country"])
        if m["document_number"] is not None
        else None
    )
    kandas = (
        KandasStatus(m["kandas_certificate_number"], m["kandas_certificate_date"])
        if m["kandas_certificate_number"] is not None
        else None
    )
    return Person(
        id=m["id"],
        legal_status=LegalStatus(m["legal_status"]),
        iin=m["iin"],
        travel_document=document,
        surname_latin=m["surname_latin"],
        given_names_latin=m["given_names_latin"],
        surname_cyrillic=m["surname_cyrillic"],
        given_names_cyrillic=m["given_names_cyrillic"],
        birth_date=m["birth_date"],
        sex=Sex(m["sex"]),
        citizenship=m["citizenship"],
        ethnicity=m["ethnicity"],
        kandas=kandas,
        created_at=m["created_at"],
        created_in_region=m["created_in_region"],
    )


class PersonRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, person: Person) -> None:
        await _insert(self.session, _INSERT_PERSON, _person_row(person))

    async def get(self, person_id: uuid.UUID, *, lock: bool = False) -> Person | None:
        query = _LOCK_PERSON if lock else _GET_PERSON
        row = (await self.session.execute(query, {"person_id": person_id})).first()
        return _person(row) if row is not None else None

    async def get_many(self, person_ids: Sequence[uuid.UUID]) -> list[Person]:
        query = select(persons).where(persons.c.id.in_(list(person_ids)))
        return [_person(row) for row in await self.session.execute(query)]

    async def find(
        self, *, iin: str | None, travel_document: TravelDocument | None
    ) -> list[Person]:
        conditions = []
        if iin is not None:
            conditions.append(persons.c.iin == iin)
        if travel_document is not None:
            conditions.append(
                and_(
                    persons.c.document_country == travel_document.country,
                    persons.c.document_number == travel_document.number,
                )
            )
        if not conditions:
            return []
        query = select(persons).where(or_(*conditions)).order_by(persons.c.id)
        return [_person(row) for row in await self.session.execute(query)]

    async def regions(self, person_id: uuid.UUID) -> set[str]:
        """Every region the person was ever registered in."""
        query = select(residences.c.region).where(residences.c.person_id == person_id)
        return {str(region) for region in (await self.session.scalars(query.distinct()))}


# --- residence registrations ---------------------------------------------------------------


def _residence_row(residence: Residence) -> dict[str, Any]:
    address = residence.address
    return {
        "id": residence.id,
        "person_id": residence.person_id,
        "kind": residence.kind.value,
        "kato": address.kato,
        "region": residence.region,
        "street": address.street,
        "building": address.building,
        "apartment": address.apartment,
        "valid_from": residence.valid_from,
        "valid_until": residence.valid_until,
        "purpose": residence.purpose.value if residence.purpose else None,
        "arrived_from": residence.arrived_from,
        "status": residence.status.value,
        "ended_on": residence.ended_on,
        "end_reason": residence.end_reason.value if residence.end_reason else None,
    }


def _residence(row: Row[Any]) -> Residence:
    m = row._mapping
    address = Address(
        kato=m["kato"], street=m["street"], building=m["building"], apartment=m["apartment"]
    )
    return Residence(
        id=m["id"],
        person_id=m["person_id"],
        kind=ResidenceKind(m["kind"]),
        address=address,
        valid_from=m["valid_from"],
        valid_until=m["valid_until"],
        purpose=StayPurpose(m["purpose"]) if m["purpose"] else None,
        status=ResidenceStatus(m["status"]),
        ended_on=m["ended_on"],
        end_reason=EndReason(m["end_reason"]) if m["end_reason"] else None,
        arrived_from=m["arrived_from"],
    )


class ResidenceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, residence: Residence) -> None:
        await _insert(self.session, _INSERT_RESIDENCE, _residence_row(residence))

    async def get(self, person_id: uuid.UUID, residence_id: uuid.UUID) -> Residence | None:
        query = select(residences).where(
            residences.c.id == residence_id, residences.c.person_id == person_id
        )
        row = (await self.session.execute(query)).first()
        return _residence(row) if row is not None else None

    async def active(self, person_id: uuid.UUID) -> list[Residence]:
        rows = await self.session.execute(_ACTIVE_RESIDENCES, {"person_id": person_id})
        return [_residence(row) for row in rows]

    async def of_person(self, person_id: uuid.UUID, *, region: str | None) -> list[Residence]:
        query = select(residences).where(residences.c.person_id == person_id)
        if region is not None:
            query = query.where(residences.c.region == region)
        query = query.order_by(residences.c.valid_from, residences.c.id)
        return [_residence(row) for row in await self.session.execute(query)]

    async def end(self, residence: Residence) -> bool:
        """Store an ended registration, only if it is still active (False otherwise)."""
        assert residence.end_reason is not None
        statement = (
            update(residences)
            .where(residences.c.id == residence.id, residences.c.status == "active")
            .values(
                status="ended", ended_on=residence.ended_on, end_reason=residence.end_reason.value
            )
        )
        result = await self.session.execute(statement)
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def due_temporary(self, *, today: date, limit: int) -> list[Residence]:
        """Active temporary stays whose valid_until is before `today`, locked; rows another
        worker holds are skipped."""
        query = (
            select(residences)
            .where(
                residences.c.kind == "temporary",
                residences.c.status == "active",
                residences.c.valid_until < today,
            )
            .order_by(residences.c.valid_until, residences.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [_residence(row) for row in await self.session.execute(query)]


# --- resettlement applications -------------------------------------------------------------

_APPLICATION_STATE = (
    "status",
    "quota_id",
    "rejection_reason",
    "closed_reason",
    "quota_reserved_at",
    "quota_denied_at",
    "quota_released_at",
    "quota_expired_at",
    "decided_at",
    "settlement",
    "completed_on",
    "withdrawn_at",
)


def _application_row(app: ResettlementApplication) -> dict[str, Any]:
    row = {name: getattr(app, name) for name in _APPLICATION_STATE}
    row["status"] = app.status.value
    return row


def _application(row: Row[Any], members: Sequence[uuid.UUID]) -> ResettlementApplication:
    m = row._mapping
    state = {name: m[name] for name in _APPLICATION_STATE}
    state["status"] = ApplicationStatus(m["status"])
    return ResettlementApplication(
        id=m["id"],
        applicant_id=m["applicant_id"],
        category=ResettlementCategory(m["category"]),
        family_member_ids=tuple(members),
        target_region=m["target_region"],
        target_year=m["target_year"],
        requested_at=m["requested_at"],
        **state,
    )


class ApplicationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, app: ResettlementApplication) -> None:
        fixed = {
            "id": app.id,
            "applicant_id": app.applicant_id,
            "category": app.category.value,
            "target_region": app.target_region,
            "target_year": app.target_year,
            "persons": app.persons,
            "requested_at": app.requested_at,
        }
        await _insert(self.session, _INSERT_APPLICATION, fixed | _application_row(app))
        if app.family_member_ids:
            members = [
                {"application_id": app.id, "person_id": person_id, "position": position}
                for position, person_id in enumerate(app.family_member_ids)
            ]
            await self.session.execute(insert(application_members), members)

    async def get(
        self, application_id: uuid.UUID, *, lock: bool = False
    ) -> ResettlementApplication | None:
        query = select(applications).where(applications.c.id == application_id)
        if lock:
            query = query.with_for_update()
        row = (await self.session.execute(query)).first()
        return None if row is None else (await self._with_members([row]))[0]

    async def save(self, app: ResettlementApplication, *, was: ApplicationStatus) -> bool:
        """Store a transition, only from the status it was computed from (False otherwise)."""
        statement = (
            update(applications)
            .where(applications.c.id == app.id, applications.c.status == was.value)
            .values(_application_row(app))
        )
        result = await self.session.execute(statement)
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def approved_for(
        self, applicant_id: uuid.UUID, *, region: str
    ) -> ResettlementApplication | None:
        query = (
            select(applications)
            .where(
                applications.c.applicant_id == applicant_id,
                applications.c.status == "approved",
                applications.c.target_region == region,
            )
            .with_for_update()
        )
        row = (await self.session.execute(query)).first()
        return None if row is None else (await self._with_members([row]))[0]

    async def search(
        self,
        *,
        region: str | None,
        status: ApplicationStatus | None,
        year: int | None,
        after: tuple[datetime, uuid.UUID] | None,
        limit: int,
    ) -> list[ResettlementApplication]:
        query = select(applications)
        if region is not None:
            query = query.where(applications.c.target_region == region)
        if status is not None:
            query = query.where(applications.c.status == status.value)
        if year is not None:
            query = query.where(applications.c.target_year == year)
        if after is not None:
            key = tuple_(applications.c.requested_at, applications.c.id)
            query = query.where(key > tuple_(*after))
        query = query.order_by(applications.c.requested_at, applications.c.id).limit(limit)
        return await self._with_members(list(await self.session.execute(query)))

    async def _with_members(self, rows: Sequence[Row[Any]]) -> list[ResettlementApplication]:
        ids = [row._mapping["id"] for row in rows]
        members: dict[uuid.UUID, list[uuid.UUID]] = {i: [] for i in ids}
        if ids:
            query = (
                select(application_members.c.application_id, application_members.c.person_id)
                .where(application_members.c.application_id.in_(ids))
                .order_by(application_members.c.application_id, application_members.c.position)
            )
            for application_id, person_id in await self.session.execute(query):
                members[application_id].append(person_id)
        return [_application(row, members[row._mapping["id"]]) for row in rows]


# --- audit of reads ------------------------------------------------------------------------


class AuditRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def record(
        self,
        actor: Actor,
        *,
        person_ids: Sequence[uuid.UUID],
        route: str,
        correlation_id: str | None,
    ) -> None:
        rows = [
            {
                "subject": actor.subject[:200],
                "agency": (actor.agency or None),
                "region": actor.region,
                "person_id": person_id,
                "route": route[:300],
                "correlation_id": correlation_id,
            }
            for person_id in person_ids
        ]
        if rows:
            await self.session.execute(insert(audit_log), rows)

    async def of_person(
        self, person_id: uuid.UUID, *, after: int | None, limit: int
    ) -> list[AuditEntry]:
        query = select(audit_log).where(audit_log.c.person_id == person_id)
        if after is not None:
            query = query.where(audit_log.c.id > after)
        query = query.order_by(audit_log.c.id).limit(limit)
        return [AuditEntry(**row._mapping) for row in await self.session.execute(query)]
