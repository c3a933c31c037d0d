"""Schemathesis over every operation of the OpenAPI document, against the ASGI app on the
real PostgreSQL, with a token holding every quota scope: no 5xx, and every response
conforms to the document (status code, content type, body schema)."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

import pytest
from quota.helpers import ALL_SCOPES, token
from support.fuzz import fuzz_every_operation
from support.services import migrated_schema

from koshiqon.quota.bootstrap import MIGRATIONS, build_app
from koshiqon.quota.config import QuotaSettings

pytestmark = pytest.mark.integration


def test_every_operation_fuzzed_without_a_server_error(admin_database_url: str) -> None:
    loop = asyncio.new_event_loop()
    stack = AsyncExitStack()
    service = loop.run_until_complete(
        stack.enter_async_context(migrated_schema(admin_database_url, MIGRATIONS))
    )
    try:
        settings_ = QuotaSettings(
            database_url=service.dsn, database_schema=service.schema, environment="test"
        )
        app = build_app(settings_)
        fuzz_every_operation(app, headers=[token(*ALL_SCOPES)], operations=12, examples=25)
    finally:
        loop.run_until_complete(stack.aclose())
        loop.close()
