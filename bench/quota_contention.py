"""Contention on one quota: 200 concurrent reservers through the HTTP reservation path, and a
raw SQL conditional-update baseline on an identical table, in the same run.

    uv run python bench/quota_contention.py [--reservers 200] [--requests 4000]

Needs the local infrastructure (`make infra-up`). HTTP: the quota app in process (httpx over
ASGI: auth, idempotency key, problem handling, the handler's transaction with its ledger row
and outbox events), each reservation of 1-5 persons with its own application id. Raw: the same
number of `UPDATE ... SET reserved = reserved + n WHERE reserved + consumed + n <= limit`
statements from the same number of concurrent tasks over a pool of the same size. The limit
is set so that about three quarters of the requests fit. Prints reservations/s and p99 for
both, their ratio, and the oversubscription of both tables, which must read 0.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import statistics
import time
import uuid
from datetime import date

import asyncpg
import httpx
from pydantic import SecretStr

from koshiqon.common import db
from koshiqon.common.auth import issue_dev_token
from koshiqon.common.migrations import upgrade
from koshiqon.common.settings import admin_dsn, role_dsn
from koshiqon.quota.bootstrap import MIGRATIONS, Bus, build_app
from koshiqon.quota.config import QuotaSettings
from koshiqon.quota.domain import commands as c
from koshiqon.quota.domain.model import Kind, Period, QuotaSpec, TerritoryKind

SCHEMA = "bench_quota"
PASSWORD = "bench-quota"
REGION = "590000000"
POOL = 20


async def setup(dsn: str) -> str:
    await db.bootstrap(admin_dsn(), {SCHEMA: PASSWORD})
    await upgrade(MIGRATIONS, dsn, schema=SCHEMA)
    conn = await asyncpg.connect(db.asyncpg_dsn(dsn), server_settings={"search_path": SCHEMA})
    try:
        await conn.execute(
            "TRUNCATE reservations, quota_history, territories, outbox, quotas CASCADE; "
            "DROP TABLE IF EXISTS raw_quota; CREATE TABLE raw_quota (id int PRIMARY KEY, "
            '"limit" int NOT NULL, reserved int NOT NULL DEFAULT 0, consumed int NOT NULL '
            'DEFAULT 0, CHECK (reserved + consumed <= "limit"))'
        )
    finally:
        await conn.close()
    return dsn


async def http_round(settings: QuotaSettings, sizes: list[int], reservers: int, limit: int):
    app = build_app(settings)
    async with app.router.lifespan_context(app):
        bus: Bus = app.state.bus
        await bus.handle(c.DesignateTerritory(REGION, TerritoryKind.MIGRANT, date(2026, 1, 1), "b"))
        spec = QuotaSpec.of(
            kind=Kind.MIGRANT, region=REGION, period=Period.of(2026), category=None, limit=limit
        )
        await bus.handle(c.EstablishQuota(spec))
        headers = {"Authorization": f"Bearer {issue_dev_token(scopes=['quota:reserve'])}"}
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://q") as http:

            async def one(persons: int) -> tuple[float, bool]:
                body = {
                    "application_id": str(uuid.uuid4()),
                    "kind": "migrant",
                    "region": REGION,
                    "year": 2026,
                    "persons": persons,
                }
                started = time.perf_counter()
                r = await http.post(
                    "/v1/reservations",
                    json=body,
                    headers=headers | {"Idempotency-Key": body["application_id"]},
                )
                assert r.status_code == 200, r.text
                return time.perf_counter() - started, r.json()["outcome"] == "reserved"

            return await drive(one, sizes, reservers)


async def raw_round(dsn: str, sizes: list[int], reservers: int, limit: int):
    pool = await asyncpg.create_pool(
        db.asyncpg_dsn(dsn), min_size=POOL, max_size=POOL, server_settings={"search_path": SCHEMA}
    )
    assert pool is not None
    try:
        await pool.execute('INSERT INTO raw_quota (id, "limit") VALUES (1, $1)', limit)

        async def one(persons: int) -> tuple[float, bool]:
            started = time.perf_counter()
            row = await pool.fetchrow(
                "UPDATE raw_quota SET reserved = reserved + $1 WHERE id = 1 "
                'AND reserved + consumed + $1 <= "limit" RETURNING reserved',
                persons,
            )
            return time.perf_counter() - started, row is not None

        return await drive(one, sizes, reservers)
    finally:
        await pool.close()


async def drive(one, sizes: list[int], reservers: int):  # type: ignore[no-untyped-def]
    queue = list(reversed(sizes))
    latencies: list[float] = []
    granted = 0

    async def reserver() -> None:
        nonlocal granted
        while queue:
            persons = queue.pop()
            latency, ok = await one(persons)
            latencies.append(latency)
            granted += persons if ok else 0

    started = time.perf_counter()
    await asyncio.gather(*(reserver() for _ in range(reservers)))
    elapsed = time.perf_counter() - started
    return len(sizes) / elapsed, statistics.quantiles(latencies, n=100)[98], granted


async def oversubscription(dsn: str) -> tuple[int, int]:
    conn = await asyncpg.connect(db.asyncpg_dsn(dsn), server_settings={"search_path": SCHEMA})
    try:
        quota = await conn.fetchval(
            'SELECT coalesce(sum(greatest(reserved + consumed - "limit", 0)), 0) FROM quotas'
        )
        raw = await conn.fetchval(
            'SELECT coalesce(sum(greatest(reserved + consumed - "limit", 0)), 0) FROM raw_quota'
        )
        ledger = await conn.fetchval(
            "SELECT (SELECT reserved FROM quotas) - (SELECT coalesce(sum(persons), 0) "
            "FROM reservations WHERE status = 'reserved')"
        )
    finally:
        await conn.close()
    return int(quota) + abs(int(ledger)), int(raw)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reservers", type=int, default=200)
    parser.add_argument("--requests", type=int, default=4000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    rng = random.Random(7)
    sizes = [rng.randint(1, 5) for _ in range(args.requests)]
    limit = sum(sizes) * 3 // 4
    dsn = role_dsn(admin_dsn(), role=SCHEMA, password=SecretStr(PASSWORD))
    await setup(dsn)
    settings = QuotaSettings(database_url=dsn, database_schema=SCHEMA, db_pool_size=POOL // 2)  # type: ignore[arg-type]
    try:
        http_rate, http_p99, http_granted = await http_round(settings, sizes, args.reservers, limit)
        raw_rate, raw_p99, raw_granted = await raw_round(dsn, sizes, args.reservers, limit)
        over_quota, over_raw = await oversubscription(dsn)
    finally:
        await db.drop_schema(admin_dsn(), SCHEMA)
        await db.drop_role(admin_dsn(), SCHEMA)
    print(f"requests {args.requests}, reservers {args.reservers}, limit {limit} persons")
    print(f"http: {http_rate:8.0f} reservations/s  p99 {http_p99 * 1000:7.1f} ms", end="")
    print(f"  granted {http_granted}")
    print(f"raw:  {raw_rate:8.0f} reservations/s  p99 {raw_p99 * 1000:7.1f} ms", end="")
    print(f"  granted {raw_granted}")
    print(f"http/raw throughput ratio: {http_rate / raw_rate:.3f}")
    print(f"oversubscription: {over_quota + over_raw}")


if __name__ == "__main__":
    asyncio.run(main())
