"""What the repositories share: inserts whose unique violations become domain conflicts."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import asyncpg

from koshiqon.common.database.driver import Connection
from koshiqon.common.errors import Conflict
from koshiqon.registration.domain.errors import DuplicatePerson, OverlappingStay

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
        Conflict,
        "applicant_id",
        "this applicant already has an open resettlement application",
    ),
}


def columns(names: Iterable[str]) -> str:
    return ", ".join(names)


def insert_statement(table: str, names: Sequence[str]) -> str:
    placeholders = ", ".join(f"${n}" for n in range(1, len(names) + 1))
    return f"INSERT INTO {table} ({columns(names)}) VALUES ({placeholders})"


async def insert(conn: Connection, statement: str, *values: Any) -> None:
    """Run an INSERT; a known unique index's violation raises its domain conflict."""
    try:
        await conn.execute(statement, *values)
    except asyncpg.UniqueViolationError as error:
        known = CONFLICTS.get(error.constraint_name or "")
        if known is None:
            raise
        cls, field, detail = known
        raise cls(detail, field=field) from None


def affected(status: str) -> int:
    """The row count of a command tag (`UPDATE 1` -> 1)."""
    return int(status.rsplit(" ", 1)[-1])
