"""The worker's retry of the evidence monitoring could not give at submission."""

from __future__ import annotations

import logging

from koshiqon.common.events.proposals import EvidenceStatus
from koshiqon.proposals.bus import Deps
from koshiqon.proposals.domain import commands as c
from koshiqon.proposals.domain import model
from koshiqon.proposals.domain.model import Evidence
from koshiqon.proposals.handlers.shared import save

log = logging.getLogger("koshiqon.proposals")


async def retry_evidence(cmd: c.RetryEvidence, deps: Deps) -> int:
    """For each proposal whose evidence is pending, one fetch (outside any transaction),
    then the snapshot frozen in a transaction of its own; how many were frozen."""
    async with deps.uow() as uow:
        waiting = [(p.id, p.region) for p in await uow.proposals.pending_evidence(limit=cmd.limit)]
    frozen = 0
    for proposal_id, region in waiting:
        snapshot = await deps.evidence.indicators(region)
        if snapshot is None:
            continue
        now = deps.now()
        async with deps.uow() as uow:
            proposal = await uow.proposals.get(proposal_id)
            evidence = Evidence(EvidenceStatus.FROZEN, snapshot, now)
            outcome = (
                None if proposal is None else model.freeze_evidence(proposal, evidence, now=now)
            )
            if outcome is not None:
                await save(uow, outcome)
                await uow.commit()
                frozen += 1
    if frozen:
        log.info("proposals.evidence-frozen", extra={"count": frozen})
    return frozen
