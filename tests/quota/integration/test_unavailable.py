"""With its database away, the quota service (SQLAlchemy sessions throughout) answers 503
problem+json with Retry-After, never a bare 500."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from quota.helpers import PAVLODAR, token

from koshiqon.quota.bootstrap import build_app
from koshiqon.quota.config import QuotaSettings

pytestmark = pytest.mark.integration

NOWHERE = "postgresql://quota:nothing@127.0.0.1:9/koshiqon"  # nothing listens on 9


@pytest.fixture(scope="module")
async def client() -> AsyncIterator[httpx.AsyncClient]:
    settings = QuotaSettings(
        database_url=NOWHERE,
        database_schema="quota",  # type: ignore[arg-type]
        environment="test",
    )
    app = build_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://q") as client:
            yield client


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert int(response.headers["retry-after"]) > 0


async def test_a_read_answers_503(client: httpx.AsyncClient) -> None:
    assert_unavailable(await client.get("/v1/quotas", headers=token()))


async def test_a_write_answers_503(client: httpx.AsyncClient) -> None:
    body = {"kato": PAVLODAR, "kind": "kandas", "effective_from": "2026-01-01", "decision": "D"}
    assert_unavailable(await client.post("/v1/territories", json=body, headers=token()))
