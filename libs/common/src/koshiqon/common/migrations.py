"""Alembic for a service whose tables and version table live in its own schema.

A service's `migrations/env.py` is two lines::

    from koshiqon.common.migrations import run_env
    from koshiqon.quota.adapters.tables import metadata

    run_env(metadata, schema="quota")

and its first revision creates the shared tables with `create_platform_tables(op)`.

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
from sqlalchemy.schema import CreateIndex, CreateTable, DropTable

from koshiqon.common.db import NAMING_CONVENTION, add_platform_tables, sqlalchemy_url

log = logging.getLogger("koshiqon.migrations")


def script_location(package_file: str) -> Path:
    """A service's Alembic folder, seen from its package (`bootstrap.py`'s `__file__`). The
    source tree keeps it at `services/<svc>/migrations`; a wheel carries it inside the package
    (`koshiqon/<svc>/migrations`, hatch's `force-include`), so an installed service, in an
    image or anywhere, migrates with no checkout around it."""
    package = Path(package_file).resolve().parent
    for candidate in (package / "migrations", package.parents[2] / "migrations"):
        if (candidate / "env.py").is_file():
            return candidate
    raise RuntimeError(f"no Alembic migrations beside or above {package}")


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


def _migrate(connection: Connection, target_metadata: MetaData, schema: str) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        version_table_schema=schema,
        include_schemas=False,
    )
    with context.begin_transaction():  # one transaction for the whole run
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


async def upgrade(script_location: Path, dsn: str, *, schema: str, revision: str = "head") -> None:
    """Upgrade `schema` to `revision`, from async code (Alembic runs in a worker thread)."""
    await asyncio.to_thread(
        upgrade_blocking, script_location, dsn, schema=schema, revision=revision
    )


def upgrade_blocking(
    script_location: Path, dsn: str, *, schema: str, revision: str = "head"
) -> None:
    """Upgrade `schema` to `revision` from synchronous code (the `migrate` role, a CLI)."""
    config = _config(script_location, dsn=dsn, schema=_checked_schema(schema))
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


def create_platform_tables(op: SupportsExecute) -> None:
    """For a service's first revision: create the shared tables and their indexes, as
    `koshiqon.common.db` defines them. Emits plain DDL, so `--sql` mode works too."""
    for table in platform_metadata().sorted_tables:
        op.execute(CreateTable(table))
        for index in sorted(table.indexes, key=lambda ix: str(ix.name)):
            op.execute(CreateIndex(index))


def drop_platform_tables(op: SupportsExecute) -> None:
    """The downgrade of `create_platform_tables`."""
    for table in reversed(platform_metadata().sorted_tables):
        op.execute(DropTable(table))
