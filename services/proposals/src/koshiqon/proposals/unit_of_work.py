"""The proposals service's unit of work: what the handlers see of it (`UnitOfWork`, its
repositories typed as Protocols, which the SQL repositories and the tests' fakes satisfy)
and the real one, `SqlUnitOfWork`, on koshiqon.common.unit_of_work's."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Protocol
from uuid import UUID

from koshiqon.common import unit_of_work as common
from koshiqon.proposals.adapters.repository import SqlProposalRepository, SqlRulesRepository
from koshiqon.proposals.domain.model import Proposal, Transition
from koshiqon.proposals.domain.rules import RegionalRules


class ProposalRepository(Protocol):
    """Proposals, and the history of each."""

    async def add(self, proposal: Proposal, transition: Transition) -> bool: ...

    async def get(self, proposal_id: UUID, *, lock: bool = True) -> Proposal | None: ...

    async def by_alert(self, alert_id: UUID) -> Proposal | None: ...

    async def save(self, proposal: Proposal, transition: Transition) -> None: ...

    async def record(self, proposal_id: UUID, transition: Transition) -> None: ...

    async def history(self, proposal_id: UUID) -> list[Transition]: ...

    async def pending_evidence(self, *, limit: int) -> list[Proposal]: ...

    async def stuck(
        self, *, approved_before: datetime, published_before: datetime, limit: int
    ) -> list[Proposal]: ...

    async def count_stuck(self, *, approved_before: datetime) -> int: ...


class RulesRepository(Protocol):
    """The regions' rules, in versions."""

    async def lock_region(self, region: str) -> None: ...

    async def next_version(self, region: str) -> int: ...

    async def add(self, rules: RegionalRules) -> None: ...

    async def get(self, rules_id: UUID) -> RegionalRules | None: ...

    async def in_force(self, region: str) -> RegionalRules | None: ...

    async def save(self, rules: RegionalRules) -> None: ...


class UnitOfWork(common.UnitOfWork, Protocol):
    proposals: ProposalRepository
    rules: RulesRepository


class SqlUnitOfWork(common.SqlUnitOfWork):
    source: ClassVar[str] = "/koshiqon/proposals"
    proposals: ProposalRepository
    rules: RulesRepository

    def bind(self, transaction: common.Transaction) -> None:
        self.proposals = SqlProposalRepository(transaction)
        self.rules = SqlRulesRepository(transaction)
