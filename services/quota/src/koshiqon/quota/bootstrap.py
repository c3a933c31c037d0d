"""The composition root: the one place where real adapters are wired. Tests pass their own
clock (and schema settings) through here, and unit tests a fake unit of work."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from koshiqon.common.consumer import ConsumerConfig, ConsumerRunner
from koshiqon.common.database.engine import session_factory
from koshiqon.common.migrations import script_location
from koshiqon.common.service import outbox_relay, service_app, service_engine
from koshiqon.common.settings import ServiceSettings
from koshiqon.common.worker import Component, every
from koshiqon.quota.adapters.repository import Repositories
from koshiqon.quota.config import QuotaSettings
from koshiqon.quota.domain.commands import ExpireReservations
from koshiqon.quota.handlers import HANDLERS, Clock
from koshiqon.quota.unit_of_work import AnyUnitOfWork, SqlUnitOfWork

MIGRATIONS = script_location(__file__)
VERSION = "0.1.0"

log = logging.getLogger("koshiqon.quota")


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Bus:
    """Runs a command in a unit of work of its own; `read` gives the repositories for queries.
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
    async def read(self) -> AsyncIterator[Repositories]:
        assert self.sessions is not None, "reads need the database"
        async with self.sessions() as session:
            yield Repositories(session)


def _settings(settings: ServiceSettings) -> QuotaSettings:
    return settings if isinstance(settings, QuotaSettings) else QuotaSettings()


def build_app(settings: ServiceSettings, *, clock: Clock = utc_now) -> FastAPI:
    from koshiqon.quota.entrypoints import api

    @asynccontextmanager
    async def state(
        app: FastAPI, sessions: async_sessionmaker[AsyncSession]
    ) -> AsyncIterator[None]:
        app.state.bus = Bus(sessions, clock)
        yield

    return service_app(
        settings,
        title="Koshi-qon quota",
        version=VERSION,
        routers=[api.router],
        migrations=MIGRATIONS,
        state=state,
    )


class ExpiryScheduler:
    """Expires the reservations of quotas whose period has ended (by the injected clock's
    date); the worker runs `tick` every `QUOTA_EXPIRY_INTERVAL_SECONDS`."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus

    async def tick(self) -> int:
        expired: int = await self.bus.handle(ExpireReservations(self.bus.clock().date()))
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
    engine = service_engine(settings, role="worker")
    sessions = session_factory(engine)
    relay = outbox_relay(settings)
    consumer = ConsumerRunner(
        subscription(clock, group=group),
        sessions,
        ConsumerConfig(bootstrap=settings.kafka_bootstrap_servers),
    )
    expiry = ExpiryScheduler(Bus(sessions, clock))
    interval = quota_settings.expiry_interval_seconds
    try:
        yield [relay.run, consumer.run, every(interval, expiry.tick, name="quota.expiry")]
    finally:
        await engine.dispose()


__all__ = ["MIGRATIONS", "Bus", "ExpiryScheduler", "build_app", "build_worker"]
