"""Contention on one quota: concurrent reservers through the real HTTP stack of the quota
service, and a raw SQL conditional-update baseline on an identical table, in the same run.

    uv run python bench/quota_contention.py [--reservers 200] [--requests 4000]
                                            [--idempotency-key] [--pool 10]

Needs the local infrastructure (`make infra-up`). The service runs as its own process
(`python -m koshiqon.quota.entrypoints.cli api`, uvicorn on uvloop) on a throwaway schema
built by its real migrations; the quota and its territory are set up through its admin API.

HTTP: `--reservers` keep-alive HTTP/1.1 connections (a light asyncio-streams client, so the
client does not starve the server of CPU) POST /v1/reservations, each request with its own
application id and 1-5 persons, all on ONE quota. Per request the service does: bearer token
check, body validation, the region/territory checks, and one transaction holding the
idempotency row of the application id (the reservation ledger row), the conditional UPDATE of
the quota (reserved + consumed + n <= limit, backed by the CHECK constraint) with the 90 %/100 %
threshold marks, the settled ledger row and the outbox events (quota-reserved | quota-denied,
threshold-reached once each); then the JSON response. With --idempotency-key also the
Idempotency-Key middleware's claim and completion (two more short transactions).

Raw: only the conditional UPDATE (`UPDATE raw_quota SET reserved = reserved + n WHERE
reserved + consumed + n <= limit`, autocommit) on an identical table with the same CHECK,
from as many asyncio tasks over an asyncpg pool of the service's pool size.

The limit is set so that about three quarters of the persons fit. Prints reservations/s and
p99 for both, their ratio, granted/denied counts, and the oversubscription check of both
tables (reserved + consumed - limit; must be <= 0 -> 0 violations), with the ledger and the
outbox cross-checked against the quota row. Not a test: nothing asserts the figures.
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

import asyncpg
import orjson
from pydantic import SecretStr

from koshiqon.common.database import roles
from koshiqon.common.migrations import upgrade
from koshiqon.common.settings import admin_dsn, role_dsn
from koshiqon.devtools.devkey import issue_dev_token
from koshiqon.quota.bootstrap import MIGRATIONS

SCHEMA = "bench_quota"
PASSWORD = "bench-quota"
PORT = 8802
REGION = "590000000"  # the measured quota
WARM_REGION = "550000000"  # a second quota, to warm the service up without touching the first


# --- a minimal keep-alive HTTP/1.1 client ---------------------------------------------------


class Connection:
    """One keep-alive HTTP/1.1 connection; requests are sent one at a time."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls) -> Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", PORT)
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
def api_process(dsn: str, pool: int) -> Iterator[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "QUOTA_DATABASE_URL": dsn,
        "QUOTA_DATABASE_SCHEMA": SCHEMA,
        "QUOTA_HTTP_PORT": str(PORT),
        "QUOTA_DB_POOL_SIZE": str(pool),
        "QUOTA_LOG_LEVEL": "WARNING",
        "KOSHIQON_ENV": "dev",
    }
    cmd = [sys.executable, "-m", "koshiqon.quota.entrypoints.cli", "api"]
    proc = subprocess.Popen(cmd, env=env)
    try:
        yield proc
    finally:
        proc.terminate()
        proc.wait(timeout=30)


async def wait_ready() -> None:
    for _ in range(300):
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            conn = await Connection.open()
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


async def http_round(sizes: list[int], reservers: int, *, region: str, keyed: bool) -> Result:
    token = issue_dev_token(scopes=["quota:reserve"], subject="bench")
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    conns = [await Connection.open() for _ in range(reservers)]

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


# --- the checks -------------------------------------------------------------------------------


async def checks(dsn: str) -> dict[str, int]:
    conn = await asyncpg.connect(roles.asyncpg_dsn(dsn), server_settings={"search_path": SCHEMA})
    try:
        row = await conn.fetchrow(
            'SELECT (SELECT count(*) FROM quotas WHERE reserved + consumed > "limit") AS quota, '
            '(SELECT count(*) FROM raw_quota WHERE reserved + consumed > "limit") AS raw, '
            "(SELECT count(*) FROM quotas q WHERE q.reserved <> (SELECT coalesce(sum(persons), "
            "0) FROM reservations r WHERE r.quota_id = q.id AND r.status = 'reserved')) AS ledger, "
            "(SELECT reserved FROM quotas WHERE region = $1) AS reserved, "
            "(SELECT reserved FROM raw_quota) AS raw_reserved, "
            "(SELECT count(*) FROM reservations) AS ledger_rows, "
            "(SELECT count(*) FROM outbox WHERE event_type IN "
            "('kz.migration.quota.quota-reserved.v1', 'kz.migration.quota.quota-denied.v1')) "
            "AS outcome_events, "
            "(SELECT count(*) FROM outbox WHERE event_type = "
            "'kz.migration.quota.quota-threshold-reached.v1') AS threshold_events",
            REGION,
        )
        assert row is not None
        return dict(row)
    finally:
        await conn.close()


def line(name: str, r: Result) -> str:
    return (
        f"{name:>4}: {r.rate:7.0f} reservations/s  p50 {r.p50 * 1000:7.1f} ms  "
        f"p99 {r.p99 * 1000:7.1f} ms  granted {r.granted_requests} ({r.granted_persons} persons)"
        f"  denied {r.denied_requests}"
    )


async def main(args: argparse.Namespace) -> None:
    rng = random.Random(7)
    sizes = [rng.randint(1, 5) for _ in range(args.requests)]
    limit = sum(sizes) * 3 // 4
    dsn = await prepare()
    try:
        with api_process(dsn, args.pool):
            await wait_ready()
            await establish(REGION, limit)
            await establish(WARM_REGION, 10**6)
            warm = [rng.randint(1, 5) for _ in range(4 * args.reservers)]
            keyed = args.idempotency_key
            await http_round(warm, args.reservers, region=WARM_REGION, keyed=keyed)
            http = await http_round(sizes, args.reservers, region=REGION, keyed=keyed)
        raw = await raw_round(dsn, sizes, args.reservers, pool_size=args.pool, limit=limit)
        found = await checks(dsn)
    finally:
        await roles.drop_schema(admin_dsn(), SCHEMA)
        await roles.drop_role(admin_dsn(), SCHEMA)
    with_key = " + Idempotency-Key" if args.idempotency_key else ""
    print(
        f"{args.requests} requests of 1-5 persons, {args.reservers} concurrent reservers, "
        f"one quota of {limit} persons, service pool {args.pool}{with_key}"
    )
    print(line("http", http))
    print(line("raw", raw))
    print(f"http/raw throughput ratio: {http.rate / raw.rate:.3f}")
    print(
        f"reserved: quota row {found['reserved']} = granted {http.granted_persons}; "
        f"raw row {found['raw_reserved']} = granted {raw.granted_persons}"
    )
    print(
        f"ledger rows {found['ledger_rows']}, outcome events {found['outcome_events']} "
        f"(expected {args.requests + 4 * args.reservers} with the warm-up), threshold events "
        f"{found['threshold_events']} (expected 2: 90 % and 100 % of the measured quota)"
    )
    violations = found["quota"] + found["raw"]
    print(
        f"oversubscription (reserved + consumed > limit): {violations} violations "
        f"(quota {found['quota']}, raw {found['raw']}); ledger mismatches {found['ledger']}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reservers", type=int, default=200)
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--pool", type=int, default=10, help="the service's pool (and raw's)")
    parser.add_argument("--idempotency-key", action="store_true")
    asyncio.run(main(parser.parse_args()))
