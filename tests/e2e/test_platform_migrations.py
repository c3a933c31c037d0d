"""Both services' migrations carry a change of the shared platform tables to databases
built before it, on the real PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.services import migrated_schema

from koshiqon.common.migrations import upgrade
from koshiqon.quota.bootstrap import MIGRATIONS as QUOTA_MIGRATIONS
from koshiqon.registration.bootstrap import MIGRATIONS as REGISTRATION_MIGRATIONS

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    "migrations", [REGISTRATION_MIGRATIONS, QUOTA_MIGRATIONS], ids=["registration", "quota"]
)
async def test_keys_claimed_before_effect_marks_existed_are_upgraded(
    admin_database_url: str, migrations: Path
) -> None:
    """0002 adds `idempotency_keys.effect_committed` to a database at 0001 as it was then
    (without the column), keeping the keys it holds."""
    async with migrated_schema(admin_database_url, migrations, revision="0001") as old:
        async with old.engine.begin() as conn:
            await conn.exec_driver_sql("ALTER TABLE idempotency_keys DROP COLUMN effect_committed")
            await conn.exec_driver_sql(
                "INSERT INTO idempotency_keys (key, principal, route, request_hash, status_code)"
                " VALUES ('k', 'agency', 'POST /v1/x', 'h', 201)"
            )
        await upgrade(migrations, old.dsn, schema=old.schema)
        await old.engine.dispose()  # statements cached before the change
        marked = await old.scalar("SELECT effect_committed FROM idempotency_keys WHERE key = 'k'")
        assert marked is False
        revision = await old.scalar("SELECT version_num FROM alembic_version")
        assert revision == "0002"
