"""examples/subscriber.py, run as the agency would run it (its own process, its own consumer
group), against the real broker: envelopes made by the project's own `make_event` on two
topics of this test's shaped like registration.v1 and quota.v1, a duplicate, invalid records
and a type it does not follow. It prints each valid resettlement event once, rejects the
invalid ones on stderr, commits its offsets, and after a restart goes on from where it
stopped: the old records are not read again, and an event sent again is known by its id."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition
from support.kafka import wait_for

from koshiqon.common.events.contracts import EventPayload, make_event
from koshiqon.common.events.envelope import Envelope
from koshiqon.common.events.quota import QuotaEstablished, QuotaKind, QuotaReserved
from koshiqon.common.events.registration import ResettlementCategory, ResettlementRequested
from koshiqon.common.topics import TopicSpec, ensure_topics

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "subscriber.py"
PARTITIONS = 3
NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


@dataclass
class Topics:
    registration: str
    quota: str

    @property
    def names(self) -> list[str]:
        return [self.registration, self.quota]


@pytest.fixture
async def topics(bootstrap: str) -> Topics:
    tag = uuid.uuid4().hex[:8]
    made = Topics(f"t.registration.{tag}.v1", f"t.quota.{tag}.v1")
    await ensure_topics(bootstrap, [TopicSpec(name, PARTITIONS) for name in made.names])
    return made


@pytest.fixture
async def producer(bootstrap: str) -> AsyncIterator[AIOKafkaProducer]:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
    await producer.start()
    yield producer
    await producer.stop()


@dataclass
class Run:
    """One run of the example: its process, and what it wrote so far."""

    process: asyncio.subprocess.Process
    printed: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    async def collect(self) -> None:
        assert self.process.stdout is not None
        assert self.process.stderr is not None

        async def lines(stream: asyncio.StreamReader, into: list[Any], parse: bool) -> None:
            while line := await stream.readline():
                text = line.decode().rstrip("\n")
                into.append(json.loads(text) if parse else text)

        await asyncio.gather(
            lines(self.process.stdout, self.printed, True),
            lines(self.process.stderr, self.errors, False),
        )

    def rejected(self) -> list[str]:
        return [line for line in self.errors if line.startswith("rejected ")]

    def duplicates(self) -> list[str]:
        return [line for line in self.errors if line.startswith("duplicate ")]


@dataclass
class Subscriber:
    bootstrap: str
    topics: Topics
    store: Path
    group: str = field(default_factory=lambda: f"external.test-{uuid.uuid4().hex[:8]}")

    async def run_until_caught_up(self) -> Run:
        """Start the example, wait until its group's committed offsets reach the topics'
        ends (everything there handled and committed), stop it with SIGTERM."""
        process = await asyncio.create_subprocess_exec(
            sys.executable, str(EXAMPLE), "--bootstrap-servers", self.bootstrap,
            "--group", self.group, "--topics", *self.topics.names, "--store", str(self.store),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        run = Run(process)
        reading = asyncio.create_task(run.collect())
        try:
            await wait_for(self.caught_up, timeout=60, interval=0.25)
        finally:
            process.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(process.wait(), timeout=30)
            await reading
        assert code == 0, run.errors
        return run

    async def caught_up(self) -> bool:
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, group_id=self.group,
                                    enable_auto_commit=False)  # fmt: skip
        await consumer.start()
        try:
            partitions = [
                TopicPartition(t, p) for t in self.topics.names for p in range(PARTITIONS)
            ]
            ends = await consumer.end_offsets(partitions)
            for tp in partitions:
                if (await consumer.committed(tp) or 0) != ends[tp]:
                    return False
            return True
        finally:
            await consumer.stop()


def event(payload: EventPayload, subject: uuid.UUID) -> Envelope:
    return make_event(payload, subject=str(subject), source="/koshiqon/test", correlation_id="c")


def requested(application: uuid.UUID, persons: int = 3) -> Envelope:
    return event(
        ResettlementRequested(application_id=application, applicant_id=uuid.uuid4(),
                              category=ResettlementCategory.MIGRANT, target_region="590000000",
                              target_year=2026, persons=persons, requested_at=NOW),
        application,
    )  # fmt: skip


def reserved(application: uuid.UUID) -> Envelope:
    return event(
        QuotaReserved(application_id=application, quota_id=uuid.uuid4(),
                      kind=QuotaKind.MIGRANT, region="590000000", year=2026, persons=3,
                      remaining=2817, reserved_at=NOW),
        application,
    )  # fmt: skip


def established() -> Envelope:
    quota = uuid.uuid4()
    return event(
        QuotaEstablished(quota_id=quota, kind=QuotaKind.MIGRANT, region="590000000",
                         year_from=2026, year_to=2026, limit=2820, established_at=NOW),
        quota,
    )  # fmt: skip


async def send(producer: AIOKafkaProducer, topic: str, value: bytes, key: str) -> None:
    await producer.send_and_wait(topic, value, key=key.encode())


def with_data(envelope: Envelope, **changes: object) -> bytes:
    wire = json.loads(envelope.to_bytes())
    wire["data"].update(changes)
    return json.dumps(wire).encode()


async def test_each_valid_event_is_printed_once_and_a_restart_resumes(
    bootstrap: str, topics: Topics, producer: AIOKafkaProducer, tmp_path: Path
) -> None:
    subscriber = Subscriber(bootstrap, topics, tmp_path / "store" / "handled.sqlite3")
    first, second = uuid.uuid4(), uuid.uuid4()
    valid = [requested(first), reserved(first), requested(second)]
    for envelope in valid:
        topic = topics.quota if envelope.context == "quota" else topics.registration
        await send(producer, topic, envelope.to_bytes(), envelope.subject)
    await send(producer, topics.registration, valid[0].to_bytes(), valid[0].subject)  # again
    bad = requested(uuid.uuid4())
    await send(producer, topics.registration, with_data(bad, persons=0), bad.subject)
    await send(producer, topics.registration, b"{not json", "garbage")
    await send(producer, topics.quota, established().to_bytes(), "a-quota")  # not followed

    run = await subscriber.run_until_caught_up()

    assert sorted(line["id"] for line in run.printed) == sorted(str(e.id) for e in valid)
    by_id = {line["id"]: line for line in run.printed}
    assert by_id[str(valid[1].id)]["type"] == "kz.migration.quota.quota-reserved.v1"
    assert by_id[str(valid[1].id)]["subject"] == str(first)
    assert by_id[str(valid[0].id)]["data"]["persons"] == 3
    assert len(run.duplicates()) == 1
    assert str(valid[0].id) in run.duplicates()[0]
    rejected = run.rejected()
    assert len(rejected) == 2, run.errors
    assert any("data.persons" in line for line in rejected), rejected
    assert any("not JSON" in line for line in rejected), rejected

    # after the restart: a new event, and one already printed sent again
    third = requested(uuid.uuid4(), persons=1)
    await send(producer, topics.registration, third.to_bytes(), third.subject)
    await send(producer, topics.quota, valid[1].to_bytes(), valid[1].subject)

    again = await subscriber.run_until_caught_up()

    assert [line["id"] for line in again.printed] == [str(third.id)]
    assert len(again.duplicates()) == 1  # only the one sent again: the old records not reread
    assert str(valid[1].id) in again.duplicates()[0]
    assert again.rejected() == []


async def test_an_event_off_its_contract_is_rejected_naming_the_field(
    bootstrap: str, topics: Topics, producer: AIOKafkaProducer, tmp_path: Path
) -> None:
    subscriber = Subscriber(bootstrap, topics, tmp_path / "handled.sqlite3")
    application = uuid.uuid4()
    wrong_region = requested(application)
    await send(producer, topics.registration, with_data(wrong_region, target_region="59"),
               wrong_region.subject)  # fmt: skip
    no_id = json.loads(reserved(application).to_bytes())
    del no_id["id"]
    await send(producer, topics.quota, json.dumps(no_id).encode(), str(application))
    good = reserved(application)
    await send(producer, topics.quota, good.to_bytes(), good.subject)

    run = await subscriber.run_until_caught_up()

    assert [line["id"] for line in run.printed] == [str(good.id)]
    rejected = run.rejected()
    assert len(rejected) == 2, run.errors
    assert any("data.target_region" in line for line in rejected), rejected
    assert any("'id' is a required property" in line for line in rejected), rejected
