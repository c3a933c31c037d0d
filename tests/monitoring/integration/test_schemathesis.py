"""Schemathesis over every operation of the OpenAPI document, against the ASGI app on the
real PostgreSQL with the shipped public series loaded (so the forecast answers too), with a
token holding both monitoring scopes: no 5xx, and every response conforms to the document
(status code, content type, body schema)."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

import pytest
from monitoring.helpers import ALL_SCOPES, token
from support.fuzz import fuzz_every_operation
from support.reference import DATA
from support.services import migrated_schema

from koshiqon.monitoring.adapters.reference import load_reference
from koshiqon.monitoring.bootstrap import MIGRATIONS, build_app, sql_bus
from koshiqon.monitoring.config import MonitoringSettings

pytestmark = pytest.mark.integration


def test_every_operation_fuzzed_without_a_server_error(admin_database_url: str) -> None:
    loop = asyncio.new_event_loop()
    stack = AsyncExitStack()
    service = loop.run_until_complete(
        stack.enter_async_context(migrated_schema(admin_database_url, MIGRATIONS))
    )
    try:
        loop.run_until_complete(load_reference(sql_bus(service.engine), DATA))
        settings_ = MonitoringSettings(
            database_url=service.dsn, database_schema=service.schema, environment="test"
        )
        app = build_app(settings_)
        fuzz_every_operation(app, headers=[token(*ALL_SCOPES)], operations=8, examples=30)
    finally:
        loop.run_until_complete(stack.aclose())
        loop.close()
