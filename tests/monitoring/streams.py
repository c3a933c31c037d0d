"""Scripted event streams for the monitoring tests: the other services' events built from
their contracts, published by a raw producer onto topics of the test's own (so the
projections start from empty topics and a rebuild replays exactly the test's events)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime

from aiokafka import AIOKafkaProducer
from support.services import ServiceSchema

from koshiqon.common.events import proposals as prop
from koshiqon.common.events import quota as q
from koshiqon.common.events import registration as reg
from koshiqon.common.events.contracts import EventPayload, make_event
from koshiqon.common.events.envelope import Envelope
from koshiqon.common.topics import TopicSpec, ensure_topics
from koshiqon.common.worker import run_components
from koshiqon.monitoring.bootstrap import build_worker
from koshiqon.monitoring.config import MonitoringSettings

AT = datetime(2024, 1, 20, 10, 0, tzinfo=UTC)
DAY = date(2024, 1, 20)


@dataclass(frozen=True)
class Topics:
    registration: str
    quota: str
    proposals: str

    @property
    def all(self) -> tuple[str, str, str]:
        return (self.registration, self.quota, self.proposals)


async def fresh_topics(bootstrap: str) -> Topics:
    suffix = uuid.uuid4().hex[:8]
    topics = Topics(f"registration.v1.mon-{suffix}", f"quota.v1.mon-{suffix}",
                    f"proposals.v1.mon-{suffix}")  # fmt: skip
    await ensure_topics(
        bootstrap,
        [TopicSpec(topics.registration, 4), TopicSpec(topics.quota, 2),
         TopicSpec(topics.proposals, 1)],
    )  # fmt: skip
    return topics


def envelope(payload: EventPayload, subject: object) -> Envelope:
    return make_event(payload, subject=str(subject), source="/test", correlation_id="mon-test")


async def produce(bootstrap: str, topic: str, events: Sequence[Envelope]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        for e in events:
            await producer.send_and_wait(topic, e.to_bytes(), key=e.subject.encode())
    finally:
        await producer.stop()


def handled(schema: ServiceSchema, events: Sequence[Envelope]):  # type: ignore[no-untyped-def]
    ids = list({e.id for e in events})

    async def reached() -> bool:
        sql = "SELECT count(*) FROM processed_events WHERE event_id = ANY(:ids)"
        return await schema.scalar(sql, ids=ids) == len(ids)

    return reached


@asynccontextmanager
async def running_worker(
    settings: MonitoringSettings, *, now: object, group: str
) -> AsyncIterator[None]:
    stop = asyncio.Event()
    async with build_worker(settings, now=now, group=group) as components:  # type: ignore[arg-type]
        task = asyncio.create_task(run_components(components, stop=stop))
        try:
            yield
        finally:
            stop.set()
            await asyncio.wait_for(task, timeout=30)


# --- events -----------------------------------------------------------------------------------


def registered(person: uuid.UUID, *, kandas: bool, status: str = "citizen") -> Envelope:
    return envelope(
        reg.PersonRegistered(person_id=person, legal_status=status, kandas=kandas,
                             registered_at=AT),
        person,
    )  # fmt: skip


def immigrated(person: uuid.UUID, region: str, *, country: str = "CHN",
               on: date = DAY) -> Envelope:  # fmt: skip
    return envelope(
        reg.PersonImmigrated(
            person_id=person, legal_status="citizen", country_of_origin=country,
            kind="permanent", region=region, settlement=region[:2] + "1010000", arrived_on=on,
        ),
        person,
    )  # fmt: skip


def emigrated(person: uuid.UUID, region: str, *, kandas: bool | None = None,
              on: date = DAY) -> Envelope:  # fmt: skip
    return envelope(
        reg.PersonEmigrated(
            person_id=person, legal_status="foreigner", destination_country="RUS",
            region=region, departed_on=on, kandas=kandas,
        ),
        person,
    )  # fmt: skip


def moved(person: uuid.UUID, origin: str, target: str, *, on: date = DAY) -> Envelope:
    return envelope(
        reg.PersonMoved(
            person_id=person, legal_status="citizen", from_region=origin, to_region=target,
            from_settlement=origin[:2] + "1010000", to_settlement=target, moved_on=on,
        ),
        person,
    )  # fmt: skip


def stay(person: uuid.UUID, region: str) -> Envelope:
    return envelope(
        reg.ResidenceRegistered(
            residence_id=uuid.uuid4(), person_id=person, legal_status="foreigner",
            kind="temporary", settlement=region, region=region, valid_from=DAY,
            purpose="work", labour_migration=True,
        ),
        person,
    )  # fmt: skip


def resettlement(app: uuid.UUID, region: str, persons: int) -> list[Envelope]:
    applicant = uuid.uuid4()
    common = {"application_id": app, "applicant_id": applicant, "category": "kandas",
              "target_region": region, "target_year": 2024, "persons": persons}  # fmt: skip
    return [
        envelope(reg.ResettlementRequested(**common, requested_at=AT), app),
        envelope(reg.ResettlementApproved(**common, quota_id=uuid.uuid4(), approved_at=AT), app),
        envelope(reg.ResettlementCompleted(**common, settlement=region, completed_on=DAY), app),
    ]


def quota_events(quota: uuid.UUID, app: uuid.UUID, region: str) -> dict[str, Envelope]:
    ledger = {"application_id": app, "quota_id": quota, "kind": "kandas", "region": region,
              "year": 2024, "persons": 4}  # fmt: skip
    return {
        "established": envelope(
            q.QuotaEstablished(quota_id=quota, kind="kandas", region=region, year_from=2024,
                               year_to=2024, limit=977, established_at=AT),
            quota,
        ),
        "adjusted": envelope(
            q.QuotaAdjusted(quota_id=quota, kind="kandas", region=region, year_from=2024,
                            year_to=2024, previous_limit=977, limit=1000, delta=23,
                            reason="more", reference="order 7",
                            adjusted_at=datetime(2024, 2, 1, tzinfo=UTC)),
            quota,
        ),
        "reserved": envelope(q.QuotaReserved(**ledger, remaining=973, reserved_at=AT), app),
        "consumed": envelope(q.QuotaConsumed(**ledger, consumed_at=AT), app),
    }  # fmt: skip


def proposal_events(region: str) -> list[Envelope]:
    proposal = uuid.uuid4()
    kind = prop.ProposalType.REGIONAL_QUOTA_CHANGE
    effect = prop.AdjustQuotaEffect(kind="kandas", year=2024, delta=23, reason="more")
    return [
        envelope(prop.ProposalSubmitted(proposal_id=proposal, region=region, type=kind,
                                        evidence_status="frozen", review_due_at=AT,
                                        submitted_at=AT), proposal),
        envelope(prop.ProposalApproved(proposal_id=proposal, region=region, effect=effect,
                                       approved_at=AT), proposal),
        envelope(prop.ProposalApplied(proposal_id=proposal, region=region, type=kind,
                                      applied_at=AT), proposal),
    ]  # fmt: skip
