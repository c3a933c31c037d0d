"""The composition root: the one place where real adapters are wired.

`bootstrap()` gives the message bus that routes use; tests pass a fake unit of work (and a
fixed clock) to it. `build_app` and `build_worker` are what `koshiqon-registration api` and
`worker` run.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from koshiqon.common import logs
from koshiqon.common.consumer import ConsumerConfig, ConsumerRunner
from koshiqon.common.database.driver import Database
from koshiqon.common.database.engine import session_factory
from koshiqon.common.migrations import script_location
from koshiqon.common.service import outbox_relay, service_app, service_database, service_engine
from koshiqon.common.settings import ServiceSettings
from koshiqon.common.worker import Component, every
from koshiqon.registration import __version__
from koshiqon.registration.config import RegistrationSettings
from koshiqon.registration.domain import commands as c
from koshiqon.registration.domain.model import Actor
from koshiqon.registration.handlers import COMMAND_HANDLERS, Deps
from koshiqon.registration.unit_of_work import SqlUnitOfWork, UnitOfWork

log = logging.getLogger("koshiqon.registration")

MIGRATIONS = script_location(__file__)


@dataclass(frozen=True)
class MessageBus:
    deps: Deps

    async def handle(self, command: c.Command) -> Any:
        return await COMMAND_HANDLERS[type(command)](command, self.deps)


def bootstrap(
    uow: Callable[[], UnitOfWork],
    *,
    now: Callable[[], datetime] | None = None,
) -> MessageBus:
    deps = Deps(uow=uow, correlation_id=logs.correlation_id.get)
    if now is not None:
        deps = Deps(uow=uow, now=now, correlation_id=logs.correlation_id.get)
    return MessageBus(deps)


def sql_bus(database: Database) -> MessageBus:
    return bootstrap(lambda: SqlUnitOfWork(database))


def _settings(settings: ServiceSettings) -> RegistrationSettings:
    if not isinstance(settings, RegistrationSettings):
        raise TypeError("the registration service runs with RegistrationSettings")
    return settings


def build_app(settings: ServiceSettings) -> FastAPI:
    from koshiqon.registration.entrypoints import api

    @asynccontextmanager
    async def state(app: FastAPI, _: async_sessionmaker[AsyncSession]) -> AsyncIterator[None]:
        """The bus's units of work run on the driver-level pool (`SqlUnitOfWork`)."""
        database = await service_database(settings, role="api")
        app.state.bus = sql_bus(database)
        try:
            yield
        finally:
            await database.close()

    return service_app(
        _settings(settings),
        title="Koshi-qon registration",
        version=__version__,
        routers=[api.router],
        migrations=MIGRATIONS,
        state=state,
    )


@asynccontextmanager
async def build_worker(settings: ServiceSettings) -> AsyncIterator[Sequence[Component]]:
    """The outbox relay, the quota.v1 consumer and the temporary-stay expiry scheduler."""
    from koshiqon.registration.entrypoints.consumer import subscription

    settings = _settings(settings)
    engine = service_engine(settings, role="worker")
    database = await service_database(settings, role="worker")
    relay = outbox_relay(settings)
    consumer = ConsumerRunner(
        subscription(),
        session_factory(engine),
        ConsumerConfig(bootstrap=settings.kafka_bootstrap_servers),
    )
    expiry = ExpiryScheduler(sql_bus(database), batch_size=settings.expiry_batch_size)
    interval = settings.expiry_interval_seconds
    try:
        yield [
            relay.run,
            consumer.run,
            every(interval, expiry.run_once, name="registration.expiry"),
        ]
    finally:
        await database.close()
        await engine.dispose()


class ExpiryScheduler:
    """Ends the temporary stays past their valid_until, batch by batch; the worker runs it
    every `REGISTRATION_EXPIRY_INTERVAL_SECONDS` (and once at start). Several workers may run
    it: rows are claimed with SKIP LOCKED and each end is conditional on the row still being
    active."""

    def __init__(
        self,
        bus: MessageBus,
        *,
        batch_size: int,
        today: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.bus = bus
        self.batch_size = batch_size
        self.today = today

    async def run_once(self) -> int:
        total = 0
        while True:
            command = c.ExpireTemporaryStays(
                actor=Actor(subject="registration-worker"),
                today=self.today().date(),
                batch_size=self.batch_size,
            )
            ended: int = await self.bus.handle(command)
            total += ended
            if ended < self.batch_size:
                if total:
                    log.info("registration.temporary-stays-expired", extra={"count": total})
                return total
