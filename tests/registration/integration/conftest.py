"""The registration service for integration tests: its real migrations in a throwaway
schema, its real app over ASGI, dev-key tokens, and helpers that make valid persons."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from support.http import served
from support.services import ServiceSchema, migrated_schema

from koshiqon.common.kz import iin_check_digit
from koshiqon.devtools.devkey import issue_dev_token
from koshiqon.registration.bootstrap import MIGRATIONS, build_app
from koshiqon.registration.config import RegistrationSettings

ALL_SCOPES = ("registration:read", "registration:write", "registration:audit")


def make_iin(birth: date, *, female: bool = False, rng: random.Random | None = None) -> str:
    """A valid IIN for `birth` (1900-2099), with a random serial."""
    rng = rng or random.Random()
    century = {19: 3, 20: 5}[birth.year // 100] + (1 if female else 0)
    while True:
        first = f"{birth:%y%m%d}{century}{rng.randrange(10_000):04d}"
        check = iin_check_digit(first)
        if check is not None:
            return f"{first}{check}"


def token(*scopes: str, region: str | None = None, subject: str = "test-client") -> str:
    return issue_dev_token(
        scopes=scopes or ALL_SCOPES, region=region, subject=subject, agency="test-agency"
    )


def auth(*scopes: str, region: str | None = None, subject: str = "test-client") -> dict[str, str]:
    return {"Authorization": f"Bearer {token(*scopes, region=region, subject=subject)}"}


def citizen_body(**changes: Any) -> dict[str, Any]:
    birth = date(1960, 1, 1) + timedelta(days=random.randrange(20_000))
    female = random.random() < 0.5
    body: dict[str, Any] = {
        "legal_status": "citizen",
        "iin": make_iin(birth, female=female),
        "surname_latin": "Abenova" if female else "Abenov",
        "given_names_latin": "Aigerim",
        "surname_cyrillic": "Абенова",
        "given_names_cyrillic": "Айгерім",
        "birth_date": birth.isoformat(),
        "sex": "female" if female else "male",
        "citizenship": "KAZ",
    }
    body.update(changes)
    return body


@dataclass
class Service:
    schema: ServiceSchema
    app: FastAPI
    client: httpx.AsyncClient

    auth = staticmethod(auth)
    token = staticmethod(token)
    citizen_body = staticmethod(citizen_body)
    make_iin = staticmethod(make_iin)

    async def person(self, *, headers: dict[str, str] | None = None, **changes: Any) -> str:
        response = await self.client.post(
            "/v1/persons", json=citizen_body(**changes), headers=headers or auth()
        )
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    async def residence(
        self, person_id: str, *, headers: dict[str, str] | None = None, **body: Any
    ) -> httpx.Response:
        payload = {
            "kind": "permanent",
            "valid_from": "2020-01-01",
            "address": {"kato": "591010000", "street": "Abaya", "building": "1"},
        }
        payload.update(body)
        return await self.client.post(
            f"/v1/persons/{person_id}/residences", json=payload, headers=headers or auth()
        )

    async def count(self, table: str, **where: object) -> int:
        clause = " AND ".join(f"{k} = :{k}" for k in where) or "true"
        return int(
            await self.schema.scalar(f"SELECT count(*) FROM {table} WHERE {clause}", **where)
        )

    async def outbox_types(self, subject: str | None = None) -> Sequence[str]:
        from sqlalchemy import text

        sql = "SELECT event_type FROM outbox" + (" WHERE key = :k" if subject else "")
        async with self.schema.engine.connect() as conn:
            rows = await conn.execute(text(sql + " ORDER BY id"), {"k": subject})
            return [r[0].split(".")[3] for r in rows]


def settings_for(schema: ServiceSchema) -> RegistrationSettings:
    return RegistrationSettings(
        database_url=schema.dsn,
        database_schema=schema.schema,  # type: ignore[arg-type]
        environment="test",
        db_pool_size=5,
    )


@pytest.fixture(scope="module")
async def service(admin_database_url: str) -> AsyncIterator[Service]:
    """One migrated schema and app per test module (tests use their own persons)."""
    async with migrated_schema(admin_database_url, MIGRATIONS) as schema:
        app = build_app(settings_for(schema))
        async with served(app, "http://registration") as client:
            yield Service(schema, app, client)
