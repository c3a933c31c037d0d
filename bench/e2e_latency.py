"""End-to-end latency across the four services at a steady request rate, against a bare
produce -> consume on the same broker in the same run.

    flock /tmp/koshiqon-stack.lock uv run python bench/e2e_latency.py \
        [--rate 200] [--seconds 30] [--applications 0.25] [--connections 32] [--raw-seconds 15]

Needs the local infrastructure (`make infra-up`). Starts all four services, each as two
processes, `koshiqon-<service> api` and `worker` (as Kubernetes and `make up` run them: the
API's requests do not share an event loop with the relay and the consumer), on a throwaway
schema built by its migrations, the API on a free port. They consume with groups of this bench's own
(`bench-e2e-<service>`; a worker that takes no group, with the service's real one), each
first committed at its topics' ends, so that nothing left on the topics is handled and no
other run of the services shares their partitions.
Quota gets the 2026 quota order (data/quotas_2026.csv) through its API. On a broker shared
with other runs, take the stack lock: a quota service answers every resettlement request it
reads.

Then, after a warm-up of `--warmup-seconds` at the same rate, not measured (the consumer
groups join, which takes the broker's initial rebalance delay, connections open, caches
fill) and handled to the end: open loop (one request every 1/rate s, whatever the answers),
over `--connections` keep-alive connections to registration's API, `--rate` requests per
second for `--seconds`: a share `--applications` of them resettlement applications (a
migrant into North Kazakhstan, 2026), the rest temporary stays (each one a
`residence-registered` event). Two
delays per request, from the API's 201 (its commit, at most the response's write earlier):

- registration's commit -> monitoring's projection: until the stay's event is in monitoring's
  `processed_events` (the projection's transaction committed);
- resettlement application -> its quota outcome back at registration: until the application
  is no longer `pending_quota` in registration's table (quota reserved or denied, answered on
  quota.v1, and registration committed the answer).

Both ends are seen by polling the two tables every `--poll-ms` (10 ms), so each delay reads up
to that much plus a query's time late. The record's event id comes from reading
registration.v1 alongside (outside any group).

Raw baseline, after the services stop, for `--raw-seconds`, at the same rate, on two topics of
its own with registration.v1's and quota.v1's partition counts: records of the size of a
`residence-registered` envelope sent with the relay's producer settings
(`koshiqon.common.kafka.producer_settings`), read by a consumer outside any group
(read_committed, as the services read); the reader sends each one on to the second topic, read
by a second consumer. One hop (send -> first read) is the baseline of commit -> projection,
the round trip (send -> second read) that of application -> outcome: what the broker and the
clients alone take, without the outbox, the relays' polling, the databases and the handlers.

Prints p50 and p99 of each path and of its baseline, and path/baseline (how many times the
bare broker's latency); the projection path in two parts, at the stay's record on
registration.v1 (its timestamp); and the outcome path in three parts, from quota's own
stamps (the reservation's `updated_at`, the outcome's outbox `published_at`). Targets: commit ->
projection p99 <= 250 ms, as bench/monitoring_freshness.py; application -> outcome, two
such hops, p99 <= 500 ms.
Not a test: nothing asserts the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import inspect
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaError
from aiokafka.structs import TopicPartition
from pydantic import SecretStr
from registration_api import HttpConnection, make_persons, stay
from report import Figure, add_json_argument, emit

from koshiqon.common.database import roles
from koshiqon.common.events.contracts import make_event
from koshiqon.common.events.registration import (
    LegalStatus,
    ResidenceKind,
    ResidenceRegistered,
    StayPurpose,
)
from koshiqon.common.kafka import producer_settings
from koshiqon.common.migrations import upgrade
from koshiqon.common.settings import DEFAULT_KAFKA_BOOTSTRAP, admin_dsn, role_dsn
from koshiqon.common.topics import CONTEXT_TOPICS, TopicSpec, ensure_topics
from koshiqon.devtools.devkey import issue_dev_token
from koshiqon.monitoring.bootstrap import MIGRATIONS as MONITORING_MIGRATIONS
from koshiqon.monitoring.entrypoints.consumer import TOPICS as MONITORING_TOPICS
from koshiqon.proposals.bootstrap import MIGRATIONS as PROPOSALS_MIGRATIONS
from koshiqon.proposals.entrypoints.consumer import TOPICS as PROPOSALS_TOPICS
from koshiqon.quota.bootstrap import MIGRATIONS as QUOTA_MIGRATIONS
from koshiqon.quota.entrypoints.consumer import TOPICS as QUOTA_TOPICS
from koshiqon.registration.bootstrap import MIGRATIONS as REGISTRATION_MIGRATIONS
from koshiqon.registration.bootstrap import build_worker as registration_worker
from koshiqon.registration.entrypoints.consumer import GROUP as REGISTRATION_GROUP
from koshiqon.registration.entrypoints.consumer import TOPICS as REGISTRATION_TOPICS

BOOTSTRAP = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", DEFAULT_KAFKA_BOOTSTRAP)
ROOT = Path(__file__).resolve().parents[1]
QUOTA_ORDER = ROOT / "data" / "quotas_2026.csv"
PASSWORD = "bench"
NORTH_KAZAKHSTAN = "590000000"
REGISTERED = "kz.migration.registration.residence-registered.v1"
PARTITIONS = {spec.name: spec.partitions for spec in CONTEXT_TOPICS}
PROJECTION_TARGET, OUTCOME_TARGET = 0.250, 0.500  # p99, seconds

# a service's worker with its consumer group given (argv[1]), as tests/e2e do
LAUNCH = """
import functools, sys
from koshiqon.common.service import ServiceDefinition, run
from koshiqon.{name}.entrypoints.cli import SERVICE
worker = functools.partial(SERVICE.worker, group=sys.argv[1])
service = ServiceDefinition(SERVICE.name, SERVICE.settings, SERVICE.build_app, worker,
                            SERVICE.migrations)
raise SystemExit(run(service, ["worker"]))
"""


def takes_group(worker: object) -> bool:
    """Whether a service's `build_worker` takes the consumer group as `group=`."""
    return "group" in inspect.signature(worker).parameters  # type: ignore[arg-type]


@dataclass
class Service:
    name: str
    migrations: Path
    topics: Sequence[str]
    group: str | None  # None: the service's real group (its worker takes none)
    port: int = 0
    dsn: str = ""

    @property
    def schema(self) -> str:
        return f"bench_e2e_{self.name}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


SERVICES = [
    Service(
        "registration",
        REGISTRATION_MIGRATIONS,
        REGISTRATION_TOPICS,
        "bench-e2e-registration" if takes_group(registration_worker) else None,
    ),
    Service("quota", QUOTA_MIGRATIONS, QUOTA_TOPICS, "bench-e2e-quota"),
    Service("proposals", PROPOSALS_MIGRATIONS, PROPOSALS_TOPICS, "bench-e2e-proposals"),
    Service("monitoring", MONITORING_MIGRATIONS, MONITORING_TOPICS, "bench-e2e-monitoring"),
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- the services ---------------------------------------------------------------------------


async def prepare(service: Service) -> None:
    admin = admin_dsn()
    await roles.drop_schema(admin, service.schema)
    await roles.bootstrap(admin, {service.schema: PASSWORD})
    service.dsn = role_dsn(admin, role=service.schema, password=SecretStr(PASSWORD))
    await upgrade(service.migrations, service.dsn, schema=service.schema)
    service.port = free_port()


async def drop(service: Service) -> None:
    await roles.drop_schema(admin_dsn(), service.schema)
    await roles.drop_role(admin_dsn(), service.schema)


async def start_at_the_end(group: str, topics: Sequence[str]) -> None:
    """Commit `group` at the ends of `topics`; refused (and skipped) while it has members."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=BOOTSTRAP, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(t, p) for t in topics for p in range(PARTITIONS[t])]
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        with contextlib.suppress(KafkaError):
            await consumer.commit(ends)
    finally:
        await consumer.stop()


@contextlib.contextmanager
def processes(services: Sequence[Service]) -> Iterator[None]:
    """Each service's api and worker, each in a process group of its own; stopped with
    SIGTERM (SIGKILL after 30 s) whatever happens."""
    started: list[subprocess.Popen[bytes]] = []
    monitoring = next(s for s in services if s.name == "monitoring")
    try:
        for service in services:
            prefix = service.name.upper()
            env = {
                **os.environ,
                "KOSHIQON_ENV": "dev",
                f"{prefix}_DATABASE_URL": service.dsn,
                f"{prefix}_DATABASE_SCHEMA": service.schema,
                f"{prefix}_HTTP_PORT": str(service.port),
                f"{prefix}_WORKER_PROBE_PORT": "0",
                f"{prefix}_LOG_LEVEL": "WARNING",
            }
            if service.name == "proposals":
                env["PROPOSALS_MONITORING_URL"] = monitoring.url
            cli = [sys.executable, "-m", f"koshiqon.{service.name}.entrypoints.cli"]
            worker = [sys.executable, "-c", LAUNCH.replace("{name}", service.name)]
            commands = [[*cli, "api"]]
            commands.append([*cli, "worker"] if service.group is None else [*worker, service.group])
            for command in commands:
                started.append(subprocess.Popen(command, env=env, start_new_session=True))
        yield
    finally:
        for process in started:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in started:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


async def wait_ready(services: Sequence[Service], within: float = 120.0) -> None:
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(timeout=5) as http:
        for service in services:
            while True:
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get(f"{service.url}/readyz")).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{service.name} was not ready within {within:g} s")
                await asyncio.sleep(0.25)


async def load_quota_order(quota: Service) -> None:
    token = issue_dev_token(scopes=["quota:admin", "quota:read"], subject="bench")
    async with httpx.AsyncClient(base_url=quota.url, timeout=30) as http:
        response = await http.post(
            "/v1/quota-orders",
            params={"order": "bench-e2e-2026"},
            content=QUOTA_ORDER.read_bytes(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "text/csv"},
        )
    if response.status_code != 201:
        raise RuntimeError(f"the quota order was refused: {response.status_code} {response.text}")


# --- the load and what it measures ----------------------------------------------------------


@dataclass
class Times:
    residence_committed: dict[uuid.UUID, float] = field(default_factory=dict)  # residence id
    event_of: dict[uuid.UUID, uuid.UUID] = field(default_factory=dict)  # event id -> residence
    recorded: dict[uuid.UUID, float] = field(default_factory=dict)  # event id -> its timestamp
    projected: dict[uuid.UUID, float] = field(default_factory=dict)  # event id
    application_committed: dict[uuid.UUID, float] = field(default_factory=dict)
    outcome: dict[uuid.UUID, float] = field(default_factory=dict)  # application id
    outcomes: dict[str, int] = field(default_factory=dict)  # status -> count
    parts: dict[str, list[float]] = field(default_factory=dict)  # the outcome path's parts
    refused: int = 0


def applications_among(total: int, share: float) -> list[bool]:
    """Which of `total` requests are applications: a share `share` of them, spread evenly."""
    return [int((i + 1) * share) > int(i * share) for i in range(total)]


async def drive(
    args: argparse.Namespace,
    seconds: float,
    registration: Service,
    stay_persons: list[uuid.UUID],
    applicants: list[uuid.UUID],
    times: Times,
) -> None:
    token = issue_dev_token(scopes=["registration:read", "registration:write"], subject="bench")
    headers = f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n".encode()
    idle: asyncio.Queue[HttpConnection] = asyncio.Queue()
    for _ in range(args.connections):
        idle.put_nowait(await HttpConnection.open(registration.port))
    start = datetime.now(UTC).date() + timedelta(days=30)  # nothing expires during the run
    counts = {"stays": 0, "applications": 0}

    async def one(i: int, application: bool) -> None:
        connection = await idle.get()
        try:
            if application:
                applicant = applicants[counts["applications"]]
                counts["applications"] += 1
                path = "/v1/resettlement-applications"
                body = orjson.dumps(
                    {
                        "applicant_id": str(applicant),
                        "category": "migrant",
                        "target_region": NORTH_KAZAKHSTAN,
                        "target_year": 2026,
                    }
                )
            else:
                n = counts["stays"]
                counts["stays"] += 1
                person = stay_persons[n % len(stay_persons)]
                path = f"/v1/persons/{person}/residences"
                body = orjson.dumps(stay(start + timedelta(days=n // len(stay_persons))))
            status, answer = await connection.request(b"POST", path, body, headers)
            now = time.time()
            if status != 201:
                times.refused += 1
                return
            created = uuid.UUID(orjson.loads(answer)["id"])
            if application:
                times.application_committed[created] = now
            else:
                times.residence_committed[created] = now
        finally:
            idle.put_nowait(connection)

    began = time.perf_counter()
    tasks = []
    for i, application in enumerate(
        applications_among(int(args.rate * seconds), args.applications)
    ):
        delay = began + i / args.rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, application)))
    await asyncio.gather(*tasks)
    while not idle.empty():
        await idle.get_nowait().close()


async def tail_registrations(
    ends: dict[TopicPartition, int], times: Times, stop: asyncio.Event
) -> None:
    """Which event carries which stay: residence-registered records from the ends on."""
    consumer = AIOKafkaConsumer(bootstrap_servers=BOOTSTRAP, group_id=None)
    await consumer.start()
    try:
        consumer.assign(list(ends))
        for tp, offset in ends.items():
            consumer.seek(tp, offset)
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=100)
            for record in (r for records in batch.values() for r in records):
                value = orjson.loads(record.value)
                if value.get("type") == REGISTERED:
                    event = uuid.UUID(value["id"])
                    times.event_of[event] = uuid.UUID(value["data"]["residence_id"])
                    times.recorded[event] = record.timestamp / 1000.0
    finally:
        await consumer.stop()


async def watch(
    registration: Service, monitoring: Service, times: Times, stop: asyncio.Event, poll: float
) -> None:
    """Poll monitoring's processed_events for the stays' events and registration's
    applications for their outcomes; note when each is first seen."""
    reg = await asyncpg.connect(
        roles.asyncpg_dsn(registration.dsn), server_settings={"search_path": registration.schema}
    )
    mon = await asyncpg.connect(
        roles.asyncpg_dsn(monitoring.dsn), server_settings={"search_path": monitoring.schema}
    )
    try:
        while not stop.is_set():
            events = [e for e in times.event_of if e not in times.projected]
            applications = [a for a in times.application_committed if a not in times.outcome]
            if events:
                rows = await mon.fetch(
                    "SELECT DISTINCT event_id FROM processed_events"
                    " WHERE event_id = ANY($1::uuid[])",
                    events,
                )
                seen = time.time()
                for row in rows:
                    times.projected[uuid.UUID(str(row["event_id"]))] = seen
            if applications:
                rows = await reg.fetch(
                    "SELECT id, status FROM resettlement_applications"
                    " WHERE id = ANY($1::uuid[]) AND status <> 'pending_quota'",
                    applications,
                )
                seen = time.time()
                for row in rows:
                    times.outcome[uuid.UUID(str(row["id"]))] = seen
                    times.outcomes[row["status"]] = times.outcomes.get(row["status"], 0) + 1
            await asyncio.sleep(poll)
    finally:
        await reg.close()
        await mon.close()


async def end_offsets(topic: str) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=BOOTSTRAP, group_id=None)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(PARTITIONS[topic])]
        return dict(await consumer.end_offsets(partitions))
    finally:
        await consumer.stop()


def settled(times: Times) -> bool:
    """Every stay's event projected and every application answered (as far as seen)."""
    return (
        len(times.event_of) >= len(times.residence_committed)
        and len(times.projected) >= len(times.residence_committed)
        and len(times.outcome) >= len(times.application_committed)
    )


async def phase(
    args: argparse.Namespace, seconds: float, registration: Service, monitoring: Service
) -> Times:
    """Persons of its own, the load for `seconds`, then up to 60 s for what it caused."""
    conn = await asyncpg.connect(
        roles.asyncpg_dsn(registration.dsn), server_settings={"search_path": registration.schema}
    )
    try:
        stay_persons = await make_persons(conn, 400)
        applicants = await make_persons(
            conn, sum(applications_among(int(args.rate * seconds), args.applications))
        )
    finally:
        await conn.close()
    times, stop = Times(), asyncio.Event()
    ends = await end_offsets("registration.v1")
    tasks = [
        asyncio.create_task(tail_registrations(ends, times, stop)),
        asyncio.create_task(watch(registration, monitoring, times, stop, args.poll_ms / 1000)),
    ]
    try:
        await drive(args, seconds, registration, stay_persons, applicants, times)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not settled(times):  # noqa: ASYNC110
            await asyncio.sleep(0.1)
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    return times


def projection_parts(times: Times) -> dict[str, list[float]]:
    """The projection path in two parts, at the stay's record on registration.v1 (its
    timestamp, the relay's producer creating it)."""
    both = [
        (times.residence_committed[residence], times.recorded[event], times.projected[event])
        for event, residence in times.event_of.items()
        if event in times.projected and residence in times.residence_committed
    ]
    return {
        "commit -> record on registration.v1 (registration's relay)": [
            recorded - committed for committed, recorded, _ in both
        ],
        "record -> seen projected (broker, monitoring's worker)": [
            seen - recorded for _, recorded, seen in both
        ],
    }


async def outcome_parts(quota: Service, times: Times) -> None:
    """Where an application's time goes, from quota's own stamps: to its reservation
    (registration's relay, the broker, quota's consumer and its queue); from there to the
    outcome's record acknowledged (quota's relay: the outbox row's `published_at`); from that
    to the outcome seen at registration (the broker, registration's consumer, the polling)."""
    ids = list(times.outcome)
    quo = await asyncpg.connect(
        roles.asyncpg_dsn(quota.dsn), server_settings={"search_path": quota.schema}
    )
    try:
        reservations = await quo.fetch(
            "SELECT application_id, updated_at FROM reservations"
            " WHERE application_id = ANY($1::uuid[])",
            ids,
        )
        sent = await quo.fetch(
            "SELECT key, min(published_at) AS published_at FROM outbox"
            " WHERE key = ANY($1::text[]) AND published_at IS NOT NULL"
            " AND event_type IN ('kz.migration.quota.quota-reserved.v1',"
            " 'kz.migration.quota.quota-denied.v1') GROUP BY key",
            [str(a) for a in ids],
        )
    finally:
        await quo.close()
    reserved = {
        uuid.UUID(str(r["application_id"])): r["updated_at"].timestamp() for r in reservations
    }
    published = {uuid.UUID(r["key"]): r["published_at"].timestamp() for r in sent}
    both = [a for a in ids if a in reserved and a in published]
    times.parts = {
        "201 -> quota's reservation": [reserved[a] - times.application_committed[a] for a in both],
        "reservation -> its outcome acknowledged by the broker (quota's relay)": [
            published[a] - reserved[a] for a in both
        ],
        "acknowledged -> seen at registration": [times.outcome[a] - published[a] for a in both],
    }


async def services_run(args: argparse.Namespace) -> Times:
    """The four services up; a warm-up (consumer groups joining, connections, caches), not
    measured; then the measured load."""
    for service in SERVICES:
        await prepare(service)
    registration, quota, _, monitoring = SERVICES
    try:
        for service in SERVICES:
            await start_at_the_end(service.group or REGISTRATION_GROUP, service.topics)
        with processes(SERVICES):
            await wait_ready(SERVICES)
            await load_quota_order(quota)
            warm = await phase(args, args.warmup_seconds, registration, monitoring)
            if not settled(warm):
                raise RuntimeError("the warm-up's events were not all handled within 60 s")
            times = await phase(args, args.seconds, registration, monitoring)
        await outcome_parts(quota, times)
        return times
    finally:
        for service in SERVICES:
            await drop(service)


# --- the raw baseline -----------------------------------------------------------------------


@dataclass
class RawTimes:
    sent: dict[bytes, float] = field(default_factory=dict)
    hop: dict[bytes, float] = field(default_factory=dict)
    back: dict[bytes, float] = field(default_factory=dict)


def envelope_bytes() -> bytes:
    """A residence-registered envelope as registration's relay sends it: the record size."""
    payload = ResidenceRegistered(
        residence_id=uuid.uuid4(),
        person_id=uuid.uuid4(),
        legal_status=LegalStatus.FOREIGNER,
        kind=ResidenceKind.TEMPORARY,
        settlement="751110000",
        region="750000000",
        valid_from=date(2026, 3, 1),
        valid_until=date(2026, 3, 1),
        purpose=StayPurpose.WORK,
        labour_migration=True,
    )
    envelope = make_event(
        payload,
        subject=str(payload.person_id),
        source="/koshiqon/registration",
        correlation_id=str(uuid.uuid4()),
    )
    return envelope.to_bytes()


async def raw_topics() -> tuple[str, str]:
    """The baseline's two topics, made before the services start: their leaders are
    elected by the time the baseline runs."""
    tag = uuid.uuid4().hex[:8]
    ping, pong = f"bench.e2e.ping.{tag}.v1", f"bench.e2e.pong.{tag}.v1"
    short = {"retention.ms": str(3_600_000)}
    specs = [TopicSpec(ping, PARTITIONS["registration.v1"], short),
             TopicSpec(pong, PARTITIONS["quota.v1"], short)]  # fmt: skip
    await ensure_topics(BOOTSTRAP, specs)
    return ping, pong


async def raw_run(args: argparse.Namespace, ping: str, pong: str) -> RawTimes:
    partitions_of = {ping: PARTITIONS["registration.v1"], pong: PARTITIONS["quota.v1"]}
    tag = ping.split(".")[3]
    times = RawTimes()
    value = envelope_bytes()
    sender = AIOKafkaProducer(**producer_settings(BOOTSTRAP, client_id="bench-e2e-raw"))
    relay = AIOKafkaProducer(**producer_settings(BOOTSTRAP, client_id="bench-e2e-raw-on"))
    readers = [
        AIOKafkaConsumer(
            bootstrap_servers=BOOTSTRAP, group_id=None, isolation_level="read_committed"
        )
        for _ in range(2)
    ]
    for client in (sender, relay, *readers):
        await client.start()
    stop = asyncio.Event()

    async def read(
        consumer: AIOKafkaConsumer,
        topic: str,
        seen_at: dict[bytes, float],
        ready: asyncio.Event,
        onward: str | None,
    ) -> None:
        """Note when each record is read; send it on to `onward` (the second hop)."""
        partitions = [TopicPartition(topic, p) for p in range(partitions_of[topic])]
        consumer.assign(partitions)
        await consumer.seek_to_end(*partitions)
        for tp in partitions:
            await consumer.position(tp)
        ready.set()
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=100)
            seen = time.time()
            for record in (r for records in batch.values() for r in records):
                assert record.key is not None
                seen_at.setdefault(record.key, seen)
                if onward is not None:
                    await relay.send(onward, record.value, key=record.key)

    ready = [asyncio.Event(), asyncio.Event()]
    try:
        tasks = [
            asyncio.create_task(read(readers[0], ping, times.hop, ready[0], pong)),
            asyncio.create_task(read(readers[1], pong, times.back, ready[1], None)),
        ]
        await asyncio.gather(*(event.wait() for event in ready))
        total = int(args.rate * args.raw_seconds)
        began = time.perf_counter()
        pending = []
        for i in range(total):
            delay = began + i / args.rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            key = f"{tag}-{i}".encode()
            times.sent[key] = time.time()
            pending.append(await sender.send(ping, value, key=key))
        await asyncio.gather(*pending)
        deadline = time.monotonic() + 30
        while len(times.back) < total and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.gather(*tasks)
    finally:
        for client in (sender, relay, *readers):
            await client.stop()
    return times


# --- the figures ----------------------------------------------------------------------------


def quantiles(values: list[float]) -> tuple[float, float]:
    if not values:
        return float("nan"), float("nan")
    ordered = sorted(values)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def line(name: str, values: list[float]) -> str:
    p50, p99 = quantiles(values)
    return f"{name}: p50 {p50 * 1000:7.1f} ms   p99 {p99 * 1000:7.1f} ms   ({len(values):,})"


async def main(args: argparse.Namespace) -> None:
    ping, pong = await raw_topics()
    times = await services_run(args)
    raw = await raw_run(args, ping, pong)

    projection = [
        times.projected[event] - times.residence_committed[residence]
        for event, residence in times.event_of.items()
        if event in times.projected and residence in times.residence_committed
    ]
    outcome = [
        times.outcome[application] - committed
        for application, committed in times.application_committed.items()
        if application in times.outcome
    ]
    hop = [raw.hop[k] - sent for k, sent in raw.sent.items() if k in raw.hop]
    back = [raw.back[k] - sent for k, sent in raw.sent.items() if k in raw.back]

    stays, applications = len(times.residence_committed), len(times.application_committed)
    outcomes = ", ".join(f"{status} {n}" for status, n in sorted(times.outcomes.items()))
    print(
        f"{stays + applications + times.refused:,} requests at {args.rate:g}/s for"
        f" {args.seconds:g} s to registration ({times.refused} refused): {stays:,} stays,"
        f" {applications:,} resettlement applications (outcomes: {outcomes or 'none'});"
        f" seen by polling every {args.poll_ms:g} ms"
    )
    print(
        line("registration commit -> monitoring projection", projection)
        + f"   (target p99 <= {PROJECTION_TARGET * 1000:.0f} ms)"
    )
    print(
        line("application -> quota outcome at registration", outcome)
        + f"   (target p99 <= {OUTCOME_TARGET * 1000:.0f} ms)"
    )
    for part, values in projection_parts(times).items():
        print(line(f"  {part}", values))
    for part, values in times.parts.items():
        print(line(f"  {part}", values))
    print(f"raw baseline: {len(raw.sent):,} records at {args.rate:g}/s for {args.raw_seconds:g} s")
    print(line("  raw one hop (send -> read)", hop))
    print(line("  raw round trip (send -> read -> send -> read)", back))
    figures = []
    for name, values, baseline, base_name, target in (
        (
            "registration commit -> monitoring projection",
            projection,
            hop,
            "bare produce -> consume, one hop",
            PROJECTION_TARGET,
        ),
        (
            "resettlement application -> quota outcome at registration",
            outcome,
            back,
            "bare produce -> consume -> produce -> consume",
            OUTCOME_TARGET,
        ),
    ):
        p50, p99 = quantiles(values)
        b50, b99 = quantiles(baseline)
        print(f"{name}: p50 {p50 / b50:.1f}x, p99 {p99 / b99:.1f}x the raw baseline")
        figures += [
            Figure(
                f"{name}, p50 at {args.rate:g} requests/s",
                p50 * 1000,
                "ms",
                f"{base_name}, p50",
                b50 * 1000,
                p50 / b50,
                "— (path/raw: lower is better)",
            ),
            Figure(
                f"{name}, p99 at {args.rate:g} requests/s",
                p99 * 1000,
                "ms",
                f"{base_name}, p99",
                b99 * 1000,
                p99 / b99,
                f"p99 <= {target * 1000:.0f} ms",
                p99 <= target,
            ),
        ]
    missing = stays - len(projection), applications - len(outcome)
    notes = (
        [
            f"not seen within 60 s of the last request: {missing[0]} stays' projections,"
            f" {missing[1]} applications' outcomes"
        ]
        if any(missing)
        else []
    )
    if any(missing):
        print(notes[0])
    emit(args.json, "e2e_latency", figures, notes)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=200.0, help="requests per second")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument(
        "--applications", type=float, default=0.25, help="the share of resettlement applications"
    )
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--poll-ms", type=float, default=10.0)
    parser.add_argument("--raw-seconds", type=float, default=15.0)
    parser.add_argument("--warmup-seconds", type=float, default=5.0, help="not measured")
    add_json_argument(parser)
    args = parser.parse_args()
    if not 0 <= args.applications <= 1:
        parser.error("--applications is a share between 0 and 1")
    asyncio.run(main(args))
