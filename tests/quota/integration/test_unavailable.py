"""With its database away, the quota service (SQLAlchemy Core connections throughout) answers 503
problem+json with Retry-After, never a bare 500."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from quota.helpers import PAVLODAR, token
from support.http import DATABASE_AWAY, assert_unavailable, served

from koshiqon.quota.bootstrap import build_app
from koshiqon.quota.config import QuotaSettings

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def client() -> AsyncIterator[httpx.AsyncClient]:
    settings = QuotaSettings(
        database_url=DATABASE_AWAY,
        database_schema="quota",
        environment="test",
    )
    async with served(build_app(settings)) as client:
        yield client


async def test_a_read_answers_503(client: httpx.AsyncClient) -> None:
    assert_unavailable(await client.get("/v1/quotas", headers=token()))


async def test_a_write_answers_503(client: httpx.AsyncClient) -> None:
    body = {"kato": PAVLODAR, "kind": "kandas", "effective_from": "2026-01-01", "decision": "D"}
    assert_unavailable(await client.post("/v1/territories", json=body, headers=token()))
