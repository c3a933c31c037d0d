"""One schema and one login role per service: the bootstrap that creates them (and drops
them, for tests)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping

import asyncpg

SERVICES = ("registration", "quota", "proposals", "monitoring")
_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


def safe_identifier(name: str) -> str:
    """`name`, if it is a plain lower-case identifier; there is no quoting to get wrong."""
    if not _IDENTIFIER.match(name):
        raise ValueError(f"not a safe PostgreSQL identifier: {name!r}")
    return name


def asyncpg_dsn(dsn: str) -> str:
    """`dsn` in the form asyncpg takes (no SQLAlchemy driver suffix)."""
    return re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql://", dsn)


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
