"""A service's real schema for a test: a throwaway role and schema, built by the service's
own Alembic migrations (never by `create_all`), dropped afterwards."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from koshiqon.common.database import roles
from koshiqon.common.database.engine import create_engine, session_factory
from koshiqon.common.migrations import upgrade
from koshiqon.common.settings import role_dsn
from support.selftest import create_test_role, sweep_leftovers

PASSWORD = "selftest"


@dataclass
class ServiceSchema:
    schema: str
    dsn: str
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]

    async def scalar(self, sql: str, **params: object) -> object:
        async with self.engine.connect() as conn:
            return (await conn.execute(text(sql), params)).scalar_one()


@asynccontextmanager
async def migrated_schema(
    admin_dsn: str, migrations: Path, *, revision: str = "head"
) -> AsyncIterator[ServiceSchema]:
    """Settings for the app under test: `database_url=schema.dsn,
    database_schema=schema.schema`. Migrated to `revision` (the latest by default)."""
    await sweep_leftovers(admin_dsn)
    schema = f"t_{uuid.uuid4().hex[:10]}"
    await create_test_role(admin_dsn, schema, PASSWORD)
    dsn = role_dsn(admin_dsn, role=schema, password=SecretStr(PASSWORD))
    await upgrade(migrations, dsn, schema=schema, revision=revision)
    engine = create_engine(dsn, schema=schema, application="selftest", pool_size=5)
    try:
        yield ServiceSchema(schema, dsn, engine, session_factory(engine))
    finally:
        await engine.dispose()
        await roles.drop_schema(admin_dsn, schema)
        await roles.drop_role(admin_dsn, schema)
