"""A region's rules (§2), in versions, in SQLAlchemy Core constructs."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import func, insert, select, text, update

from koshiqon.common.unit_of_work import Transaction
from koshiqon.proposals.adapters.repository.rows import rules_of, rules_values
from koshiqon.proposals.adapters.tables import regional_rules
from koshiqon.proposals.domain.rules import RegionalRules


class SqlRulesRepository:
    def __init__(self, transaction: Transaction) -> None:
        self.transaction = transaction

    async def lock_region(self, region: str) -> None:
        """Serializes version numbering and approval within a region (transaction lock)."""
        connection = await self.transaction.core()
        await connection.execute(
            text("SELECT pg_advisory_xact_lock(hashtext('regional_rules:' || :region))"),
            {"region": region},
        )

    async def next_version(self, region: str) -> int:
        connection = await self.transaction.core()
        statement = select(func.coalesce(func.max(regional_rules.c.version), 0)).where(
            regional_rules.c.region == region
        )
        return int((await connection.execute(statement)).scalar_one()) + 1

    async def add(self, rules: RegionalRules) -> None:
        connection = await self.transaction.core()
        await connection.execute(insert(regional_rules).values(rules_values(rules)))

    async def get(self, rules_id: UUID) -> RegionalRules | None:
        connection = await self.transaction.core()
        statement = select(regional_rules).where(regional_rules.c.id == rules_id)
        row = (await connection.execute(statement)).first()
        return None if row is None else rules_of(row)

    async def in_force(self, region: str) -> RegionalRules | None:
        connection = await self.transaction.core()
        statement = select(regional_rules).where(
            regional_rules.c.region == region, regional_rules.c.status == "approved"
        )
        row = (await connection.execute(statement)).first()
        return None if row is None else rules_of(row)

    async def save(self, rules: RegionalRules) -> None:
        connection = await self.transaction.core()
        values = rules_values(rules)
        del values["id"]
        await connection.execute(
            update(regional_rules).where(regional_rules.c.id == rules.id).values(values)
        )
