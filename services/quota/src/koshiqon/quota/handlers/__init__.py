"""One async function per command, grouped by what it changes: quotas, territories, the
reservation ledger, quota orders, approved proposals. Each does `async with uow: ... await
uow.commit()`. The routing table is at the foot."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from koshiqon.quota.domain import commands as c
from koshiqon.quota.handlers.ledger import (
    consume_reservation,
    expire_reservations,
    release_reservation,
    reserve_quota,
)
from koshiqon.quota.handlers.orders import ImportedOrder, import_quota_order
from koshiqon.quota.handlers.proposals import ApplyProposal, ProposalStep, apply_proposal
from koshiqon.quota.handlers.quotas import adjust_quota, establish_quota
from koshiqon.quota.handlers.shared import Clock
from koshiqon.quota.handlers.territories import designate_territory, exclude_territory
from koshiqon.quota.unit_of_work import AnyUnitOfWork

Handler = Callable[[Any, AnyUnitOfWork, Clock], Awaitable[Any]]

HANDLERS: dict[type[Any], Handler] = {
    c.EstablishQuota: establish_quota,
    c.AdjustQuota: adjust_quota,
    c.DesignateTerritory: designate_territory,
    c.ExcludeTerritory: exclude_territory,
    c.ReserveQuota: reserve_quota,
    c.ConsumeReservation: consume_reservation,
    c.ReleaseReservation: release_reservation,
    c.ExpireReservations: expire_reservations,
    c.ImportQuotaOrder: import_quota_order,
    ApplyProposal: apply_proposal,
}


__all__ = [
    "HANDLERS",
    "ApplyProposal",
    "Clock",
    "Handler",
    "ImportedOrder",
    "ProposalStep",
]
