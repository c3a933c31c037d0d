"""The composition root: the one place where real adapters are wired.

`bootstrap()` gives the message bus that routes use; tests pass a fake unit of work (and a
fixed clock) to it. `build_app` and `build_worker` are what `koshiqon-registration api` and
`worker` run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from koshiqon.common import db, logs
from koshiqon.common.consumer import ConsumerConfig, ConsumerRunner
from koshiqon.common.health import database_check, kafka_check, migrations_check
from koshiqon.common.http.app import create_app
from koshiqon.common.outbox import OutboxRelay, RelayConfig
from koshiqon.common.settings import ServiceSettings
from koshiqon.common.worker import Component
from koshiqon.registration import __version__
from koshiqon.registration.config import RegistrationSettings
from koshiqon.registration.domain import commands as c
from koshiqon.registration.domain.model import Actor
from koshiqon.registration.handlers import COMMAND_HANDLERS, Deps
from koshiqon.registration.unit_of_work import SqlUnitOfWork, UnitOfWork

log = logging.getLogger("koshiqon.registration")

MIGRATIONS = Path(__file__).resolve().parents[3] / "migrations"


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


def sql_bus(sessions: async_sessionmaker[AsyncSession]) -> MessageBus:
    return bootstrap(lambda: SqlUnitOfWork(sessions))


def _settings(settings: ServiceSettings) -> RegistrationSettings:
    if not isinstance(settings, RegistrationSettings):
        raise TypeError("the registration service runs with RegistrationSettings")
    return settings


def build_app(settings: ServiceSettings) -> FastAPI:
    from koshiqon.registration.entrypoints import api

    settings = _settings(settings)
    engine = db.create_engine(
        settings.dsn(),
        schema=settings.db_schema,
        application="registration-api",
        pool_size=settings.db_pool_size,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.sessions = db.session_factory(engine)  # Idempotency-Key needs it
        app.state.bus = sql_bus(app.state.sessions)
        try:
            yield
        finally:
            await engine.dispose()

    return create_app(
        settings=settings,
        title="Koshi-qon registration",
        version=__version__,
        routers=[api.router],
        lifespan=lifespan,
        readiness=[
            database_check(engine),
            kafka_check(settings.kafka_bootstrap_servers),
            migrations_check(engine, MIGRATIONS, settings.db_schema),
        ],
    )


@asynccontextmanager
async def build_worker(settings: ServiceSettings) -> AsyncIterator[Sequence[Component]]:
    """The outbox relay, the quota.v1 consumer and the temporary-stay expiry scheduler."""
    from koshiqon.registration.entrypoints.consumer import subscription

    settings = _settings(settings)
    engine = db.create_engine(
        settings.dsn(),
        schema=settings.db_schema,
        application="registration-worker",
        pool_size=settings.db_pool_size,
    )
    sessions = db.session_factory(engine)
    relay = OutboxRelay(
        RelayConfig(
            dsn=settings.dsn(),
            schema=settings.db_schema,
            service="registration",
            bootstrap=settings.kafka_bootstrap_servers,
            poll_interval=settings.outbox_poll_seconds,
        )
    )
    consumer = ConsumerRunner(
        subscription(), sessions, ConsumerConfig(bootstrap=settings.kafka_bootstrap_servers)
    )
    expiry = ExpiryScheduler(
        sql_bus(sessions),
        interval=settings.expiry_interval_seconds,
        batch_size=settings.expiry_batch_size,
    )
    try:
        yield [relay.run, consumer.run, expiry.run]
    finally:
        await engine.dispose()


class ExpiryScheduler:
    """Ends the temporary stays past their valid_until, batch by batch, every `interval`
    seconds (and once at start). Several workers may run it: rows are claimed with
    SKIP LOCKED and each end is conditional on the row still being active."""

    def __init__(
        self,
        bus: MessageBus,
        *,
        interval: float,
        batch_size: int,
        today: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.bus = bus
        self.interval = interval
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
                return total

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                ended = await self.run_once()
                if ended:
                    log.info("registration.temporary-stays-expired", extra={"count": ended})
            except Exception as error:  # the database may be away: try again next round
                log.warning(
                    "registration.expiry-failed", extra={"error_type": type(error).__name__}
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.interval)
