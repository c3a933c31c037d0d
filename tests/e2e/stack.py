"""All four services as real processes, as Kubernetes runs them: for each, its api and its
worker as two processes (`python -m e2e.launch <service> api|worker <group>`), on a schema of
its own built by its migrations, with consumer groups of this run's (started at the topics'
ends) and free ports. They talk only through HTTP and Kafka.

Used by the end-to-end tests (on the shared broker, under the stack lock) and by the chaos
harness (e2e/chaos.py, on a private Kafka and PostgreSQL), which kills and restarts single
processes (`Role.kill`, `Role.start`)."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import signal
import socket
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import TopicPartition
from support.kafka import wait_for
from support.services import ServiceSchema, migrated_schema

from koshiqon.common.topics import CONTEXT_TOPICS
from koshiqon.devtools.devkey import issue_dev_token
from koshiqon.monitoring.bootstrap import MIGRATIONS as MONITORING_MIGRATIONS
from koshiqon.monitoring.entrypoints.consumer import TOPICS as MONITORING_TOPICS
from koshiqon.proposals.bootstrap import MIGRATIONS as PROPOSALS_MIGRATIONS
from koshiqon.proposals.entrypoints.consumer import TOPICS as PROPOSALS_TOPICS
from koshiqon.quota.bootstrap import MIGRATIONS as QUOTA_MIGRATIONS
from koshiqon.quota.entrypoints.consumer import TOPICS as QUOTA_TOPICS
from koshiqon.registration.bootstrap import MIGRATIONS as REGISTRATION_MIGRATIONS
from koshiqon.registration.entrypoints.consumer import TOPICS as REGISTRATION_TOPICS

TESTS = Path(__file__).resolve().parents[1]
LOCK = Path("/tmp/koshiqon-stack.lock")
SERVICES = ("registration", "quota", "proposals", "monitoring")
MIGRATIONS = {
    "registration": REGISTRATION_MIGRATIONS,
    "quota": QUOTA_MIGRATIONS,
    "proposals": PROPOSALS_MIGRATIONS,
    "monitoring": MONITORING_MIGRATIONS,
}
TOPICS: dict[str, tuple[str, ...]] = {
    "registration": tuple(REGISTRATION_TOPICS),
    "quota": tuple(QUOTA_TOPICS),
    "proposals": tuple(PROPOSALS_TOPICS),
    "monitoring": tuple(MONITORING_TOPICS),
}
PARTITIONS = {spec.name: spec.partitions for spec in CONTEXT_TOPICS}


@contextmanager
def stack_lock(timeout: float = 1800.0) -> Iterator[None]:
    """`/tmp/koshiqon-stack.lock`, held while service processes run on the shared broker
    (other runs' services would answer this run's events). Taken with flock(2), as
    `flock /tmp/koshiqon-stack.lock <command>` takes it: when this process runs under that
    command, the descriptor it inherited already holds the lock, and is used."""
    for fd in _inherited_descriptors(LOCK):
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            continue  # another holder's descriptor
        yield  # ours already (or free, and now ours through the inherited descriptor)
        return
    with LOCK.open("a") as handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{LOCK} was held for {timeout:.0f} s") from None
                time.sleep(0.5)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _inherited_descriptors(path: Path) -> list[int]:
    found = []
    for entry in Path("/proc/self/fd").iterdir():
        with contextlib.suppress(OSError, ValueError):
            if Path(os.readlink(entry)) == path.resolve():
                found.append(int(entry.name))
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def bearer(*scopes: str, region: str | None = None, subject: str = "e2e") -> dict[str, str]:
    token = issue_dev_token(scopes=scopes, region=region, subject=subject, agency="e2e")
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Role:
    """One process of a service (its api or its worker), in a process group of its own."""

    service: str
    role: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    process: asyncio.subprocess.Process | None = None
    _out: IO[bytes] | None = None

    @property
    def name(self) -> str:
        return f"{self.service}-{self.role}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    async def start(self) -> None:
        self._out = self._out or self.log.open("ab")
        self.process = await asyncio.create_subprocess_exec(
            *self.argv, env=self.env, stdout=self._out, stderr=asyncio.subprocess.STDOUT,
            start_new_session=True, cwd=TESTS.parent,
        )  # fmt: skip

    def signal(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, sig)

    async def kill(self) -> None:
        """SIGKILL, as a node that loses power would; waits until it is gone."""
        self.signal(signal.SIGKILL)
        assert self.process is not None
        await self.process.wait()

    async def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM (SIGCONT first, should it be stopped), SIGKILL after `timeout`; its exit
        code, None when it had to be killed."""
        if self.process is None or self.process.returncode is not None:
            return None if self.process is None else self.process.returncode
        self.signal(signal.SIGCONT)
        self.signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(self.process.wait(), timeout=timeout)
        except TimeoutError:
            await self.kill()
            return None
        finally:
            if self._out is not None:
                self._out.close()
                self._out = None


@dataclass
class Service:
    name: str
    schema: ServiceSchema
    group: str
    port: int
    probe_ports: list[int]
    api: Role
    workers: list[Role]  # replicas: one relay leads, the others stand by
    client: httpx.AsyncClient

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def worker(self) -> Role:
        return self.workers[0]

    async def ready(self) -> bool:
        """Every process answers its /readyz with 200."""
        probes = [f"http://127.0.0.1:{port}/readyz" for port in self.probe_ports]
        async with httpx.AsyncClient(timeout=3) as probe:
            for url in (f"{self.url}/readyz", *probes):
                try:
                    if (await probe.get(url)).status_code != 200:
                        return False
                except httpx.TransportError:
                    return False
        return True


@dataclass
class Stack:
    bootstrap: str
    services: dict[str, Service] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Service:
        return self.services[name]

    @property
    def roles(self) -> list[Role]:
        return [r for s in self.services.values() for r in (s.api, *s.workers)]

    async def lag(self) -> dict[str, int]:
        """Each service's group: the records on its topics it has not committed yet."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=10000)
        ends_of = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None)
        await admin.start()
        await ends_of.start()
        try:
            lags: dict[str, int] = {}
            for service in self.services.values():
                partitions = _partitions(TOPICS[service.name])
                committed = await admin.list_consumer_group_offsets(service.group)
                ends = await ends_of.end_offsets(partitions)
                lags[service.name] = sum(
                    ends[tp] - max(committed[tp].offset if tp in committed else 0, 0)
                    for tp in partitions
                )
            return lags
        finally:
            await ends_of.stop()
            await admin.close()

    async def ready(self) -> bool:
        return all([await s.ready() for s in self.services.values()])


def _partitions(topics: tuple[str, ...]) -> list[TopicPartition]:
    return [TopicPartition(t, n) for t in topics for n in range(PARTITIONS[t])]


async def start_at_the_end(bootstrap: str, group: str, topics: tuple[str, ...]) -> None:
    """Commit a new group's offsets at the topics' ends: it sees only this run's events."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        partitions = _partitions(topics)
        ends = await consumer.end_offsets(partitions)
        consumer.assign(partitions)
        await consumer.commit(dict(ends))
    finally:
        await consumer.stop()


def _environment(
    name: str, schema: ServiceSchema, bootstrap: str, port: int, settings: Mapping[str, str]
) -> dict[str, str]:
    prefix = name.upper()
    own = {
        "database_url": schema.dsn, "database_schema": schema.schema, "http_port": str(port),
        "kafka_bootstrap_servers": bootstrap,
        "log_level": "WARNING", **settings,
    }  # fmt: skip
    path = os.pathsep.join(p for p in (str(TESTS), os.environ.get("PYTHONPATH")) if p)
    return {
        **os.environ,
        "KOSHIQON_ENV": "test",
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "PYTHONPATH": path,
        **{f"{prefix}_{key.upper()}": value for key, value in own.items()},
    }


@asynccontextmanager
async def running_stack(
    admin_dsn: str,
    bootstrap: str,
    logs: Path,
    *,
    settings: Mapping[str, Mapping[str, str]] | None = None,
    replicas: Mapping[str, int] | None = None,
    ready_timeout: float = 120.0,
) -> AsyncIterator[Stack]:
    """The four services running (each api and worker ready) until the block ends; then each
    process stopped with SIGTERM and its schema dropped. `settings`: per service, extra
    settings (`{"registration": {"pending_quota_after_seconds": "2"}}`); `replicas`: per
    service, how many workers (one by default)."""
    logs.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 (once, before anything runs)
    ports = {name: free_port() for name in SERVICES}
    extra: dict[str, dict[str, str]] = {name: {} for name in SERVICES}
    extra["proposals"].update(
        monitoring_url=f"http://127.0.0.1:{ports['monitoring']}",
        monitoring_token=issue_dev_token(
            scopes=["monitoring:read"], subject="proposals", agency="e2e"
        ),
    )
    for name, own in (settings or {}).items():
        extra[name].update(own)
    stack = Stack(bootstrap)
    async with AsyncExitStack() as exits:
        run = uuid.uuid4().hex[:8]
        for name in SERVICES:
            schema = await exits.enter_async_context(migrated_schema(admin_dsn, MIGRATIONS[name]))
            group = f"{name}-e2e-{run}"
            await start_at_the_end(bootstrap, group, TOPICS[name])
            port = ports[name]
            env = _environment(name, schema, bootstrap, port, extra[name])
            launch = [sys.executable, "-m", "e2e.launch", name]
            client = await exits.enter_async_context(
                httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30)
            )
            probes = [free_port() for _ in range((replicas or {}).get(name, 1))]
            workers = [
                Role(name, f"worker-{n}" if n else "worker", [*launch, "worker", group],
                     {**env, f"{name.upper()}_WORKER_PROBE_PORT": str(probe)},
                     logs / f"{name}-worker{'-' + str(n) if n else ''}.log")
                for n, probe in enumerate(probes)
            ]  # fmt: skip
            api = Role(name, "api", [*launch, "api"], env, logs / f"{name}-api.log")
            stack.services[name] = Service(name, schema, group, port, probes, api, workers, client)
        try:
            for role in stack.roles:
                await role.start()
            try:
                await wait_for(stack.ready, timeout=ready_timeout, interval=0.5)
            except TimeoutError:
                raise RuntimeError(
                    f"the services were not ready; their logs are in {logs}"
                ) from None
            yield stack
        finally:
            codes = {role.name: await role.stop() for role in stack.roles}
            # schemas are dropped on the way out of `exits`; a role that had to be killed
            # says so in the failure of the test that ran it
            stuck = [name for name, code in codes.items() if code not in (0, -15)]
            if stuck and sys.exc_info()[0] is None:
                raise RuntimeError(f"not stopped cleanly by SIGTERM: {codes} (logs in {logs})")
