"""The shared platform tables as every service's migrations build them, on the real
PostgreSQL: their history (revision 0001 as it was, then each change) ends exactly where
`koshiqon.common.db` describes them, and carries databases built before a change."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from support.selftest import workspace
from support.services import migrated_schema

from koshiqon.common.migrations import head_revisions, upgrade
from koshiqon.monitoring.bootstrap import MIGRATIONS as MONITORING_MIGRATIONS
from koshiqon.proposals.bootstrap import MIGRATIONS as PROPOSALS_MIGRATIONS
from koshiqon.quota.bootstrap import MIGRATIONS as QUOTA_MIGRATIONS
from koshiqon.registration.bootstrap import MIGRATIONS as REGISTRATION_MIGRATIONS

pytestmark = pytest.mark.integration

SERVICES = pytest.mark.parametrize(
    "migrations",
    [REGISTRATION_MIGRATIONS, QUOTA_MIGRATIONS, PROPOSALS_MIGRATIONS, MONITORING_MIGRATIONS],
    ids=["registration", "quota", "proposals", "monitoring"],
)
PLATFORM = ("idempotency_keys", "outbox", "processed_events")

_COLUMNS = """
SELECT table_name, column_name, data_type, character_maximum_length, is_nullable,
       column_default, is_identity
FROM information_schema.columns
WHERE table_schema = current_schema() AND table_name = ANY(:tables)
ORDER BY table_name, column_name
"""
_INDEXES = """
SELECT tablename, indexname, replace(indexdef, current_schema() || '.', '')
FROM pg_indexes WHERE schemaname = current_schema() AND tablename = ANY(:tables)
ORDER BY tablename, indexname
"""
_OPTIONS = """
SELECT c.relname, c.reloptions FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema() AND c.relname = ANY(:tables) ORDER BY c.relname
"""


async def shape(engine: AsyncEngine) -> list[list[Any]]:
    """Columns, indexes and storage options of the platform tables in the engine's schema."""
    async with engine.connect() as conn:
        return [
            [tuple(row) for row in await conn.execute(text(sql), {"tables": list(PLATFORM)})]
            for sql in (_COLUMNS, _INDEXES, _OPTIONS)
        ]


@SERVICES
async def test_the_migrations_build_the_platform_tables_as_the_code_describes_them(
    admin_database_url: str, migrations: Path
) -> None:
    async with (
        migrated_schema(admin_database_url, migrations) as migrated,
        workspace(admin_database_url) as described,  # `create_all` of the current tables
    ):
        built, expected = await shape(migrated.engine), await shape(described.engine)
    assert built == expected


@SERVICES
async def test_keys_claimed_before_effect_marks_existed_are_upgraded(
    admin_database_url: str, migrations: Path
) -> None:
    """0002 adds `idempotency_keys.effect_committed` to a database at 0001, keeping the keys
    it holds."""
    async with migrated_schema(admin_database_url, migrations, revision="0001") as old:
        async with old.engine.begin() as conn:
            await conn.exec_driver_sql(
                "INSERT INTO idempotency_keys (key, principal, route, request_hash, status_code)"
                " VALUES ('k', 'agency', 'POST /v1/x', 'h', 201)"
            )
        await upgrade(migrations, old.dsn, schema=old.schema)
        await old.engine.dispose()  # statements cached before the change
        marked = await old.scalar("SELECT effect_committed FROM idempotency_keys WHERE key = 'k'")
        assert marked is False
        assert await old.scalar("SELECT version_num FROM alembic_version") in head_revisions(
            migrations
        )
