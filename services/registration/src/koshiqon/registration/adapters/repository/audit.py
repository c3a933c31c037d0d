"""The audit of reads: who read which person's data, when, through which route (SQLAlchemy
Core)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import text

from koshiqon.common.messagebus import Actor
from koshiqon.common.unit_of_work import Transaction
from koshiqon.registration.adapters.repository._sql import columns, execute, fetch
from koshiqon.registration.domain.model import AuditEntry

COLUMNS = ("id", "at", "subject", "agency", "region", "person_id", "route", "correlation_id")
_RECORD = text(
    "INSERT INTO audit_log (subject, agency, region, person_id, route, correlation_id)"
    " SELECT :subject, :agency, :region, person_id, :route, :correlation_id"
    " FROM unnest(CAST(:persons AS uuid[])) AS person_id"
)
_SELECT = f"SELECT {columns(COLUMNS)} FROM audit_log WHERE person_id = :person_id"
_OF_PERSON = text(f"{_SELECT} ORDER BY id LIMIT :limit")
_OF_PERSON_AFTER = text(f"{_SELECT} AND id > :after ORDER BY id LIMIT :limit")


class AuditRepository:
    def __init__(self, transaction: Transaction) -> None:
        self.transaction = transaction

    async def record(
        self,
        actor: Actor,
        *,
        person_ids: Sequence[uuid.UUID],
        route: str,
        correlation_id: str | None,
    ) -> None:
        """One row per person read, in one statement."""
        if not person_ids:
            return
        params = {
            "subject": actor.subject[:200],
            "agency": actor.agency or None,
            "region": actor.region,
            "route": route[:300],
            "correlation_id": correlation_id,
            "persons": list(person_ids),
        }
        await execute(await self.transaction.core(), _RECORD, params)

    async def of_person(
        self, person_id: uuid.UUID, *, after: int | None, limit: int
    ) -> list[AuditEntry]:
        params: dict[str, object] = {"person_id": person_id, "limit": limit}
        if after is not None:
            params["after"] = after
        statement = _OF_PERSON if after is None else _OF_PERSON_AFTER
        rows = await fetch(await self.transaction.core(), statement, params)
        return [AuditEntry(**{name: row[name] for name in COLUMNS}) for row in rows]
