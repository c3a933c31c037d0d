"""Property-based tests of the whole API from its OpenAPI document (schemathesis): with valid
tokens (read, write and audit, nationwide), no response is a 5xx and every response matches
the documented schema. Bounded examples with a fixed seed keep it fast and repeatable."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance
from support.services import ServiceSchema, migrated_schema

from koshiqon.devtools.devkey import issue_dev_token
from koshiqon.registration.bootstrap import MIGRATIONS, build_app
from koshiqon.registration.config import RegistrationSettings

pytestmark = pytest.mark.integration

HEADERS = {
    "Authorization": "Bearer "
    + issue_dev_token(
        scopes=["registration:read", "registration:write", "registration:audit"],
        subject="schemathesis",
        ttl_seconds=3600,
    )
}


@pytest.fixture(scope="module")
async def fuzz_schema(admin_database_url: str) -> AsyncIterator[ServiceSchema]:
    async with migrated_schema(admin_database_url, MIGRATIONS) as schema:
        yield schema


@pytest.fixture(scope="module")
def api_schema(fuzz_schema: ServiceSchema) -> Any:
    """The app runs in schemathesis' own event loop (its ASGI client starts the lifespan),
    so it gets an engine of its own, bound to the same throwaway schema."""
    app = build_app(
        RegistrationSettings(
            database_url=fuzz_schema.dsn,  # type: ignore[arg-type]
            database_schema=fuzz_schema.schema,
            environment="test",
            db_pool_size=5,
        )
    )
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def test_no_server_errors_and_responses_match_the_schema(api_schema: Any) -> None:
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) == 12
    statuses: list[int] = []
    for operation in operations:
        exercise(operation, statuses)
    assert 401 not in statuses  # the token was accepted throughout
    assert any(200 <= s < 300 for s in statuses), sorted(set(statuses))


def exercise(operation: Any, statuses: list[int]) -> None:
    @given(case=operation.as_strategy())
    @settings(
        max_examples=25,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any) -> None:
        response = case.call(headers=HEADERS)
        statuses.append(response.status_code)
        case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])

    check()
