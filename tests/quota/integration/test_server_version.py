"""The oldest PostgreSQL the services support (issue 12, item 16): `migrate` reads the
server's `server_version_num` and refuses an older server with a clear message, migrating
nothing. The local server is the newest, so the refusal is shown with a minimum above it."""

from __future__ import annotations

import asyncpg
import pytest
from support.services import migrated_schema

from koshiqon.common.database import roles
from koshiqon.common.migrations import (
    MINIMUM_SERVER_VERSION,
    UnsupportedServer,
    current_revisions,
    head_revisions,
    require_server_version,
    upgrade,
)
from koshiqon.quota.bootstrap import MIGRATIONS

pytestmark = pytest.mark.integration


def test_a_server_below_the_minimum_is_refused_by_name() -> None:
    with pytest.raises(UnsupportedServer, match=r"PostgreSQL 14\.13 is older than 15\.0"):
        require_server_version(140013)
    require_server_version(MINIMUM_SERVER_VERSION)  # the minimum itself is supported


async def test_migrate_refuses_an_older_server_and_migrates_nothing(
    admin_database_url: str,
) -> None:
    conn = await asyncpg.connect(roles.asyncpg_dsn(admin_database_url))
    try:
        found = int(await conn.fetchval("SELECT current_setting('server_version_num')"))
    finally:
        await conn.close()
    assert found >= MINIMUM_SERVER_VERSION  # the server the suite runs on is supported
    async with migrated_schema(admin_database_url, MIGRATIONS, revision="0004") as schema:
        with pytest.raises(UnsupportedServer, match="the oldest server Koshi-qon supports"):
            await upgrade(
                MIGRATIONS, schema.dsn, schema=schema.schema, minimum_server_version=found + 1
            )
        assert await current_revisions(schema.engine, schema.schema) == {"0004"}
        await upgrade(MIGRATIONS, schema.dsn, schema=schema.schema)
        assert await current_revisions(schema.engine, schema.schema) == head_revisions(MIGRATIONS)
