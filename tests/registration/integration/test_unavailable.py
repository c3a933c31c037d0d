"""With its database away, the registration service answers 503 problem+json with
Retry-After, reads and writes alike, and says so on /readyz: never a bare 500."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from registration.integration.conftest import auth, citizen_body
from support.http import DATABASE_AWAY, assert_unavailable, served

from koshiqon.registration.bootstrap import build_app
from koshiqon.registration.config import RegistrationSettings

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def client() -> AsyncIterator[httpx.AsyncClient]:
    settings = RegistrationSettings(
        database_url=DATABASE_AWAY,
        database_schema="registration",  # type: ignore[arg-type]
        environment="test",
    )
    async with served(build_app(settings)) as client:
        yield client


async def test_a_write_answers_503(client: httpx.AsyncClient) -> None:
    assert_unavailable(await client.post("/v1/persons", json=citizen_body(), headers=auth()))


async def test_a_read_answers_503(client: httpx.AsyncClient) -> None:
    person = "6f1c2a34-8a7e-4a57-9d55-0b8a0f3e7c11"
    assert_unavailable(await client.get(f"/v1/persons/{person}", headers=auth()))


async def test_an_idempotent_write_answers_503(client: httpx.AsyncClient) -> None:
    """The Idempotency-Key layer reaches the database before the route does."""
    headers = {**auth(), "Idempotency-Key": "k-unavailable-1"}
    assert_unavailable(await client.post("/v1/persons", json=citizen_body(), headers=headers))


async def test_readiness_names_the_database(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 503
    assert "database" in response.json()["failing"]


async def test_the_openapi_document_names_the_503(client: httpx.AsyncClient) -> None:
    operation = (await client.get("/openapi.json")).json()["paths"]["/v1/persons"]["post"]
    assert "Retry-After" in operation["responses"]["503"]["headers"]
