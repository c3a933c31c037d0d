"""Alembic for a service whose tables and version table live in its own schema.

A service's `migrations/env.py` is two lines::

    from koshiqon.common.migrations import run_env
    from koshiqon.quota.adapters.tables import metadata

    run_env(metadata, schema="quota")

and its first revision creates the shared tables with `create_platform_tables(op)`, its
later ones add what they gained since (`add_effect_marks(op)`, ...): see the history at the
foot.

The database URL is, in this order: `config.attributes["dsn"]` (set by `upgrade`), the
`sqlalchemy.url` option of alembic.ini, the environment variable `<SCHEMA>_DATABASE_URL`
(e.g. `QUOTA_DATABASE_URL`). Migrations must run as the service's own role, so the tables
they create belong to it: there is deliberately no fallback to the admin `DATABASE_URL`.
`config.attributes["schema"]` (set by `upgrade`) overrides the schema named in env.py, so
tests can build a throwaway schema with the real migrations.

env.py runs asyncio itself. The `alembic` CLI calls it with no event loop running; `upgrade`
runs Alembic in a worker thread, so an async caller's loop is never blocked or re-entered;
and should env.py still find a running loop (Alembic's command API called straight from
async code), it runs the migration on a loop of its own in a helper thread.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

from alembic import command, context
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Executable, MetaData, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from koshiqon.common.database.engine import sqlalchemy_url
from koshiqon.common.database.tables import NAMING_CONVENTION, add_platform_tables

log = logging.getLogger("koshiqon.migrations")


def script_location(package_file: str) -> Path:
    """A service's Alembic folder, `migrations/` inside its package (seen from a module of the
    package, such as `bootstrap.py`'s `__file__`): the source tree and an installed wheel
    alike, so an installed service, in an image or anywhere, migrates with no checkout."""
    package = Path(package_file).resolve().parent
    candidate = package / "migrations"
    if (candidate / "env.py").is_file():
        return candidate
    raise RuntimeError(f"no Alembic migrations in {package}")


_SCHEMA = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
# Alembic's `context` and `op` proxies are process globals: one migration run at a time.
_ALEMBIC_LOCK = threading.Lock()


class SupportsExecute(Protocol):
    """Alembic's `op` (the module or an `Operations` object): all the helpers below use."""

    def execute(self, sqltext: Executable, /) -> Any: ...


def run_env(target_metadata: MetaData, *, schema: str) -> None:
    """The body of a service's env.py: offline (`--sql`) or online, as Alembic asks."""
    config = context.config
    schema = _checked_schema(config.attributes.get("schema") or schema)
    if context.is_offline_mode():
        _run_offline(target_metadata, schema=schema, url=_url(config, schema, required=False))
        return
    url = _url(config, schema, required=True)
    _run_to_completion(lambda: _run_online(target_metadata, schema=schema, url=url))


def _run_offline(target_metadata: MetaData, *, schema: str, url: str) -> None:
    context.configure(
        url=sqlalchemy_url(url),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        version_table_schema=schema,
        include_schemas=False,
    )
    with context.begin_transaction():
        context.execute(f'SET search_path TO "{schema}"')
        context.run_migrations()


async def _run_online(target_metadata: MetaData, *, schema: str, url: str) -> None:
    engine = create_async_engine(
        sqlalchemy_url(url),
        poolclass=NullPool,
        connect_args={
            "server_settings": {"search_path": schema, "application_name": f"{schema}-migrate"}
        },
    )
    try:
        async with engine.connect() as conn:
            await conn.run_sync(_migrate, target_metadata, schema)
    finally:
        await engine.dispose()


# PostgreSQL 15: the oldest server every service's migrations and statements are known to
# run on (the suite runs on the local 18; 15 checked by hand, see the README)
MINIMUM_SERVER_VERSION = 150000


class UnsupportedServer(RuntimeError):
    """A PostgreSQL server older than the project supports: nothing is migrated."""


def require_server_version(found: int, minimum: int = MINIMUM_SERVER_VERSION) -> None:
    """Refuse a server whose `server_version_num` is below `minimum`."""
    if found < minimum:
        raise UnsupportedServer(
            f"PostgreSQL {_version(found)} is older than {_version(minimum)}, the oldest "
            "server Koshi-qon supports: upgrade the server (nothing was migrated)"
        )


def _version(number: int) -> str:
    major, minor = divmod(number, 10000)
    return f"{major}.{minor}"


def _migrate(connection: Connection, target_metadata: MetaData, schema: str) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        version_table_schema=schema,
        include_schemas=False,
    )
    with context.begin_transaction():  # one transaction for the whole run
        found = connection.execute(text("SELECT current_setting('server_version_num')::int"))
        minimum = context.config.attributes.get("minimum_server_version", MINIMUM_SERVER_VERSION)
        require_server_version(int(found.scalar_one()), minimum)
        context.run_migrations()


def _run_to_completion(make: Callable[[], Coroutine[Any, Any, None]]) -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(make())
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="alembic-env") as pool:
        pool.submit(asyncio.run, make()).result()


def _url(config: Config, schema: str, *, required: bool) -> str:
    url = (
        config.attributes.get("dsn")
        or config.get_main_option("sqlalchemy.url")
        or os.environ.get(f"{schema.upper()}_DATABASE_URL")
    )
    if url:
        return str(url)
    if required:
        raise RuntimeError(
            f"no database URL for schema {schema}: set sqlalchemy.url, "
            f"{schema.upper()}_DATABASE_URL, or call koshiqon.common.migrations.upgrade"
        )
    return "postgresql://"


def _checked_schema(schema: object) -> str:
    if not isinstance(schema, str) or not _SCHEMA.match(schema):
        raise ValueError(f"not a safe PostgreSQL schema name: {schema!r}")
    return schema


async def upgrade(
    script_location: Path,
    dsn: str,
    *,
    schema: str,
    revision: str = "head",
    minimum_server_version: int = MINIMUM_SERVER_VERSION,
) -> None:
    """Upgrade `schema` to `revision`, from async code (Alembic runs in a worker thread);
    a server older than `minimum_server_version` is refused (`UnsupportedServer`)."""
    await asyncio.to_thread(
        upgrade_blocking,
        script_location,
        dsn,
        schema=schema,
        revision=revision,
        minimum_server_version=minimum_server_version,
    )


def upgrade_blocking(
    script_location: Path,
    dsn: str,
    *,
    schema: str,
    revision: str = "head",
    minimum_server_version: int = MINIMUM_SERVER_VERSION,
) -> None:
    """Upgrade `schema` to `revision` from synchronous code (the `migrate` role, a CLI)."""
    config = _config(script_location, dsn=dsn, schema=_checked_schema(schema))
    config.attributes["minimum_server_version"] = minimum_server_version
    log.info("migrations.upgrade-started", extra={"schema": schema, "revision": revision})
    with _ALEMBIC_LOCK:
        command.upgrade(config, revision)
    log.info("migrations.upgrade-finished", extra={"schema": schema, "revision": revision})


def _config(script_location: Path, *, dsn: str, schema: str) -> Config:
    config = Config(attributes={"dsn": dsn, "schema": schema})
    # ConfigParser interpolates "%": escape it (the DSN goes through attributes, not here)
    config.set_main_option("script_location", str(script_location).replace("%", "%%"))
    return config


def head_revisions(script_location: Path) -> frozenset[str]:
    """The head revision(s) of a script directory (reads the files: blocking)."""
    return frozenset(ScriptDirectory(str(script_location)).get_heads())


async def current_revisions(engine: AsyncEngine, schema: str) -> frozenset[str]:
    """The revision(s) recorded in `<schema>.alembic_version`; empty when never migrated."""
    schema = _checked_schema(schema)
    table = f'"{schema}".alembic_version'
    async with engine.connect() as conn:
        exists = await conn.scalar(text("SELECT to_regclass(:table) IS NOT NULL"), {"table": table})
        if not exists:
            return frozenset()
        rows = await conn.execute(text(f"SELECT version_num FROM {table}"))
        return frozenset(str(row[0]) for row in rows)


def platform_metadata() -> MetaData:
    """The shared tables alone (outbox, processed_events, idempotency_keys), unbound."""
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    add_platform_tables(metadata)
    return metadata


# --- the shared tables' history ------------------------------------------------------------
#
# A revision is history: what it did when it was written, whatever the tables look like now.
# So the shared tables are created as they were at every service's revision 0001 (written out
# below, not rendered from `koshiqon.common.db`), and each later change is a function both
# services' next revision calls. A test checks that the whole history builds exactly what
# `platform_metadata()` describes.

_PLATFORM_0001 = (
    """CREATE TABLE idempotency_keys (
        key VARCHAR(200) NOT NULL,
        principal VARCHAR(200) NOT NULL,
        route VARCHAR(300) NOT NULL,
        request_hash VARCHAR(64) NOT NULL,
        status_code INTEGER,
        response_body BYTEA,
        response_headers JSONB,
        created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
        CONSTRAINT pk_idempotency_keys PRIMARY KEY (key, principal)
    )""",
    "CREATE INDEX ix_idempotency_keys_created_at ON idempotency_keys (created_at)",
    """CREATE TABLE outbox (
        id BIGINT GENERATED ALWAYS AS IDENTITY,
        event_id UUID NOT NULL,
        topic VARCHAR(200) NOT NULL,
        key VARCHAR(200) NOT NULL,
        event_type VARCHAR(200) NOT NULL,
        value BYTEA NOT NULL,
        headers JSONB DEFAULT '{}'::jsonb NOT NULL,
        created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
        published_at TIMESTAMP WITH TIME ZONE,
        CONSTRAINT pk_outbox PRIMARY KEY (id)
    ) WITH (toast_tuple_target = 128, autovacuum_vacuum_scale_factor = 0.02,
            autovacuum_vacuum_insert_scale_factor = 0.02)""",
    "CREATE INDEX ix_outbox_unpublished ON outbox (id) WHERE published_at IS NULL",
    """CREATE TABLE processed_events (
        consumer VARCHAR(200) NOT NULL,
        event_id UUID NOT NULL,
        event_type VARCHAR(200) NOT NULL,
        processed_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
        CONSTRAINT pk_processed_events PRIMARY KEY (consumer, event_id)
    )""",
)
_PLATFORM_TABLES = ("idempotency_keys", "outbox", "processed_events")


def create_platform_tables(op: SupportsExecute) -> None:
    """For a service's revision 0001: the shared tables and their indexes as they were then.
    Plain DDL, so `--sql` mode works too."""
    for statement in _PLATFORM_0001:
        op.execute(text(statement))


def drop_platform_tables(op: SupportsExecute) -> None:
    """The downgrade of `create_platform_tables`."""
    for table in reversed(_PLATFORM_TABLES):
        op.execute(text(f"DROP TABLE {table}"))


def add_effect_marks(op: SupportsExecute) -> None:
    """For a service's revision 0002: `idempotency_keys.effect_committed`, set by a unit of
    work in the transaction of a keyed request's effect (`koshiqon.common.http.idempotency`)."""
    op.execute(
        text(
            "ALTER TABLE idempotency_keys"
            " ADD COLUMN effect_committed BOOLEAN DEFAULT false NOT NULL"
        )
    )


def drop_effect_marks(op: SupportsExecute) -> None:
    """The downgrade of `add_effect_marks`."""
    op.execute(text("ALTER TABLE idempotency_keys DROP COLUMN effect_committed"))


def add_outbox_retention_index(op: SupportsExecute) -> None:
    """For registration's revision 0004 and quota's 0003: a partial index of published rows
    by `published_at`, so the relay's retention delete finds its batches without a scan.
    (A plain CREATE INDEX: it runs in the migration's transaction and blocks outbox writes
    while it builds, which on a table kept for three days takes seconds.)"""
    op.execute(
        text(
            "CREATE INDEX ix_outbox_published_at ON outbox (published_at)"
            " WHERE published_at IS NOT NULL"
        )
    )


def drop_outbox_retention_index(op: SupportsExecute) -> None:
    """The downgrade of `add_outbox_retention_index`."""
    op.execute(text("DROP INDEX ix_outbox_published_at"))


def add_outbox_parking(op: SupportsExecute) -> None:
    """For registration's revision 0005 and quota's 0004: `outbox.attempts`, `last_error`
    and `parked_at`, and an index of the parked rows. The relay parks a row the broker
    refuses for good after its max_attempts (`koshiqon.common.outbox`). Adding columns with
    constant defaults rewrites nothing."""
    op.execute(
        text(
            "ALTER TABLE outbox ADD COLUMN attempts INTEGER DEFAULT 0 NOT NULL,"
            " ADD COLUMN last_error TEXT, ADD COLUMN parked_at TIMESTAMP WITH TIME ZONE"
        )
    )
    op.execute(text("CREATE INDEX ix_outbox_parked ON outbox (id) WHERE parked_at IS NOT NULL"))


def drop_outbox_parking(op: SupportsExecute) -> None:
    """The downgrade of `add_outbox_parking`."""
    op.execute(text("DROP INDEX ix_outbox_parked"))
    op.execute(
        text(
            "ALTER TABLE outbox DROP COLUMN attempts, DROP COLUMN last_error, DROP COLUMN parked_at"
        )
    )
