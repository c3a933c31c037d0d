"""One entry point for every service: `koshiqon-<service> api|worker|migrate|all`.

A service describes itself once, in its `entrypoints/cli.py`::

    SERVICE = ServiceDefinition(
        name="quota",
        settings=QuotaSettings,
        build_app=build_app,            # settings -> FastAPI (http.app.create_app)
        worker=build_worker,            # settings -> async context yielding its components
        migrations=MIGRATIONS,          # its Alembic folder (bootstrap.MIGRATIONS)
    )

    def main() -> None:
        raise SystemExit(run(SERVICE))

Workers make their engine with `service_engine` (re-exported from `database.engine`): one
engine, one pool, per process.

`api` serves HTTP (uvicorn on uvloop); `worker` runs the outbox relay, the consumers and
the scheduled jobs until SIGTERM, with its probes on `probe_port` (`koshiqon.common.probes`;
a factory that yields a `Worker` gives them its readiness checks, `worker_checks`);
`migrate` upgrades the service's schema to head; `all` runs api and worker in one process
for local use, the API's `/readyz` then answering for both.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Generic, TypeVar

import uvicorn
import uvloop
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from koshiqon.common import collector, logs
from koshiqon.common.consumer import ConsumerConfig, ConsumerRunner
from koshiqon.common.database.engine import service_engine, session_factory
from koshiqon.common.health import ReadinessCheck, service_checks
from koshiqon.common.http.idempotency import purge_expired_keys
from koshiqon.common.http.idempotency.store import PURGE_BATCH
from koshiqon.common.migrations import upgrade
from koshiqon.common.outbox import OutboxRelay, RelayConfig
from koshiqon.common.probes import probe_component
from koshiqon.common.settings import ServiceSettings
from koshiqon.common.worker import Component, Worker, every, run_components

log = logging.getLogger("koshiqon.service")

S = TypeVar("S", bound=ServiceSettings)
WorkerFactory = Callable[[S], AbstractAsyncContextManager[Sequence[Component]]]


def expect_settings(settings: ServiceSettings, kind: type[S]) -> S:
    """`settings`, if they are the service's own kind; anything else is refused, never
    silently replaced by defaults."""
    if not isinstance(settings, kind):
        raise TypeError(f"expected {kind.__name__}, got {type(settings).__name__}")
    return settings


def idempotency_housekeeping(
    engine: AsyncEngine, *, interval_seconds: float = 60.0, batch: int = PURGE_BATCH
) -> Component:
    """The worker's job that deletes Idempotency-Key claims past their replay window (24 h),
    so the table holds a day of keys rather than every key ever sent. A stored response can
    carry personal data (a registered person's name and IIN): it goes within
    `interval_seconds` of its 24 hours, in batches of `batch` rows, each its own transaction
    (no long lock, no long scan), until the backlog is gone."""
    sessions = session_factory(engine)

    async def purge() -> int:
        purged = 0
        while True:
            async with sessions() as session, session.begin():
                went = await purge_expired_keys(session, batch=batch)
            purged += went
            if went < batch:
                break
        if purged:
            log.info("idempotency.keys-purged", extra={"count": purged})
        return purged

    return every(interval_seconds, purge, name="idempotency.housekeeping")


def worker_checks(
    settings: ServiceSettings,
    engine: AsyncEngine,
    migrations: Path,
    *consumers: ConsumerRunner,
) -> list[ReadinessCheck]:
    """A worker's readiness: its database, the brokers, its schema at head, and each
    consumer's dead-letter topic."""
    checks = service_checks(
        engine,
        bootstrap=settings.kafka_bootstrap_servers,
        schema=settings.db_schema,
        migrations=migrations,
    )
    return checks + [consumer.readiness_check() for consumer in consumers]


def consumer_config(settings: ServiceSettings) -> ConsumerConfig:
    """A worker's consumer settings: its brokers, its dead-letter topic's replicas and its
    fetch wait."""
    return ConsumerConfig(
        bootstrap=settings.kafka_bootstrap_servers,
        dlq_replication_factor=settings.kafka_dlq_replication_factor,
        fetch_max_wait_ms=settings.kafka_fetch_max_wait_ms,
    )


def outbox_relay(settings: ServiceSettings) -> OutboxRelay:
    """The service's outbox relay, configured from its settings."""
    return OutboxRelay(
        RelayConfig(
            dsn=settings.dsn(),
            schema=settings.db_schema,
            bootstrap=settings.kafka_bootstrap_servers,
            service=settings.service_name,
            poll_interval=settings.outbox_poll_seconds,
            lease=settings.outbox_lease_seconds,
            statement_timeout=settings.outbox_statement_timeout_seconds,
            retention=timedelta(hours=settings.outbox_retention_hours),
        )
    )


@dataclass(frozen=True)
class ServiceDefinition(Generic[S]):
    name: str
    settings: Callable[[], S]
    build_app: Callable[[S], FastAPI]
    worker: WorkerFactory[S]
    migrations: Path


def run(service: ServiceDefinition[S], argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"koshiqon-{service.name}")
    parser.add_argument("role", choices=("api", "worker", "migrate", "all"))
    role = parser.parse_args(argv).role
    settings = service.settings()
    logs.configure(service.name, settings.log_level)
    collector.tune(settings.gc_young_threshold)
    runners = {"api": _api, "worker": _worker, "migrate": _migrate, "all": _all}
    uvloop.run(runners[role](service, settings))
    return 0


def _server(app: FastAPI, settings: S) -> uvicorn.Server:
    config = uvicorn.Config(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,  # our JSON logging, configured above
        access_log=False,
        proxy_headers=True,
        server_header=False,  # no `server: uvicorn`: the software is nobody's business
        timeout_graceful_shutdown=20,
    )
    return uvicorn.Server(config)


async def _api(service: ServiceDefinition[S], settings: S) -> None:
    server = _server(service.build_app(settings), settings)
    collector.freeze()
    await server.serve()


async def _worker(service: ServiceDefinition[S], settings: S) -> None:
    """The worker's components and its probe server (`probes`), until SIGTERM."""
    async with service.worker(settings) as components:
        checks = components.checks if isinstance(components, Worker) else ()
        server = probe_component(checks, host=settings.http_host, port=settings.probe_port)
        collector.freeze()
        await run_components([*components, server])


async def _migrate(service: ServiceDefinition[S], settings: S) -> None:
    await upgrade(service.migrations, settings.dsn(), schema=settings.db_schema)


async def _all(service: ServiceDefinition[S], settings: S) -> None:
    """api and worker side by side; SIGTERM stops both (uvicorn's own handler stops the
    server, whose exit then stops the worker's components)."""
    app = service.build_app(settings)
    server = _server(app, settings)
    stop = asyncio.Event()

    async def serve(_: asyncio.Event) -> None:
        try:
            await server.serve()
        finally:
            stop.set()

    async with service.worker(settings) as components:
        if isinstance(components, Worker):  # one process: the API's /readyz answers for both
            app.state.readiness = (*app.state.readiness, *components.checks)
        collector.freeze()
        await run_components([serve, *components], stop=stop)


__all__ = [
    "ServiceDefinition",
    "WorkerFactory",
    "consumer_config",
    "expect_settings",
    "idempotency_housekeeping",
    "outbox_relay",
    "run",
    "service_engine",
    "worker_checks",
]
