"""Alembic through `koshiqon.common.migrations`, against the real PostgreSQL: a tiny script
directory, upgraded into a throwaway schema."""

from __future__ import annotations

import io
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from alembic import command
from alembic.config import Config
from support.selftest import Workspace, workspace

from koshiqon.common.database.roles import asyncpg_dsn
from koshiqon.common.health import NotReady, migrations_check
from koshiqon.common.migrations import (
    current_revisions,
    head_revisions,
    upgrade,
    upgrade_blocking,
)

pytestmark = pytest.mark.integration

# The schema named in env.py is a service's; `upgrade(schema=...)` points it at the test's.
ENV_PY = """\
from sqlalchemy import MetaData

from koshiqon.common.migrations import run_env

run_env(MetaData(), schema="svc_never_used")
"""

FIRST_REVISION = '''\
"""persons and the platform tables"""
import sqlalchemy as sa
from alembic import op

from koshiqon.common.migrations import create_platform_tables, drop_platform_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_platform_tables(op)
    op.create_table(
        "persons",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("persons")
    drop_platform_tables(op)
'''

SECOND_REVISION = '''\
"""persons get a region"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("persons", sa.Column("kato", sa.String(9)))


def downgrade() -> None:
    op.drop_column("persons", "kato")
'''

PLATFORM_TABLES = {"outbox", "processed_events", "idempotency_keys"}


def script_directory(root: Path, *revisions: str) -> Path:
    (root / "versions").mkdir(parents=True)
    (root / "env.py").write_text(ENV_PY)
    for number, source in enumerate(revisions, start=1):
        (root / "versions" / f"{number:04d}.py").write_text(textwrap.dedent(source))
    return root


@pytest.fixture
async def ws(admin_database_url: str) -> AsyncIterator[Workspace]:
    """An empty schema: the workspace's own tables go, so the migration makes them."""
    async with workspace(admin_database_url) as w:
        async with w.engine.begin() as conn:
            await conn.exec_driver_sql(
                "DROP TABLE outbox, processed_events, idempotency_keys, effects"
            )
        yield w


async def tables_by_schema(admin_dsn: str, *schemas: str) -> dict[str, set[str]]:
    conn = await asyncpg.connect(asyncpg_dsn(admin_dsn))
    try:
        rows = await conn.fetch(
            "SELECT schemaname, tablename FROM pg_tables WHERE schemaname = ANY($1::text[])",
            list(schemas),
        )
    finally:
        await conn.close()
    found: dict[str, set[str]] = {schema: set() for schema in schemas}
    for row in rows:
        found[row["schemaname"]].add(row["tablename"])
    return found


async def test_upgrade_puts_tables_and_version_table_in_the_schema(
    ws: Workspace, tmp_path: Path, admin_database_url: str
) -> None:
    scripts = script_directory(tmp_path / "migrations", FIRST_REVISION)

    await upgrade(scripts, ws.dsn, schema=ws.schema)

    tables = await tables_by_schema(admin_database_url, ws.schema, "public")
    assert tables[ws.schema] == PLATFORM_TABLES | {"persons", "alembic_version"}
    assert "alembic_version" not in tables["public"]
    assert head_revisions(scripts) == frozenset({"0001"})
    assert await current_revisions(ws.engine, ws.schema) == head_revisions(scripts)
    unpublished = await ws.scalar(
        "SELECT count(*) FROM pg_indexes WHERE indexname = 'ix_outbox_unpublished' "
        f"AND schemaname = '{ws.schema}'"
    )
    assert unpublished == 1


async def test_upgrading_twice_changes_nothing(ws: Workspace, tmp_path: Path) -> None:
    scripts = script_directory(tmp_path / "migrations", FIRST_REVISION)
    await upgrade(scripts, ws.dsn, schema=ws.schema)
    async with ws.engine.begin() as conn:
        await conn.exec_driver_sql("INSERT INTO persons (name) VALUES ('Aigerim')")

    await upgrade(scripts, ws.dsn, schema=ws.schema)

    assert await ws.scalar("SELECT count(*) FROM persons") == 1
    assert await ws.scalar("SELECT count(*) FROM alembic_version") == 1
    assert await current_revisions(ws.engine, ws.schema) == frozenset({"0001"})


async def test_a_new_revision_is_pending_until_upgraded(ws: Workspace, tmp_path: Path) -> None:
    scripts = script_directory(tmp_path / "migrations", FIRST_REVISION)
    check = migrations_check(ws.engine, scripts, ws.schema)
    with pytest.raises(NotReady, match="code expects"):
        await check()  # never migrated
    await upgrade(scripts, ws.dsn, schema=ws.schema)
    await check()

    (scripts / "versions" / "0002.py").write_text(SECOND_REVISION)
    assert head_revisions(scripts) == frozenset({"0002"})
    assert await current_revisions(ws.engine, ws.schema) == frozenset({"0001"})
    await upgrade(scripts, ws.dsn, schema=ws.schema)
    assert await current_revisions(ws.engine, ws.schema) == frozenset({"0002"})
    assert await ws.scalar("SELECT count(*) FROM persons WHERE kato IS NULL") == 0


async def test_env_runs_even_when_called_from_a_running_event_loop(
    ws: Workspace, tmp_path: Path
) -> None:
    """Alembic's blocking API called straight from async code (what `upgrade` avoids):
    env.py notices the running loop and migrates on a loop of its own."""
    scripts = script_directory(tmp_path / "migrations", FIRST_REVISION)

    upgrade_blocking(scripts, ws.dsn, schema=ws.schema)

    assert await current_revisions(ws.engine, ws.schema) == frozenset({"0001"})


def test_offline_mode_writes_sql_for_the_schema(tmp_path: Path) -> None:
    scripts = script_directory(tmp_path / "migrations", FIRST_REVISION)
    out = io.StringIO()
    config = Config(output_buffer=out, attributes={"schema": "quota"})
    config.set_main_option("script_location", str(scripts))

    command.upgrade(config, "head", sql=True)

    sql = out.getvalue()
    assert 'SET search_path TO "quota"' in sql
    assert "CREATE TABLE quota.alembic_version" in sql
    assert "CREATE TABLE outbox" in sql
    assert "CREATE INDEX ix_outbox_unpublished" in sql
    assert "INSERT INTO quota.alembic_version (version_num) VALUES ('0001')" in sql
