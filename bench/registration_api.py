"""Residence registrations through the real HTTP stack against a raw asyncpg baseline.

    uv run python bench/registration_api.py [--seconds 30] [--clients 32] [--persons 64]
                                            [--rounds 6] [--replicas 1,2]

Needs the local infrastructure (`make infra-up`). The service runs as its own process
(`koshiqon-registration api`, uvicorn on uvloop) on a throwaway schema built by its
migrations; `--clients` concurrent HTTP clients, each on one keep-alive connection, POST
temporary stays, one day each so that none overlaps: every request is one transaction with
its outbox row. Each client takes turns over `--persons` persons of its own, so a person
collects stays as the run goes on (nothing ends them: no worker runs). The baseline runs the
same SQL statements (lock the person, read the active stays the new one overlaps, insert the
registration, insert the outbox row in one statement as `outbox.add` does) for the
same workload from as many asyncio tasks over a raw asyncpg pool of the service's default
size, 10, made here (the service itself runs on its SQLAlchemy engine: the person's lock on
Core, the rest on the driver connection of the same transaction). Both sides run on
uvloop and warm up for 2 s first, then take turns (`--rounds`, 6 by default, so 5 s at a
time): a shared machine's slow spells fall on both sides rather than on one. Each round's
api/raw is printed too, with the spread.

`--replicas` names the API deployments to measure by their number of processes, each on
ports and a share of the pool of 10 of its own, the clients spread over its processes as a
Service spreads connections over pods. By default: one process, and one per core. A single
process uses one core at most, while the baseline's work spreads over the client and
PostgreSQL's backends on every core; one process per core is how the service is deployed to
use a machine (its pods), and where every side competes for the same cores. Each deployment
takes its turn in every round, and each is compared with the same baseline. The last line
reads the target on the deployment of one process per core: a single process is held to
one core against a baseline that uses them all, and is printed for what it shows of a
process's own cost.

The HTTP client is a minimal HTTP/1.1 keep-alive client on asyncio streams: the clients share
the machine (and its cores) with the service and PostgreSQL, and httpx spends about 3 ms of
CPU per request, more than the service's own work, which would measure the client. Prints
every side's rate and latencies, api/raw of each deployment (target >= 0.5) and the CPU each
side spends per request: its own processes, its HTTP clients, and PostgreSQL's (every process
of the server, when it runs on this machine) while that side had its turn. Not a test: nothing
asserts the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import asyncpg
import orjson
import uvloop
from pydantic import SecretStr
from report import Figure, add_json_argument, emit

from koshiqon.common.database import roles
from koshiqon.common.migrations import upgrade
from koshiqon.common.settings import admin_dsn, role_dsn
from koshiqon.devtools.devkey import issue_dev_token
from koshiqon.registration.bootstrap import MIGRATIONS

SCHEMA = "bench_registration"
PASSWORD = "bench-registration"
PORT = 8801
POOL = 10  # the service's default pool, which has no overflow
START = date(2000, 1, 1)


async def prepare() -> str:
    admin = admin_dsn()
    await roles.drop_schema(admin, SCHEMA)
    await roles.bootstrap(admin, {SCHEMA: PASSWORD})
    dsn = role_dsn(admin, role=SCHEMA, password=SecretStr(PASSWORD))
    await upgrade(MIGRATIONS, dsn, schema=SCHEMA)
    return dsn


async def make_persons(conn: asyncpg.Connection, count: int) -> list[uuid.UUID]:
    """`count` foreigners, identified by their travel documents."""
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


Workload = list[list[uuid.UUID]]  # each client's persons

# the statement of `koshiqon.common.outbox.add`: the rows (no NOTIFY: the relay polls)
OUTBOX = (
    "INSERT INTO outbox (event_id, topic, key, event_type, value, headers)"
    " SELECT * FROM unnest($1::uuid[], ARRAY['registration.v1'], $2::text[],"
    "  ARRAY['kz.migration.registration.residence-registered.v1'], $3::bytea[], $4::jsonb[])"
)


async def run_clients(
    clients: int, seconds: float, one: Callable[[int, int], Awaitable[None]]
) -> list[float]:
    """`one(client, i)` in a loop per client until `seconds` have passed."""
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


class HttpConnection:
    """One keep-alive HTTP/1.1 connection: a request, then its response, and so on. Only
    what this benchmark needs (a Content-Length body, no chunked responses)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int = PORT) -> HttpConnection:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def request(
        self, method: bytes, path: str, body: bytes = b"", headers: bytes = b""
    ) -> tuple[int, bytes]:
        self.writer.write(
            b"%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n%s\r\n%s"
            % (method, path.encode(), len(body), headers, body)
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        fields = dict(line.lower().split(": ", 1) for line in lines[1:] if line)
        if "content-length" not in fields or fields.get("connection") == "close":
            raise RuntimeError(f"unexpected response framing: {fields}")
        return status, await self.reader.readexactly(int(fields["content-length"]))

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()


async def http_run(
    persons: Workload, seconds: float, offset: int, *, replicas: int, port: int
) -> list[float]:
    token = issue_dev_token(scopes=["registration:write"], subject="bench")
    headers = f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n".encode()
    # client n talks to replica n mod replicas, as a Service spreads connections over pods
    connections = [await HttpConnection.open(port + n % replicas) for n in range(len(persons))]

    async def one(n: int, i: int) -> None:
        person = persons[n][i % len(persons[n])]
        body = orjson.dumps(stay(START + timedelta(days=offset + i)))
        path = f"/v1/persons/{person}/residences"
        status, answer = await connections[n].request(b"POST", path, body, headers)
        if status != 201:
            raise RuntimeError(f"{status}: {answer.decode()}")

    try:
        return await run_clients(len(persons), seconds, one)
    finally:
        for connection in connections:
            await connection.close()


async def raw_pool(dsn: str) -> asyncpg.Pool:
    """The baseline's pool: plain asyncpg, of the service's size, in the bench's schema. Its
    connections carry no session state, so one goes back with an open transaction rolled
    back rather than asyncpg's default reset (a round trip per transaction)."""
    return await asyncpg.create_pool(
        roles.asyncpg_dsn(dsn),
        min_size=0,
        max_size=POOL,
        reset=_rollback_open_transaction,
        server_settings={"search_path": SCHEMA, "application_name": "bench-raw"},
    )


async def _rollback_open_transaction(conn: asyncpg.Connection) -> None:
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")


async def raw_run(
    pool: asyncpg.Pool, persons: Workload, seconds: float, offset: int
) -> list[float]:
    payload = b"x" * 700  # about the size of a residence-registered envelope
    headers = orjson.dumps(
        {"ce_id": str(uuid.uuid4()), "ce_source": "/koshiqon/registration"}
    ).decode()

    async def one(n: int, i: int) -> None:
        person = persons[n][i % len(persons[n])]
        day = START + timedelta(days=offset + i)
        async with pool.acquire() as conn, conn.transaction():
            await conn.fetchrow("SELECT * FROM persons WHERE id = $1 FOR UPDATE", person)
            await conn.fetch(
                "SELECT * FROM residences WHERE person_id = $1 AND status = 'active'"
                " AND kind = 'temporary' AND valid_from <= $3 AND valid_until >= $2"
                " ORDER BY valid_from, id",
                person,
                day,
                day,
            )
            await conn.execute(
                "INSERT INTO residences (id, person_id, kind, kato, region, street, building, "
                "valid_from, valid_until, purpose, status) VALUES ($1, $2, 'temporary', "
                "'751110000', '750000000', 'Abylai khan', '1', $3, $3, 'work', 'active')",
                uuid.uuid4(),
                person,
                day,
            )
            await conn.execute(OUTBOX, [uuid.uuid4()], [str(person)], [payload], [headers])

    return await run_clients(len(persons), seconds, one)


def report(name: str, latencies: list[float], seconds: float) -> float:
    rate = len(latencies) / seconds
    q = statistics.quantiles(latencies, n=100)
    print(
        f"{name:>8}: {rate:8.1f} req/s   p50 {q[49] * 1000:6.1f} ms   p99 {q[98] * 1000:6.1f} ms"
        f"   ({len(latencies)} requests)"
    )
    return rate


@contextlib.contextmanager
def api_processes(dsn: str, replicas: int, *, port: int):  # type: ignore[no-untyped-def]
    """`replicas` API processes, on `port` and the next ones, as pods would run; the
    service's pool of 10 connections is shared out among them."""
    procs = []
    try:
        for n in range(replicas):
            env = {
                **os.environ,
                "REGISTRATION_DATABASE_URL": dsn,
                "REGISTRATION_DATABASE_SCHEMA": SCHEMA,
                "REGISTRATION_HTTP_PORT": str(port + n),
                "REGISTRATION_DB_POOL_SIZE": str(POOL // replicas + (n < POOL % replicas)),
                "REGISTRATION_LOG_LEVEL": "WARNING",
                "KOSHIQON_ENV": "dev",
            }
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "koshiqon.registration.entrypoints.cli", "api"], env=env
                )
            )
        yield procs
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)


def _stat(pid: int) -> list[str]:
    """The fields of `/proc/<pid>/stat` after the command name (Linux)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def processes_cpu(procs: list[subprocess.Popen[bytes]]) -> float:
    return sum(process_cpu(proc.pid) for proc in procs)


def process_cpu(pid: int) -> float:
    """CPU seconds (user and system) a process has used so far."""
    fields = _stat(pid)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def find_postmaster(conn: asyncpg.Connection) -> int | None:
    """The pid of the PostgreSQL server `conn` talks to (the parent of its backend), when
    that server runs on this machine; None otherwise."""
    backend = await conn.fetchval("SELECT pg_backend_pid()")
    try:
        return int(_stat(backend)[1])
    except (OSError, ValueError):
        return None


def postgres_cpu(postmaster: int | None) -> float:
    """CPU seconds the server has used so far: the postmaster, the children it runs now
    (backends, background processes) and those that have ended (its `cutime`, `cstime`).
    Zero when the server is not on this machine."""
    if postmaster is None:
        return 0.0
    fields = _stat(postmaster)
    ticks = sum(int(fields[n]) for n in (11, 12, 13, 14))
    children = Path(f"/proc/{postmaster}/task/{postmaster}/children").read_text().split()
    total = ticks / os.sysconf("SC_CLK_TCK")
    for child in children:
        with contextlib.suppress(OSError):  # a backend that just ended is in cutime now
            total += process_cpu(int(child))
    return total


async def wait_ready(port: int) -> None:
    for _ in range(300):
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            connection = await HttpConnection.open(port)
            try:
                if (await connection.request(b"GET", "/livez"))[0] == 200:
                    return
            finally:
                await connection.close()
        await asyncio.sleep(0.1)
    raise RuntimeError("the API did not start")


async def workload(conn: asyncpg.Connection, clients: int, persons: int) -> Workload:
    ids = await make_persons(conn, clients * persons)
    return [ids[n * persons : (n + 1) * persons] for n in range(clients)]


@dataclass
class Side:
    """One side of the comparison: its requests' latencies and the CPU it took."""

    latencies: list[float] = field(default_factory=list)
    per_round: list[int] = field(default_factory=list)  # requests served in each round
    cpu: float = 0.0  # the process(es) serving the requests (the API's, or the baseline's)
    clients_cpu: float = 0.0  # the HTTP clients' (the bench's own process)
    postgres_cpu: float = 0.0  # the PostgreSQL server's, all of its processes

    def per_request(self, seconds: float) -> str:
        return f"{seconds / len(self.latencies) * 1e6:.0f} us"

    def postgres_and_total(self, postmaster: int | None) -> str:
        if postmaster is None:
            return "PostgreSQL's not measured (not on this machine)"
        total = self.cpu + self.clients_cpu + self.postgres_cpu
        return (
            f"PostgreSQL {self.per_request(self.postgres_cpu)}; all together"
            f" {self.per_request(total)}"
        )


async def take_turn(
    side: Side,
    run: Awaitable[list[float]],
    *,
    server_cpu: Callable[[], float],
    postmaster: int | None,
    client_cpu: Callable[[], float] = lambda: 0.0,
) -> None:
    """One side's share of a round: the requests it served, and the CPU its server, its
    clients and PostgreSQL took meanwhile."""
    before = server_cpu(), client_cpu(), postgres_cpu(postmaster)
    served = await run
    after = server_cpu(), client_cpu(), postgres_cpu(postmaster)
    side.latencies += served
    side.per_round.append(len(served))
    side.cpu += after[0] - before[0]
    side.clients_cpu += after[1] - before[1]
    side.postgres_cpu += after[2] - before[2]


async def main(
    seconds: float,
    clients: int,
    persons: int,
    rounds: int,
    deployments: list[int],
    json_path: str | None = None,
) -> None:
    dsn = await prepare()
    conn = await asyncpg.connect(roles.asyncpg_dsn(dsn), server_settings={"search_path": SCHEMA})
    workloads = [await workload(conn, clients, persons) for _ in deployments]
    raw_persons = await workload(conn, clients, persons)
    postmaster = await find_postmaster(conn)
    await conn.close()
    apis = [Side() for _ in deployments]
    raw = Side()
    share = seconds / rounds
    ports = [PORT + 10 * n for n in range(len(deployments))]
    pool = await raw_pool(dsn)
    try:
        with contextlib.ExitStack() as stack:
            processes = [
                stack.enter_context(api_processes(dsn, replicas, port=port))
                for replicas, port in zip(deployments, ports, strict=True)
            ]
            for replicas, port in zip(deployments, ports, strict=True):
                for n in range(replicas):
                    await wait_ready(port + n)
            # warm-up: connections, statement caches
            for persons_of, replicas, port in zip(workloads, deployments, ports, strict=True):
                await http_run(persons_of, 2.0, offset=0, replicas=replicas, port=port)
            await raw_run(pool, raw_persons, 2.0, offset=0)
            for n in range(1, rounds + 1):  # interleaved: every side sees the same machine
                for side, procs, persons_of, replicas, port in zip(
                    apis, processes, workloads, deployments, ports, strict=True
                ):
                    await take_turn(
                        side,
                        http_run(
                            persons_of, share, offset=n * 10_000, replicas=replicas, port=port
                        ),
                        server_cpu=functools.partial(processes_cpu, procs),
                        client_cpu=time.process_time,
                        postmaster=postmaster,
                    )
                await take_turn(
                    raw,
                    raw_run(pool, raw_persons, share, offset=n * 10_000),
                    server_cpu=time.process_time,
                    postmaster=postmaster,
                )
    finally:
        await pool.close()
    print(
        f"residence registrations, {clients} concurrent clients, {seconds:g} s each side"
        f" ({rounds} interleaved rounds)"
    )
    raw_rate = report("raw", raw.latencies, seconds)
    for side, replicas in zip(apis, deployments, strict=True):
        name = "api" if replicas == 1 else f"api x{replicas}"
        rate = report(name, side.latencies, seconds)
        print(
            f"{'':>9}api/raw = {rate / raw_rate:.2f} (target >= 0.5); CPU per request: the API"
            f" process{'es' if replicas > 1 else ''} {side.per_request(side.cpu)}, its HTTP"
            f" clients {side.per_request(side.clients_cpu)},"
            f" {side.postgres_and_total(postmaster)}"
        )
        print(f"{'':>9}api/raw round by round: {round_ratios(side, raw)}")
    print(
        f"CPU per request of the baseline: its process {raw.per_request(raw.cpu)},"
        f" {raw.postgres_and_total(postmaster)}"
    )
    cores = os.cpu_count() or 1
    if cores in deployments and cores > 1:
        deployed = apis[deployments.index(cores)]
        print(
            f"as deployed (one API process per core, {cores} here): api/raw ="
            f" {len(deployed.latencies) / len(raw.latencies):.2f} (target >= 0.5)"
        )
    await roles.drop_schema(admin_dsn(), SCHEMA)
    figures = []
    for side, replicas in zip(apis, deployments, strict=True):
        rate = len(side.latencies) / seconds
        processes = "one API process" if replicas == 1 else f"{replicas} API processes"
        as_deployed = " (one per core, as deployed)" if replicas == cores and cores > 1 else ""
        figures.append(Figure(
            f"residence registrations over HTTP, {clients} clients, {processes}{as_deployed}",
            rate, "requests/s", "raw asyncpg, the same SQL", raw_rate, rate / raw_rate,
            "api/raw >= 0.5", rate / raw_rate >= 0.5,
        ))  # fmt: skip
    emit(json_path, "registration_api", figures)


def round_ratios(api: Side, raw: Side) -> str:
    """Each round's api/raw, and their spread: a slow spell of a shared machine shows as
    one round apart rather than as a different overall figure."""
    ratios = [a / r for a, r in zip(api.per_round, raw.per_round, strict=True) if r]
    listed = " ".join(f"{ratio:.2f}" for ratio in ratios)
    return (
        f"{listed} (min {min(ratios):.2f}, median {statistics.median(ratios):.2f},"
        f" max {max(ratios):.2f})"
    )


def deployments_of(text: str) -> list[int]:
    counts = [int(part) for part in text.split(",") if part.strip()]
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError("give API process counts of 1 or more, like 1,2")
    return counts


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--persons", type=int, default=64, help="persons per client")
    parser.add_argument(
        "--rounds", type=int, default=6, help="api and raw runs alternate, seconds/rounds each"
    )
    cores = os.cpu_count() or 1
    parser.add_argument(
        "--replicas",
        type=deployments_of,
        default=[1, cores] if cores > 1 else [1],
        help="the API deployments to measure, by their number of processes (default: 1 and"
        " one per core)",
    )
    add_json_argument(parser)
    args = parser.parse_args()
    uvloop.run(
        main(args.seconds, args.clients, args.persons, args.rounds, args.replicas, args.json)
    )
