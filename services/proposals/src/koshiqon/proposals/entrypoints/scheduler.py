"""The proposals worker's scheduled job, every PROPOSALS_WORKER_INTERVAL_SECONDS: fetch the
evidence still pending, and send again the approvals quota has not answered (stuck)."""

from __future__ import annotations

from koshiqon.common.worker import Component, every
from koshiqon.proposals.bus import Bus
from koshiqon.proposals.config import ProposalsSettings
from koshiqon.proposals.domain.commands import WORKER, RepublishStuck, RetryEvidence


class FollowUp:
    """One round: pending evidence, then stuck approvals (each proposal's row is locked
    while it is handled, skipped by another worker, so several workers may run it)."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus

    async def run_once(self) -> tuple[int, int]:
        """(evidence frozen, approvals sent again)."""
        frozen = await self.bus.handle(RetryEvidence(actor=WORKER))
        republished = await self.bus.handle(RepublishStuck(actor=WORKER))
        return frozen, republished


def follow_up(bus: Bus, settings: ProposalsSettings) -> Component:
    return every(
        settings.worker_interval_seconds, FollowUp(bus).run_once, name="proposals.follow-up"
    )
