"""Outbox relay throughput against a raw aiokafka producer, in the same run.

    uv run python bench/outbox_relay.py [--events 50000] [--payload-bytes 1024]

Needs the local infrastructure (`make infra-up`). Both sides use the same producer settings
(koshiqon.common.kafka.producer_settings), the same keys, values and headers, and topics with
the same partition count. Relay: from the commit of the outbox rows (which the relay finds
by polling, within `poll_interval`) until every row is marked published, i.e. acknowledged
by the broker. Raw: from the first send until the last acknowledgement. Producer start-up
is excluded on both sides.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import time
import uuid

import asyncpg
from prometheus_client import REGISTRY
from pydantic import SecretStr
from report import Figure, add_json_argument, emit

from koshiqon.common import outbox
from koshiqon.common.database import roles
from koshiqon.common.database.engine import create_engine, session_factory
from koshiqon.common.database.tables import new_metadata
from koshiqon.common.events.contracts import EventPayload, event, make_event
from koshiqon.common.events.envelope import Envelope
from koshiqon.common.kafka import new_producer
from koshiqon.common.outbox import OutboxRelay, RelayConfig
from koshiqon.common.settings import DEFAULT_KAFKA_BOOTSTRAP, admin_dsn, role_dsn
from koshiqon.common.topics import TopicSpec, ensure_topics

PARTITIONS = 12
SCHEMA = "bench_outbox"


@event("bench", "filler", topic=f"bench.relay.{uuid.uuid4().hex[:8]}.v1")
class Filler(EventPayload):
    n: int
    padding: str


def make_events(count: int, payload_bytes: int) -> list[Envelope]:
    return [
        make_event(
            Filler(n=i, padding="x" * payload_bytes),
            subject=f"aggregate-{i % 1000}",
            source="/koshiqon/bench",
            correlation_id=str(uuid.uuid4()),
        )
        for i in range(count)
    ]


async def raw_baseline(bootstrap: str, topic: str, events: list[Envelope]) -> float:
    producer = new_producer(bootstrap, client_id="bench-raw")
    await producer.start()
    try:
        rows = [(e.to_bytes(), e.subject.encode(), outbox._headers(e)) for e in events]
        started = time.perf_counter()
        futures = [
            await producer.send(
                topic, value, key=key, headers=[(k, v.encode()) for k, v in headers.items()]
            )
            for value, key, headers in rows
        ]
        await asyncio.gather(*futures)
        return time.perf_counter() - started
    finally:
        await producer.stop()


async def relay_run(dsn: str, bootstrap: str, events: list[Envelope]) -> float:
    engine = create_engine(dsn, schema=SCHEMA, application="bench")
    sessions = session_factory(engine)
    relay = OutboxRelay(RelayConfig(dsn=dsn, schema=SCHEMA, bootstrap=bootstrap, service="bench"))
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    conn = await asyncpg.connect(roles.asyncpg_dsn(dsn), server_settings={"search_path": SCHEMA})
    await conn.execute("VACUUM (ANALYZE) outbox")  # steady state: autovacuum keeps up
    published_before = _published()
    try:
        await asyncio.wait_for(relay.active.wait(), timeout=30)
        await asyncio.sleep(1.0)  # let the relay's producer connect
        async with sessions() as session, session.begin():
            for start in range(0, len(events), 5000):
                await outbox.add(session, *events[start : start + 5000])
        started = time.perf_counter()
        while _published() - published_before < len(events):  # noqa: ASYNC110
            await asyncio.sleep(0.005)  # in-process counter: no load on the database
        elapsed = time.perf_counter() - started
        assert not await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
        return elapsed
    finally:
        stop.set()
        await task
        await conn.close()
        await engine.dispose()


def _published() -> float:
    value = REGISTRY.get_sample_value(
        "koshiqon_outbox_published_events_total", {"service": "bench"}
    )
    return value or 0.0


async def main(args: argparse.Namespace) -> None:
    logging.basicConfig(level=logging.WARNING)
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", DEFAULT_KAFKA_BOOTSTRAP)
    admin = admin_dsn()
    await roles.drop_schema(admin, SCHEMA)
    await roles.bootstrap(admin, {SCHEMA: "bench"})
    dsn = role_dsn(admin, role=SCHEMA, password=SecretStr("bench"))
    engine = create_engine(dsn, schema=SCHEMA, application="bench")
    async with engine.begin() as conn:
        await conn.run_sync(new_metadata().create_all)
    await engine.dispose()

    raw_topic = f"bench.raw.{uuid.uuid4().hex[:8]}.v1"
    await ensure_topics(
        bootstrap, [TopicSpec(Filler.contract.topic, PARTITIONS), TopicSpec(raw_topic, PARTITIONS)]
    )
    events = make_events(args.events, args.payload_bytes)
    raw_rates, relay_rates = [], []
    for _ in range(args.rounds):  # alternate, so drift in the machine's load hits both sides
        raw_rates.append(len(events) / await raw_baseline(bootstrap, raw_topic, events))
        relay_rates.append(len(events) / await relay_run(dsn, bootstrap, events))
    await roles.drop_schema(admin, SCHEMA)

    raw_rate, relay_rate = statistics.median(raw_rates), statistics.median(relay_rates)
    print(f"events: {len(events)} x {len(events[0].to_bytes())} bytes, {PARTITIONS} partitions,"
          f" median of {args.rounds} alternating rounds")  # fmt: skip
    print(f"raw aiokafka producer: {raw_rate:10.0f} events/s  {_rounds(raw_rates)}")
    print(f"outbox relay:          {relay_rate:10.0f} events/s  {_rounds(relay_rates)}")
    print(f"ratio relay/raw:       {relay_rate / raw_rate:10.2f}  (target >= 0.70)")
    emit(args.json, "outbox_relay", [Figure(
        f"outbox relay, {len(events):,} events of {len(events[0].to_bytes())} bytes",
        relay_rate, "events/s", "raw aiokafka producer", raw_rate, relay_rate / raw_rate,
        "relay/raw >= 0.70", relay_rate / raw_rate >= 0.70,
    )])  # fmt: skip


def _rounds(rates: list[float]) -> str:
    return "[" + ", ".join(f"{r:.0f}" for r in rates) + "]"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--payload-bytes", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3)
    add_json_argument(parser)
    asyncio.run(main(parser.parse_args()))
