"""Fixtures of the proposals service's tests: a schema built by the service's real
migrations (one per module, as the tests in a module use proposals of their own), a real
HTTP server in monitoring's place, the app and the bus over them, and a clock the test
moves (helpers: proposals/helpers.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from proposals.helpers import Clock
from proposals.monitoring_standin import MonitoringStandIn
from support.http import served
from support.services import ServiceSchema, migrated_schema

from koshiqon.proposals.bootstrap import (
    MIGRATIONS,
    build_app,
    monitoring_client,
    policy_of,
    sql_bus,
)
from koshiqon.proposals.bus import Bus
from koshiqon.proposals.config import ProposalsSettings


@pytest.fixture(scope="module")
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="module")
async def standin() -> AsyncIterator[MonitoringStandIn]:
    server = MonitoringStandIn()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
def monitoring(standin: MonitoringStandIn) -> MonitoringStandIn:
    """The stand-in, answering the indicators, its requests forgotten."""
    standin.reset()
    return standin


@pytest.fixture(scope="module")
async def schema(admin_database_url: str) -> AsyncIterator[ServiceSchema]:
    async with migrated_schema(admin_database_url, MIGRATIONS) as s:
        yield s


@pytest.fixture(scope="module")
def settings(schema: ServiceSchema, standin: MonitoringStandIn) -> ProposalsSettings:
    return ProposalsSettings(
        database_url=schema.dsn,
        database_schema=schema.schema,
        environment="test",
        monitoring_url=standin.url,
        evidence_timeout_seconds=0.3,
        evidence_backoff_seconds=0.05,
        stuck_after_seconds=600,
        review_deadline_days=10,
    )


@pytest.fixture(scope="module")
async def bus(
    schema: ServiceSchema, settings: ProposalsSettings, clock: Clock
) -> AsyncIterator[Bus]:
    evidence = monitoring_client(settings)
    try:
        yield sql_bus(schema.engine, evidence=evidence, now=clock, policy=policy_of(settings))
    finally:
        await evidence.aclose()


@pytest.fixture(scope="module")
async def client(settings: ProposalsSettings, clock: Clock) -> AsyncIterator[httpx.AsyncClient]:
    async with served(build_app(settings, now=clock), "http://proposals") as http:
        yield http
