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
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path

import uvicorn
import uvloop
from fastapi import FastAPI

from koshiqon.common import logs
from koshiqon.common.migrations import upgrade
from koshiqon.common.settings import ServiceSettings
from koshiqon.common.worker import Component, run_components

WorkerFactory = Callable[[ServiceSettings], AbstractAsyncContextManager[Sequence[Component]]]


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
