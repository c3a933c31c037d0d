"""Schemathesis against the ASGI app on the real PostgreSQL with the shipped public series
loaded (so the forecast answers too; support.fuzz): every operation with a token holding
both monitoring scopes, every operation with tokens that must be refused, and the
document's links followed (figures imported, then listed), each linked step tried with the
refused tokens first. No 5xx, every response as documented (status code, content type,
headers, body schema)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from monitoring.helpers import ALL_SCOPES, PAVLODAR, token
from support.fuzz import (
    Reset,
    Seed,
    fuzz_every_operation,
    fuzz_refused,
    fuzz_stateful,
    fuzzed_schema,
    refused_tokens,
    stateful_probes,
)
from support.reference import DATA
from support.services import ServiceSchema

from koshiqon.monitoring.adapters.reference import load_reference
from koshiqon.monitoring.bootstrap import MIGRATIONS, build_app, sql_bus
from koshiqon.monitoring.config import MonitoringSettings

pytestmark = pytest.mark.integration

OPERATIONS = 8
SEEDS = [
    Seed(
        "POST /v1/statistics/{dataset}",
        path={"dataset": "population"},
        body={
            "source": "BNS, fuzzing seed",
            "rows": [{"kato": PAVLODAR, "date": "2025-01-01", "total": 750000}],
        },
    )
]


@pytest.fixture(scope="module")
def fuzzed(admin_database_url: str) -> Iterator[tuple[MonitoringSettings, Reset]]:
    """The app's settings on a schema of this module's loaded with the reference data (kept
    between stateful scenarios), and what empties the rest again."""

    async def loaded(service: ServiceSchema) -> object:
        return await load_reference(sql_bus(service.engine), DATA)

    with fuzzed_schema(admin_database_url, MIGRATIONS, prepare=loaded) as (service, reset):
        yield (
            MonitoringSettings(
                database_url=service.dsn, database_schema=service.schema, environment="test"
            ),
            reset,
        )


@pytest.fixture
def app(fuzzed: tuple[MonitoringSettings, Reset]) -> FastAPI:
    """An app of its own for each test: its lifespan runs once, as in a process."""
    return build_app(fuzzed[0])


def test_every_operation_fuzzed_without_a_server_error(app: FastAPI) -> None:
    fuzz_every_operation(
        app, headers=[token(*ALL_SCOPES)], operations=OPERATIONS, examples=30, invalid=10
    )


def test_every_operation_refuses_a_bad_token_as_documented(app: FastAPI) -> None:
    seen = fuzz_refused(app, refused=refused_tokens(ALL_SCOPES), operations=OPERATIONS, examples=3)
    assert set(seen) == {401, 403}


def test_links_followed_and_each_linked_step_refuses_a_bad_token(
    app: FastAPI, fuzzed: tuple[MonitoringSettings, Reset]
) -> None:
    reset = fuzzed[1]
    answers = fuzz_stateful(
        app, headers=token(*ALL_SCOPES), reset=reset, seeds=SEEDS,
        refused=stateful_probes(refused_tokens(ALL_SCOPES)), scenarios=20, steps=5,
        follow=["GET /v1/statistics/{dataset}"],
    )  # fmt: skip
    assert answers.linked["GET /v1/statistics/{dataset}"] > 0, answers
    assert answers.refused_probes > 0
