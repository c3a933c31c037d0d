"""Contention on one quota: concurrent reservers through the real HTTP stack of the quota
service, against two raw asyncpg baselines on the same database in the same run, and the
saga path (resettlement-requested events through the quota consumer).

    uv run python bench/quota_contention.py [--reservers 200] [--requests 4000]
                                            [--idempotency-key] [--pool 10] [--events 2000]
                                            [--replicas 1,2]

Needs the local infrastructure (`make infra-up`). The service runs as its own process
(`python -m koshiqon.quota.entrypoints.cli api`, uvicorn on uvloop) on a throwaway schema
built by its real migrations; the quotas and their territories are set up through its admin
API. `--replicas` names the API deployments measured, one after the other, by their number
of processes (each on its own port and its own quota; the reservers' connections spread
over the processes as a Service spreads them over pods; the pool split between them, so
that every deployment has `--pool` connections in all, as the raw baselines have): one
process uses one core at most, and on this machine one process is what limits the rate.

HTTP: `--reservers` keep-alive HTTP/1.1 connections (a light asyncio-streams client, so the
client does not starve the server of CPU) POST /v1/reservations, each request with its own
application id and 1-5 persons, all on ONE quota. Per request the service does: bearer token
check, body validation, the region check, its turn for a pooled connection (first come,
first served: `koshiqon.common.database.admission`), one read without a transaction (the
quota and its designation), and ONE statement, autocommitted, that locks the quota row,
claims the application's ledger entry (a repeat finds it there, writes nothing and is
answered from it), writes the counters with the 90 %/100 % marks and the outbox rows of
the outcome (quota-reserved | quota-denied, and threshold-reached once each) with the
relay's NOTIFY; then the JSON response. With --idempotency-key also the Idempotency-Key
middleware's claim and completion, and the reservation's transaction is then held until
its response is stored (so is its lock).

Raw, two baselines over an asyncpg pool of the service's pool size, from as many asyncio
tasks, on the same quota data:
- like-for-like: the same statements as the service (the quota read, then the reserving
  statement with its outbox rows built from the same envelopes), each autocommitted, on a
  second quota of the same limit (`raw-l4l`);
- bare: only the conditional UPDATE (`UPDATE raw_quota SET reserved = reserved + n WHERE
  reserved + consumed + n <= limit`, autocommit) on an identical table with the same CHECK.

Saga: `--events` resettlement-requested events (1-5 persons, one quota of its own) are
produced into registration.v1 first; then the quota consumer (its own group, starting at
the topic's end before the events) runs in this process and reservations/s is the events
handled over the time between the first and the last ledger entry it wrote.

The limits are set so that about three quarters of the persons fit. Prints reservations/s
and p50/p99 for each, the ratios (API / like-for-like is the figure to watch), granted/
denied counts, and the oversubscription check of every quota (reserved + consumed - limit;
must be <= 0 -> 0 violations), with the ledger and the outbox cross-checked against the
quota rows. Not a test: nothing asserts the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition
from pydantic import SecretStr
from report import Figure, add_json_argument, emit

from koshiqon.common.consumer import ConsumerConfig, ConsumerRunner
from koshiqon.common.database import roles
from koshiqon.common.database.engine import create_engine, session_factory
from koshiqon.common.events import quota as wire
from koshiqon.common.events import registration as reg
from koshiqon.common.events.contracts import make_event
from koshiqon.common.events.envelope import Envelope
from koshiqon.common.migrations import upgrade
from koshiqon.common.settings import admin_dsn, role_dsn
from koshiqon.common.topics import CONTEXT_TOPICS
from koshiqon.devtools.devkey import issue_dev_token
from koshiqon.quota.adapters.repository.ledger import _RESERVE, _outbox_columns
from koshiqon.quota.adapters.repository.quotas import _QUOTA_TO_RESERVE
from koshiqon.quota.bootstrap import MIGRATIONS
from koshiqon.quota.domain.announcements import (
    EXHAUSTED_FILLED,
    RESERVED_FILLED,
    THRESHOLD_FILLED,
)
from koshiqon.quota.entrypoints.consumer import subscription

SCHEMA = "bench_quota"
PASSWORD = "bench-quota"
PORT = 8802
API_REGIONS = ("590000000", "390000000", "110000000")  # each deployment's measured quota
WARM_REGIONS = ("550000000", "350000000", "150000000")  # and the quota it is warmed up on
L4L_REGION = "710000000"  # the like-for-like baseline's quota (same limit)
SAGA_REGION = "750000000"  # the saga path's quota
KAFKA = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:19092")


# --- a minimal keep-alive HTTP/1.1 client ---------------------------------------------------


class Connection:
    """One keep-alive HTTP/1.1 connection; requests are sent one at a time."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int = PORT) -> Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        lines = [f"{method} {path} HTTP/1.1", "Host: quota", f"Content-Length: {len(body)}"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


# --- the service process and its data ------------------------------------------------------


async def prepare() -> str:
    admin = admin_dsn()
    await roles.drop_schema(admin, SCHEMA)
    await roles.bootstrap(admin, {SCHEMA: PASSWORD})
    dsn = role_dsn(admin, role=SCHEMA, password=SecretStr(PASSWORD))
    await upgrade(MIGRATIONS, dsn, schema=SCHEMA)
    conn = await asyncpg.connect(roles.asyncpg_dsn(dsn), server_settings={"search_path": SCHEMA})
    try:
        await conn.execute(
            'CREATE TABLE raw_quota (id int PRIMARY KEY, "limit" int NOT NULL, reserved int '
            "NOT NULL DEFAULT 0, consumed int NOT NULL DEFAULT 0, "
            'CHECK (reserved + consumed <= "limit"))'
        )
    finally:
        await conn.close()
    return dsn


@contextlib.contextmanager
def api_processes(dsn: str, pool: int, replicas: int) -> Iterator[list[subprocess.Popen[bytes]]]:
    """`replicas` API processes on PORT and the next ports, `pool` connections between them."""
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for n in range(replicas):
            env = {
                **os.environ,
                "QUOTA_DATABASE_URL": dsn,
                "QUOTA_DATABASE_SCHEMA": SCHEMA,
                "QUOTA_HTTP_PORT": str(PORT + n),
                "QUOTA_DB_POOL_SIZE": str(max(pool // replicas + (n < pool % replicas), 1)),
                "QUOTA_LOG_LEVEL": "WARNING",
                "KOSHIQON_ENV": "dev",
            }
            cmd = [sys.executable, "-m", "koshiqon.quota.entrypoints.cli", "api"]
            procs.append(subprocess.Popen(cmd, env=env))
        yield procs
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)


async def wait_ready(replicas: int) -> None:
    for port in range(PORT, PORT + replicas):
        await _ready(port)


async def _ready(port: int) -> None:
    for _ in range(300):
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            conn = await Connection.open(port)
            status, _ = await conn.request("GET", "/livez")
            conn.close()
            if status == 200:
                return
        await asyncio.sleep(0.1)
    raise RuntimeError("the quota API did not start")


async def establish(region: str, limit: int) -> None:
    """Designate the region for migrants and establish its 2026 quota, through the API."""
    admin = {
        "Authorization": f"Bearer {issue_dev_token(scopes=['quota:admin'], subject='bench')}",
        "Content-Type": "application/json",
    }
    conn = await Connection.open()
    try:
        territory = {"kato": region, "kind": "migrant", "effective_from": "2026-01-01"}
        status, body = await conn.request(
            "POST", "/v1/territories", orjson.dumps(territory | {"decision": "bench"}), admin
        )
        assert status == 201, body
        quota = {"kind": "migrant", "region": region, "year_from": 2026, "year_to": 2026}
        status, body = await conn.request(
            "POST", "/v1/quotas", orjson.dumps(quota | {"limit": limit}), admin
        )
        assert status == 201, body
    finally:
        conn.close()


# --- the two rounds ---------------------------------------------------------------------------

One = Callable[[int], Awaitable[bool]]


@dataclass
class Result:
    rate: float
    p50: float
    p99: float
    granted_requests: int
    denied_requests: int
    granted_persons: int


async def drive(ones: list[One], sizes: list[int]) -> Result:
    """Each `one` (a reserver) takes the next size off the queue until it is empty."""
    queue = list(reversed(sizes))
    latencies: list[float] = []
    granted = denied = persons_granted = 0

    async def reserver(one: One) -> None:
        nonlocal granted, denied, persons_granted
        while queue:
            persons = queue.pop()
            started = time.perf_counter()
            ok = await one(persons)
            latencies.append(time.perf_counter() - started)
            granted, denied = granted + ok, denied + (not ok)
            persons_granted += persons if ok else 0

    started = time.perf_counter()
    await asyncio.gather(*(reserver(one) for one in ones))
    elapsed = time.perf_counter() - started
    q = statistics.quantiles(latencies, n=100)
    return Result(len(sizes) / elapsed, q[49], q[98], granted, denied, persons_granted)


async def http_round(
    sizes: list[int], reservers: int, *, region: str, keyed: bool, replicas: int
) -> Result:
    token = issue_dev_token(scopes=["quota:reserve"], subject="bench")
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    conns = [await Connection.open(PORT + n % replicas) for n in range(reservers)]

    def reserver(conn: Connection) -> One:
        async def one(persons: int) -> bool:
            application_id = str(uuid.uuid4())
            body = {"application_id": application_id, "kind": "migrant", "region": region}
            payload = orjson.dumps(body | {"year": 2026, "persons": persons})
            extra = {"Idempotency-Key": application_id} if keyed else {}
            path = "/v1/reservations"
            status, answer = await conn.request("POST", path, payload, headers | extra)
            if status != 200:
                raise RuntimeError(f"{status}: {answer!r}")
            return bool(orjson.loads(answer)["outcome"] == "reserved")

        return one

    try:
        return await drive([reserver(conn) for conn in conns], sizes)
    finally:
        for conn in conns:
            conn.close()


async def raw_round(
    dsn: str, sizes: list[int], reservers: int, *, pool_size: int, limit: int
) -> Result:
    pool = await asyncpg.create_pool(
        roles.asyncpg_dsn(dsn),
        min_size=pool_size,
        max_size=pool_size,
        server_settings={"search_path": SCHEMA},
    )
    try:
        await pool.execute('INSERT INTO raw_quota (id, "limit") VALUES (1, $1)', limit)

        async def one(persons: int) -> bool:
            row = await pool.fetchrow(
                "UPDATE raw_quota SET reserved = reserved + $1 WHERE id = 1 "
                'AND reserved + consumed + $1 <= "limit" RETURNING reserved',
                persons,
            )
            return row is not None

        return await drive([one] * reservers, sizes)
    finally:
        await pool.close()


async def l4l_round(dsn: str, sizes: list[int], reservers: int, *, pool_size: int) -> Result:
    """The service's statements on raw asyncpg: the quota read, then the reserving statement
    with the same outbox candidates (`SqlLedgerRepository.reserve`), each autocommitted."""
    pool = await asyncpg.create_pool(
        roles.asyncpg_dsn(dsn),
        min_size=pool_size,
        max_size=pool_size,
        server_settings={"search_path": SCHEMA},
    )

    async def one(persons: int) -> bool:
        app, now = uuid.uuid4(), datetime.now(UTC)
        (quota,) = await pool.fetch(
            _QUOTA_TO_RESERVE, True, "migrant", L4L_REGION, L4L_REGION, None, 2026,
            now.date(), now.year,
        )  # fmt: skip
        rows = await pool.fetch(
            _RESERVE, app, quota["id"], "migrant", L4L_REGION, 2026, None, persons, now,
            *_outbox_columns(candidates(app, quota, persons, now)),
        )  # fmt: skip
        return bool(rows[0]["status"] == "reserved")

    try:
        return await drive([one] * reservers, sizes)
    finally:
        await pool.close()


def candidates(
    app: uuid.UUID, quota: asyncpg.Record, persons: int, now: datetime
) -> list[tuple[str, Envelope]]:
    """The envelopes the service prepares for one reservation (handlers/ledger.py)."""
    common = {"application_id": app, "quota_id": quota["id"], "kind": "migrant",
              "region": L4L_REGION, "year": 2026, "persons": persons}  # fmt: skip
    reserved = wire.QuotaReserved(**common, remaining=0, reserved_at=now)
    denied = wire.QuotaDenied(**common, reason="exhausted", remaining=0, denied_at=now)
    thresholds = [
        wire.QuotaThresholdReached(
            quota_id=quota["id"],
            kind="migrant",
            region=L4L_REGION,
            year_from=2026,
            year_to=2026,
            threshold=t,
            limit=0,
            reserved=0,
            consumed=0,
            reached_at=now,
        )
        for t in ("90", "100")
    ]
    correlation = uuid.uuid4().hex

    def envelope(payload: object, subject: object, unset: tuple[str, ...]) -> Envelope:
        return make_event(payload, subject=str(subject), source="/koshiqon/quota",  # type: ignore[arg-type]
                          correlation_id=correlation, unset=unset)  # fmt: skip

    return [
        ("reserved", envelope(reserved, app, RESERVED_FILLED)),
        ("denied", envelope(denied, app, EXHAUSTED_FILLED)),
        *[(t.threshold.value, envelope(t, t.quota_id, THRESHOLD_FILLED)) for t in thresholds],
    ]


# --- the saga path ----------------------------------------------------------------------------


async def saga_round(dsn: str, count: int, *, pool_size: int) -> float:
    """`count` resettlement-requested events produced first, then handled by the quota
    consumer: reservations/s between the first and the last ledger entry it wrote."""
    group = f"bench-quota-{uuid.uuid4().hex[:8]}"
    await start_at_the_end(group)
    rng = random.Random(11)
    events = [requested(uuid.uuid4(), rng.randint(1, 5)) for _ in range(count)]
    await produce("registration.v1", events)
    engine = create_engine(dsn, schema=SCHEMA, application="bench-saga", pool_size=pool_size)
    handled, done = 0, asyncio.Event()

    async def after_commit(_: Envelope) -> None:
        nonlocal handled
        handled += 1
        if handled == count:
            done.set()

    runner = ConsumerRunner(
        subscription(now=lambda: datetime.now(UTC), group=group),
        session_factory(engine),
        ConsumerConfig(bootstrap=KAFKA, after_commit=after_commit),
    )
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    try:
        await asyncio.wait_for(done.wait(), timeout=600)
    finally:
        stop.set()
        await task
        await engine.dispose()
    conn = await asyncpg.connect(roles.asyncpg_dsn(dsn), server_settings={"search_path": SCHEMA})
    try:
        span = await conn.fetchval(
            "SELECT extract(epoch FROM max(requested_at) - min(requested_at)) "
            "FROM reservations WHERE region = $1",
            SAGA_REGION,
        )
    finally:
        await conn.close()
    return count / float(span)


def requested(app: uuid.UUID, persons: int) -> Envelope:
    payload = reg.ResettlementRequested(
        application_id=app, applicant_id=uuid.uuid4(), category="migrant",
        target_region=SAGA_REGION, target_year=2026, persons=persons,
        requested_at=datetime.now(UTC),
    )  # fmt: skip
    return make_event(payload, subject=str(app), source="/bench", correlation_id="bench-saga")


async def start_at_the_end(group: str) -> None:
    """Commit the new group's offsets at registration.v1's end: it sees only these events."""
    consumer = AIOKafkaConsumer(bootstrap_servers=KAFKA, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        counts = {spec.name: spec.partitions for spec in CONTEXT_TOPICS}
        partitions = [
            TopicPartition("registration.v1", n) for n in range(counts["registration.v1"])
        ]
        ends = await consumer.end_offsets(partitions)
        consumer.assign(partitions)
        await consumer.commit(dict(ends.items()))
    finally:
        await consumer.stop()


async def produce(topic: str, events: list[Envelope]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, enable_idempotence=True, linger_ms=5)
    await producer.start()
    try:
        sent = [await producer.send(topic, e.to_bytes(), key=e.subject.encode()) for e in events]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of process `pid` so far (Linux `/proc/<pid>/stat`)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- the checks -------------------------------------------------------------------------------


async def checks(dsn: str, api_regions: list[str]) -> dict[str, Any]:
    conn = await asyncpg.connect(roles.asyncpg_dsn(dsn), server_settings={"search_path": SCHEMA})
    try:
        row = await conn.fetchrow(
            'SELECT (SELECT count(*) FROM quotas WHERE reserved + consumed > "limit") AS quota, '
            '(SELECT count(*) FROM raw_quota WHERE reserved + consumed > "limit") AS raw, '
            "(SELECT count(*) FROM quotas q WHERE q.reserved <> (SELECT coalesce(sum(persons), "
            "0) FROM reservations r WHERE r.quota_id = q.id AND r.status = 'reserved')) AS ledger, "
            "(SELECT array_agg(reserved ORDER BY array_position($1::text[], region)) FROM quotas "
            "WHERE region = ANY($1::text[])) AS reserved, "
            "(SELECT reserved FROM quotas WHERE region = $2) AS l4l_reserved, "
            "(SELECT reserved FROM raw_quota) AS raw_reserved, "
            "(SELECT count(*) FROM reservations) AS ledger_rows, "
            "(SELECT count(*) FROM outbox WHERE event_type IN "
            "('kz.migration.quota.quota-reserved.v1', 'kz.migration.quota.quota-denied.v1')) "
            "AS outcome_events, "
            "(SELECT count(*) FROM outbox WHERE event_type = "
            "'kz.migration.quota.quota-threshold-reached.v1') AS threshold_events",
            api_regions,
            L4L_REGION,
        )
        assert row is not None
        return dict(row)
    finally:
        await conn.close()


def line(name: str, r: Result) -> str:
    return (
        f"{name:>7}: {r.rate:7.0f} reservations/s  p50 {r.p50 * 1000:7.1f} ms  "
        f"p99 {r.p99 * 1000:7.1f} ms  granted {r.granted_requests} ({r.granted_persons} persons)"
        f"  denied {r.denied_requests}"
    )


@dataclass
class Deployment:
    replicas: int
    result: Result
    cpu_per_request: float  # seconds, over all its processes

    @property
    def name(self) -> str:
        return "http" if self.replicas == 1 else f"http x{self.replicas}"

    @property
    def processes(self) -> str:
        return "one API process" if self.replicas == 1 else f"{self.replicas} API processes"


async def measure(
    dsn: str, args: argparse.Namespace, sizes: list[int], limit: int, replicas: int, n: int
) -> Deployment:
    """One deployment: its processes started, warmed up on a quota of their own, then the
    reservers on the measured quota (`API_REGIONS[n]`, of `limit` persons)."""
    rng = random.Random(13 + n)
    with api_processes(dsn, args.pool, replicas) as procs:
        await wait_ready(replicas)
        await establish(API_REGIONS[n], limit)
        await establish(WARM_REGIONS[n], 10**6)
        warm = [rng.randint(1, 5) for _ in range(4 * args.reservers)]
        keyed = args.idempotency_key
        await http_round(
            warm, args.reservers, region=WARM_REGIONS[n], keyed=keyed, replicas=replicas
        )
        before = sum(cpu_seconds(p.pid) for p in procs)
        result = await http_round(
            sizes, args.reservers, region=API_REGIONS[n], keyed=keyed, replicas=replicas
        )
        cpu = (sum(cpu_seconds(p.pid) for p in procs) - before) / len(sizes)
    return Deployment(replicas, result, cpu)


async def main(args: argparse.Namespace) -> None:
    rng = random.Random(7)
    sizes = [rng.randint(1, 5) for _ in range(args.requests)]
    limit = sum(sizes) * 3 // 4
    saga_limit = max(args.events * 3 * 3 // 4, 1)
    deployments: list[Deployment] = []
    dsn = await prepare()
    try:
        with api_processes(dsn, args.pool, 1):  # the baselines' quotas, through the admin API
            await wait_ready(1)
            await establish(L4L_REGION, limit)
            await establish(SAGA_REGION, saga_limit)
        for n, replicas in enumerate(args.replicas):
            deployments.append(await measure(dsn, args, sizes, limit, replicas, n))
        l4l = await l4l_round(dsn, sizes, args.reservers, pool_size=args.pool)
        raw = await raw_round(dsn, sizes, args.reservers, pool_size=args.pool, limit=limit)
        saga = await saga_round(dsn, args.events, pool_size=args.pool) if args.events else 0.0
        found = await checks(dsn, [API_REGIONS[n] for n in range(len(deployments))])
    finally:
        await roles.drop_schema(admin_dsn(), SCHEMA)
        await roles.drop_role(admin_dsn(), SCHEMA)
    report(args, limit, deployments=deployments, l4l=l4l, raw=raw, saga=saga, found=found)


def report(
    args: argparse.Namespace,
    limit: int,
    *,
    deployments: list[Deployment],
    l4l: Result,
    raw: Result,
    saga: float,
    found: dict[str, Any],
) -> None:
    with_key = " + Idempotency-Key" if args.idempotency_key else ""
    print(
        f"{args.requests} requests of 1-5 persons, {args.reservers} concurrent reservers, "
        f"one quota of {limit} persons per deployment, {args.pool} connections per deployment"
        f"{with_key}"
    )
    for d in deployments:
        print(line(d.name, d.result))
    print(line("raw-l4l", l4l))
    print(line("raw", raw))
    for d in deployments:
        print(f"{d.name}/raw-l4l throughput ratio: {d.result.rate / l4l.rate:.3f}")
    print(f"raw-l4l/raw throughput ratio: {l4l.rate / raw.rate:.3f}")
    if args.events:
        print(
            f"saga: {saga:7.0f} reservations/s through the quota consumer ({args.events} "
            f"resettlement-requested events); saga/raw-l4l {saga / l4l.rate:.3f}"
        )
    granted = [f"{r} = granted {d.result.granted_persons}"
               for r, d in zip(found["reserved"] or [], deployments, strict=True)]  # fmt: skip
    print(
        f"reserved: quota rows {'; '.join(granted)}; like-for-like row {found['l4l_reserved']}"
        f" = granted {l4l.granted_persons}; raw row {found['raw_reserved']} = granted "
        f"{raw.granted_persons}"
    )
    expected = (len(deployments) + 1) * args.requests + 4 * args.reservers * len(deployments)
    expected += args.events
    print(
        f"ledger rows {found['ledger_rows']}, outcome events {found['outcome_events']} "
        f"(expected {expected}: each deployment and its warm-up, like-for-like, saga), "
        f"threshold events {found['threshold_events']} (expected "
        f"{2 * (len(deployments) + 1 + bool(args.events))}: 90 % and 100 % of each quota "
        "filled)"
    )
    violations = found["quota"] + found["raw"]
    print(
        f"oversubscription (reserved + consumed > limit): {violations} violations "
        f"(quotas {found['quota']}, raw {found['raw']}); ledger mismatches {found['ledger']}"
    )
    for d in deployments:
        print(f"{d.name}: the API spent {d.cpu_per_request * 1e6:.0f} us of CPU per request")
    unit = "reservations/s"
    figures: list[Figure] = []
    for d in deployments:
        what = f"{args.reservers} reservers, {d.processes}{with_key}"
        figures += [
            Figure(f"reservations over HTTP on one quota, {what}", d.result.rate, unit,
                   "raw asyncpg, the service's statements (like-for-like)", l4l.rate,
                   d.result.rate / l4l.rate, "http/like-for-like >= 0.5 (issue 12, item 22)",
                   met=d.result.rate / l4l.rate >= 0.5),
            Figure(f"reservation p99 over HTTP, {what}", d.result.p99 * 1000, "ms",
                   "raw asyncpg like-for-like p99", l4l.p99 * 1000,
                   d.result.p99 / l4l.p99 if l4l.p99 else None,
                   "p99 <= 500 ms at 200 reservers", met=d.result.p99 <= 0.5),
        ]  # fmt: skip
    figures.append(Figure(
        f"reservations over HTTP on one quota, {args.reservers} reservers, one API process",
        deployments[0].result.rate, unit, "raw asyncpg, the bare conditional UPDATE", raw.rate,
        deployments[0].result.rate / raw.rate, "none set",
    ))  # fmt: skip
    if args.events:
        figures.append(Figure(
            f"saga: reservations through the quota consumer, {args.events} events", saga, unit,
            "raw asyncpg, the service's statements (like-for-like)", l4l.rate,
            saga / l4l.rate, "none set",
        ))  # fmt: skip
    figures.append(Figure(
        "quotas oversubscribed or off their ledger", float(violations + found["ledger"]), "",
        target="0", met=violations + found["ledger"] == 0,
    ))  # fmt: skip
    emit(args.json, "quota_contention", figures)


def replicas_list(text: str) -> list[int]:
    counts = [int(part) for part in text.split(",") if part.strip()]
    if not counts or any(n < 1 for n in counts) or len(counts) > len(API_REGIONS):
        raise argparse.ArgumentTypeError(f"1 to {len(API_REGIONS)} process counts, each >= 1")
    return counts


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reservers", type=int, default=200)
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--pool", type=int, default=10, help="the service's pool (and raw's)")
    parser.add_argument("--idempotency-key", action="store_true")
    parser.add_argument("--events", type=int, default=2000, help="saga path; 0 skips it")
    parser.add_argument(
        "--replicas", type=replicas_list, default=[1],
        help="the API deployments measured, by their processes (1,2: one, then two)",
    )  # fmt: skip
    add_json_argument(parser)
    asyncio.run(main(parser.parse_args()))
