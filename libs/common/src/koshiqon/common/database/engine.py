"""SQLAlchemy: the async engine of one role of a service, bound to the service's schema, and
its sessions. The one pool of a process; the driver-level path (`driver`) borrows from it."""

from __future__ import annotations

import re

from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from koshiqon.common.database.roles import safe_identifier
from koshiqon.common.settings import ServiceSettings


def create_engine(dsn: str, *, schema: str, application: str, pool_size: int = 10) -> AsyncEngine:
    """An engine whose every connection works inside `schema`."""
    return create_async_engine(
        sqlalchemy_url(dsn),
        # a fixed pool: overflow connections would be opened and closed under load, each
        # paying a backend fork and a SCRAM handshake; requests queue for a connection instead
        pool_size=pool_size,
        max_overflow=0,
        pool_timeout=30,
        # no ping per checkout (a round trip per transaction): a dead connection raises a
        # disconnect error, SQLAlchemy invalidates the pool, and the request or event is retried
        pool_pre_ping=False,
        pool_recycle=1800,
        connect_args={
            "server_settings": {
                "search_path": safe_identifier(schema),
                "application_name": application,
            }
        },
    )


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


def sqlalchemy_url(dsn: str) -> str:
    return re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql+asyncpg://", dsn)


def service_engine(settings: ServiceSettings, *, role: str) -> AsyncEngine:
    """The engine of one role of a service (`api`, `worker`), in the service's schema: the
    process's one connection pool."""
    return create_engine(
        settings.dsn(),
        schema=settings.db_schema,
        application=f"{settings.service_name}-{role}",
        pool_size=settings.db_pool_size,
    )
