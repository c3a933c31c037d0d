"""Schemathesis over every operation of the OpenAPI document, against the ASGI app on the
real PostgreSQL, with a token holding both monitoring scopes: no 5xx, and every response
conforms to the document (status code, content type, body schema)."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from monitoring.helpers import ALL_SCOPES, token
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from support.services import migrated_schema

from koshiqon.monitoring.bootstrap import MIGRATIONS, build_app
from koshiqon.monitoring.config import MonitoringSettings

pytestmark = pytest.mark.integration

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
EXAMPLES = 30


def test_every_operation_fuzzed_without_a_server_error(admin_database_url: str) -> None:
    loop = asyncio.new_event_loop()
    stack = AsyncExitStack()
    service = loop.run_until_complete(
        stack.enter_async_context(migrated_schema(admin_database_url, MIGRATIONS))
    )
    try:
        settings_ = MonitoringSettings(
            database_url=service.dsn, database_schema=service.schema, environment="test"
        )
        app = build_app(settings_)
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) == 7
        headers = token(*ALL_SCOPES)
        with asgi.get_client(app) as client:
            for operation in operations:
                _fuzz(operation.as_strategy(), client=client, headers=headers)
    finally:
        loop.run_until_complete(stack.aclose())
        loop.close()


def _fuzz(strategy: st.SearchStrategy, *, client: object, headers: dict[str, str]) -> None:
    @given(case=strategy)
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    def run(case: schemathesis.Case) -> None:
        case.call_and_validate(session=client, headers=headers, checks=CHECKS)  # type: ignore[arg-type]

    run()
