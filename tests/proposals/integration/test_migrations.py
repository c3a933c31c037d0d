"""The proposals service's migrations on the real PostgreSQL: they build the shared tables
exactly as `koshiqon.common.database` describes them (this service's first revision writes
out today's shape), its own tables as adapters/tables.py describes them (Alembic's
comparison finds nothing to change), and they downgrade to nothing and up again."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine
from support.selftest import workspace
from support.services import migrated_schema

from koshiqon.common.migrations import upgrade
from koshiqon.proposals.adapters.tables import metadata
from koshiqon.proposals.bootstrap import MIGRATIONS

pytestmark = pytest.mark.integration

PLATFORM = ("idempotency_keys", "outbox", "processed_events")
SHAPE = [
    "SELECT table_name, column_name, data_type, is_nullable, column_default, is_identity "
    "FROM information_schema.columns WHERE table_schema = current_schema() "
    "AND table_name = ANY(:tables) ORDER BY table_name, column_name",
    "SELECT tablename, indexname, replace(indexdef, current_schema() || '.', '') "
    "FROM pg_indexes WHERE schemaname = current_schema() AND tablename = ANY(:tables) "
    "ORDER BY tablename, indexname",
]


async def shape(engine: AsyncEngine) -> list[list[Any]]:
    async with engine.connect() as conn:
        return [[tuple(r) for r in await conn.execute(text(sql), {"tables": list(PLATFORM)})]
                for sql in SHAPE]  # fmt: skip


def differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"include_schemas": False})
    return [d for d in compare_metadata(context, metadata)
            if not (isinstance(d, tuple) and d[0] in ("remove_index", "add_index"))]  # fmt: skip


async def test_the_migrations_build_what_the_code_describes(admin_database_url: str) -> None:
    async with (
        migrated_schema(admin_database_url, MIGRATIONS) as migrated,
        workspace(admin_database_url) as described,
    ):
        assert await shape(migrated.engine) == await shape(described.engine)
        async with migrated.engine.connect() as connection:
            assert await connection.run_sync(differences) == []


async def test_the_migrations_go_down_and_up_again(admin_database_url: str) -> None:
    async with migrated_schema(admin_database_url, MIGRATIONS) as schema:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes.update(dsn=schema.dsn, schema=schema.schema)
        await asyncio.to_thread(command.downgrade, config, "base")
        tables = "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() " \
                 "AND tablename <> 'alembic_version'"  # fmt: skip
        assert await schema.scalar(tables) == 0
        await upgrade(MIGRATIONS, schema.dsn, schema=schema.schema)
        assert await schema.scalar(tables) == 6
