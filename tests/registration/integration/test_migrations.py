"""Revisions on a database that holds rows: 0003 on one at 0002 (the persons it holds stay as
they were, a foreigner may then be stored without a Cyrillic spelling, and a citizen still
may not); 0006 on one at 0005 (existing applications were last asked of quota when they
were requested)."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy.exc
from sqlalchemy import text
from support.services import ServiceSchema, migrated_schema

from koshiqon.common.migrations import upgrade
from koshiqon.registration.bootstrap import MIGRATIONS

pytestmark = pytest.mark.integration

INSERT = text(
    "INSERT INTO persons (id, legal_status, iin, document_number, document_country,"
    " surname_latin, given_names_latin, surname_cyrillic, given_names_cyrillic, birth_date,"
    " sex, citizenship, created_at) VALUES (:id, :status, :iin, :number, :country, 'Abenov',"
    " 'Nurlan', :surname, :given, '1979-10-28', 'male', :citizenship, now())"
)
ROWS = "SELECT id, legal_status, surname_cyrillic, given_names_cyrillic FROM persons ORDER BY id"


async def insert(schema: ServiceSchema, *, citizen: bool, cyrillic: bool) -> uuid.UUID:
    person = uuid.uuid4()
    params = {
        "id": person,
        "status": "citizen" if citizen else "foreigner",
        "iin": f"{person.int % 10**12:012d}" if citizen else None,
        "number": None if citizen else f"N{person.hex[:8].upper()}",
        "country": None if citizen else "TUR",
        "surname": "Абенов" if cyrillic else None,
        "given": "Нурлан" if cyrillic else None,
        "citizenship": "KAZ" if citizen else "TUR",
    }
    async with schema.engine.begin() as conn:
        await conn.execute(INSERT, params)
    return person


async def test_0003_keeps_the_persons_and_relaxes_the_cyrillic_for_foreigners_only(
    admin_database_url: str,
) -> None:
    async with migrated_schema(admin_database_url, MIGRATIONS, revision="0002") as old:
        await insert(old, citizen=True, cyrillic=True)
        await insert(old, citizen=False, cyrillic=True)
        with pytest.raises(sqlalchemy.exc.IntegrityError):  # NOT NULL, before 0003
            await insert(old, citizen=False, cyrillic=False)
        async with old.engine.connect() as conn:
            before = (await conn.execute(text(ROWS))).all()

        await upgrade(MIGRATIONS, old.dsn, schema=old.schema, revision="0003")
        await old.engine.dispose()  # statements prepared before the change

        assert await old.scalar("SELECT version_num FROM alembic_version") == "0003"
        async with old.engine.connect() as conn:
            assert (await conn.execute(text(ROWS))).all() == before
        await insert(old, citizen=False, cyrillic=False)
        with pytest.raises(sqlalchemy.exc.IntegrityError) as refused:
            await insert(old, citizen=True, cyrillic=False)
        assert "ck_persons_citizen_has_cyrillic" in str(refused.value)
        assert await old.scalar("SELECT count(*) FROM persons") == len(before) + 1


async def test_0006_dates_the_last_quota_request_of_existing_applications_at_their_request(
    admin_database_url: str,
) -> None:
    """Applications stored before 0006 were asked of quota once, when they were requested:
    that is what the re-request job then starts from."""
    async with migrated_schema(admin_database_url, MIGRATIONS, revision="0005") as old:
        applicant = await insert(old, citizen=True, cyrillic=True)
        application = uuid.uuid4()
        async with old.engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO resettlement_applications (id, applicant_id, category,"
                    " target_region, target_year, persons, status, requested_at) VALUES (:id,"
                    " :applicant, 'migrant', '590000000', 2026, 1, 'pending_quota',"
                    " '2026-02-01T10:00:00Z')"
                ),
                {"id": application, "applicant": applicant},
            )

        await upgrade(MIGRATIONS, old.dsn, schema=old.schema, revision="0006")
        await old.engine.dispose()

        async with old.engine.connect() as conn:
            row = (
                await conn.execute(
                    text(
                        "SELECT quota_requested_at = requested_at, quota_requests"
                        " FROM resettlement_applications WHERE id = :id"
                    ),
                    {"id": application},
                )
            ).one()
        assert tuple(row) == (True, 1)
        indexed = await old.scalar(
            "SELECT indexdef FROM pg_indexes WHERE indexname = :name AND schemaname = :schema",
            name="ix_resettlement_applications_pending",
            schema=old.schema,
        )
        assert "WHERE ((status)::text = 'pending_quota'::text)" in str(indexed)
