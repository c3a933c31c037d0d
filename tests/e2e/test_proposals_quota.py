"""The proposal-effect saga across the real services: quota and proposals each run as their
own process (`koshiqon-<service> all`) on their own schema, talking only through Kafka, with
a real HTTP server in monitoring's place for the evidence.

Each process is the service's own `ServiceDefinition` run as `all`, its worker given a
consumer group of this test's (started at the topics' ends), so that another run of the
services on the same broker (make up, another e2e test) does not take this test's events.
It cannot keep another quota service from answering this test's approvals too (any quota
answers every proposal-approved it reads, and its refusal, `no_quota` in its own schema,
would race this test's quota): like the resettlement e2e test, it expects no other quota
service on the broker while it runs, as `make test` runs the suite one test at a time.

Pavlodar's akimat proposes to raise the region's kandas quota; the ministry approves it, the
quota service grows the limit and the proposal ends `applied`. A later proposal to cut the
quota below what is already reserved is approved too, and ends `application_failed` with
quota's reason (`below_used`).
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from proposals.helpers import PAVLODAR, akimat, bearer, ministry, regional_quota
from proposals.kafka import start_at_the_end
from proposals.monitoring_standin import MonitoringStandIn
from support.kafka import wait_for
from support.services import ServiceSchema, migrated_schema

from koshiqon.common import kz
from koshiqon.proposals.bootstrap import MIGRATIONS as PROPOSALS_MIGRATIONS
from koshiqon.quota.bootstrap import MIGRATIONS as QUOTA_MIGRATIONS

pytestmark = pytest.mark.integration

YEAR = kz.kz_year(datetime.now(UTC))  # the processes run on the real clock: this year's quota
TOPICS = {"quota": ["registration.v1", "proposals.v1"], "proposals": ["quota.v1", "monitoring.v1"]}
LAUNCH = """
import functools, sys
from koshiqon.common.service import ServiceDefinition, run
from koshiqon.{name}.entrypoints.cli import SERVICE
worker = functools.partial(SERVICE.worker, group=sys.argv[1])
service = ServiceDefinition(SERVICE.name, SERVICE.settings, SERVICE.build_app, worker,
                            SERVICE.migrations)
raise SystemExit(run(service, ["all"]))
"""


@asynccontextmanager
async def service(
    name: str, schema: ServiceSchema, port: int, bootstrap: str, **extra: str
) -> AsyncIterator[httpx.AsyncClient]:
    prefix = name.upper()
    group = f"{name}-e2e-{uuid.uuid4().hex[:8]}"
    await start_at_the_end(bootstrap, group, TOPICS[name])
    env = {
        **os.environ,
        f"{prefix}_DATABASE_URL": schema.dsn,
        f"{prefix}_DATABASE_SCHEMA": schema.schema,
        f"{prefix}_HTTP_PORT": str(port),
        f"{prefix}_LOG_LEVEL": "WARNING",
        **{f"{prefix}_{key.upper()}": value for key, value in extra.items()},
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", LAUNCH.replace("{name}", name), group, env=env
    )
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
        try:
            await wait_for(lambda: _ready(client), timeout=60)
            yield client
        finally:
            process.terminate()
            assert await asyncio.wait_for(process.wait(), timeout=30) == 0


async def _ready(client: httpx.AsyncClient) -> bool:
    try:
        return (await client.get("/readyz")).status_code == 200
    except httpx.TransportError:
        return False


@pytest.fixture
async def schemas(admin_database_url: str) -> AsyncIterator[tuple[ServiceSchema, ServiceSchema]]:
    async with (
        migrated_schema(admin_database_url, QUOTA_MIGRATIONS) as quota,
        migrated_schema(admin_database_url, PROPOSALS_MIGRATIONS) as proposals,
    ):
        yield quota, proposals


async def decided(client: httpx.AsyncClient, delta: int) -> str:
    created = await client.post("/v1/proposals", headers=akimat(),
                                json=regional_quota(delta, horizon={"year": YEAR}))  # fmt: skip
    assert created.status_code == 201, created.text
    pid: str = created.json()["id"]
    for action, headers in (("submit", akimat()), ("review", ministry()), ("approve", ministry())):
        response = await client.post(f"/v1/proposals/{pid}/{action}", headers=headers)
        assert response.status_code == 200, response.text
    return pid


async def settled(client: httpx.AsyncClient, pid: str) -> dict[str, Any]:
    body: dict[str, Any] = {}

    async def answered() -> bool:
        nonlocal body
        body = (await client.get(f"/v1/proposals/{pid}", headers=ministry())).json()
        return body["status"] in ("applied", "application_failed")

    await wait_for(answered, timeout=60)
    return body


async def test_an_approved_quota_change_is_applied_and_a_cut_below_use_fails(
    schemas: tuple[ServiceSchema, ServiceSchema], bootstrap: str
) -> None:
    quota_schema, proposals_schema = schemas
    admin = bearer("quota:admin", "quota:read", "quota:reserve", subject="ministry")
    monitoring = MonitoringStandIn()
    await monitoring.start()
    try:
        async with (
            service("quota", quota_schema, 18432, bootstrap) as quota,
            service("proposals", proposals_schema, 18433, bootstrap, monitoring_url=monitoring.url)
            as proposals,
        ):  # fmt: skip
            territory = {"kato": PAVLODAR, "kind": "kandas", "effective_from": f"{YEAR}-01-01",
                         "decision": "Decree 1"}  # fmt: skip
            assert (await quota.post("/v1/territories", json=territory,
                                     headers=admin)).status_code == 201  # fmt: skip
            created = await quota.post("/v1/quotas", headers=admin, json={
                "kind": "kandas", "region": PAVLODAR, "year_from": YEAR, "limit": 100})  # fmt: skip
            assert created.status_code == 201, created.text
            quota_url = f"/v1/quotas/{created.json()['id']}"
            reservation = {"application_id": str(uuid.uuid4()), "kind": "kandas",
                           "region": PAVLODAR, "year": YEAR, "persons": 80}  # fmt: skip
            reserved = await quota.post("/v1/reservations", json=reservation, headers=admin)
            assert reserved.json()["outcome"] == "reserved", reserved.text

            increase = await settled(proposals, await decided(proposals, 50))
            assert increase["status"] == "applied", increase
            assert increase["evidence"]["status"] == "frozen"
            assert (await quota.get(quota_url, headers=admin)).json()["limit"] == 150

            cut = await settled(proposals, await decided(proposals, -100))
            assert cut["status"] == "application_failed"
            assert cut["failure"]["reason"] == "below_used"
            assert (await quota.get(quota_url, headers=admin)).json()["limit"] == 150
            history = (await quota.get(f"{quota_url}/history", headers=admin)).json()["items"]
            assert [h["proposal_id"] for h in history if h["proposal_id"]] == [increase["id"]]
    finally:
        await monitoring.stop()
