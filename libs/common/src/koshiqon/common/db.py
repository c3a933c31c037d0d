"""PostgreSQL: one schema and one login role per service, async engines bound to that schema,
the tables every service shares (outbox, processed events, idempotency keys), and Alembic."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping

import asyncpg
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SERVICES = ("registration", "quota", "proposals", "monitoring")
_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


def new_metadata() -> MetaData:
    """A MetaData with the project's constraint naming convention and the shared tables.
    Tables carry no schema: every connection's search_path is the service's own schema."""
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    add_platform_tables(metadata)
    return metadata


def add_platform_tables(metadata: MetaData) -> None:
    Table(
        "outbox",
        metadata,
        Column("id", BigInteger, Identity(always=True), primary_key=True),
        Column("event_id", Uuid, nullable=False),
        Column("topic", String(200), nullable=False),
        Column("key", String(200), nullable=False),
        Column("event_type", String(200), nullable=False),
        Column("value", LargeBinary, nullable=False),
        Column("headers", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("published_at", DateTime(timezone=True)),
        Index("ix_outbox_unpublished", "id", postgresql_where=text("published_at IS NULL")),
        # values move to the TOAST table, so marking a row published rewrites ~150 bytes,
        # not the whole event: the relay's UPDATE stays cheap whatever the payload size
        postgresql_with={
            "toast_tuple_target": "128",
            # every row is written, updated once and deleted: vacuum early and often
            "autovacuum_vacuum_scale_factor": "0.02",
            "autovacuum_vacuum_insert_scale_factor": "0.02",
        },
    )  # fmt: skip
    Table(
        "processed_events",
        metadata,
        Column("consumer", String(200), primary_key=True),
        Column("event_id", Uuid, primary_key=True),
        Column("event_type", String(200), nullable=False),
        Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )
    Table(
        "idempotency_keys",
        metadata,
        Column("key", String(200), primary_key=True),
        Column("principal", String(200), primary_key=True),
        Column("route", String(300), nullable=False),
        Column("request_hash", String(64), nullable=False),
        Column("status_code", Integer),
        Column("response_body", LargeBinary),
        Column("response_headers", JSONB),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        # set by the unit of work in the transaction of the request's effect: a claim whose
        # effect committed is never run again, even when its response was never stored
        Column("effect_committed", Boolean, nullable=False, server_default=text("false")),
        Index("ix_idempotency_keys_created_at", "created_at"),
    )


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


def asyncpg_dsn(dsn: str) -> str:
    return re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql://", dsn)


def safe_identifier(name: str) -> str:
    """`name`, if it is a plain lower-case identifier; there is no quoting to get wrong."""
    if not _IDENTIFIER.match(name):
        raise ValueError(f"not a safe PostgreSQL identifier: {name!r}")
    return name


async def bootstrap(admin_dsn: str, roles: Mapping[str, str]) -> None:
    """Create the database of `admin_dsn` if missing, and for each (schema, password) in
    `roles` a login role of that name that owns a schema of that name and nothing else."""
    database = safe_identifier(asyncpg_dsn(admin_dsn).rsplit("/", 1)[1].split("?")[0])
    await _ensure_database(admin_dsn, database)
    conn = await asyncpg.connect(asyncpg_dsn(admin_dsn))
    try:
        await conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        for schema, password in roles.items():
            await _ensure_role_and_schema(conn, database, safe_identifier(schema), password)
    finally:
        await conn.close()


async def _ensure_database(admin_dsn: str, database: str) -> None:
    maintenance = asyncpg_dsn(admin_dsn).rsplit("/", 1)[0] + "/postgres"
    conn = await asyncpg.connect(maintenance)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if not exists:
            with contextlib.suppress(asyncpg.DuplicateDatabaseError):  # a concurrent bootstrap
                await conn.execute(f'CREATE DATABASE "{database}"')
    finally:
        await conn.close()


async def _ensure_role_and_schema(
    conn: asyncpg.Connection, database: str, role: str, password: str
) -> None:
    exists = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role)
    verb = "ALTER" if exists else "CREATE"
    # a password cannot be a bind parameter in DDL; quote_literal does the escaping
    literal = await conn.fetchval("SELECT quote_literal($1::text)", password)
    await conn.execute(f'{verb} ROLE "{role}" LOGIN PASSWORD {literal}')
    await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{role}" AUTHORIZATION "{role}"')
    await conn.execute(f'ALTER ROLE "{role}" IN DATABASE "{database}" SET search_path = "{role}"')
    await conn.execute(f'GRANT CONNECT ON DATABASE "{database}" TO "{role}"')


async def drop_schema(admin_dsn: str, schema: str) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(admin_dsn))
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{safe_identifier(schema)}" CASCADE')
    finally:
        await conn.close()


async def drop_role(admin_dsn: str, role: str) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(admin_dsn))
    try:
        await conn.execute(f'DROP OWNED BY "{safe_identifier(role)}" CASCADE')
        await conn.execute(f'DROP ROLE IF EXISTS "{role}"')
    finally:
        await conn.close()
