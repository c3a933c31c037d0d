"""The composition root: the one place where real adapters are wired.

`bootstrap()` gives the message bus (`bus.Bus`) that routes, the consumer and the scheduler
use; tests pass a fake unit of work (and a fixed clock) to it. `build_app` and
`build_worker` are what `koshiqon-registration api` and `worker` run, each process on one
engine (one pool): the app's (`create_app`), or the worker's `service_engine`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from koshiqon.common import logs
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
from koshiqon.registration import __version__
from koshiqon.registration.bus import Bus, Deps, utc_now
from koshiqon.registration.config import RegistrationSettings
from koshiqon.registration.entrypoints import api, consumer
from koshiqon.registration.entrypoints.scheduler import expiry, pending_quota
from koshiqon.registration.handlers import COMMAND_HANDLERS
from koshiqon.registration.unit_of_work import SqlUnitOfWork, UnitOfWork

MIGRATIONS = script_location(__file__)


def bootstrap(uow: Callable[[], UnitOfWork], *, now: Callable[[], datetime] = utc_now) -> Bus:
    """The bus over `uow` (a fresh unit of work per call) and the clock `now`."""
    deps = Deps(uow=uow, now=now, correlation_id=logs.correlation_id.get)
    return MessageBus(deps, commands=COMMAND_HANDLERS)


def sql_bus(engine: AsyncEngine) -> Bus:
    """The bus whose units of work each own a transaction on `engine`."""
    return bootstrap(lambda: SqlUnitOfWork(engine))


def build_app(settings: ServiceSettings) -> FastAPI:
    return create_app(
        expect_settings(settings, RegistrationSettings),
        title="Koshi-qon registration",
        version=__version__,
        routers=[api.router],
        migrations=MIGRATIONS,
        bus=sql_bus,
    )


@asynccontextmanager
async def build_worker(
    settings: ServiceSettings, *, group: str = consumer.GROUP
) -> AsyncIterator[Worker]:
    """The outbox relay, the quota.v1 consumer (group `group`), the temporary-stay expiry
    scheduler and the re-request of applications left pending_quota."""
    own = expect_settings(settings, RegistrationSettings)
    engine = service_engine(own, role="worker")
    bus = sql_bus(engine)
    runner = ConsumerRunner(
        consumer.subscription(group),
        session_factory(engine),
        consumer_config(own),
    )
    try:
        yield Worker(
            [
                outbox_relay(own).run,
                runner.run,
                expiry(bus, own),
                pending_quota(bus, own),
                idempotency_housekeeping(engine),
            ],
            checks=worker_checks(own, engine, MIGRATIONS, runner),
        )
    finally:
        await engine.dispose()
