"""Every query of the quota service, one repository per aggregate: quotas, the reservation
ledger, territories, applied proposals. A unit of work (or a read) holds one of each over its
session."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from koshiqon.quota.adapters.repository.ledger import LedgerRepository
from koshiqon.quota.adapters.repository.proposals import ProposalRepository
from koshiqon.quota.adapters.repository.quotas import QuotaRepository
from koshiqon.quota.adapters.repository.territories import TerritoryRepository

__all__ = [
    "LedgerRepository",
    "ProposalRepository",
    "QuotaRepository",
    "Repositories",
    "TerritoryRepository",
]


class Repositories:
    """The service's repositories over one session."""

    quotas: QuotaRepository
    ledger: LedgerRepository
    territories: TerritoryRepository
    proposals: ProposalRepository

    def __init__(self, session: AsyncSession) -> None:
        self.quotas = QuotaRepository(session)
        self.ledger = LedgerRepository(session)
        self.territories = TerritoryRepository(session)
        self.proposals = ProposalRepository(session)
