"""The quota service's repositories, one per aggregate (quotas, the reservation ledger,
territories, applied proposals), in SQLAlchemy Core in the unit of work's transaction
(`Transaction.core`); the Protocols they satisfy are in `koshiqon.quota.unit_of_work`."""

from __future__ import annotations

from koshiqon.quota.adapters.repository.ledger import SqlLedgerRepository
from koshiqon.quota.adapters.repository.proposals import SqlProposalRepository
from koshiqon.quota.adapters.repository.quotas import SqlQuotaRepository
from koshiqon.quota.adapters.repository.territories import SqlTerritoryRepository

__all__ = [
    "SqlLedgerRepository",
    "SqlProposalRepository",
    "SqlQuotaRepository",
    "SqlTerritoryRepository",
]
