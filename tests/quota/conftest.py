"""Fixtures of the quota service's tests: a schema built by the service's real migrations,
the bus and the app over it, and a clock the test moves (helpers: quota/helpers.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from quota.helpers import Clock
from support.http import served
from support.services import ServiceSchema, migrated_schema

from koshiqon.quota.bootstrap import MIGRATIONS, Bus, build_app
from koshiqon.quota.config import QuotaSettings


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def schema(admin_database_url: str) -> AsyncIterator[ServiceSchema]:
    async with migrated_schema(admin_database_url, MIGRATIONS) as s:
        yield s


@pytest.fixture
def settings(schema: ServiceSchema) -> QuotaSettings:
    return QuotaSettings(database_url=schema.dsn, database_schema=schema.schema, environment="test")  # type: ignore[arg-type]


@pytest.fixture
def bus(schema: ServiceSchema, clock: Clock) -> Bus:
    return Bus(schema.sessions, clock)


@pytest.fixture
async def client(settings: QuotaSettings, clock: Clock) -> AsyncIterator[httpx.AsyncClient]:
    async with served(build_app(settings, clock=clock), "http://quota") as http:
        yield http
