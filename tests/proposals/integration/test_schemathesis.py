"""Schemathesis over every operation of the OpenAPI document, against the ASGI app on the
real PostgreSQL and a real HTTP server in monitoring's place, once with an akimat's token
and once with the ministry's (each holding every proposals scope): no 5xx, and every
response conforms to the document (status code, content type, body schema)."""

from __future__ import annotations

import asyncio
import threading
from contextlib import AsyncExitStack

import pytest
from proposals.helpers import PAVLODAR, bearer
from proposals.monitoring_standin import MonitoringStandIn
from support.fuzz import fuzz_every_operation
from support.services import migrated_schema

from koshiqon.proposals.bootstrap import MIGRATIONS, build_app
from koshiqon.proposals.config import ProposalsSettings

pytestmark = pytest.mark.integration

SCOPES = ("proposals:file", "proposals:decide", "proposals:read")


def test_every_operation_fuzzed_without_a_server_error(admin_database_url: str) -> None:
    loop = asyncio.new_event_loop()
    stack = AsyncExitStack()
    service = loop.run_until_complete(
        stack.enter_async_context(migrated_schema(admin_database_url, MIGRATIONS))
    )
    # the app runs on the ASGI client's own loop: the stand-in serves from a thread of its own
    monitoring, served = MonitoringStandIn(), asyncio.new_event_loop()
    thread = threading.Thread(target=served.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(monitoring.start(), served).result(timeout=10)
    try:
        settings_ = ProposalsSettings(
            database_url=service.dsn, database_schema=service.schema, environment="test",
            monitoring_url=monitoring.url, evidence_timeout_seconds=0.3,
        )  # fmt: skip
        app = build_app(settings_)
        tokens = [bearer(*SCOPES, region=PAVLODAR), bearer(*SCOPES)]
        fuzz_every_operation(app, headers=tokens, operations=15, examples=10)
    finally:
        asyncio.run_coroutine_threadsafe(monitoring.stop(), served).result(timeout=10)
        served.call_soon_threadsafe(served.stop)
        thread.join(timeout=10)
        served.close()
        loop.run_until_complete(stack.aclose())
        loop.close()
