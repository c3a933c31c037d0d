"""Schemathesis against the ASGI app on the real PostgreSQL (support.fuzz): every operation
with a token holding every registration scope (nationwide), every operation with tokens
that must be refused, and the document's links followed: a person registered, then read,
given a residence (then ended), emigrated, audited; a resettlement application filed, then
read and withdrawn. Each linked step is tried with the refused tokens first. No 5xx, every
response as documented (status code, content type, headers, body schema). Bounded examples
with a fixed seed keep it fast and repeatable."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from datetime import date
from typing import Any

import pytest
from fastapi import FastAPI
from registration.integration.conftest import ALL_SCOPES, auth, citizen_body, make_iin
from support.fuzz import (
    Reset,
    Seed,
    fuzz_every_operation,
    fuzz_refused,
    fuzz_stateful,
    fuzzed_schema,
    refused_tokens,
    stateful_probes,
    wrong_region,
)

from koshiqon.registration.bootstrap import MIGRATIONS, build_app
from koshiqon.registration.config import RegistrationSettings

pytestmark = pytest.mark.integration

OPERATIONS = 12
NORTH_KAZ = "590000000"
HEADERS = auth(*ALL_SCOPES)
BIRTH = date(1984, 5, 17)


def _person(earlier: Sequence[Any]) -> dict[str, str]:
    return {"person_id": earlier[0]["id"]}


SEEDS = [
    Seed(
        "POST /v1/persons",
        body=citizen_body(
            iin=make_iin(BIRTH, rng=random.Random(2026)),
            birth_date=BIRTH.isoformat(),
            sex="male",
            surname_latin="Abenov",
            surname_cyrillic="Абенов",
        ),
    ),
    Seed(
        "POST /v1/persons/{person_id}/residences",
        path=_person,
        body={
            "kind": "permanent",
            "valid_from": "2020-01-01",
            "address": {"kato": "591010000", "street": "Abaya", "building": "1"},
        },
    ),
    Seed(
        "POST /v1/resettlement-applications",
        body=lambda earlier: {
            "applicant_id": earlier[0]["id"],
            "category": "migrant",
            "target_region": NORTH_KAZ,
            "target_year": 2026,
        },
    ),
]


# the seeds' person lives in North Kazakhstan and applies there: Pavlodar's akimat may not
# read or change them
OTHER_REGION = wrong_region(
    auth(*ALL_SCOPES, region="550000000", subject="akimat-pavlodar"),
    lambda operation: "{person_id}" in operation or "{application_id}" in operation,
    statuses=[403, 404],
)


@pytest.fixture(scope="module")
def fuzzed(admin_database_url: str) -> Iterator[tuple[RegistrationSettings, Reset]]:
    """The app's settings on a schema of this module's, and what empties it again."""
    with fuzzed_schema(admin_database_url, MIGRATIONS) as (service, reset):
        yield (
            RegistrationSettings(
                database_url=service.dsn,
                database_schema=service.schema,
                environment="test",
                db_pool_size=5,
            ),
            reset,
        )


@pytest.fixture
def app(fuzzed: tuple[RegistrationSettings, Reset]) -> FastAPI:
    """An app of its own for each test: its lifespan runs once, as in a process."""
    return build_app(fuzzed[0])


def test_every_operation_fuzzed_without_a_server_error(app: FastAPI) -> None:
    fuzz_every_operation(app, headers=[HEADERS], operations=OPERATIONS, examples=25, invalid=10)


def test_every_operation_refuses_a_bad_token_as_documented(app: FastAPI) -> None:
    seen = fuzz_refused(app, refused=refused_tokens(ALL_SCOPES), operations=OPERATIONS, examples=3)
    assert set(seen) == {401, 403}


def test_links_followed_and_each_linked_step_refuses_a_bad_token(
    app: FastAPI, fuzzed: tuple[RegistrationSettings, Reset]
) -> None:
    reset = fuzzed[1]
    # a made-up id is never found: these go on from what a link gave them
    followed = ("GET /v1/persons/{person_id}", "GET /v1/resettlement-applications/{application_id}")
    answers = fuzz_stateful(
        app, headers=HEADERS, reset=reset, seeds=SEEDS,
        refused=[*stateful_probes(refused_tokens(ALL_SCOPES)), OTHER_REGION],
        scenarios=25, steps=6, follow=followed,
    )  # fmt: skip
    for each in followed:
        assert answers.linked[each] > 0, answers
    assert answers.refused_probes > 0
