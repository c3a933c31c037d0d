"""`koshiqon-quota worker` serves its probes (issue 12 item 10): `/readyz` answers ready
only while the database, the brokers, the schema and the consumer group's dead-letter topic
are there, and a dead-letter topic the broker refuses to create (a replication factor of 3
on the single local broker, from `QUOTA_KAFKA_DLQ_REPLICATION_FACTOR`) is a 503 naming it.

The worker runs as its own process through the real `service.run(..., ["worker"])` path,
with a consumer group of its own (so that other tests' groups and topics are untouched)."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from support.kafka import wait_for
from support.services import ServiceSchema, migrated_schema

from koshiqon.quota.bootstrap import MIGRATIONS

pytestmark = pytest.mark.integration

# the quota service's definition with a consumer group of the test's own
WORKER = """
import functools, sys
from koshiqon.common.service import ServiceDefinition, run
from koshiqon.quota.bootstrap import MIGRATIONS, build_app, build_worker
from koshiqon.quota.config import QuotaSettings
worker = functools.partial(build_worker, group=sys.argv[1])
raise SystemExit(run(ServiceDefinition("quota", QuotaSettings, build_app, worker, MIGRATIONS),
                     ["worker"]))
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
async def schema(admin_database_url: str) -> AsyncIterator[ServiceSchema]:
    async with migrated_schema(admin_database_url, MIGRATIONS) as schema:
        yield schema


@asynccontextmanager
async def worker(schema: ServiceSchema, **env: str) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    group = f"quota-probe-{uuid.uuid4().hex[:8]}"
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", WORKER, group,
        env={**os.environ, "QUOTA_DATABASE_URL": schema.dsn,
             "QUOTA_DATABASE_SCHEMA": schema.schema, "QUOTA_WORKER_PROBE_PORT": str(port),
             "QUOTA_LOG_LEVEL": "WARNING", **env},
    )  # fmt: skip
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
        try:
            await wait_for(lambda: _listening(client), timeout=60)
            yield client, group
        finally:
            process.terminate()
            assert await asyncio.wait_for(process.wait(), timeout=30) == 0


async def _listening(client: httpx.AsyncClient) -> bool:
    try:
        return (await client.get("/livez")).status_code == 200
    except httpx.TransportError:
        return False


async def test_the_worker_is_ready_once_its_dead_letter_topic_exists(schema: ServiceSchema) -> None:
    async with worker(schema) as (client, group):

        async def ready() -> bool:
            return (await client.get("/readyz")).status_code == 200

        await wait_for(ready, timeout=60)
        checks = (await client.get("/readyz")).json()["checks"]
        assert checks == {
            "database": "ok",
            "kafka": "ok",
            "migrations": "ok",
            f"dlq:{group}": "ok",
        }
        metrics = await client.get("/metrics")
        assert "koshiqon_outbox_relay_active" in metrics.text


async def test_a_dead_letter_topic_the_broker_refuses_makes_the_worker_not_ready(
    schema: ServiceSchema,
) -> None:
    async with worker(schema, QUOTA_KAFKA_DLQ_REPLICATION_FACTOR="3") as (client, group):
        response = await client.get("/readyz")
        assert response.status_code == 503
        problem = response.json()
        assert problem["failing"] == [f"dlq:{group}"]
        assert problem["checks"]["database"] == "ok"
        assert (await client.get("/livez")).status_code == 200  # alive, only not ready
