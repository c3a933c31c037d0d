"""`p_proposal_states`: one row per proposal with the stage of its latest event, projected by
the real worker from proposals.v1 on the real Kafka: every event twice and in the reverse of
their order, a returned proposal submitted again (its state is the later submission), a
tie in time going to the later step, a repeated approval changing nothing; then a rebuild
giving the same rows."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from monitoring.helpers import NORTH_KAZ, PAVLODAR, Clock
from monitoring.streams import Topics, envelope, fresh_topics, handled, produce, running_worker
from sqlalchemy import text
from support.kafka import wait_for
from support.services import ServiceSchema

from koshiqon.common.events import proposals as prop
from koshiqon.common.events.contracts import EventPayload
from koshiqon.common.events.envelope import Envelope
from koshiqon.monitoring.adapters.rebuild import rebuild
from koshiqon.monitoring.config import MonitoringSettings
from koshiqon.monitoring.domain.model import STAGE_RANK, project

pytestmark = pytest.mark.integration

T0 = datetime(2024, 2, 1, 9, 0, tzinfo=UTC)
QUOTA = prop.ProposalType.REGIONAL_QUOTA_CHANGE


@pytest.fixture
async def topics(bootstrap: str) -> Topics:
    return await fresh_topics(bootstrap)


@pytest.fixture
def group() -> str:
    return f"monitoring-test-{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def worker(
    schema: ServiceSchema, topics: Topics, group: str, clock: Clock, bootstrap: str
) -> AsyncIterator[MonitoringSettings]:
    settings = MonitoringSettings(
        database_url=schema.dsn, database_schema=schema.schema, environment="test",
        topics=topics.all, kafka_bootstrap_servers=bootstrap,
    )  # fmt: skip
    async with running_worker(settings, now=clock, group=group):
        yield settings


def script() -> tuple[dict[str, uuid.UUID], list[EventPayload]]:
    returned, applied, measures = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    effect = prop.AdjustQuotaEffect(kind="kandas", year=2024, delta=10, reason="more")
    h = timedelta(hours=1)
    events = [
        prop.ProposalSubmitted(proposal_id=returned, region=PAVLODAR, type=QUOTA,
                               evidence_status="frozen", review_due_at=T0, submitted_at=T0),
        prop.ProposalReturned(proposal_id=returned, region=PAVLODAR, type=QUOTA,
                              returned_at=T0 + h),
        prop.ProposalSubmitted(proposal_id=returned, region=PAVLODAR, type=QUOTA,
                               evidence_status="frozen", review_due_at=T0,
                               submitted_at=T0 + 2 * h),
        prop.ProposalSubmitted(proposal_id=applied, region=PAVLODAR, type=QUOTA,
                               evidence_status="pending", review_due_at=T0, submitted_at=T0),
        prop.ProposalApproved(proposal_id=applied, region=PAVLODAR, effect=effect, type=QUOTA,
                              approved_at=T0 + h),
        prop.ProposalApplied(proposal_id=applied, region=PAVLODAR, type=QUOTA,
                             applied_at=T0 + h),  # the same time as the approval
        prop.ProposalApproved(proposal_id=applied, region=PAVLODAR, effect=effect, type=QUOTA,
                              approved_at=T0 + 3 * h, repeat=True),  # a stuck one sent again
        prop.MeasuresProposalOpened(proposal_id=measures, region=NORTH_KAZ,
                                    alert_id=uuid.uuid4(), opened_at=T0),
    ]  # fmt: skip
    ids = {"returned": returned, "applied": applied, "measures": measures}
    return ids, events


def envelopes(events: list[Any]) -> list[Envelope]:
    return [envelope(e, e.proposal_id) for e in events]


async def states(schema: ServiceSchema) -> dict[uuid.UUID, tuple[object, ...]]:
    async with schema.engine.connect() as connection:
        result = await connection.execute(
            text(
                "SELECT proposal_id, region, type, stage, stage_at, first_at FROM p_proposal_states"
            )
        )
        return {r[0]: tuple(r[1:]) for r in result.all()}


def test_every_stage_projected_has_a_rank_and_an_id() -> None:
    _, events = script()
    stages = [s for e in events for s in project(e).proposals]
    assert {s.stage for s in stages} <= set(STAGE_RANK)
    assert all(isinstance(s.proposal_id, uuid.UUID) for s in stages)
    assert len(stages) == len(events) - 1  # the repeated approval projects nothing


async def test_each_proposal_has_the_stage_of_its_latest_event_whatever_the_order(
    worker: MonitoringSettings, topics: Topics, schema: ServiceSchema, bootstrap: str,
    group: str,
) -> None:  # fmt: skip
    ids, payloads = script()
    events = envelopes(payloads)
    await produce(bootstrap, topics.proposals, [e for e in reversed(events) for _ in range(2)])
    await wait_for(handled(schema, events), timeout=60)
    found = await states(schema)
    h = timedelta(hours=1)
    assert found == {
        ids["returned"]: (PAVLODAR, QUOTA.value, "submitted", T0 + 2 * h, T0),
        ids["applied"]: (PAVLODAR, QUOTA.value, "applied", T0 + h, T0),
        ids["measures"]: (NORTH_KAZ, "measures", "opened", T0, T0),
    }
    report = await rebuild(
        schema.engine, bootstrap=bootstrap, topics=topics.all, group=group, batch_size=3
    )
    assert report.replayed == len(events)
    assert await states(schema) == found
