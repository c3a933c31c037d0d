"""The audit of reads: who read which person's data, when, through which route."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from koshiqon.common.database.driver import Connection, Params
from koshiqon.registration.adapters.repository._sql import columns
from koshiqon.registration.domain.model import Actor, AuditEntry

COLUMNS = ("id", "at", "subject", "agency", "region", "person_id", "route", "correlation_id")
_RECORD = (
    "INSERT INTO audit_log (subject, agency, region, person_id, route, correlation_id)"
    " SELECT $1, $2, $3, person_id, $4, $5 FROM unnest($6::uuid[]) AS person_id"
)


class AuditRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

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
        await self.conn.execute(
            _RECORD,
            actor.subject[:200],
            actor.agency or None,
            actor.region,
            route[:300],
            correlation_id,
            list(person_ids),
        )

    async def of_person(
        self, person_id: uuid.UUID, *, after: int | None, limit: int
    ) -> list[AuditEntry]:
        p = Params()
        where = [f"person_id = {p(person_id)}"]
        if after is not None:
            where.append(f"id > {p(after)}")
        sql = (
            f"SELECT {columns(COLUMNS)} FROM audit_log WHERE {' AND '.join(where)}"
            f" ORDER BY id LIMIT {p(limit)}"
        )
        return [AuditEntry(**dict(row)) for row in await self.conn.fetch(sql, *p.values)]
