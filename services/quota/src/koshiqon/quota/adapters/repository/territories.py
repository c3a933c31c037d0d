"""Territories designated for resettlement, and their exclusion."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from uuid import UUID

from koshiqon.quota.adapters.repository.sql import (
    SqlRepository,
    territory_of,
)
from koshiqon.quota.domain.model import (
    Territory,
    TerritoryKind,
)


class SqlTerritoryRepository(SqlRepository):
    async def add_territory(
        self,
        *,
        kato: str,
        region: str,
        kind: TerritoryKind,
        effective_from: date,
        decision: str,
        proposal_id: UUID | None,
        now: datetime,
    ) -> Territory | None:
        """The new designation, or None when `kato` is already designated for `kind`."""
        row = await self._one(
            "INSERT INTO territories (id, kato, region, kind, effective_from, decision, "
            "proposal_id, created_at) VALUES (:id, :kato, :region, :kind, :effective_from, "
            ":decision, :proposal_id, :now) ON CONFLICT (kato, kind) WHERE status = 'active' "
            "DO NOTHING RETURNING *",
            id=uuid.uuid4(),
            kato=kato,
            region=region,
            kind=kind,
            effective_from=effective_from,
            decision=decision,
            proposal_id=proposal_id,
            now=now,
        )
        return None if row is None else territory_of(row)

    async def get_territory(self, territory_id: UUID) -> Territory | None:
        row = await self._one("SELECT * FROM territories WHERE id = :id", id=territory_id)
        return None if row is None else territory_of(row)

    async def active_territories(self, kato: str, kinds: Sequence[TerritoryKind]) -> list[UUID]:
        rows = await self._all(
            "SELECT id FROM territories WHERE kato = :kato AND status = 'active' "
            "AND kind = ANY(:kinds) ORDER BY kind",
            kato=kato,
            kinds=[str(k) for k in kinds],
        )
        return [r.id for r in rows]

    async def exclude_territory(
        self, territory_id: UUID, *, effective_from: date, decision: str, now: datetime
    ) -> Territory | None:
        row = await self._one(
            "UPDATE territories SET status = 'excluded', excluded_from = :effective_from, "
            "exclusion_decision = :decision WHERE id = :id AND status = 'active' RETURNING *",
            id=territory_id,
            effective_from=effective_from,
            decision=decision,
        )
        return None if row is None else territory_of(row)

    async def designated(
        self, *, kind: TerritoryKind, region: str, target: str, on: date | None
    ) -> bool:
        """Whether `target` (a region or a district of `region`) is designated for `kind`:
        in effect on `on`, or (`on` None) at any time, now or to come."""
        row = await self._one(
            "SELECT 1 FROM territories WHERE kind = :kind AND region = :region "
            "AND (kato = :target OR kato = :region OR :target = :region) "
            "AND (CAST(:on AS date) IS NULL OR (effective_from <= :on AND "
            "(excluded_from IS NULL OR excluded_from > :on))) "
            "AND (status = 'active' OR CAST(:on AS date) IS NOT NULL) LIMIT 1",
            kind=kind,
            region=region,
            target=target,
            on=on,
        )
        return row is not None
