"""Projection throughput: the monitoring consumer against a raw baseline, in one run.

    uv run python bench/monitoring_projection.py [--events 100000] [--batch 500] \
        [--transaction-batch N]

Needs the local infrastructure (`make infra-up`). First `--events` registration events
(person-immigrated 40 %, person-moved 30 %, person-emigrated 20 %, residence-registered
10 %, over the 20 regions and twelve months of 2024, keyed by person) are produced into a
topic of the bench's own with registration.v1's 12 partitions. Then, on a throwaway schema
built by the service's migrations:

- monitoring: the service's consumer (`ConsumerRunner` with its subscription, as the worker
  runs it: `--transaction-batch`, by default the worker's
  MONITORING_CONSUMER_TRANSACTION_BATCH, and its poll size MONITORING_CONSUMER_MAX_RECORDS).
  Per chunk of a partition's records, one transaction with their `processed_events` rows in
  one statement, the projections' gate, the §8 rule's check for the regions the chunk moves
  (no births and deaths are loaded, so the check stops at its first read) and the upserts,
  one `executemany` per statement (`handlers.project_events`). `--transaction-batch 1` is
  the per-event path: a transaction per event with its row, the gate, the upserts one by
  one and the check;
- raw: an aiokafka consumer outside any group reading the same records, decoding them with
  orjson, and applying the same upserts (and a dedup row per event) with asyncpg
  `executemany` in transactions of `--batch` events, on identical tables.

Prints both rates (events/s), monitoring/raw (target >= 0.5), and checks that both sides
projected the same sums. Not a test: nothing asserts the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
import uuid
from datetime import UTC, date, datetime

import asyncpg
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition
from pydantic import SecretStr
from report import Figure, add_json_argument, emit

from koshiqon.common.consumer import ConsumerConfig, ConsumerRunner
from koshiqon.common.database import roles
from koshiqon.common.database.engine import create_engine, session_factory
from koshiqon.common.events import registration as reg
from koshiqon.common.events.contracts import EventPayload, make_event
from koshiqon.common.events.envelope import Envelope
from koshiqon.common.kz import REGIONS
from koshiqon.common.migrations import upgrade
from koshiqon.common.settings import DEFAULT_KAFKA_BOOTSTRAP, admin_dsn, role_dsn
from koshiqon.common.topics import TopicSpec, ensure_topics
from koshiqon.monitoring.bootstrap import MIGRATIONS
from koshiqon.monitoring.config import MonitoringSettings
from koshiqon.monitoring.entrypoints.consumer import subscription

# the worker's poll size (MONITORING_CONSUMER_MAX_RECORDS)
MAX_RECORDS: int = MonitoringSettings.model_fields["consumer_max_records"].default
SCHEMA, PASSWORD = "bench_monitoring", "bench"
BOOTSTRAP = DEFAULT_KAFKA_BOOTSTRAP
KATOS = [r.kato for r in REGIONS]
COUNTRIES = ["CHN", "RUS", "UZB", "TUR", "MNG", "KGZ"]

RAW_TABLES = ("persons", "flows", "registrations")
FLOW = (
    "INSERT INTO raw_flows AS f (region, month, scope, direction, district, legal_status, "
    "kandas, counterpart, persons, last_event_at) VALUES ($1, $2, $3, $4, $5, $6, "
    "coalesce($7::text, (SELECT CASE WHEN p.kandas THEN 'kandas' ELSE 'other' END FROM "
    "raw_persons p WHERE p.person_id = $8), 'unknown'), $9, 1, $10) ON CONFLICT (region, "
    "month, scope, direction, district, legal_status, kandas, counterpart) DO UPDATE SET "
    "persons = f.persons + 1, last_event_at = greatest(f.last_event_at, excluded.last_event_at)"
)
REGISTRATION = (
    "INSERT INTO raw_registrations AS r (region, month, district, kind, purpose, legal_status, "
    "kandas, started, ended, last_event_at) VALUES ($1, $2, $3, $4, $5, $6, coalesce($7::text, "
    "(SELECT CASE WHEN p.kandas THEN 'kandas' ELSE 'other' END FROM raw_persons p WHERE "
    "p.person_id = $8), 'unknown'), 1, 0, $9) ON CONFLICT (region, month, district, kind, "
    "purpose, legal_status, kandas) DO UPDATE SET started = r.started + 1, "
    "last_event_at = greatest(r.last_event_at, excluded.last_event_at)"
)


def events(n: int) -> list[tuple[str, bytes]]:
    rng = random.Random(14)
    out = []
    for _ in range(n):
        person = uuid.uuid4()
        day = date(2024, rng.randint(1, 12), rng.randint(1, 28))
        region, other = rng.sample(KATOS, 2)
        settlement = region[:2] + f"{rng.randint(10, 40)}10000"
        roll = rng.random()
        payload: EventPayload
        if roll < 0.4:
            payload = reg.PersonImmigrated(
                person_id=person, legal_status="citizen", country_of_origin=rng.choice(COUNTRIES),
                kind="permanent", region=region, settlement=settlement, arrived_on=day,
                kandas=rng.random() < 0.5,
            )  # fmt: skip
        elif roll < 0.7:
            payload = reg.PersonMoved(
                person_id=person, legal_status="citizen", from_region=region, to_region=other,
                from_settlement=settlement, to_settlement=other, moved_on=day,
            )  # fmt: skip
        elif roll < 0.9:
            payload = reg.PersonEmigrated(
                person_id=person, legal_status="foreigner", region=region, departed_on=day,
                destination_country=rng.choice(COUNTRIES), kandas=False,
            )  # fmt: skip
        else:
            payload = reg.ResidenceRegistered(
                residence_id=uuid.uuid4(), person_id=person, legal_status="foreigner",
                kind="temporary", settlement=settlement, region=region, valid_from=day,
                purpose="work", labour_migration=True,
            )  # fmt: skip
        e = make_event(payload, subject=str(person), source="/bench", correlation_id="bench")
        out.append((e.subject, e.to_bytes()))
    return out


async def produce(topic: str, records: list[tuple[str, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=BOOTSTRAP, enable_idempotence=True,
                                linger_ms=20, max_batch_size=256 * 1024)  # fmt: skip
    await producer.start()
    try:
        for start in range(0, len(records), 5000):
            futures = [
                await producer.send(topic, value, key=key.encode())
                for key, value in records[start : start + 5000]
            ]
            await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def prepare() -> str:
    admin = admin_dsn()
    await roles.drop_schema(admin, SCHEMA)
    await roles.bootstrap(admin, {SCHEMA: PASSWORD})
    dsn = role_dsn(admin, role=SCHEMA, password=SecretStr(PASSWORD))
    await upgrade(MIGRATIONS, dsn, schema=SCHEMA)
    conn = await connect(dsn)
    try:
        for name in RAW_TABLES:
            await conn.execute(f"CREATE TABLE raw_{name} (LIKE p_{name} INCLUDING ALL)")
        await conn.execute("CREATE TABLE raw_processed (event_id uuid PRIMARY KEY)")
    finally:
        await conn.close()
    return dsn


async def connect(dsn: str) -> asyncpg.Connection:
    return await asyncpg.connect(roles.asyncpg_dsn(dsn), server_settings={"search_path": SCHEMA})


async def monitoring_round(dsn: str, topic: str, n: int, transaction_batch: int) -> float:
    engine = create_engine(dsn, schema=SCHEMA, application="bench", pool_size=5)
    group = f"bench-monitoring-{uuid.uuid4().hex[:8]}"
    handled, done = 0, asyncio.Event()

    async def counted(_: Envelope) -> None:  # after each event's commit
        nonlocal handled
        handled += 1
        if handled >= n:
            done.set()

    runner = ConsumerRunner(
        subscription(now=lambda: datetime(2025, 1, 15, tzinfo=UTC), group=group, topics=[topic]),
        session_factory(engine),
        ConsumerConfig(
            bootstrap=BOOTSTRAP,
            after_commit=counted,
            transaction_batch=transaction_batch,
            max_records=MAX_RECORDS,
        ),
    )
    stop = asyncio.Event()
    started = time.perf_counter()
    task = asyncio.create_task(runner.run(stop))
    try:
        await done.wait()
        elapsed = time.perf_counter() - started
    finally:
        stop.set()
        await task
        await engine.dispose()
    return elapsed


def _district(settlement: str) -> str:
    district = settlement[:4] + "00000"
    return "" if district[2:4] == "00" else district


def _kandas(data: dict[str, object]) -> str | None:
    value = data.get("kandas")
    return None if value is None else ("kandas" if value else "other")


async def raw_round(dsn: str, topic: str, n: int, batch: int) -> float:
    consumer = AIOKafkaConsumer(bootstrap_servers=BOOTSTRAP, group_id=None,
                                enable_auto_commit=False)  # fmt: skip
    conn = await connect(dsn)
    await consumer.start()
    started = time.perf_counter()
    try:
        partitions = [TopicPartition(topic, p) for p in range(12)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        done = 0
        while done < n:
            records = await consumer.getmany(timeout_ms=500, max_records=batch)
            values = [orjson.loads(r.value) for rs in records.values() for r in rs]
            if not values:
                continue
            flows, registrations, ids = [], [], []
            for e in values:
                d = e["data"]
                ids.append((uuid.UUID(e["id"]),))
                kind = e["type"].split(".")[-2]
                pid = uuid.UUID(d["person_id"])
                if kind == "person-immigrated":
                    day = date.fromisoformat(d["arrived_on"])
                    flows.append((d["region"], day.replace(day=1), "external", "in",
                                  _district(d["settlement"]), d["legal_status"], _kandas(d), pid,
                                  d["country_of_origin"], _at(day)))  # fmt: skip
                elif kind == "person-moved":
                    day = date.fromisoformat(d["moved_on"])
                    flows.append((d["from_region"], day.replace(day=1), "internal", "out",
                                  _district(d["from_settlement"]), d["legal_status"], _kandas(d),
                                  pid, d["to_region"], _at(day)))  # fmt: skip
                    flows.append((d["to_region"], day.replace(day=1), "internal", "in",
                                  _district(d["to_settlement"]), d["legal_status"], _kandas(d),
                                  pid, d["from_region"], _at(day)))  # fmt: skip
                elif kind == "person-emigrated":
                    day = date.fromisoformat(d["departed_on"])
                    flows.append((d["region"], day.replace(day=1), "external", "out", "",
                                  d["legal_status"], _kandas(d), pid, d["destination_country"],
                                  _at(day)))  # fmt: skip
                else:
                    day = date.fromisoformat(d["valid_from"])
                    registrations.append((
                        d["region"], day.replace(day=1), _district(d["settlement"]), d["kind"],
                        d["purpose"], d["legal_status"], _kandas(d), pid, _at(day),
                    ))  # fmt: skip
            async with conn.transaction():
                await conn.executemany("INSERT INTO raw_processed VALUES ($1)", ids)
                await conn.executemany(FLOW, flows)
                await conn.executemany(REGISTRATION, registrations)
            done += len(values)
        return time.perf_counter() - started
    finally:
        await consumer.stop()
        await conn.close()


def _at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


async def same_sums(dsn: str) -> bool:
    conn = await connect(dsn)
    try:
        checks = []
        for name, column in (("flows", "persons"), ("registrations", "started")):
            live = await conn.fetch(f"SELECT * FROM p_{name}")
            raw = await conn.fetch(f"SELECT * FROM raw_{name}")
            checks.append(sorted(tuple(r) for r in live) == sorted(tuple(r) for r in raw))
            checks.append(
                await conn.fetchval(f"SELECT sum({column}) FROM p_{name}")
                == await conn.fetchval(f"SELECT sum({column}) FROM raw_{name}")
            )
        return all(checks)
    finally:
        await conn.close()


async def main(args: argparse.Namespace) -> None:
    topic = f"bench.monitoring.{uuid.uuid4().hex[:8]}.v1"
    await ensure_topics(BOOTSTRAP, [TopicSpec(topic, 12, {"retention.ms": str(3_600_000)})])
    records = events(args.events)
    t0 = time.perf_counter()
    await produce(topic, records)
    print(f"produced {len(records):,} events into {topic} in {time.perf_counter() - t0:.1f} s")
    dsn = await prepare()
    try:
        monitoring = await monitoring_round(dsn, topic, args.events, args.transaction_batch)
        raw = await raw_round(dsn, topic, args.events, args.batch)
        same = await same_sums(dsn)
    finally:
        await roles.drop_schema(admin_dsn(), SCHEMA)
        await roles.drop_role(admin_dsn(), SCHEMA)
    m_rate, r_rate = args.events / monitoring, args.events / raw
    print(f"monitoring consumer, transaction batch {args.transaction_batch}: "
          f"{m_rate:,.0f} events/s ({monitoring:.1f} s)")  # fmt: skip
    print(f"raw aiokafka + asyncpg batches of {args.batch}: {r_rate:,.0f} events/s ({raw:.1f} s)")
    print(f"monitoring/raw: {m_rate / r_rate:.2f} (target >= 0.5)")
    print(f"same projections on both sides: {same}")
    emit(args.json, "monitoring_projection", [
        Figure(f"monitoring consumer, {args.events:,} registration events, transaction batch"
               f" {args.transaction_batch}", m_rate, "events/s",
               f"raw aiokafka + asyncpg batches of {args.batch}", r_rate, m_rate / r_rate,
               "monitoring/raw >= 0.5", m_rate / r_rate >= 0.5),
        Figure("same projected sums on both sides (1 = yes)", float(same), "",
               target="1", met=same),
    ])  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument(
        "--transaction-batch",
        type=int,
        default=MonitoringSettings.model_fields["consumer_transaction_batch"].default,
    )
    add_json_argument(parser)
    asyncio.run(main(parser.parse_args()))
