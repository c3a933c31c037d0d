"""What the repositories share: the row shape both paths return, inserts whose unique
violations become domain conflicts (on the Core connection or the driver), and the
SQLAlchemy Core plumbing for `text()` statements."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

import asyncpg
import sqlalchemy.exc
from sqlalchemy import RowMapping, TextClause, text
from sqlalchemy.ext.asyncio import AsyncConnection

from koshiqon.common.database.driver import Connection as DriverConnection
from koshiqon.common.errors import Conflict
from koshiqon.registration.domain.errors import (
    DuplicatePerson,
    OpenApplicationExists,
    OverlappingStay,
)

CONFLICTS: dict[str, tuple[type[Conflict], str, str]] = {
    "uq_persons_iin": (DuplicatePerson, "iin", "a person with this IIN is already registered"),
    "uq_persons_travel_document": (
        DuplicatePerson,
        "travel_document",
        "a person with this travel document is already registered",
    ),
    "uq_residences_active_permanent": (
        OverlappingStay,
        "kind",
        "this person's permanent registration changed concurrently; retry",
    ),
    "uq_resettlement_applications_open": (
        OpenApplicationExists,
        "applicant_id",
        "this applicant already has an open resettlement application",
    ),
}


class Row(Protocol):
    """A row by column name: an asyncpg `Record` or a SQLAlchemy `RowMapping`."""

    def __getitem__(self, key: str, /) -> Any: ...


def columns(names: Iterable[str]) -> str:
    return ", ".join(names)


def insert_statement(table: str, names: Sequence[str]) -> str:
    """An INSERT in the driver's numbered placeholders."""
    placeholders = ", ".join(f"${n}" for n in range(1, len(names) + 1))
    return f"INSERT INTO {table} ({columns(names)}) VALUES ({placeholders})"


def core_insert(table: str, names: Sequence[str]) -> TextClause:
    """An INSERT in Core's named parameters, one per column."""
    return text(
        f"INSERT INTO {table} ({columns(names)}) VALUES ({columns(f':{n}' for n in names)})"
    )


async def fetch(
    conn: AsyncConnection, statement: TextClause, params: Mapping[str, Any] | None = None
) -> Sequence[RowMapping]:
    return (await conn.execute(statement, dict(params or {}))).mappings().all()


async def fetch_one(
    conn: AsyncConnection, statement: TextClause, params: Mapping[str, Any]
) -> RowMapping | None:
    return (await conn.execute(statement, dict(params))).mappings().first()


async def execute(conn: AsyncConnection, statement: TextClause, params: Mapping[str, Any]) -> int:
    """Run a statement; a known unique index's violation raises its domain conflict. Returns
    the rows it affected."""
    try:
        return (await conn.execute(statement, dict(params))).rowcount
    except sqlalchemy.exc.IntegrityError as error:
        conflict = _conflict(error)
        if conflict is None:
            raise
        raise conflict from None


async def insert(conn: DriverConnection, statement: str, *values: Any) -> None:
    """Run an INSERT on the driver; a known unique index's violation raises its conflict."""
    try:
        await conn.execute(statement, *values)
    except asyncpg.UniqueViolationError as error:
        conflict = _conflict(error)
        if conflict is None:
            raise
        raise conflict from None


def _conflict(error: BaseException) -> Conflict | None:
    """The domain conflict of a violated unique index (the asyncpg error, itself or under
    SQLAlchemy's wrapping), None when the index is not one the domain names."""
    cause: BaseException | None = error
    while cause is not None and not isinstance(cause, asyncpg.UniqueViolationError):
        orig = getattr(cause, "orig", None)
        cause = orig if isinstance(orig, BaseException) else cause.__cause__
    if cause is None:
        return None
    known = CONFLICTS.get(cause.constraint_name or "")
    if known is None:
        return None
    cls, field, detail = known
    return cls(detail, field=field)


def affected(status: str) -> int:
    """The row count of a driver command tag (`UPDATE 1` -> 1)."""
    return int(status.rsplit(" ", 1)[-1])
