"""What the handlers share: reading a proposal the caller may see, writing an outcome."""

from __future__ import annotations

from uuid import UUID

from koshiqon.common.messagebus import Actor
from koshiqon.proposals.domain.errors import ProposalNotFound
from koshiqon.proposals.domain.model import Outcome, Proposal, visible_to
from koshiqon.proposals.unit_of_work import UnitOfWork


async def visible_proposal(
    uow: UnitOfWork, proposal_id: UUID, actor: Actor, *, lock: bool = True
) -> Proposal:
    """The proposal, or ProposalNotFound: none, or one of a region the caller is not of."""
    proposal = await uow.proposals.get(proposal_id, lock=lock)
    if proposal is None or not visible_to(actor, proposal):
        raise ProposalNotFound(f"no proposal {proposal_id}")
    return proposal


async def save(uow: UnitOfWork, outcome: Outcome) -> Proposal:
    """The outcome's state, history entry and events, in the unit of work (not committed)."""
    await uow.proposals.save(outcome.proposal, outcome.transition)
    if outcome.events:
        uow.emit(*outcome.events, subject=outcome.proposal.id)
    return outcome.proposal
