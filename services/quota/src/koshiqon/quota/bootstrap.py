"""The composition root: the one place where real adapters are wired. Tests pass their own
clock (and schema settings) through here, and unit tests a fake unit of work."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from koshiqon.common import db
from koshiqon.common.consumer import ConsumerConfig, ConsumerRunner
from koshiqon.common.health import database_check, kafka_check, migrations_check
from koshiqon.common.http.app import create_app
from koshiqon.common.outbox import OutboxRelay, RelayConfig
from koshiqon.common.settings import ServiceSettings
from koshiqon.common.worker import Component
from koshiqon.quota.adapters.repository import QuotaRepository
from koshiqon.quota.config import QuotaSettings
from koshiqon.quota.domain.commands import ExpireReservations
from koshiqon.quota.handlers import HANDLERS, Clock
from koshiqon.quota.unit_of_work import AnyUnitOfWork, SqlUnitOfWork

MIGRATIONS = Path(__file__).resolve().parents[3] / "migrations"
VERSION = "0.1.0"

log = logging.getLogger("koshiqon.quota")


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Bus:
    """Runs a command in a unit of work of its own; `read` gives a repository for queries.
    `unit_of_work` makes that unit of work: a `SqlUnitOfWork` over `sessions` unless a test
    passes its fake's factory (and then no `sessions`)."""

    sessions: async_sessionmaker[AsyncSession] | None
    clock: Clock = field(default=utc_now)
    unit_of_work: Callable[[], AnyUnitOfWork] | None = None

    async def handle(self, command: Any) -> Any:
        handler = HANDLERS[type(command)]
        return await handler(command, self._new_unit_of_work(), self.clock)

    def _new_unit_of_work(self) -> AnyUnitOfWork:
        if self.unit_of_work is not None:
            return self.unit_of_work()
        assert self.sessions is not None, "a Bus needs sessions or a unit_of_work factory"
        return SqlUnitOfWork(self.sessions)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[QuotaRepository]:
        assert self.sessions is not None, "reads need the database"
        async with self.sessions() as session:
            yield QuotaRepository(session)


def _settings(settings: ServiceSettings) -> QuotaSettings:
    return settings if isinstance(settings, QuotaSettings) else QuotaSettings()


def build_app(settings: ServiceSettings, *, clock: Clock = utc_now) -> FastAPI:
    from koshiqon.quota.entrypoints import api

    engine = db.create_engine(
        settings.dsn(),
        schema=settings.db_schema,
        application="quota-api",
        pool_size=settings.db_pool_size,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.sessions = db.session_factory(engine)
        app.state.bus = Bus(app.state.sessions, clock)
        try:
            yield
        finally:
            await engine.dispose()

    return create_app(
        settings=settings,
        title="Koshi-qon quota",
        version=VERSION,
        routers=[api.router],
        lifespan=lifespan,
        readiness=[
            database_check(engine),
            kafka_check(settings.kafka_bootstrap_servers),
            migrations_check(engine, MIGRATIONS, settings.db_schema),
        ],
    )


class ExpiryScheduler:
    """Every `interval` seconds, expires the reservations of quotas whose period has ended
    (by the injected clock's date)."""

    def __init__(self, bus: Bus, *, interval: float) -> None:
        self.bus = bus
        self.interval = interval

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.tick()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.interval)

    async def tick(self) -> int:
        try:
            expired: int = await self.bus.handle(ExpireReservations(self.bus.clock().date()))
        except (OSError, SQLAlchemyError) as error:  # the database is away: next tick
            log.warning("quota.expiry-failed", extra={"error_type": type(error).__name__})
            return 0
        if expired:
            log.info("quota.reservations-expired", extra={"count": expired})
        return expired


@asynccontextmanager
async def build_worker(
    settings: ServiceSettings, *, clock: Clock = utc_now, group: str = "quota"
) -> AsyncIterator[Sequence[Component]]:
    """The outbox relay, the consumer of registration.v1 and proposals.v1 (group `group`),
    and the expiry scheduler."""
    from koshiqon.quota.entrypoints.consumer import subscription

    quota_settings = _settings(settings)
    engine = db.create_engine(
        settings.dsn(),
        schema=settings.db_schema,
        application="quota-worker",
        pool_size=settings.db_pool_size,
    )
    sessions = db.session_factory(engine)
    relay = OutboxRelay(
        RelayConfig(
            dsn=settings.dsn(),
            schema=settings.db_schema,
            bootstrap=settings.kafka_bootstrap_servers,
            service="quota",
            poll_interval=settings.outbox_poll_seconds,
            retention=timedelta(hours=settings.outbox_retention_hours),
        )
    )
    consumer = ConsumerRunner(
        subscription(clock, group=group),
        sessions,
        ConsumerConfig(bootstrap=settings.kafka_bootstrap_servers),
    )
    expiry = ExpiryScheduler(Bus(sessions, clock), interval=quota_settings.expiry_interval_seconds)
    try:
        yield [relay.run, consumer.run, expiry.run]
    finally:
        await engine.dispose()


__all__ = ["MIGRATIONS", "Bus", "ExpiryScheduler", "build_app", "build_worker"]
