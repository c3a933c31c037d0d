"""Faults with reconciliation (issue 17): the four services under a steady load while the
broker is SIGKILLed and restarted, each worker is SIGKILLed and restarted, the leading outbox
relay is frozen with SIGSTOP, and PostgreSQL is restarted; then, once every consumer group's
lag is zero, each service's own tables are held against the others': monitoring's counts
equal registration's and quota's exactly, no outbox row is left unpublished or parked, no
quota is exceeded, no application is left pending.

Never on the shared infrastructure: the harness starts a private Kafka and PostgreSQL of its
own (`Instance.of_private`: `<state dir>/chaos`, base port 29092, wiped first), runs the
services on it (e2e/stack.py, registration with two workers so that a relay stands by), and
stops it afterwards.

    python -m e2e.chaos                          # make chaos: 200 operations/s for 60 s
    python -m e2e.chaos --rate 20 --seconds 20   # what tests/e2e/test_chaos.py runs

An operation is a registration (a person, then their permanent residence) or a resettlement
application (a person, then the application), alternately. The load lasts `seconds`, and on
until the last fault has recovered, at the rate asked or as near as the machine gets (the
report says what it got). Exit status 0 when every reconciliation row holds."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import random
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import httpx
import psutil  # type: ignore[import-untyped]
from e2e.stack import Role, Service, Stack, bearer, running_stack

from koshiqon.common import kz
from koshiqon.common.database.roles import asyncpg_dsn
from koshiqon.common.kz import iin_check_digit
from koshiqon.devtools.infra import cli as infra
from koshiqon.devtools.infra import kafka, postgres
from koshiqon.devtools.infra.instance import Instance
from koshiqon.devtools.paths import state_dir

T = TypeVar("T")
BASE_PORT = 29092
MINISTRY = bearer("quota:admin", "quota:read", subject="ministry")
CLERK = bearer("registration:read", "registration:write", subject="clerk")
# target regions of the applications (their migrant quotas) and settlements of registrations
QUOTA_REGIONS = ("590000000", "390000000", "630000000", "550000000")
SMALL_QUOTA = 5  # persons: the quota of every other target region, used up at once
SETTLEMENTS = ("591010000", "391010000", "631010000", "551010000", "351010000", "751110000")


@dataclass(frozen=True)
class Size:
    rate: float  # operations per second
    seconds: float  # the load's least duration
    stop_seconds: float  # how long the leading relay stays frozen
    lease_seconds: float  # the relay's lease (a frozen leader loses the lead after it)
    drain_timeout: float = 300.0

    @property
    def operations(self) -> int:
        return int(self.rate * self.seconds)


FULL = Size(rate=200, seconds=60, stop_seconds=40, lease_seconds=15)


@dataclass
class Fault:
    what: str
    at: float  # seconds since the load began
    recovered_after: float | None = None  # seconds until every process was ready again
    note: str = ""


@dataclass
class Load:
    started: float = 0.0
    ended: float = 0.0
    launched: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)

    @property
    def seconds(self) -> float:
        return self.ended - self.started


@dataclass(frozen=True)
class Row:
    what: str
    truth: str
    expected: object
    found: object

    @property
    def holds(self) -> bool:
        return self.expected == self.found


@dataclass
class Report:
    size: Size
    faults: list[Fault] = field(default_factory=list)
    load: Load = field(default_factory=Load)
    drained_after: float | None = None
    lag: dict[str, int] = field(default_factory=dict)
    rows: list[Row] = field(default_factory=list)

    @property
    def landed(self) -> bool:
        """The load reached every path: registrations, approvals and denials."""
        found = {row.what: row.found for row in self.rows}
        return all(
            isinstance(found.get(what), int) and int(str(found[what])) > 0
            for what in (
                "permanent registrations: monitoring = reg.",
                "persons approved: monitoring = reg.",
                "persons rejected: monitoring = reg.",
            )
        )

    @property
    def holds(self) -> bool:
        return self.landed and all(row.holds for row in self.rows)

    def render(self) -> str:
        s, load = self.size, self.load
        done = sum(load.outcomes.values())
        lines = [
            f"chaos: asked {s.rate:g} operations/s for {s.seconds:g} s (relay frozen "
            f"{s.stop_seconds:g} s, lease {s.lease_seconds:g} s)",
            f"load: {load.launched} operations in {load.seconds:.1f} s "
            f"({load.launched / max(load.seconds, 1e-9):.1f}/s launched, "
            f"{done / max(load.seconds, 1e-9):.1f}/s finished); outcomes: "
            + ", ".join(f"{k} {v}" for k, v in sorted(load.outcomes.items())),
            "",
            f"{'fault':<52} {'at s':>7} {'ready again after s':>20}",
        ]
        for f in self.faults:
            after = "-" if f.recovered_after is None else f"{f.recovered_after:.1f}"
            lines.append(f"{f.what:<52} {f.at:>7.1f} {after:>20}  {f.note}".rstrip())
        drained = "never" if self.drained_after is None else f"{self.drained_after:.1f} s"
        lines += [
            "",
            f"drained (every group's lag 0, every outbox published) {drained} after the load",
            "lag: " + ", ".join(f"{k} {v}" for k, v in self.lag.items()),
            "",
            f"{'reconciliation':<44} {'truth':<34} {'expected':>9} {'found':>9}",
        ]
        for r in self.rows:
            mark = "ok" if r.holds else "DIFFERS"
            lines.append(f"{r.what:<44} {r.truth:<34} {r.expected!s:>9} {r.found!s:>9}  {mark}")
        lines.append("")
        if not self.landed:
            lines.append("the load did not reach every path (registrations, approvals, denials)")
        lines.append("reconciled: every row holds" if self.holds else "NOT RECONCILED")
        return "\n".join(lines)


def private_instance(base_port: int = BASE_PORT, state: Path | None = None) -> Instance:
    return Instance.of_private(state or state_dir() / "chaos", base_port)


async def run(size: Size, instance: Instance, logs: Path, *, say: Callable[[str], None]) -> Report:
    """One chaos run on `instance`, which it starts afresh (wiped) and stops afterwards."""
    instance.state.mkdir(parents=True, exist_ok=True)
    with (instance.state / "chaos.lock").open("a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RuntimeError(f"another chaos run uses {instance.state}") from None
        say(
            f"private Kafka {instance.bootstrap}, PostgreSQL :{instance.pg_port} ({instance.state})"
        )
        await asyncio.to_thread(_fresh, instance)
        try:
            return await _run(size, instance, logs, say)
        finally:
            await asyncio.to_thread(infra.down, instance)


def _fresh(instance: Instance) -> None:
    infra.down(instance)
    kafka.wipe(instance)
    postgres.wipe(instance)
    infra.up(instance)


async def _run(size: Size, instance: Instance, logs: Path, say: Callable[[str], None]) -> Report:
    report = Report(size)
    settings = {"registration": {"outbox_lease_seconds": str(size.lease_seconds)}}
    async with running_stack(
        instance.admin_dsn(), instance.bootstrap, logs, settings=settings,
        replicas={"registration": 2},
    ) as stack:  # fmt: skip
        say(f"services ready; logs in {logs}")
        await _quotas(stack, size)
        faults_done = asyncio.Event()
        load = asyncio.create_task(_load(stack, size, report.load, faults_done))
        await asyncio.sleep(0.1)
        try:
            await _faults(stack, instance, size, report, say)
        finally:
            faults_done.set()
        await load
        say(f"load over: {report.load.launched} operations; draining")
        report.drained_after = await _drained(stack, size.drain_timeout)
        report.lag = await stack.lag()
        report.rows = await reconcile(stack)
    return report


# --- the load -------------------------------------------------------------------------------


async def _quotas(stack: Stack, size: Size) -> None:
    """A migrant quota in each target region: every other one too small for more than a few
    applications (the rest there are denied), the others larger than the whole load (all
    reserved), so both outcomes come whatever rate the machine reaches."""
    year = kz.kz_today(datetime.now(UTC)).year
    quota = stack["quota"].client
    for n, region in enumerate(QUOTA_REGIONS):
        territory = {"kato": region, "kind": "migrant", "effective_from": f"{year}-01-01",
                     "decision": "Chaos 1"}  # fmt: skip
        designated = await quota.post("/v1/territories", json=territory, headers=MINISTRY)
        assert designated.status_code == 201, designated.text
        limit = SMALL_QUOTA if n % 2 else 10 * size.operations + 1000
        body = {"kind": "migrant", "region": region, "year_from": year, "limit": limit}
        created = await quota.post("/v1/quotas", json=body, headers=MINISTRY)
        assert created.status_code == 201, created.text


async def _load(stack: Stack, size: Size, load: Load, faults_done: asyncio.Event) -> None:
    registration = stack["registration"]
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    in_flight = asyncio.Semaphore(64)
    rng = random.Random(17)
    year = kz.kz_today(datetime.now(UTC)).year
    async with httpx.AsyncClient(base_url=registration.url, timeout=15, limits=limits) as client:
        tasks: set[asyncio.Task[None]] = set()

        async def one(n: int) -> None:
            try:
                outcome = await _operation(client, n, rng, year)
            except httpx.HTTPError as error:
                outcome = type(error).__name__
            finally:
                in_flight.release()
            load.outcomes[outcome] += 1

        load.started = time.monotonic()
        n = 0
        while time.monotonic() - load.started < size.seconds or not faults_done.is_set():
            due = load.started + n / size.rate
            if (wait := due - time.monotonic()) > 0:
                await asyncio.sleep(wait)
            await in_flight.acquire()
            task = asyncio.create_task(one(n))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            n += 1
            load.launched = n
        load.ended = time.monotonic()
        await asyncio.gather(*tasks)


async def _operation(client: httpx.AsyncClient, n: int, rng: random.Random, year: int) -> str:
    person = await client.post("/v1/persons", json=_person(rng), headers=CLERK)
    if person.status_code != 201:
        return f"person {person.status_code}"
    person_id = person.json()["id"]
    if n % 2 == 0:
        settlement = SETTLEMENTS[n // 2 % len(SETTLEMENTS)]
        address = {"kato": settlement, "street": "Abaya", "building": "1"}
        residence = {
            "kind": "permanent",
            "valid_from": date.today().isoformat(),
            "address": address,
        }
        done = await client.post(
            f"/v1/persons/{person_id}/residences", json=residence, headers=CLERK
        )
        return f"registration {done.status_code}"
    application = {"applicant_id": person_id, "category": "migrant", "target_year": year,
                   "target_region": QUOTA_REGIONS[n // 2 % len(QUOTA_REGIONS)]}  # fmt: skip
    done = await client.post("/v1/resettlement-applications", json=application, headers=CLERK)
    return f"application {done.status_code}"


def _person(rng: random.Random) -> dict[str, Any]:
    birth = date(1950 + rng.randrange(50), 1 + rng.randrange(12), 1 + rng.randrange(28))
    century = {19: 3, 20: 5}[birth.year // 100]
    while True:
        first = f"{birth:%y%m%d}{century}{rng.randrange(10_000):04d}"
        if (check := iin_check_digit(first)) is not None:
            break
    return {
        "legal_status": "citizen", "iin": f"{first}{check}", "surname_latin": "Nurlan",
        "given_names_latin": "Arman", "surname_cyrillic": "Нурлан",
        "given_names_cyrillic": "Арман", "birth_date": birth.isoformat(), "sex": "male",
        "citizenship": "KAZ",
    }  # fmt: skip


# --- the faults -----------------------------------------------------------------------------


async def _faults(
    stack: Stack, instance: Instance, size: Size, report: Report, say: Callable[[str], None]
) -> None:
    """In turn: the broker; the leading relay frozen, and meanwhile the other services'
    workers killed (together); registration's two workers (together) once it has resumed;
    PostgreSQL."""
    began = report.load.started or time.monotonic()

    def since() -> float:
        return time.monotonic() - began

    async def fault(
        what: str, act: Callable[[], Awaitable[str]], ready: Callable[[], Awaitable[bool]]
    ) -> None:
        """`act`, then the time until `ready` (every process, or those of the service hit
        while another one is frozen)."""
        entry = Fault(what, since())
        report.faults.append(entry)
        say(f"{entry.at:6.1f} s  {what}")
        start = time.monotonic()
        entry.note = await act()
        await _until(ready, timeout=180)
        entry.recovered_after = time.monotonic() - start

    await asyncio.sleep(max(2.0, size.seconds * 0.05))

    async def broker() -> str:
        await asyncio.to_thread(kafka.stop, instance, hard=True)
        await asyncio.sleep(2.0)
        await asyncio.to_thread(kafka.start, instance)
        await asyncio.to_thread(kafka.wait_ready, instance)
        return "restarted after 2 s"

    await fault("SIGKILL the broker, start it again", broker, stack.ready)

    registration = stack["registration"]
    leader = await _until_value(lambda: relay_leader(stack, registration), timeout=60)
    frozen = Fault(f"SIGSTOP the leading relay ({leader.name}) {size.stop_seconds:g} s", since())
    report.faults.append(frozen)
    say(f"{frozen.at:6.1f} s  {frozen.what}")
    freeze = asyncio.create_task(_freeze(stack, registration, leader, size, frozen))
    # the other services' workers at once, while the relay is frozen
    await asyncio.gather(*[
        fault(f"SIGKILL {name}-worker, start it again", _restart(stack[name].worker),
              stack[name].ready)
        for name in ("quota", "proposals", "monitoring")
    ])  # fmt: skip
    await freeze
    await asyncio.gather(*[
        fault(f"SIGKILL {role.name}, start it again", _restart(role), registration.ready)
        for role in registration.workers
    ])  # fmt: skip
    await _until(stack.ready, timeout=180)

    async def database() -> str:
        await asyncio.to_thread(postgres.stop, instance)
        await asyncio.to_thread(postgres.start, instance)
        for service in stack.services.values():  # the harness's own pools: closed by the stop
            await service.schema.engine.dispose()
        return "pg_ctl stop -m fast, start"

    await fault("restart PostgreSQL", database, stack.ready)


def _restart(role: Role) -> Callable[[], Awaitable[str]]:
    async def act() -> str:
        await role.kill()
        await asyncio.sleep(1.0)
        await role.start()
        return "started again after 1 s"

    return act


async def _freeze(stack: Stack, service: Service, leader: Role, size: Size, entry: Fault) -> None:
    start = time.monotonic()
    took_over: float | None = None
    leader.signal(signal.SIGSTOP)
    try:
        standby = await _until_value(
            lambda: _other_leader(stack, service, leader), timeout=size.stop_seconds + 60
        )
        took_over = time.monotonic() - start
        entry.note = f"{standby.name} led after {took_over:.1f} s"
        await asyncio.sleep(max(0.0, size.stop_seconds - (time.monotonic() - start)))
    finally:
        leader.signal(signal.SIGCONT)
    entry.note += f"; SIGCONT at {time.monotonic() - start:.1f} s"
    entry.recovered_after = took_over


async def _other_leader(stack: Stack, service: Service, old: Role) -> Role | None:
    found = await relay_leader(stack, service)
    return found if found is not None and found is not old else None


async def relay_leader(stack: Stack, service: Service) -> Role | None:
    """The worker whose relay holds the service's advisory lock (pg_locks), found by the
    client port of the lock's session among the workers' sockets."""
    conn = await asyncpg.connect(asyncpg_dsn(service.schema.dsn))
    try:
        ports = await conn.fetch(
            "SELECT a.client_port FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
            "WHERE l.locktype = 'advisory' AND l.granted AND a.application_name = $1 "
            "AND a.usename = $2",
            f"{service.name}-outbox-relay", service.schema.schema,
        )  # fmt: skip
    finally:
        await conn.close()
    held = {r["client_port"] for r in ports}
    for role in service.workers:
        with contextlib.suppress(psutil.Error, AssertionError):
            sockets = psutil.Process(role.pid).net_connections(kind="tcp")
            if any(s.laddr and s.laddr.port in held for s in sockets):
                return role
    return None


# --- draining and reconciling ---------------------------------------------------------------


async def _drained(stack: Stack, timeout: float) -> float | None:
    """Seconds until every group's lag is zero and every outbox is published, twice in a row
    a second apart; None if not within `timeout`."""
    start = time.monotonic()
    streak = 0
    while time.monotonic() - start < timeout:
        try:
            quiet = all(v == 0 for v in (await stack.lag()).values()) and not any(
                [await _unpublished(s) for s in stack.services.values()]
            )
        except Exception:  # the broker or a service still settling
            quiet = False
        streak = streak + 1 if quiet else 0
        if streak >= 2:
            return time.monotonic() - start
        await asyncio.sleep(1.0)
    return None


async def _unpublished(service: Service) -> int:
    return int(
        str(await service.schema.scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL"))
    )


async def reconcile(stack: Stack) -> list[Row]:
    """Each service's own tables against the others': exact equalities."""
    r, q, m = stack["registration"].schema, stack["quota"].schema, stack["monitoring"].schema

    async def one(schema: Any, sql: str) -> int:
        return int(str(await schema.scalar(sql)))

    async def by_region(schema: Any, sql: str) -> dict[str, int]:
        async with schema.engine.connect() as conn:
            return {row[0]: int(row[1]) for row in await conn.exec_driver_sql(sql)}

    reg_sql = "SELECT region, count(*) FROM residences WHERE kind = 'permanent' GROUP BY region"
    mon_sql = (
        "SELECT region, sum(started) FROM p_registrations WHERE kind = 'permanent' GROUP BY region"
    )
    regions_r, regions_m = await by_region(r, reg_sql), await by_region(m, mon_sql)
    rows = [
        Row("persons: monitoring = registration", "registration persons",
            await one(r, "SELECT count(*) FROM persons"),
            await one(m, "SELECT count(*) FROM p_persons")),
        Row("permanent registrations: monitoring = reg.", "registration residences",
            sum(regions_r.values()), sum(regions_m.values())),
        Row("  regions whose counts differ", "residences by region", 0,
            sum(1 for k in regions_r.keys() | regions_m.keys()
                if regions_r.get(k) != regions_m.get(k))),
        Row("applications: monitoring = registration", "registration applications",
            await one(r, "SELECT count(*) FROM resettlement_applications"),
            await one(m, "SELECT coalesce(sum(applications), 0) FROM p_resettlement")),
        Row("persons requested: monitoring = reg.", "sum(persons)",
            await one(r, "SELECT coalesce(sum(persons), 0) FROM resettlement_applications"),
            await one(m, "SELECT coalesce(sum(requested), 0) FROM p_resettlement")),
        Row("persons approved: monitoring = reg.", "status approved",
            await one(r, "SELECT coalesce(sum(persons), 0) FROM resettlement_applications "
                         "WHERE status IN ('approved', 'completed')"),
            await one(m, "SELECT coalesce(sum(approved), 0) FROM p_resettlement")),
        Row("persons approved: quota = registration", "quota reservations reserved",
            await one(r, "SELECT coalesce(sum(persons), 0) FROM resettlement_applications "
                         "WHERE status IN ('approved', 'completed')"),
            await one(q, "SELECT coalesce(sum(persons), 0) FROM reservations "
                         "WHERE status = 'reserved'")),
        Row("persons rejected: monitoring = reg.", "status rejected",
            await one(r, "SELECT coalesce(sum(persons), 0) FROM resettlement_applications "
                         "WHERE status = 'rejected'"),
            await one(m, "SELECT coalesce(sum(rejected), 0) FROM p_resettlement")),
        Row("persons denied: quota = registration", "quota reservations denied",
            await one(r, "SELECT coalesce(sum(persons), 0) FROM resettlement_applications "
                         "WHERE status = 'rejected'"),
            await one(q, "SELECT coalesce(sum(persons), 0) FROM reservations "
                         "WHERE status = 'denied'")),
        Row("quotas reserved: monitoring = quota", "quota quotas.reserved",
            await one(q, "SELECT coalesce(sum(reserved), 0) FROM quotas"),
            await one(m, "SELECT coalesce(sum(reserved), 0) FROM p_quotas")),
        Row("quotas reserved: reservations = quotas", "quota quotas.reserved",
            await one(q, "SELECT coalesce(sum(reserved), 0) FROM quotas"),
            await one(q, "SELECT coalesce(sum(persons), 0) FROM reservations "
                         "WHERE status = 'reserved'")),
        Row("quota limits: monitoring = quota", "quota quotas.limit",
            await one(q, 'SELECT coalesce(sum("limit"), 0) FROM quotas'),
            await one(m, 'SELECT coalesce(sum("limit"), 0) FROM p_quotas')),
        Row("quotas whose reservations exceed the limit", "reserved + consumed > limit", 0,
            await one(q, 'SELECT count(*) FROM quotas WHERE reserved + consumed > "limit"')),
        Row("applications left pending", "status pending_quota", 0,
            await one(r, "SELECT count(*) FROM resettlement_applications "
                         "WHERE status = 'pending_quota'")),
    ]  # fmt: skip
    for name, service in stack.services.items():
        rows.append(Row(f"{name}: outbox rows unpublished", "published_at IS NULL", 0,
                        await _unpublished(service)))  # fmt: skip
        parked = await one(
            service.schema, "SELECT count(*) FROM outbox WHERE parked_at IS NOT NULL"
        )
        rows.append(Row(f"{name}: outbox rows parked", "parked_at IS NOT NULL", 0, parked))
    for name, lag in (await stack.lag()).items():
        rows.append(Row(f"{name}: consumer lag", "end offsets - committed", 0, lag))
    return rows


# --- waiting ----------------------------------------------------------------------------------


async def _until(predicate: Callable[[], Awaitable[bool]], *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(Exception):
            if await predicate():
                return
        if time.monotonic() > deadline:
            raise TimeoutError("not ready in time")
        await asyncio.sleep(0.25)


async def _until_value(produce: Callable[[], Awaitable[T | None]], *, timeout: float) -> T:
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(Exception):
            if (value := await produce()) is not None:
                return value
        if time.monotonic() > deadline:
            raise TimeoutError("no value in time")
        await asyncio.sleep(0.25)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m e2e.chaos",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--rate", type=float, default=FULL.rate, help="operations per second")
    parser.add_argument("--seconds", type=float, default=FULL.seconds)
    parser.add_argument("--stop-seconds", type=float, default=FULL.stop_seconds)
    parser.add_argument("--lease-seconds", type=float, default=FULL.lease_seconds)
    parser.add_argument("--base-port", type=int, default=BASE_PORT)
    parser.add_argument("--state-dir", type=Path, default=None, help="default: .local/chaos")
    parser.add_argument("--report", type=Path, default=None, help="also write the report here")
    args = parser.parse_args(argv)
    size = Size(args.rate, args.seconds, args.stop_seconds, args.lease_seconds)
    instance = private_instance(args.base_port, args.state_dir)
    logs = Path(tempfile.mkdtemp(prefix="koshiqon-chaos-logs-"))
    report = asyncio.run(run(size, instance, logs, say=lambda line: print(line, flush=True)))
    text = report.render()
    print("\n" + text)
    if args.report is not None:
        args.report.write_text(text + "\n")
    return 0 if report.holds else 1


if __name__ == "__main__":
    sys.exit(main())
