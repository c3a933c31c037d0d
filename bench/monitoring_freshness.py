"""Freshness of the projections: from the registration API's commit to the monitoring
projection's update, at a steady rate of registrations.

    uv run python bench/monitoring_freshness.py [--rate 200] [--seconds 20] [--connections 16] \
        [--warmup-seconds 2] [--transaction-batch N]

Needs the local infrastructure (`make infra-up`). The registration service runs as two
processes of its own (`api` and `worker`, whose outbox relay publishes to registration.v1)
on a throwaway schema built by its migrations; the monitoring consumer (the service's
`ConsumerRunner` and subscription, group of its own starting at the topic's end, with
`--transaction-batch`, by default the worker's MONITORING_CONSUMER_TRANSACTION_BATCH, and the
worker's MONITORING_CONSUMER_MAX_RECORDS) runs in
this process on a throwaway monitoring schema. `--rate` temporary stays per second are POSTed,
open loop (one every 1/rate s, whatever the answers), over `--connections` keep-alive
connections; every one is a `residence-registered` event the projection counts. The
registration service runs on its default settings. Registrations begin once the API is up
and the worker's relay holds the outbox lock (its gauge on the worker's /metrics), and the
first `--warmup-seconds` of them, at the same rate, are not measured: the figure is the
steady state's. Without the two, the first events waited for the worker to start and for
the relay's first look at a still idle outbox (up to REGISTRATION_OUTBOX_POLL_SECONDS), and
that one start-up wait of up to half a second made the p99 of a whole run.

Per registration, the times of: the API's 201 (the commit, at most the response's write
later), the record's timestamp on the topic (the relay's producer creating it), the monitoring
handler's start (the record fetched and decoded, its `processed_events` row begun), and the
projection's commit (the consumer's after-commit hook); in a chunk, each of its events'
handler start is the chunk handler's (`--transaction-batch` above 1). Prints p50 and p99
of the whole delay (target p99 <= 250 ms) and of the three parts: relay (commit to
record), broker (record to handler: broker append, fetch, poll), consumer (handler to
commit). The raw baseline of the other benches has no meaning here: the figure is a
latency. Not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import asyncpg
import httpx
import orjson
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition
from pydantic import SecretStr
from registration_api import HttpConnection, make_persons, stay, wait_ready
from report import Figure, add_json_argument, emit

from koshiqon.common.consumer import ConsumerConfig, ConsumerRunner, Subscription
from koshiqon.common.database import roles
from koshiqon.common.database.engine import create_engine, session_factory
from koshiqon.common.events.envelope import Envelope
from koshiqon.common.migrations import upgrade
from koshiqon.common.settings import DEFAULT_KAFKA_BOOTSTRAP, admin_dsn, role_dsn
from koshiqon.devtools.devkey import issue_dev_token
from koshiqon.monitoring.bootstrap import MIGRATIONS as MONITORING_MIGRATIONS
from koshiqon.monitoring.config import MonitoringSettings
from koshiqon.monitoring.entrypoints.consumer import subscription
from koshiqon.registration.bootstrap import MIGRATIONS as REGISTRATION_MIGRATIONS

# the worker's poll size (MONITORING_CONSUMER_MAX_RECORDS)
MAX_RECORDS: int = MonitoringSettings.model_fields["consumer_max_records"].default
REGISTRATION, MONITORING, PASSWORD = "bench_fresh_registration", "bench_fresh_monitoring", "bench"
PORT = 8811
TOPIC = "registration.v1"
BOOTSTRAP = DEFAULT_KAFKA_BOOTSTRAP
START = date(2001, 1, 1)


async def schema(name: str, migrations: object) -> str:
    admin = admin_dsn()
    await roles.drop_schema(admin, name)
    await roles.bootstrap(admin, {name: PASSWORD})
    dsn = role_dsn(admin, role=name, password=SecretStr(PASSWORD))
    await upgrade(migrations, dsn, schema=name)  # type: ignore[arg-type]
    return dsn


@contextlib.contextmanager
def registration_processes(dsn: str) -> Iterator[None]:
    env = {**os.environ, "REGISTRATION_DATABASE_URL": dsn,
           "REGISTRATION_DATABASE_SCHEMA": REGISTRATION, "REGISTRATION_HTTP_PORT": str(PORT),
           "REGISTRATION_LOG_LEVEL": "WARNING", "KOSHIQON_ENV": "dev"}  # fmt: skip
    cli = [sys.executable, "-m", "koshiqon.registration.entrypoints.cli"]
    procs = [subprocess.Popen([*cli, role], env=env) for role in ("api", "worker")]
    try:
        yield
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)


async def wait_relay_leading(port: int, within: float = 60.0) -> None:
    """Until the worker's relay holds the outbox lock: its gauge on the worker's /metrics
    (the probe port, the API's port + 1000)."""
    leading = 'koshiqon_outbox_relay_active{service="registration"} 1.0'
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(timeout=5) as http:
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.TransportError):
                answer = await http.get(f"http://127.0.0.1:{port}/metrics")
                if answer.status_code == 200 and leading in answer.text:
                    return
            await asyncio.sleep(0.1)
    raise RuntimeError("the registration worker's relay did not lead")


async def end_offsets() -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=BOOTSTRAP, group_id=None)
    await consumer.start()
    try:
        partitions = [TopicPartition(TOPIC, p) for p in range(12)]
        return dict(await consumer.end_offsets(partitions))
    finally:
        await consumer.stop()


async def start_group_at(group: str, ends: dict[TopicPartition, int]) -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers=BOOTSTRAP, group_id=group,
                                enable_auto_commit=False)  # fmt: skip
    await consumer.start()
    try:
        consumer.assign(list(ends))
        await consumer.commit(ends)
    finally:
        await consumer.stop()


class Times:
    def __init__(self) -> None:
        self.committed: dict[uuid.UUID, float] = {}  # residence id -> the API's 201
        self.record: dict[uuid.UUID, float] = {}  # event id -> record timestamp
        self.residence: dict[uuid.UUID, uuid.UUID] = {}  # event id -> residence id
        self.handler: dict[uuid.UUID, float] = {}  # event id -> handler start
        self.projected: dict[uuid.UUID, float] = {}  # event id -> after commit
        self.expected = 0  # registrations POSTed, warm-up included
        self.all_projected = asyncio.Event()


async def tail(ends: dict[TopicPartition, int], times: Times, stop: asyncio.Event) -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers=BOOTSTRAP, group_id=None)
    await consumer.start()
    try:
        consumer.assign(list(ends))
        for tp, offset in ends.items():
            consumer.seek(tp, offset)
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=200)
            for record in (r for rs in batch.values() for r in rs):
                value = orjson.loads(record.value)
                event_id = uuid.UUID(value["id"])
                times.record[event_id] = record.timestamp / 1000.0
                if "residence_id" in value["data"]:
                    times.residence[event_id] = uuid.UUID(value["data"]["residence_id"])
    finally:
        await consumer.stop()


def timed(sub: Subscription, times: Times) -> Subscription:
    def wrap(handler):  # type: ignore[no-untyped-def]
        async def on_event(session, envelope, payload):  # type: ignore[no-untyped-def]
            times.handler.setdefault(envelope.id, time.time())
            await handler(session, envelope, payload)

        return on_event

    chunk = sub.chunk_handler

    async def on_chunk(session, events):  # type: ignore[no-untyped-def]
        started = time.time()
        for envelope, _ in events:
            times.handler.setdefault(envelope.id, started)
        assert chunk is not None
        await chunk(session, events)

    return Subscription(
        sub.group, sub.topics, {t: wrap(h) for t, h in sub.handlers.items()},
        chunk_handler=None if chunk is None else on_chunk,
    )  # fmt: skip


async def drive(
    persons: list[uuid.UUID],
    args: argparse.Namespace,
    times: Times,
    *,
    first: int,
    total: int,
    measured: bool,
) -> int:
    """POST `total` stays at `args.rate` per second, numbered from `first` (a person's stays
    follow one another day by day); their commits are timed when `measured`."""
    token = issue_dev_token(scopes=["registration:write"], subject="bench")
    headers = f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n".encode()
    idle: asyncio.Queue[HttpConnection] = asyncio.Queue()
    for _ in range(args.connections):
        idle.put_nowait(await HttpConnection.open(PORT))
    failures = 0

    async def one(i: int) -> None:
        nonlocal failures
        connection = await idle.get()
        person = persons[i % len(persons)]
        body = orjson.dumps(stay(START + timedelta(days=i // len(persons))))
        try:
            status, answer = await connection.request(
                b"POST", f"/v1/persons/{person}/residences", body, headers
            )
            if status == 201:
                if measured:
                    times.committed[uuid.UUID(orjson.loads(answer)["id"])] = time.time()
            else:
                failures += 1
        finally:
            idle.put_nowait(connection)

    times.expected += total
    started = time.perf_counter()
    tasks = []
    for n in range(total):
        delay = started + n / args.rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(first + n)))
    await asyncio.gather(*tasks)
    while not idle.empty():
        await idle.get_nowait().close()
    return failures


def percentiles(values: list[float]) -> str:
    if not values:
        return "no data"
    p50, p99 = quantiles(values)
    return f"p50 {p50 * 1000:7.1f} ms   p99 {p99 * 1000:7.1f} ms"


def quantiles(values: list[float]) -> tuple[float, float]:
    """p50 and p99 (NaN without data), as `percentiles` prints them."""
    if not values:
        return float("nan"), float("nan")
    ordered = sorted(values)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


async def main(args: argparse.Namespace) -> None:
    registration = await schema(REGISTRATION, REGISTRATION_MIGRATIONS)
    monitoring = await schema(MONITORING, MONITORING_MIGRATIONS)
    times = Times()
    try:
        conn = await asyncpg.connect(roles.asyncpg_dsn(registration),
                                     server_settings={"search_path": REGISTRATION})  # fmt: skip
        persons = await make_persons(conn, 400)
        await conn.close()
        ends = await end_offsets()
        group = f"bench-fresh-{uuid.uuid4().hex[:8]}"
        await start_group_at(group, ends)

        async def projected(envelope: Envelope) -> None:
            times.projected.setdefault(envelope.id, time.time())
            if len(times.projected) >= times.expected:
                times.all_projected.set()

        engine = create_engine(monitoring, schema=MONITORING, application="bench", pool_size=5)
        runner = ConsumerRunner(
            timed(subscription(now=lambda: datetime.now(UTC), group=group, topics=[TOPIC]), times),
            session_factory(engine),
            ConsumerConfig(
                bootstrap=BOOTSTRAP,
                after_commit=projected,
                poll_timeout_ms=100,
                transaction_batch=args.transaction_batch,
                max_records=MAX_RECORDS,
            ),
        )
        stop = asyncio.Event()
        with registration_processes(registration):
            await wait_ready(PORT)
            await wait_relay_leading(PORT + 1000)
            tasks = [
                asyncio.create_task(runner.run(stop)),
                asyncio.create_task(tail(ends, times, stop)),
            ]
            await asyncio.wait_for(runner.assigned.wait(), timeout=60)
            warmup = int(args.rate * args.warmup_seconds)
            await drive(persons, args, times, first=0, total=warmup, measured=False)
            failures = await drive(
                persons, args, times,
                first=warmup, total=int(args.rate * args.seconds), measured=True,
            )  # fmt: skip
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(times.all_projected.wait(), timeout=60)
            stop.set()
            await asyncio.gather(*tasks)
        await engine.dispose()
    finally:
        for name in (REGISTRATION, MONITORING):
            await roles.drop_schema(admin_dsn(), name)
            await roles.drop_role(admin_dsn(), name)
    whole, relay, broker, consumer = [], [], [], []
    for event_id, residence in times.residence.items():
        if residence not in times.committed or event_id not in times.projected:
            continue
        committed, projected_at = times.committed[residence], times.projected[event_id]
        whole.append(projected_at - committed)
        relay.append(times.record[event_id] - committed)
        if event_id in times.handler:
            broker.append(times.handler[event_id] - times.record[event_id])
            consumer.append(projected_at - times.handler[event_id])
    print(f"{len(times.committed):,} registrations at {args.rate}/s for {args.seconds} s, "
          f"transaction batch {args.transaction_batch} "
          f"({failures} refused); {len(whole):,} projected and matched")  # fmt: skip
    print(f"commit -> projection: {percentiles(whole)}   (target p99 <= 250 ms)")
    print(f"  relay    (commit -> record on the topic): {percentiles(relay)}")
    print(f"  broker   (record -> monitoring handler, waiting behind earlier events "
          f"included): {percentiles(broker)}")  # fmt: skip
    print(f"  consumer (handler -> projection commit):  {percentiles(consumer)}")
    p50, p99 = quantiles(whole)
    emit(args.json, "monitoring_freshness", [
        Figure(f"commit -> projection p50 at {args.rate:g} registrations/s", p50 * 1000, "ms"),
        Figure(f"commit -> projection p99 at {args.rate:g} registrations/s", p99 * 1000, "ms",
               target="p99 <= 250 ms", met=p99 <= 0.25),
    ], notes=["no raw baseline: a latency of the whole path; bench/e2e_latency.py compares "
              "the same path with a bare produce -> consume on the same broker"])  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--warmup-seconds", type=float, default=2.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument(
        "--transaction-batch",
        type=int,
        default=MonitoringSettings.model_fields["consumer_transaction_batch"].default,
    )
    add_json_argument(parser)
    asyncio.run(main(parser.parse_args()))
