"""Schemathesis against the ASGI app on the real PostgreSQL and a real HTTP server in
monitoring's place (support.fuzz): every operation with an akimat's token and with the
ministry's (each holding every proposals scope), every operation with tokens that must be
refused, and the document's links followed: a proposal filed by the akimat, then read,
edited (`If-Match` its ETag), submitted, withdrawn by the akimat or reviewed, approved,
rejected, returned by the ministry; a region's rules drafted, then read, diffed, approved.
Each linked step is tried with the refused tokens first. No 5xx, every response as
documented (status code, content type, headers, body schema)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from proposals.helpers import NORTH_KAZ, PAVLODAR, bearer, regional_quota
from proposals.monitoring_standin import MonitoringStandIn
from support.fuzz import (
    Headers,
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

from koshiqon.proposals.bootstrap import MIGRATIONS, build_app
from koshiqon.proposals.config import ProposalsSettings

pytestmark = pytest.mark.integration

SCOPES = ("proposals:file", "proposals:decide", "proposals:read")
OPERATIONS = 15
AKIMAT, MINISTRY = bearer(*SCOPES, region=PAVLODAR), bearer(*SCOPES)
DECISIONS = ("review", "approve", "reject", "return")
SEEDS = [
    Seed("POST /v1/proposals", body=regional_quota()),
    Seed(
        "POST /v1/regions/{kato}/rules",
        path={"kato": PAVLODAR},
        body={"title": "Rules of resettlement", "text": "# Rules\n\nFirst version."},
    ),
]


# the seeds are Pavlodar's: to North Kazakhstan's akimat its proposals do not exist (404),
# and it may neither read nor change its rules (403)
OTHER_REGION = wrong_region(
    bearer(*SCOPES, region=NORTH_KAZ, subject="akimat-north-kazakhstan"),
    lambda operation: "{proposal_id}" in operation or "{kato}" in operation,
    statuses=[403, 404],
)


@pytest.fixture(scope="module")
def fuzzed(admin_database_url: str) -> Iterator[tuple[ProposalsSettings, Reset]]:
    """The app's settings on a schema of this module's, and what empties it again; the
    stand-in for monitoring serves from a thread of its own, given time enough to answer
    every evidence request however loaded the machine (the thread shares the GIL with the
    fuzzer): a submit whose evidence timed out answers otherwise than one whose evidence
    came, and a scenario then replays differently (Hypothesis: inconsistent generation)."""
    monitoring, served = MonitoringStandIn(), asyncio.new_event_loop()
    thread = threading.Thread(target=served.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(monitoring.start(), served).result(timeout=10)
    try:
        with fuzzed_schema(admin_database_url, MIGRATIONS) as (service, reset):
            yield ProposalsSettings(
                database_url=service.dsn, database_schema=service.schema, environment="test",
                monitoring_url=monitoring.url, evidence_timeout_seconds=10,
            ), reset  # fmt: skip
    finally:
        asyncio.run_coroutine_threadsafe(monitoring.stop(), served).result(timeout=10)
        served.call_soon_threadsafe(served.stop)
        thread.join(timeout=10)
        served.close()


@pytest.fixture
def app(fuzzed: tuple[ProposalsSettings, Reset]) -> FastAPI:
    """An app of its own for each test: its lifespan runs once, as in a process."""
    return build_app(fuzzed[0])


def test_every_operation_fuzzed_without_a_server_error(app: FastAPI) -> None:
    fuzz_every_operation(
        app, headers=[AKIMAT, MINISTRY], operations=OPERATIONS, examples=10, invalid=10
    )


def test_every_operation_refuses_a_bad_token_as_documented(app: FastAPI) -> None:
    seen = fuzz_refused(app, refused=refused_tokens(SCOPES), operations=OPERATIONS, examples=3)
    assert set(seen) == {401, 403}


def by_role(operation: str) -> Headers:
    """The ministry decides; the akimat files, edits, submits, withdraws and reads."""
    return MINISTRY if operation.rsplit("/", 1)[-1] in DECISIONS else AKIMAT


def test_links_followed_and_each_linked_step_refuses_a_bad_token(
    app: FastAPI, fuzzed: tuple[ProposalsSettings, Reset]
) -> None:
    reset = fuzzed[1]
    # a made-up id is never found: these go on from what a link gave them
    followed = ("GET /v1/proposals/{proposal_id}", "POST /v1/proposals/{proposal_id}/submit")
    answers = fuzz_stateful(
        app, headers=by_role, reset=reset, seeds=SEEDS,
        refused=[*stateful_probes(refused_tokens(SCOPES)), OTHER_REGION], scenarios=25, steps=6,
        follow=followed,
    )  # fmt: skip
    for each in followed:
        assert answers.linked[each] > 0, answers
    assert answers.refused_probes > 0
