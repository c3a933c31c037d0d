"""What NOTIFY on every outbox write costs: registration-shaped write transactions at 64
concurrent clients with the relay's wake-up notification and without it, in the same run.

    uv run python bench/outbox_notify.py [--clients 64] [--pool 64] [--seconds 24] [--rounds 6]
                                         [--synchronous-commit on|off]

Needs the local infrastructure (`make infra-up`). On a throwaway schema holding the platform
tables and two tables shaped like registration's (persons, residences), every transaction
does what a residence registration does: lock the person (`FOR UPDATE`), read the stays the
new one would overlap, insert the residence, and insert its outbox row in one statement.
The two sides differ in that statement alone: `notify` also calls
`pg_notify('outbox_<schema>', '')`, as `outbox.add` did before issue 12 item 7; `plain` is
the insert `outbox.add` runs now. PostgreSQL takes one lock for the whole cluster at the
commit of a transaction that notified, so those commits queue behind each other; the plain
ones do not.

`--clients` asyncio tasks, each with persons of its own (no row contention between clients),
over an asyncpg pool of `--pool` connections, so that as many transactions commit at once.
A connection LISTENs on the channel throughout, as the relay did. The sides take turns
(`--rounds`, seconds/rounds each) after a warm-up, so a shared machine's slow spells fall on
both. Prints each side's rate, p50 and p99, and plain/notify (overall and round by round).
Not a test: nothing asserts the figures. The sessions commit with `synchronous_commit=on`
(`--synchronous-commit off` for the local server's own setting), but the local server runs
with `fsync=off`, which shortens the serialised part of a commit: on a server whose commits
wait for the disk, the queue behind the lock is longer.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid

import asyncpg
import orjson
import uvloop
from pydantic import SecretStr
from report import Figure, add_json_argument, emit

from koshiqon.common.database import roles
from koshiqon.common.database.engine import create_engine
from koshiqon.common.database.tables import new_metadata
from koshiqon.common.settings import admin_dsn, role_dsn

SCHEMA = "bench_notify"
PASSWORD = "bench-notify"
CHANNEL = f"outbox_{SCHEMA}"

_INSERT = (
    "INSERT INTO outbox (event_id, topic, key, event_type, value, headers)"
    " SELECT * FROM unnest($1::uuid[], ARRAY['registration.v1'], $2::text[],"
    "  ARRAY['kz.migration.registration.residence-registered.v1'], $3::bytea[], $4::jsonb[])"
)
STATEMENTS = {
    "plain": _INSERT,
    # the statement of `outbox.add` before item 7: the rows and the relay's wake-up
    "notify": (
        f"WITH inserted AS ({_INSERT} RETURNING 1) "
        "SELECT pg_notify('outbox_' || current_schema(), '')"
        " FROM (SELECT count(*) FROM inserted) AS n"
    ),
}

TABLES = (
    "CREATE TABLE persons (id uuid PRIMARY KEY, legal_status text NOT NULL,"
    " created_at timestamptz NOT NULL DEFAULT now())",
    "CREATE TABLE residences (id uuid PRIMARY KEY, person_id uuid NOT NULL REFERENCES persons,"
    " kind text NOT NULL, kato text NOT NULL, region text NOT NULL, valid_from date NOT NULL,"
    " status text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())",
    "CREATE INDEX ix_residences_person_id ON residences (person_id)",
)


async def prepare() -> str:
    admin = admin_dsn()
    await roles.drop_schema(admin, SCHEMA)
    await roles.bootstrap(admin, {SCHEMA: PASSWORD})
    dsn = role_dsn(admin, role=SCHEMA, password=SecretStr(PASSWORD))
    engine = create_engine(dsn, schema=SCHEMA, application="bench-notify")
    async with engine.begin() as conn:
        await conn.run_sync(new_metadata().create_all)
        for statement in TABLES:
            await conn.exec_driver_sql(statement)
    await engine.dispose()
    return dsn


async def make_persons(pool: asyncpg.Pool, clients: int, per_client: int) -> list[list[uuid.UUID]]:
    ids = [[uuid.uuid4() for _ in range(per_client)] for _ in range(clients)]
    async with pool.acquire() as conn:
        await conn.executemany(
            "INSERT INTO persons (id, legal_status) VALUES ($1, 'foreigner')",
            [(i,) for client in ids for i in client],
        )
    return ids


async def register(conn: asyncpg.Connection, statement: str, person: uuid.UUID) -> None:
    """One residence registration: the person's lock, the residence, its outbox row."""
    payload = b"x" * 700  # about the size of a residence-registered envelope
    headers = orjson.dumps({"ce_id": str(uuid.uuid4()), "ce_source": "/koshiqon/bench"}).decode()
    async with conn.transaction():
        await conn.fetchrow("SELECT id FROM persons WHERE id = $1 FOR UPDATE", person)
        await conn.fetch(  # the active stays the new one would overlap
            "SELECT id FROM residences WHERE person_id = $1 AND status = 'active'"
            " AND kind = 'temporary' AND valid_from = current_date",
            person,
        )
        await conn.execute(
            "INSERT INTO residences (id, person_id, kind, kato, region, valid_from, status)"
            " VALUES ($1, $2, 'temporary', '751110000', '750000000', current_date, 'active')",
            uuid.uuid4(),
            person,
        )
        await conn.execute(statement, [uuid.uuid4()], [str(person)], [payload], [headers])


async def turn(
    pool: asyncpg.Pool, statement: str, persons: list[list[uuid.UUID]], seconds: float
) -> list[float]:
    """Every client registers in a loop for `seconds`: the latency of each transaction."""
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def client(own: list[uuid.UUID]) -> None:
        i = 0
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            async with pool.acquire() as conn:
                await register(conn, statement, own[i % len(own)])
            latencies.append(time.perf_counter() - started)
            i += 1

    await asyncio.gather(*(client(own) for own in persons))
    return latencies


def report(name: str, latencies: list[float], seconds: float) -> float:
    rate = len(latencies) / seconds
    q = statistics.quantiles(latencies, n=100)
    print(
        f"{name:>7}: {rate:8.0f} tx/s   p50 {q[49] * 1000:6.1f} ms   p99 {q[98] * 1000:6.1f} ms"
        f"   ({len(latencies)} transactions)"
    )
    return rate


async def main(args: argparse.Namespace) -> None:
    dsn = await prepare()
    pool = await asyncpg.create_pool(
        roles.asyncpg_dsn(dsn),
        min_size=args.pool,
        max_size=args.pool,
        server_settings={
            "search_path": SCHEMA,
            "application_name": "bench-notify",
            "synchronous_commit": args.synchronous_commit,
        },
    )
    listener = await asyncpg.connect(
        roles.asyncpg_dsn(dsn), server_settings={"search_path": SCHEMA}
    )
    woken = 0

    def on_notify(*_: object) -> None:
        nonlocal woken
        woken += 1

    await listener.add_listener(CHANNEL, on_notify)
    latencies: dict[str, list[float]] = {name: [] for name in STATEMENTS}
    per_round: dict[str, list[int]] = {name: [] for name in STATEMENTS}
    try:
        persons = await make_persons(pool, args.clients, per_client=16)
        for statement in STATEMENTS.values():  # warm-up: connections, statement caches
            await turn(pool, statement, persons, 2.0)
        share = args.seconds / args.rounds
        for n in range(args.rounds):  # alternate which side goes first
            for name in sorted(STATEMENTS, reverse=n % 2 == 1):
                served = await turn(pool, STATEMENTS[name], persons, share)
                latencies[name] += served
                per_round[name].append(len(served))
    finally:
        await listener.close()
        await pool.close()
        await roles.drop_schema(admin_dsn(), SCHEMA)
    print(
        f"registration-shaped outbox writes, {args.clients} clients over {args.pool} connections,"
        f" {args.seconds:g} s each side in {args.rounds} alternating rounds,"
        f" synchronous_commit={args.synchronous_commit}"
    )
    with_notify = report("notify", latencies["notify"], args.seconds)
    plain = report("plain", latencies["plain"], args.seconds)
    ratios = [p / q for p, q in zip(per_round["plain"], per_round["notify"], strict=True) if q]
    listed = " ".join(f"{ratio:.2f}" for ratio in ratios)
    print(
        f"plain/notify: {plain / with_notify:.2f}  (round by round: {listed};"
        f" median {statistics.median(ratios):.2f})"
    )
    print(f"notifications the listener received: {woken}")
    emit(args.json, "outbox_notify", [Figure(
        f"registration-shaped outbox writes without NOTIFY, {args.clients} clients", plain,
        "tx/s", "the same writes with pg_notify", with_notify, plain / with_notify,
        "none: measures what NOTIFY cost (docs/architecture.md 4.1)",
    )])  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--pool", type=int, default=64, help="connections, one per client")
    parser.add_argument("--seconds", type=float, default=24.0, help="per side, all rounds")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument(
        "--synchronous-commit",
        choices=("on", "off"),
        default="on",
        help="the sessions' synchronous_commit (a production server's is on)",
    )
    add_json_argument(parser)
    uvloop.run(main(parser.parse_args()))
