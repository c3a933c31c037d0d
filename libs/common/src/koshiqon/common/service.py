"""One entry point for every service: `koshiqon-<service> api|worker|migrate|all`.

A service describes itself once, in its bootstrap::

    SERVICE = ServiceDefinition(
        name="quota",
        settings=QuotaSettings,
        build_app=build_app,            # settings -> FastAPI (create_app)
        worker=build_worker,            # settings -> async context yielding its components
        migrations=MIGRATIONS_DIR,      # Alembic script location
    )

    def main() -> None:
        raise SystemExit(run(SERVICE))

`api` serves HTTP (uvicorn on uvloop), `worker` runs the outbox relay and the consumers until
SIGTERM, `migrate` upgrades the service's schema to head, `all` runs api and worker in one
process for local use.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import uvicorn
import uvloop
from fastapi import APIRouter, FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from koshiqon.common import logs
from koshiqon.common.database.driver import Database
from koshiqon.common.database.engine import create_engine, session_factory
from koshiqon.common.health import database_check, kafka_check, migrations_check
from koshiqon.common.http.app import create_app
from koshiqon.common.migrations import upgrade
from koshiqon.common.outbox import OutboxRelay, RelayConfig
from koshiqon.common.settings import ServiceSettings
from koshiqon.common.worker import Component, run_components

WorkerFactory = Callable[[ServiceSettings], AbstractAsyncContextManager[Sequence[Component]]]
# what a service puts on `app.state` (its message bus...), opened and closed with the app
StateSetup = Callable[
    [FastAPI, async_sessionmaker[AsyncSession]], AbstractAsyncContextManager[None]
]


def service_engine(settings: ServiceSettings, *, role: str) -> AsyncEngine:
    """The engine of one role of a service (`api`, `worker`), in the service's schema."""
    return create_engine(
        settings.dsn(),
        schema=settings.db_schema,
        application=f"{settings.service_name}-{role}",
        pool_size=settings.db_pool_size,
    )


def service_app(
    settings: ServiceSettings,
    *,
    title: str,
    version: str,
    routers: Sequence[APIRouter],
    migrations: Path,
    state: StateSetup,
) -> FastAPI:
    """A service's app: its engine opened and closed with the app, `app.state.sessions` (the
    idempotency layer needs them), whatever else `state` puts on `app.state`, and readiness
    on the database, the brokers and the service's migrations."""
    engine = service_engine(settings, role="api")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.sessions = session_factory(engine)
        try:
            async with state(app, app.state.sessions):
                yield
        finally:
            await engine.dispose()

    return create_app(
        settings=settings,
        title=title,
        version=version,
        routers=routers,
        lifespan=lifespan,
        readiness=[
            database_check(engine),
            kafka_check(settings.kafka_bootstrap_servers),
            migrations_check(engine, migrations, settings.db_schema),
        ],
    )


async def service_database(settings: ServiceSettings, *, role: str) -> Database:
    """The driver-level pool of one role of a service (see `koshiqon.common.database`)."""
    return await Database.open(
        settings.dsn(),
        schema=settings.db_schema,
        application=f"{settings.service_name}-{role}",
        size=settings.db_pool_size,
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
            retention=timedelta(hours=settings.outbox_retention_hours),
        )
    )


@dataclass(frozen=True)
class ServiceDefinition:
    name: str
    settings: Callable[[], ServiceSettings]
    build_app: Callable[[ServiceSettings], FastAPI]
    worker: WorkerFactory
    migrations: Path


def run(service: ServiceDefinition, argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"koshiqon-{service.name}")
    parser.add_argument("role", choices=("api", "worker", "migrate", "all"))
    role = parser.parse_args(argv).role
    settings = service.settings()
    logs.configure(service.name, settings.log_level)
    runners = {"api": _api, "worker": _worker, "migrate": _migrate, "all": _all}
    uvloop.run(runners[role](service, settings))
    return 0


def _server(service: ServiceDefinition, settings: ServiceSettings) -> uvicorn.Server:
    config = uvicorn.Config(
        service.build_app(settings),
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,  # our JSON logging, configured above
        access_log=False,
        proxy_headers=True,
        server_header=False,  # no `server: uvicorn`: the software is nobody's business
        timeout_graceful_shutdown=20,
    )
    return uvicorn.Server(config)


async def _api(service: ServiceDefinition, settings: ServiceSettings) -> None:
    await _server(service, settings).serve()


async def _worker(service: ServiceDefinition, settings: ServiceSettings) -> None:
    async with service.worker(settings) as components:
        await run_components(components)


async def _migrate(service: ServiceDefinition, settings: ServiceSettings) -> None:
    await upgrade(service.migrations, settings.dsn(), schema=settings.db_schema)


async def _all(service: ServiceDefinition, settings: ServiceSettings) -> None:
    """api and worker side by side; SIGTERM stops both (uvicorn's own handler stops the
    server, whose exit then stops the worker's components)."""
    server = _server(service, settings)
    stop = asyncio.Event()

    async def serve(_: asyncio.Event) -> None:
        try:
            await server.serve()
        finally:
            stop.set()

    async with service.worker(settings) as components:
        await run_components([serve, *components], stop=stop)
