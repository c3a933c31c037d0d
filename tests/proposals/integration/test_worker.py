"""`koshiqon-proposals worker` as its own process, through the real `service.run(...,
["worker"])` path with a consumer group of the test's own: its probe answers ready once the
database, the brokers, the schema and the group's dead-letter topic are there, and its
metrics carry the proposals' own (the stuck gauge the follow-up sets)."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import uuid

import httpx
import pytest
from proposals.monitoring_standin import MonitoringStandIn
from support.kafka import wait_for
from support.services import ServiceSchema

pytestmark = pytest.mark.integration

WORKER = """
import functools, sys
from koshiqon.common.service import ServiceDefinition, run
from koshiqon.proposals.entrypoints.cli import SERVICE
worker = functools.partial(SERVICE.worker, group=sys.argv[1])
raise SystemExit(run(ServiceDefinition(SERVICE.name, SERVICE.settings, SERVICE.build_app,
                                       worker, SERVICE.migrations), ["worker"]))
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def test_the_worker_is_ready_and_reports_stuck_proposals(
    schema: ServiceSchema, standin: MonitoringStandIn
) -> None:
    group, port = f"proposals-probe-{uuid.uuid4().hex[:8]}", free_port()
    env = {**os.environ, "PROPOSALS_DATABASE_URL": schema.dsn,
           "PROPOSALS_DATABASE_SCHEMA": schema.schema, "PROPOSALS_WORKER_PROBE_PORT": str(port),
           "PROPOSALS_MONITORING_URL": standin.url, "PROPOSALS_LOG_LEVEL": "WARNING"}  # fmt: skip
    process = await asyncio.create_subprocess_exec(sys.executable, "-c", WORKER, group, env=env)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:

        async def ready() -> bool:
            try:
                return (await client.get("/readyz")).status_code == 200
            except httpx.TransportError:
                return False

        try:
            await wait_for(ready, timeout=60)
            checks = (await client.get("/readyz")).json()["checks"]
            assert checks == {"database": "ok", "kafka": "ok", "migrations": "ok",
                              f"dlq:{group}": "ok"}  # fmt: skip
            assert "koshiqon_proposals_stuck 0.0" in (await client.get("/metrics")).text
        finally:
            process.terminate()
            assert await asyncio.wait_for(process.wait(), timeout=30) == 0
