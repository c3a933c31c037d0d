"""The quota handlers, `async def verb_noun(message, deps)`, one module per aggregate they
change: quotas, territories, the reservation ledger, quota orders, approved proposals. Each
command handler is one transaction (`async with deps.uow() as uow: ... await uow.commit()`);
each consumed event's handler turns the event into its command and calls that command's
handler. The routing tables are at the foot."""

from __future__ import annotations

from typing import Any

from koshiqon.common.events import proposals as proposal_events
from koshiqon.common.events import registration as reg
from koshiqon.common.events.contracts import EventPayload
from koshiqon.common.messagebus import Handler
from koshiqon.quota.bus import Deps
from koshiqon.quota.domain import commands as c
from koshiqon.quota.handlers.ledger import (
    consume_reservation,
    expire_reservations,
    on_resettlement_completed,
    on_resettlement_requested,
    on_resettlement_withdrawn,
    release_reservation,
    reserve_quota,
)
from koshiqon.quota.handlers.orders import import_quota_order
from koshiqon.quota.handlers.proposals import apply_proposal, on_proposal_approved
from koshiqon.quota.handlers.quotas import adjust_quota, establish_quota
from koshiqon.quota.handlers.territories import designate_territory, exclude_territory

COMMAND_HANDLERS: dict[type[Any], Handler[Deps]] = {
    c.EstablishQuota: establish_quota,
    c.AdjustQuota: adjust_quota,
    c.DesignateTerritory: designate_territory,
    c.ExcludeTerritory: exclude_territory,
    c.ReserveQuota: reserve_quota,
    c.ConsumeReservation: consume_reservation,
    c.ReleaseReservation: release_reservation,
    c.ExpireReservations: expire_reservations,
    c.ImportQuotaOrder: import_quota_order,
    c.ApplyProposal: apply_proposal,
}

EVENT_HANDLERS: dict[type[EventPayload], Handler[Deps]] = {
    reg.ResettlementRequested: on_resettlement_requested,
    reg.ResettlementCompleted: on_resettlement_completed,
    reg.ResettlementWithdrawn: on_resettlement_withdrawn,
    proposal_events.ProposalApproved: on_proposal_approved,
}

__all__ = ["COMMAND_HANDLERS", "EVENT_HANDLERS"]
