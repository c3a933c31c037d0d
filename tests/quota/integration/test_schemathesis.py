"""Schemathesis against the ASGI app on the real PostgreSQL (support.fuzz): every operation
with a token holding every quota scope, every operation with tokens that must be refused,
and the document's links followed (a quota established, then read, adjusted; a territory
designated, then excluded; a reservation made, then released), each linked step tried with
the refused tokens first. No 5xx, every response as documented (status code, content type,
headers, body schema)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from quota.helpers import ALL_SCOPES, NORTH_KAZ, PAVLODAR, token
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

from koshiqon.devtools.devkey import issue_dev_token
from koshiqon.quota.bootstrap import MIGRATIONS, build_app
from koshiqon.quota.config import QuotaSettings

pytestmark = pytest.mark.integration

OPERATIONS = 12
SEEDS = [
    Seed("POST /v1/territories", body={"kato": NORTH_KAZ, "kind": "kandas",
                                       "effective_from": "2026-01-01", "decision": "Decree 7"}),
    Seed("POST /v1/quotas", body={"kind": "kandas", "region": NORTH_KAZ, "year_from": 2026,
                                  "limit": 100, "reference": "order 12"}),
    Seed("POST /v1/reservations", body={
        "application_id": "5d1c1c6e-9a59-4c39-9b43-7f0e8f3b2a10", "kind": "kandas",
        "region": NORTH_KAZ, "year": 2026, "persons": 3,
    }),
]  # fmt: skip


# the seeds' quota, territory and reservation are North Kazakhstan's: Pavlodar's akimat may
# not adjust or exclude (the ministry's, nationwide: 403), nor release another region's
# reservation (404: it does not see it)
OTHER_REGION = wrong_region(
    {
        "Authorization": "Bearer "
        + issue_dev_token(scopes=ALL_SCOPES, region=PAVLODAR, subject="akimat-pavlodar")
    },
    lambda operation: operation.startswith("POST /v1/") and "{" in operation,
    statuses=[403, 404],
)


@pytest.fixture(scope="module")
def fuzzed(admin_database_url: str) -> Iterator[tuple[QuotaSettings, Reset]]:
    """The app's settings on a schema of this module's, and what empties it again."""
    with fuzzed_schema(admin_database_url, MIGRATIONS) as (service, reset):
        yield (
            QuotaSettings(
                database_url=service.dsn, database_schema=service.schema, environment="test"
            ),
            reset,
        )


@pytest.fixture
def app(fuzzed: tuple[QuotaSettings, Reset]) -> FastAPI:
    """An app of its own for each test: its lifespan runs once, as in a process."""
    return build_app(fuzzed[0])


def test_every_operation_fuzzed_without_a_server_error(app: FastAPI) -> None:
    fuzz_every_operation(
        app, headers=[token(*ALL_SCOPES)], operations=OPERATIONS, examples=25, invalid=10
    )


def test_every_operation_refuses_a_bad_token_as_documented(app: FastAPI) -> None:
    seen = fuzz_refused(app, refused=refused_tokens(ALL_SCOPES), operations=OPERATIONS, examples=3)
    assert set(seen) == {401, 403}


def test_links_followed_and_each_linked_step_refuses_a_bad_token(
    app: FastAPI, fuzzed: tuple[QuotaSettings, Reset]
) -> None:
    reset = fuzzed[1]
    # a made-up id is never found: these go on from what a link gave them
    followed = ("GET /v1/quotas/{quota_id}", "POST /v1/reservations/{application_id}/release")
    answers = fuzz_stateful(
        app, headers=token(*ALL_SCOPES), reset=reset, seeds=SEEDS,
        refused=[*stateful_probes(refused_tokens(ALL_SCOPES)), OTHER_REGION],
        scenarios=25, steps=6, follow=followed,
    )  # fmt: skip
    for each in followed:
        assert answers.linked[each] > 0, answers
    assert answers.refused_probes > 0
