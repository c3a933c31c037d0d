"""Persons: one row each, found by id, IIN or travel document."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import asyncpg

from koshiqon.common.database.driver import Connection, Params
from koshiqon.common.events.registration import LegalStatus
from koshiqon.common.kz import Sex
from koshiqon.registration.adapters.repository._sql import columns, insert, insert_statement
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
_INSERT = insert_statement("persons", COLUMNS)
_GET = f"{_SELECT} WHERE id = $1"
_LOCK = f"{_GET} FOR UPDATE"
_GET_MANY = f"{_SELECT} WHERE id = ANY($1::uuid[]) ORDER BY id"
_REGIONS = "SELECT DISTINCT region FROM residences WHERE person_id = $1"


def _values(person: Person) -> tuple[object, ...]:
    document, kandas = person.travel_document, person.kandas
    return (
        person.id,
        person.legal_status.value,
        person.iin,
        document.number if document else None,
        document.country if document else None,
        person.surname_latin,
        person.given_names_latin,
        person.surname_cyrillic,
        person.given_names_cyrillic,
        person.birth_date,
        person.sex.value,
        person.citizenship,
        person.ethnicity,
        kandas.certificate_number if kandas else None,
        kandas.certificate_date if kandas else None,
        person.created_in_region,
        person.created_at,
    )


def person_of(row: asyncpg.Record) -> Person:
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
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    async def add(self, person: Person) -> None:
        await insert(self.conn, _INSERT, *_values(person))

    async def get(self, person_id: uuid.UUID, *, lock: bool = False) -> Person | None:
        """The person; with `lock`, their row is locked until the transaction ends, which
        serializes every write to one person's registrations."""
        row = await self.conn.fetchrow(_LOCK if lock else _GET, person_id)
        return person_of(row) if row is not None else None

    async def get_many(self, person_ids: Sequence[uuid.UUID]) -> list[Person]:
        return [person_of(row) for row in await self.conn.fetch(_GET_MANY, list(person_ids))]

    async def find(
        self, *, iin: str | None, travel_document: TravelDocument | None
    ) -> list[Person]:
        """Persons with this IIN or this travel document (either may be given)."""
        p = Params()
        matches = []
        if iin is not None:
            matches.append(f"iin = {p(iin)}")
        if travel_document is not None:
            matches.append(
                f"(document_country = {p(travel_document.country)}"
                f" AND document_number = {p(travel_document.number)})"
            )
        if not matches:
            return []
        sql = f"{_SELECT} WHERE {' OR '.join(matches)} ORDER BY id"
        return [person_of(row) for row in await self.conn.fetch(sql, *p.values)]

    async def regions(self, person_id: uuid.UUID) -> set[str]:
        """Every region the person was ever registered in."""
        return {str(row["region"]) for row in await self.conn.fetch(_REGIONS, person_id)}
