"""Resettlement applications and their family members."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import asyncpg

from koshiqon.common.database.driver import Connection, Params
from koshiqon.common.events.registration import ResettlementCategory
from koshiqon.registration.adapters.repository._sql import (
    affected,
    columns,
    insert,
    insert_statement,
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
)
COLUMNS = (*FIXED, "requested_at", *STATE)
_SELECT = f"SELECT {columns(COLUMNS)} FROM resettlement_applications"
_INSERT = insert_statement("resettlement_applications", COLUMNS)
_INSERT_MEMBERS = (
    "INSERT INTO resettlement_family_members (application_id, person_id, position)"
    " SELECT $1, person_id, position - 1"
    " FROM unnest($2::uuid[]) WITH ORDINALITY AS m(person_id, position)"
)
_MEMBERS = (
    "SELECT application_id, person_id FROM resettlement_family_members"
    " WHERE application_id = ANY($1::uuid[]) ORDER BY application_id, position"
)
_GET = f"{_SELECT} WHERE id = $1"
_LOCK = f"{_GET} FOR UPDATE"
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


def _application(row: asyncpg.Record, members: Sequence[uuid.UUID]) -> ResettlementApplication:
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


class ApplicationRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    async def add(self, app: ResettlementApplication) -> None:
        fixed = (
            app.id,
            app.applicant_id,
            app.category.value,
            app.target_region,
            app.target_year,
            app.persons,
        )
        await insert(self.conn, _INSERT, *fixed, app.requested_at, *_state(app))
        if app.family_member_ids:
            await self.conn.execute(_INSERT_MEMBERS, app.id, list(app.family_member_ids))

    async def get(
        self, application_id: uuid.UUID, *, lock: bool = False
    ) -> ResettlementApplication | None:
        row = await self.conn.fetchrow(_LOCK if lock else _GET, application_id)
        return None if row is None else (await self._with_members([row]))[0]

    async def save(self, app: ResettlementApplication, *, was: ApplicationStatus) -> bool:
        """Store a transition, only from the status it was computed from (False otherwise)."""
        status = await self.conn.execute(_SAVE, app.id, was.value, *_state(app))
        return affected(status) == 1

    async def approved_for(
        self, applicant_id: uuid.UUID, *, region: str
    ) -> ResettlementApplication | None:
        """The applicant's approved application to `region`, locked, if there is one."""
        row = await self.conn.fetchrow(_APPROVED_FOR, applicant_id, region)
        return None if row is None else (await self._with_members([row]))[0]

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
        p = Params()
        where = ["true"]
        if region is not None:
            where.append(f"target_region = {p(region)}")
        if status is not None:
            where.append(f"status = {p(status.value)}")
        if year is not None:
            where.append(f"target_year = {p(year)}")
        if after is not None:
            where.append(f"(requested_at, id) > ({p(after[0])}::timestamptz, {p(after[1])}::uuid)")
        sql = f"{_SELECT} WHERE {' AND '.join(where)} ORDER BY requested_at, id LIMIT {p(limit)}"
        return await self._with_members(await self.conn.fetch(sql, *p.values))

    async def _with_members(self, rows: Sequence[asyncpg.Record]) -> list[ResettlementApplication]:
        members: dict[uuid.UUID, list[uuid.UUID]] = {row["id"]: [] for row in rows}
        if members:
            for member in await self.conn.fetch(_MEMBERS, list(members)):
                members[member["application_id"]].append(member["person_id"])
        return [_application(row, members[row["id"]]) for row in rows]
