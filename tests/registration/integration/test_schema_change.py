"""A migration that changes a column's type under a running API: the request whose
connection holds the old prepared statement answers 503 with Retry-After (not 500), and its
retry succeeds. Adding a column changes nothing: the queries name their columns."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from registration.integration.conftest import Service, auth, citizen_body, settings_for
from support.http import assert_unavailable, served
from support.services import migrated_schema

from koshiqon.registration.bootstrap import MIGRATIONS, build_app

pytestmark = pytest.mark.integration


@pytest.fixture
async def service(admin_database_url: str) -> AsyncIterator[Service]:
    async with migrated_schema(admin_database_url, MIGRATIONS) as schema:
        # one connection: the next request meets the statement prepared before the change
        settings = settings_for(schema).model_copy(update={"db_pool_size": 1})
        app = build_app(settings)
        async with served(app, "http://registration") as client:
            yield Service(schema, app, client)


async def alter(service: Service, statement: str) -> None:
    async with service.schema.engine.begin() as conn:
        await conn.exec_driver_sql(statement)


async def test_a_column_added_under_the_api_changes_nothing(service: Service) -> None:
    person = await service.person()
    read = await service.client.get(f"/v1/persons/{person}", headers=auth())  # prepares it
    assert read.status_code == 200, read.text
    await alter(service, "ALTER TABLE persons ADD COLUMN note text")
    response = await service.client.get(f"/v1/persons/{person}", headers=auth())
    assert response.status_code == 200, response.text


async def test_a_column_type_changed_under_the_api_answers_503_once(service: Service) -> None:
    person = await service.person()
    read = await service.client.get(f"/v1/persons/{person}", headers=auth())  # prepares it
    assert read.status_code == 200, read.text
    await alter(service, "ALTER TABLE persons ALTER COLUMN ethnicity TYPE varchar(150)")
    first = await service.client.get(f"/v1/persons/{person}", headers=auth())
    assert_unavailable(first)
    again = await service.client.get(f"/v1/persons/{person}", headers=auth())
    assert again.status_code == 200, again.text
    created = await service.client.post("/v1/persons", json=citizen_body(), headers=auth())
    assert created.status_code == 201, created.text
