"""The composition root of the monitoring service: `bootstrap` wires the message bus (tests
pass their unit of work and clock here), `build_app` the API process around it,
`build_worker` the worker's components; the one place where real adapters are chosen."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
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
from koshiqon.monitoring.bus import Bus, Deps
from koshiqon.monitoring.config import MonitoringSettings
from koshiqon.monitoring.entrypoints import api, dashboard
from koshiqon.monitoring.entrypoints.consumer import GROUP, subscription
from koshiqon.monitoring.entrypoints.scheduler import outflow_rule
from koshiqon.monitoring.handlers import COMMAND_HANDLERS
from koshiqon.monitoring.unit_of_work import SqlUnitOfWork, UnitOfWork

MIGRATIONS = script_location(__file__)
VERSION = "0.1.0"

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def bootstrap(uow: Callable[[], UnitOfWork], *, now: Clock = utc_now) -> Bus:
    """The bus: each command's handler with a new unit of work from `uow` per call."""
    return MessageBus(Deps(uow=uow, now=now), commands=COMMAND_HANDLERS)


def sql_bus(engine: AsyncEngine, *, now: Clock = utc_now) -> Bus:
    return bootstrap(lambda: SqlUnitOfWork(engine), now=now)


def build_app(settings: ServiceSettings, *, now: Clock = utc_now) -> FastAPI:
    return create_app(
        expect_settings(settings, MonitoringSettings),
        title="Koshi-qon monitoring",
        version=VERSION,
        routers=[api.router, dashboard.router],
        migrations=MIGRATIONS,
        bus=lambda engine: sql_bus(engine, now=now),
    )


@asynccontextmanager
async def build_worker(
    settings: ServiceSettings, *, now: Clock = utc_now, group: str = GROUP
) -> AsyncIterator[Worker]:
    """The outbox relay (monitoring.v1), the consumer of the settings' topics (group
    `group`), the §8 scheduler and the idempotency housekeeping, over one engine."""
    monitoring = expect_settings(settings, MonitoringSettings)
    engine = service_engine(monitoring, role="worker")
    consumer = ConsumerRunner(
        subscription(now=now, group=group, topics=monitoring.topics),
        session_factory(engine),
        replace(
            consumer_config(monitoring),
            transaction_batch=monitoring.consumer_transaction_batch,
            max_records=monitoring.consumer_max_records,
        ),
    )
    try:
        yield Worker(
            [
                outbox_relay(monitoring).run,
                consumer.run,
                outflow_rule(sql_bus(engine, now=now), monitoring),
                idempotency_housekeeping(engine),
            ],
            checks=worker_checks(monitoring, engine, MIGRATIONS, consumer),
        )
    finally:
        await engine.dispose()


__all__ = ["MIGRATIONS", "VERSION", "bootstrap", "build_app", "build_worker", "sql_bus"]
