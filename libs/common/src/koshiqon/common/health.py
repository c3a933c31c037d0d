"""Readiness checks: may this process take traffic now?

A check is anything with a `name` and an async call that returns None when the dependency
is usable and raises when it is not. `run_checks` runs them concurrently, each under a
timeout, and reports every failure by name; `/readyz` of the app factory serves the result.

Liveness is not a check: `/livez` answers while the event loop runs, and depends on nothing
outside the process (a database outage must not make Kubernetes restart every pod).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from aiokafka.client import AIOKafkaClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from koshiqon.common import migrations, topics
from koshiqon.common.kafka import security_settings

log = logging.getLogger("koshiqon.health")

CHECK_TIMEOUT_SECONDS = 2.0
KAFKA_CACHE_SECONDS = 5.0


@runtime_checkable
class ReadinessCheck(Protocol):
    """A dependency of the process: returns when usable, raises (anything) when not."""

    @property
    def name(self) -> str: ...

    def __call__(self) -> Awaitable[None]: ...


@dataclass(frozen=True)
class Check:
    """A readiness check made of a name and a probe coroutine function."""

    name: str
    probe: Callable[[], Awaitable[None]]

    async def __call__(self) -> None:
        await self.probe()


class NotReady(Exception):
    """A dependency answered, but not as it must (e.g. a schema behind its migrations)."""


def database_check(engine: AsyncEngine, *, name: str = "database") -> ReadinessCheck:
    """`SELECT 1` through the service's engine (so its pool and credentials are tested)."""

    async def probe() -> None:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    return Check(name, probe)


class KafkaCheck:
    """A metadata request to the brokers. A good answer is trusted for `cache_seconds`, and
    concurrent calls share one request, so /readyz under load does not hammer the brokers.
    Failures are not cached: recovery shows at the next call."""

    def __init__(
        self, bootstrap: str, *, name: str = "kafka", cache_seconds: float = KAFKA_CACHE_SECONDS
    ) -> None:
        self.name = name
        self._bootstrap = bootstrap
        self._cache_seconds = cache_seconds
        self._good_until = 0.0
        self._lock = asyncio.Lock()

    async def __call__(self) -> None:
        if time.monotonic() < self._good_until:
            return
        async with self._lock:
            if time.monotonic() < self._good_until:
                return  # another caller refreshed it while this one waited
            await self._fetch_metadata()
            self._good_until = time.monotonic() + self._cache_seconds

    async def _fetch_metadata(self) -> None:
        client = AIOKafkaClient(
            **security_settings(),
            bootstrap_servers=self._bootstrap,
            client_id="koshiqon-readiness",
            request_timeout_ms=int(CHECK_TIMEOUT_SECONDS * 1000),
        )
        try:
            await client.bootstrap()
            if not client.cluster.brokers():
                raise NotReady("the cluster reported no brokers")
        finally:
            await client.close()


def kafka_check(bootstrap: str, *, name: str = "kafka") -> ReadinessCheck:
    return KafkaCheck(bootstrap, name=name)


class TopicCheck:
    """A topic exists on the brokers (`list_topics`). A good answer is trusted for
    `cache_seconds`, as for `KafkaCheck`; a missing topic shows at the next call."""

    def __init__(
        self, bootstrap: str, topic: str, *, name: str, cache_seconds: float = KAFKA_CACHE_SECONDS
    ) -> None:
        self.name = name
        self.topic = topic
        self._bootstrap = bootstrap
        self._cache_seconds = cache_seconds
        self._good_until = 0.0
        self._lock = asyncio.Lock()

    async def __call__(self) -> None:
        if time.monotonic() < self._good_until:
            return
        async with self._lock:
            if time.monotonic() < self._good_until:
                return
            if not await topics.topic_exists(self._bootstrap, self.topic):
                raise NotReady(f"topic {self.topic} is missing")
            self._good_until = time.monotonic() + self._cache_seconds


def dlq_check(bootstrap: str, group: str) -> ReadinessCheck:
    """The dead-letter topic of consumer group `group` exists: without it the group's
    consumer cannot set a poison event aside, so it does not consume (it retries creating the
    topic). A check of the process that runs the consumer — the worker — not of the API,
    whose requests do not depend on it."""
    return TopicCheck(bootstrap, topics.dlq_topic(group).name, name=f"dlq:{group}")


class MigrationsCheck:
    """The schema's `alembic_version` holds exactly the script directory's head(s). The heads
    are read from disk once; the version table on every call."""

    def __init__(
        self, engine: AsyncEngine, *, script_location: Path, schema: str, name: str
    ) -> None:
        self.name = name
        self._engine = engine
        self._script_location = script_location
        self._schema = schema
        self._heads: frozenset[str] | None = None

    async def __call__(self) -> None:
        if self._heads is None:
            self._heads = await asyncio.to_thread(migrations.head_revisions, self._script_location)
        current = await migrations.current_revisions(self._engine, self._schema)
        if current != self._heads:
            raise NotReady(
                f"schema {self._schema} is at {sorted(current)}, code expects {sorted(self._heads)}"
            )


def migrations_check(
    engine: AsyncEngine, script_location: Path, schema: str, *, name: str = "migrations"
) -> ReadinessCheck:
    return MigrationsCheck(engine, script_location=script_location, schema=schema, name=name)


def service_checks(
    engine: AsyncEngine, *, bootstrap: str, schema: str, migrations: Path | None
) -> list[ReadinessCheck]:
    """What every process of a service needs: its database, the brokers, and (given its
    migrations folder) its schema at the code's head."""
    checks = [database_check(engine), kafka_check(bootstrap)]
    if migrations is not None:
        checks.append(migrations_check(engine, migrations, schema))
    return checks


@dataclass(frozen=True)
class Readiness:
    """The outcome of every check: None for a pass, else a short reason safe to show."""

    results: Mapping[str, str | None]

    @property
    def ready(self) -> bool:
        return all(reason is None for reason in self.results.values())

    @property
    def failing(self) -> list[str]:
        return sorted(name for name, reason in self.results.items() if reason is not None)


async def run_checks(
    checks: Sequence[ReadinessCheck], *, seconds_each: float = CHECK_TIMEOUT_SECONDS
) -> Readiness:
    """Run every check concurrently, each limited to `seconds_each` seconds."""
    reasons = await asyncio.gather(*(_run_one(check, seconds_each) for check in checks))
    return Readiness({check.name: reason for check, reason in zip(checks, reasons, strict=True)})


async def _run_one(check: ReadinessCheck, seconds: float) -> str | None:
    try:
        async with asyncio.timeout(seconds):
            await check()
    except TimeoutError:
        log.warning("health.check-timed-out", extra={"check": check.name, "seconds": seconds})
        return f"timed out after {seconds:g} s"
    except Exception as error:  # any failure of the dependency means "not ready"
        log.warning(
            "health.check-failed",
            extra={"check": check.name, "error_type": type(error).__name__, "error": str(error)},
        )
        return _reason(error)
    return None


def _reason(error: Exception) -> str:
    """What /readyz may show: the error's kind, and the message only of our own NotReady
    (driver messages can name hosts, users and paths; those go to the log only)."""
    if isinstance(error, NotReady):
        return str(error)
    return f"failed: {type(error).__name__}"
