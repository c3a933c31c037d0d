"""Residence registrations through the real HTTP stack against a raw asyncpg baseline.

    uv run python bench/registration_api.py [--seconds 30] [--clients 32]

Needs the local infrastructure (`make infra-up`). The service runs as its own process
(`koshiqon-registration api`, uvicorn on uvloop) on a throwaway schema built by its
migrations; `--clients` concurrent HTTP clients (keep-alive) each POST temporary stays for
a person of their own, one day each so that none overlaps: every request is one transaction
with its outbox row. The baseline runs the same SQL statements (lock the person, read the
active registrations, insert the registration, insert the outbox row, notify) from as many
asyncio tasks over an asyncpg pool of the service's size. Prints both and api/raw
(target >= 0.5). Not a test: nothing asserts the figures.
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
from collections.abc import Awaitable, Callable
from datetime import date, timedelta

import asyncpg
import httpx
import orjson
from pydantic import SecretStr

from koshiqon.common import db
from koshiqon.common.auth import issue_dev_token
from koshiqon.common.migrations import upgrade
from koshiqon.common.settings import admin_dsn, role_dsn
from koshiqon.registration.bootstrap import MIGRATIONS

SCHEMA = "bench_registration"
PASSWORD = "bench-registration"
PORT = 8801
POOL = 10  # the service's default pool (plus as much overflow)
START = date(2000, 1, 1)


async def prepare() -> str:
    admin = admin_dsn()
    await db.drop_schema(admin, SCHEMA)
    await db.bootstrap(admin, {SCHEMA: PASSWORD})
    dsn = role_dsn(admin, role=SCHEMA, password=SecretStr(PASSWORD))
    await upgrade(MIGRATIONS, dsn, schema=SCHEMA)
    return dsn


async def make_persons(conn: asyncpg.Connection, count: int) -> list[uuid.UUID]:
    ids = [uuid.uuid4() for _ in range(count)]
    await conn.executemany(
        "INSERT INTO persons (id, legal_status, document_number, document_country, "
        "surname_latin, given_names_latin, surname_cyrillic, given_names_cyrillic, birth_date, "
        "sex, citizenship, created_at) VALUES ($1, 'foreigner', $2, 'UZB', 'Bench', 'Client', "
        "'Бенч', 'Клиент', '1990-01-01', 'male', 'UZB', now())",
        [(i, f"B{n:08d}{uuid.uuid4().hex[:6].upper()}") for n, i in enumerate(ids)],
    )
    return ids


def stay(day: date) -> dict[str, object]:
    return {
        "kind": "temporary",
        "purpose": "work",
        "valid_from": day.isoformat(),
        "valid_until": day.isoformat(),
        "address": {"kato": "751110000", "street": "Abylai khan", "building": "1"},
    }


async def run_clients(
    clients: int, seconds: float, one: Callable[[int, int], Awaitable[None]]
) -> list[float]:
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def client(n: int) -> None:
        i = 0
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            await one(n, i)
            latencies.append(time.perf_counter() - started)
            i += 1

    await asyncio.gather(*(client(n) for n in range(clients)))
    return latencies


async def http_run(persons: list[uuid.UUID], seconds: float, offset: int) -> list[float]:
    token = issue_dev_token(scopes=["registration:write"], subject="bench")
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    limits = httpx.Limits(max_connections=len(persons), max_keepalive_connections=len(persons))
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{PORT}", limits=limits) as http:

        async def one(n: int, i: int) -> None:
            body = orjson.dumps(stay(START + timedelta(days=offset + i)))
            response = await http.post(
                f"/v1/persons/{persons[n]}/residences", content=body, headers=headers
            )
            if response.status_code != 201:
                raise RuntimeError(f"{response.status_code}: {response.text}")

        return await run_clients(len(persons), seconds, one)


async def raw_run(
    pool: asyncpg.Pool, persons: list[uuid.UUID], seconds: float, offset: int
) -> list[float]:
    payload = b"x" * 700  # about the size of a residence-registered envelope

    async def one(n: int, i: int) -> None:
        day = START + timedelta(days=offset + i)
        async with pool.acquire() as conn, conn.transaction():
            await conn.fetchrow("SELECT * FROM persons WHERE id = $1 FOR UPDATE", persons[n])
            await conn.fetch(
                "SELECT * FROM residences WHERE person_id = $1 AND status = 'active' "
                "ORDER BY valid_from, id",
                persons[n],
            )
            await conn.execute(
                "INSERT INTO residences (id, person_id, kind, kato, region, street, building, "
                "valid_from, valid_until, purpose, status) VALUES ($1, $2, 'temporary', "
                "'751110000', '750000000', 'Abylai khan', '1', $3, $3, 'work', 'active')",
                uuid.uuid4(),
                persons[n],
                day,
            )
            await conn.execute(
                "INSERT INTO outbox (event_id, topic, key, event_type, value, headers) "
                "VALUES ($1, 'registration.v1', $2, "
                "'kz.migration.registration.residence-registered.v1', $3, '{}'::jsonb)",
                uuid.uuid4(),
                str(persons[n]),
                payload,
            )
            await conn.execute("SELECT pg_notify('outbox_' || current_schema(), '')")

    return await run_clients(len(persons), seconds, one)


def report(name: str, latencies: list[float], seconds: float) -> float:
    rate = len(latencies) / seconds
    q = statistics.quantiles(latencies, n=100)
    print(
        f"{name:>5}: {rate:8.1f} req/s   p50 {q[49] * 1000:6.1f} ms   p99 {q[98] * 1000:6.1f} ms"
        f"   ({len(latencies)} requests)"
    )
    return rate


@contextlib.contextmanager
def api_process(dsn: str):  # type: ignore[no-untyped-def]
    env = {
        **os.environ,
        "REGISTRATION_DATABASE_URL": dsn,
        "REGISTRATION_DATABASE_SCHEMA": SCHEMA,
        "REGISTRATION_HTTP_PORT": str(PORT),
        "REGISTRATION_LOG_LEVEL": "WARNING",
        "KOSHIQON_ENV": "dev",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "koshiqon.registration.entrypoints.cli", "api"], env=env
    )
    try:
        yield proc
    finally:
        proc.terminate()
        proc.wait(timeout=30)


async def wait_ready() -> None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{PORT}") as http:
        for _ in range(300):
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get("/livez")).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise RuntimeError("the API did not start")


async def main(seconds: float, clients: int) -> None:
    dsn = await prepare()
    conn = await asyncpg.connect(db.asyncpg_dsn(dsn), server_settings={"search_path": SCHEMA})
    http_persons, raw_persons = await make_persons(conn, clients), await make_persons(conn, clients)
    await conn.close()
    with api_process(dsn):
        await wait_ready()
        await http_run(http_persons, 2.0, offset=0)  # warm-up: connections, JIT of paths
        api = await http_run(http_persons, seconds, offset=10_000)
    pool = await asyncpg.create_pool(
        db.asyncpg_dsn(dsn),
        min_size=POOL,
        max_size=2 * POOL,
        server_settings={"search_path": SCHEMA},
    )
    try:
        await raw_run(pool, raw_persons, 2.0, offset=0)
        raw = await raw_run(pool, raw_persons, seconds, offset=10_000)
    finally:
        await pool.close()
    print(f"residence registrations, {clients} concurrent clients, {seconds:g} s each")
    api_rate, raw_rate = report("api", api, seconds), report("raw", raw, seconds)
    print(f"api/raw = {api_rate / raw_rate:.2f} (target >= 0.5)")
    await db.drop_schema(admin_dsn(), SCHEMA)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--clients", type=int, default=32)
    args = parser.parse_args()
    asyncio.run(main(args.seconds, args.clients))
