"""Resettlement applications and their family members.

What registering a residence runs (`approved_for`, and `save` completing the application) is
plain SQL on the driver connection of the unit of work's transaction, like the rest of that
path (see `residences`); so is `save` for the other transitions, which follow a locked `get`.
The rest is SQLAlchemy Core.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import text

from koshiqon.common.database.driver import Connection as DriverConnection
from koshiqon.common.events.registration import ResettlementCategory
from koshiqon.common.unit_of_work import Transaction
from koshiqon.registration.adapters.repository._sql import (
    Row,
    affected,
    columns,
    core_insert,
    execute,
    fetch,
    fetch_one,
)
from koshiqon.registration.domain.resettlement import ApplicationStatus, ResettlementApplication

FIXED = ("id", "applicant_id", "category", "target_region", "target_year", "persons")
STATE = (
    "status",
    "quota_id",
    "rejection_reason",
    "closed_reason",
    "quota_reserved_at",
    "quota_denied_at",
    "quota_released_at",
    "quota_expired_at",
    "decided_at",
    "settlement",
    "completed_on",
    "withdrawn_at",
    "quota_requested_at",
    "quota_requests",
)
COLUMNS = (*FIXED, "requested_at", *STATE)
_SELECT = f"SELECT {columns(COLUMNS)} FROM resettlement_applications"
_MEMBERS_OF = (
    "SELECT application_id, person_id FROM resettlement_family_members"
    " WHERE application_id = ANY({ids}) ORDER BY application_id, position"
)
# Core
_INSERT = core_insert("resettlement_applications", COLUMNS)
_INSERT_MEMBERS = text(
    "INSERT INTO resettlement_family_members (application_id, person_id, position)"
    " SELECT :id, person_id, position - 1"
    " FROM unnest(CAST(:members AS uuid[])) WITH ORDINALITY AS m(person_id, position)"
)
_MEMBERS = text(_MEMBERS_OF.format(ids="CAST(:ids AS uuid[])"))
_GET = text(f"{_SELECT} WHERE id = :id")
_LOCK = text(f"{_SELECT} WHERE id = :id FOR UPDATE")
# the oldest asked first; rows another worker holds are left to it
_PENDING_QUOTA = text(
    f"{_SELECT} WHERE status = 'pending_quota' AND quota_requested_at <= :before"
    " ORDER BY quota_requested_at, id LIMIT :limit FOR UPDATE SKIP LOCKED"
)
# the driver
_DRIVER_MEMBERS = _MEMBERS_OF.format(ids="$1::uuid[]")
# the transition is stored only from the status it was computed from
_SAVE = (
    "UPDATE resettlement_applications SET "
    + ", ".join(f"{name} = ${n}" for n, name in enumerate(STATE, start=3))
    + " WHERE id = $1 AND status = $2"
)
_APPROVED_FOR = (
    f"{_SELECT} WHERE applicant_id = $1 AND status = 'approved' AND target_region = $2 FOR UPDATE"
)


def _state(app: ResettlementApplication) -> list[object]:
    values = [getattr(app, name) for name in STATE]
    values[0] = app.status.value
    return values


def _values(app: ResettlementApplication) -> dict[str, object]:
    fixed = (app.id, app.applicant_id, app.category.value, app.target_region, app.target_year)
    values = (*fixed, app.persons, app.requested_at, *_state(app))
    return dict(zip(COLUMNS, values, strict=True))


def _application(row: Row, members: Sequence[uuid.UUID]) -> ResettlementApplication:
    state = {name: row[name] for name in STATE}
    state["status"] = ApplicationStatus(row["status"])
    return ResettlementApplication(
        id=row["id"],
        applicant_id=row["applicant_id"],
        category=ResettlementCategory(row["category"]),
        family_member_ids=tuple(members),
        target_region=row["target_region"],
        target_year=row["target_year"],
        requested_at=row["requested_at"],
        **state,
    )


def _assemble(rows: Sequence[Row], members: Sequence[Row]) -> list[ResettlementApplication]:
    by_application: dict[uuid.UUID, list[uuid.UUID]] = {row["id"]: [] for row in rows}
    for member in members:
        by_application[member["application_id"]].append(member["person_id"])
    return [_application(row, by_application[row["id"]]) for row in rows]


class ApplicationRepository:
    def __init__(self, transaction: Transaction) -> None:
        self.transaction = transaction

    async def add(self, app: ResettlementApplication) -> None:
        await execute(await self.transaction.core(), _INSERT, _values(app))
        if app.family_member_ids:
            params = {"id": app.id, "members": list(app.family_member_ids)}
            await execute(await self.transaction.core(), _INSERT_MEMBERS, params)

    async def get(
        self, application_id: uuid.UUID, *, lock: bool = False
    ) -> ResettlementApplication | None:
        row = await fetch_one(
            await self.transaction.core(), _LOCK if lock else _GET, {"id": application_id}
        )
        return None if row is None else (await self._with_members([row]))[0]

    async def save(self, app: ResettlementApplication, *, was: ApplicationStatus) -> bool:
        """Store a transition, only from the status it was computed from (False otherwise)."""
        conn = await self.transaction.driver()
        status = await conn.execute(_SAVE, app.id, was.value, *_state(app))
        return affected(status) == 1

    async def pending_quota(
        self, *, asked_before: datetime, limit: int
    ) -> list[ResettlementApplication]:
        """At most `limit` applications still pending_quota whose quota was last asked at or
        before `asked_before`, the oldest first, locked (SKIP LOCKED: several workers ask)."""
        params = {"before": asked_before, "limit": limit}
        rows = await fetch(await self.transaction.core(), _PENDING_QUOTA, params)
        return await self._with_members(rows)

    async def approved_for(
        self, applicant_id: uuid.UUID, *, region: str
    ) -> ResettlementApplication | None:
        """The applicant's approved application to `region`, locked, if there is one."""
        conn = await self.transaction.driver()
        row = await conn.fetchrow(_APPROVED_FOR, applicant_id, region)
        return None if row is None else await _driver_members(conn, row)

    async def search(
        self,
        *,
        region: str | None,
        status: ApplicationStatus | None,
        year: int | None,
        after: tuple[datetime, uuid.UUID] | None,
        limit: int,
    ) -> list[ResettlementApplication]:
        """A page in (requested_at, id) order, after the keyset `after`."""
        where, params = _filters(region=region, status=status, year=year, after=after)
        statement = text(
            f"{_SELECT} WHERE {' AND '.join(where)} ORDER BY requested_at, id LIMIT :limit"
        )
        rows = await fetch(await self.transaction.core(), statement, {**params, "limit": limit})
        return await self._with_members(rows)

    async def _with_members(self, rows: Sequence[Row]) -> list[ResettlementApplication]:
        ids = [row["id"] for row in rows]
        members = await fetch(await self.transaction.core(), _MEMBERS, {"ids": ids}) if ids else []
        return _assemble(rows, members)


async def _driver_members(conn: DriverConnection, row: Row) -> ResettlementApplication:
    return _assemble([row], await conn.fetch(_DRIVER_MEMBERS, [row["id"]]))[0]


def _filters(
    *,
    region: str | None,
    status: ApplicationStatus | None,
    year: int | None,
    after: tuple[datetime, uuid.UUID] | None,
) -> tuple[list[str], Mapping[str, Any]]:
    """The search's conditions, from fixed fragments: values only ever as parameters."""
    where, params = ["true"], dict[str, Any]()
    if region is not None:
        where.append("target_region = :region")
        params["region"] = region
    if status is not None:
        where.append("status = :status")
        params["status"] = status.value
    if year is not None:
        where.append("target_year = :year")
        params["year"] = year
    if after is not None:
        where.append("(requested_at, id) > (CAST(:at AS timestamptz), CAST(:after AS uuid))")
        params |= {"at": after[0], "after": after[1]}
    return where, params
