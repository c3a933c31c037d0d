"""Residence registrations: permanent ones and temporary stays, active or ended.

What registering a residence runs (`concerning`, `add`, `end`) is plain SQL on the driver
connection of the unit of work's transaction: it is the service's busiest write path, a
handful of short statements per request, where bench/registration_api.py shows SQLAlchemy's
per-statement CPU costing a measurable share of the throughput (about a quarter of the
unit of work's CPU against the same statements on Core). The path begins with the person's
lock, on the driver too (`PersonRepository.get`); the transaction itself is begun and ended
on the driver (libs/common's unit of work), so the path never makes a Core connection and
its round trips are a plain asyncpg transaction's. The rest is SQLAlchemy Core.
"""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import text

from koshiqon.common.events.registration import EndReason, ResidenceKind, StayPurpose
from koshiqon.common.unit_of_work import Transaction
from koshiqon.registration.adapters.repository._sql import (
    Row,
    affected,
    columns,
    fetch,
    fetch_one,
    insert,
    insert_statement,
)
from koshiqon.registration.domain.model import Address, Residence, ResidenceStatus

COLUMNS = (
    "id",
    "person_id",
    "kind",
    "kato",
    "region",
    "street",
    "building",
    "apartment",
    "valid_from",
    "valid_until",
    "purpose",
    "arrived_from",
    "status",
    "ended_on",
    "end_reason",
)
_SELECT = f"SELECT {columns(COLUMNS)} FROM residences"
_ORDER = "ORDER BY valid_from, id"
# Core
_GET = text(f"{_SELECT} WHERE id = :id AND person_id = :person_id")
_ACTIVE = text(f"{_SELECT} WHERE person_id = :person_id AND status = 'active' {_ORDER}")
_OF_PERSON = text(f"{_SELECT} WHERE person_id = :person_id {_ORDER}")
_OF_PERSON_IN_REGION = text(f"{_SELECT} WHERE person_id = :person_id AND region = :region {_ORDER}")
_DUE_TEMPORARY = text(
    f"{_SELECT} WHERE kind = 'temporary' AND status = 'active' AND valid_until < :today"
    " ORDER BY valid_until, id LIMIT :limit FOR UPDATE SKIP LOCKED"
)
# the driver: the registration path
_INSERT = insert_statement("residences", COLUMNS)
# the active registrations a new one concerns (`domain.model.concerns`), in SQL
_ACTIVE_PERMANENT = (
    f"{_SELECT} WHERE person_id = $1 AND status = 'active' AND kind = 'permanent' {_ORDER}"
)
_ACTIVE_STAYS_OVERLAPPING = (
    f"{_SELECT} WHERE person_id = $1 AND status = 'active' AND kind = 'temporary'"
    " AND valid_from <= $3 AND valid_until >= $2"  # a stay always has valid_until
    f" {_ORDER}"
)
_END = (
    "UPDATE residences SET status = 'ended', ended_on = $2, end_reason = $3"
    " WHERE id = $1 AND status = 'active'"
)


def _values(residence: Residence) -> tuple[object, ...]:
    address = residence.address
    return (
        residence.id,
        residence.person_id,
        residence.kind.value,
        address.kato,
        residence.region,
        address.street,
        address.building,
        address.apartment,
        residence.valid_from,
        residence.valid_until,
        residence.purpose.value if residence.purpose else None,
        residence.arrived_from,
        residence.status.value,
        residence.ended_on,
        residence.end_reason.value if residence.end_reason else None,
    )


# a person's active registrations are read (and mapped) on every registration: the enums
# by dictionary, as calling an Enum class to look a value up costs several times more
_KINDS = {kind.value: kind for kind in ResidenceKind}
_PURPOSES = {purpose.value: purpose for purpose in StayPurpose}
_STATUSES = {status.value: status for status in ResidenceStatus}
_END_REASONS = {reason.value: reason for reason in EndReason}


def residence_of(row: Row) -> Residence:
    address = Address(
        kato=row["kato"], street=row["street"], building=row["building"], apartment=row["apartment"]
    )
    purpose, end_reason = row["purpose"], row["end_reason"]
    return Residence(
        id=row["id"],
        person_id=row["person_id"],
        kind=_KINDS[row["kind"]],
        address=address,
        valid_from=row["valid_from"],
        valid_until=row["valid_until"],
        purpose=_PURPOSES[purpose] if purpose else None,
        status=_STATUSES[row["status"]],
        ended_on=row["ended_on"],
        end_reason=_END_REASONS[end_reason] if end_reason else None,
        arrived_from=row["arrived_from"],
    )


class ResidenceRepository:
    def __init__(self, transaction: Transaction) -> None:
        self.transaction = transaction

    async def add(self, residence: Residence) -> None:
        await insert(await self.transaction.driver(), _INSERT, *_values(residence))

    async def get(self, person_id: uuid.UUID, residence_id: uuid.UUID) -> Residence | None:
        params = {"id": residence_id, "person_id": person_id}
        row = await fetch_one(await self.transaction.core(), _GET, params)
        return residence_of(row) if row is not None else None

    async def active(self, person_id: uuid.UUID) -> list[Residence]:
        rows = await fetch(await self.transaction.core(), _ACTIVE, {"person_id": person_id})
        return [residence_of(row) for row in rows]

    async def concerning(self, new: Residence) -> list[Residence]:
        """The person's active registrations that the rules of registering `new` look at
        (`concerns`): all of them on arrival from abroad, else the permanent one or the
        stays `new`'s dates overlap, so that the cost does not grow with the history."""
        if new.arrived_from is not None:
            return await self.active(new.person_id)
        conn = await self.transaction.driver()
        if new.kind is ResidenceKind.PERMANENT:
            rows = await conn.fetch(_ACTIVE_PERMANENT, new.person_id)
        else:
            until = new.valid_until or date.max  # (a stay without one is refused anyway)
            rows = await conn.fetch(_ACTIVE_STAYS_OVERLAPPING, new.person_id, new.valid_from, until)
        return [residence_of(row) for row in rows]

    async def of_person(self, person_id: uuid.UUID, *, region: str | None) -> list[Residence]:
        if region is None:
            rows = await fetch(await self.transaction.core(), _OF_PERSON, {"person_id": person_id})
        else:
            params = {"person_id": person_id, "region": region}
            rows = await fetch(await self.transaction.core(), _OF_PERSON_IN_REGION, params)
        return [residence_of(row) for row in rows]

    async def end(self, residence: Residence) -> bool:
        """Store an ended registration, only if it is still active (False otherwise)."""
        assert residence.end_reason is not None
        conn = await self.transaction.driver()
        status = await conn.execute(
            _END, residence.id, residence.ended_on, residence.end_reason.value
        )
        return affected(status) == 1

    async def due_temporary(self, *, today: date, limit: int) -> list[Residence]:
        """Active temporary stays whose valid_until is before `today`, locked; rows another
        worker holds are skipped."""
        rows = await fetch(
            await self.transaction.core(), _DUE_TEMPORARY, {"today": today, "limit": limit}
        )
        return [residence_of(row) for row in rows]
