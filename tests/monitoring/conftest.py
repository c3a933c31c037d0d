"""Fixtures of the monitoring service's tests: a schema built by the service's real
migrations, the bus (`bootstrap.sql_bus`) and the app over it, and a clock the test moves
(helpers: monitoring/helpers.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from monitoring.helpers import Clock
from support.http import served
from support.services import ServiceSchema, migrated_schema

from koshiqon.monitoring.bootstrap import MIGRATIONS, build_app, sql_bus
from koshiqon.monitoring.bus import Bus
from koshiqon.monitoring.config import MonitoringSettings


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def schema(admin_database_url: str) -> AsyncIterator[ServiceSchema]:
    async with migrated_schema(admin_database_url, MIGRATIONS) as s:
        yield s


@pytest.fixture
def settings(schema: ServiceSchema) -> MonitoringSettings:
    return MonitoringSettings(
        database_url=schema.dsn, database_schema=schema.schema, environment="test"
    )


@pytest.fixture
def bus(schema: ServiceSchema, clock: Clock) -> Bus:
    return sql_bus(schema.engine, now=clock)


@pytest.fixture
async def client(settings: MonitoringSettings, clock: Clock) -> AsyncIterator[httpx.AsyncClient]:
    async with served(build_app(settings, now=clock), "http://monitoring") as http:
        yield http
