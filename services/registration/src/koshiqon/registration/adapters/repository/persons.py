"""Persons: one row each, found by id, IIN or travel document.

SQLAlchemy Core, but for the person's lock (`get(lock=True)`): it opens every write to a
person, the busiest of them registering a residence, whose statements run as plain SQL on
the driver connection of the unit of work's transaction (see `residences`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import text

from koshiqon.common.events.registration import LegalStatus
from koshiqon.common.kz import Sex
from koshiqon.common.unit_of_work import Transaction
from koshiqon.registration.adapters.repository._sql import (
    Row,
    columns,
    core_insert,
    execute,
    fetch,
    fetch_one,
)
from koshiqon.registration.domain.model import KandasStatus, Person, TravelDocument

COLUMNS = (
    "id",
    "legal_status",
    "iin",
    "document_number",
    "document_country",
    "surname_latin",
    "given_names_latin",
    "surname_cyrillic",
    "given_names_cyrillic",
    "birth_date",
    "sex",
    "citizenship",
    "ethnicity",
    "kandas_certificate_number",
    "kandas_certificate_date",
    "created_in_region",
    "created_at",
)
_SELECT = f"SELECT {columns(COLUMNS)} FROM persons"
_INSERT = core_insert("persons", COLUMNS)
_GET = text(f"{_SELECT} WHERE id = :id")
_LOCK = f"{_SELECT} WHERE id = $1 FOR UPDATE"  # the driver
_GET_MANY = text(f"{_SELECT} WHERE id = ANY(CAST(:ids AS uuid[])) ORDER BY id")
_BY_IIN = f"{_SELECT} WHERE iin = :iin"
_BY_DOCUMENT = f"{_SELECT} WHERE document_country = :country AND document_number = :number"
_FIND = {
    (True, False): text(f"{_BY_IIN} ORDER BY id"),
    (False, True): text(f"{_BY_DOCUMENT} ORDER BY id"),
    (True, True): text(
        f"{_SELECT} WHERE iin = :iin OR (document_country = :country"
        " AND document_number = :number) ORDER BY id"
    ),
}
_REGIONS = text("SELECT DISTINCT region FROM residences WHERE person_id = :id")


def _values(person: Person) -> dict[str, object]:
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


def person_of(row: Row) -> Person:
    document = (
        TravelDocument(number=row["document_number"], country=row["document_country"])
        if row["document_number"] is not None
        else None
    )
    kandas = (
        KandasStatus(row["kandas_certificate_number"], row["kandas_certificate_date"])
        if row["kandas_certificate_number"] is not None
        else None
    )
    return Person(
        id=row["id"],
        legal_status=LegalStatus(row["legal_status"]),
        iin=row["iin"],
        travel_document=document,
        surname_latin=row["surname_latin"],
        given_names_latin=row["given_names_latin"],
        surname_cyrillic=row["surname_cyrillic"],
        given_names_cyrillic=row["given_names_cyrillic"],
        birth_date=row["birth_date"],
        sex=Sex(row["sex"]),
        citizenship=row["citizenship"],
        ethnicity=row["ethnicity"],
        kandas=kandas,
        created_at=row["created_at"],
        created_in_region=row["created_in_region"],
    )


class PersonRepository:
    def __init__(self, transaction: Transaction) -> None:
        self.transaction = transaction

    async def add(self, person: Person) -> None:
        await execute(await self.transaction.core(), _INSERT, _values(person))

    async def get(self, person_id: uuid.UUID, *, lock: bool = False) -> Person | None:
        """The person; with `lock`, their row is locked until the transaction ends, which
        serializes every write to one person's registrations."""
        if lock:  # the first statement of the write paths: on the driver (module doc)
            locked = await (await self.transaction.driver()).fetchrow(_LOCK, person_id)
            return person_of(locked) if locked is not None else None
        row = await fetch_one(await self.transaction.core(), _GET, {"id": person_id})
        return person_of(row) if row is not None else None

    async def get_many(self, person_ids: Sequence[uuid.UUID]) -> list[Person]:
        rows = await fetch(await self.transaction.core(), _GET_MANY, {"ids": list(person_ids)})
        return [person_of(row) for row in rows]

    async def find(
        self, *, iin: str | None, travel_document: TravelDocument | None
    ) -> list[Person]:
        """Persons with this IIN or this travel document (either may be given)."""
        statement = _FIND.get((iin is not None, travel_document is not None))
        if statement is None:
            return []
        params = {} if iin is None else {"iin": iin}
        if travel_document is not None:
            params |= {"country": travel_document.country, "number": travel_document.number}
        return [
            person_of(row) for row in await fetch(await self.transaction.core(), statement, params)
        ]

    async def regions(self, person_id: uuid.UUID) -> set[str]:
        """Every region the person was ever registered in."""
        rows = await fetch(await self.transaction.core(), _REGIONS, {"id": person_id})
        return {str(row["region"]) for row in rows}
