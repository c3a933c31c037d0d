"""The composition root of the quota service: `bootstrap` wires the message bus (tests pass
a fake unit of work and their clock here), `build_app` the API process around it,
`build_worker` the worker's components; the one place where real adapters are chosen."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from koshiqon.common.consumer import ConsumerRunner
from koshiqon.common.database.engine import session_factory
from koshiqon.common.http.app import create_app
from koshiqon.common.messagebus import MessageBus
from koshiqon.common.migrations import script_location
from koshiqon.common.service import (
    consumer_config,
    expect_settings,
    idempotency_housekeeping,
    outbox_relay,
    service_engine,
    worker_checks,
)
from koshiqon.common.settings import ServiceSettings
from koshiqon.common.worker import Worker
from koshiqon.quota.bus import Bus, Deps
from koshiqon.quota.config import QuotaSettings
from koshiqon.quota.entrypoints import api
from koshiqon.quota.entrypoints.consumer import GROUP, subscription
from koshiqon.quota.entrypoints.scheduler import expiry
from koshiqon.quota.handlers import COMMAND_HANDLERS
from koshiqon.quota.unit_of_work import SqlUnitOfWork, UnitOfWork

MIGRATIONS = script_location(__file__)
VERSION = "0.1.0"

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def bootstrap(uow: Callable[[], UnitOfWork], *, now: Clock = utc_now) -> Bus:
    """The bus: each command's handler with a new unit of work from `uow` per call."""
    return MessageBus(Deps(uow=uow, now=now), commands=COMMAND_HANDLERS)


def sql_bus(engine: AsyncEngine, *, now: Clock = utc_now) -> Bus:
    """The bus over the service's engine: a transaction of its own per command."""
    return bootstrap(lambda: SqlUnitOfWork(engine), now=now)


def build_app(settings: ServiceSettings, *, now: Clock = utc_now) -> FastAPI:
    """The API: the routes, with the bus over the app's one engine on `app.state.bus`."""
    return create_app(
        expect_settings(settings, QuotaSettings),
        title="Koshi-qon quota",
        version=VERSION,
        routers=[api.router],
        migrations=MIGRATIONS,
        bus=lambda engine: sql_bus(engine, now=now),
    )


@asynccontextmanager
async def build_worker(
    settings: ServiceSettings, *, now: Clock = utc_now, group: str = GROUP
) -> AsyncIterator[Worker]:
    """The outbox relay, the consumer of registration.v1 and proposals.v1 (group `group`)
    and the expiry scheduler, over one engine."""
    quota_settings = expect_settings(settings, QuotaSettings)
    engine = service_engine(quota_settings, role="worker")
    consumer = ConsumerRunner(
        subscription(now=now, group=group),
        session_factory(engine),
        consumer_config(quota_settings),
    )
    scheduled = expiry(sql_bus(engine, now=now), quota_settings)
    try:
        yield Worker(
            [
                outbox_relay(quota_settings).run,
                consumer.run,
                scheduled,
                idempotency_housekeeping(engine),
            ],
            checks=worker_checks(quota_settings, engine, MIGRATIONS, consumer),
        )
    finally:
        await engine.dispose()


__all__ = ["MIGRATIONS", "VERSION", "bootstrap", "build_app", "build_worker", "sql_bus"]
