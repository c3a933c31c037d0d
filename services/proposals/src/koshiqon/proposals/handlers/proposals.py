"""The workflow's commands: file, edit, submit (with its evidence), review, approve, reject,
return, withdraw. One transaction each, except submit: see `submit_proposal`."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from koshiqon.common import kz
from koshiqon.common.errors import InvalidInput
from koshiqon.common.events.proposals import EvidenceStatus
from koshiqon.common.messagebus import Actor
from koshiqon.proposals.bus import Deps
from koshiqon.proposals.domain import commands as c
from koshiqon.proposals.domain import model
from koshiqon.proposals.domain.errors import InvalidProposal, VersionRequired
from koshiqon.proposals.domain.model import Action, Evidence, Proposal
from koshiqon.proposals.domain.payloads import parse_payload
from koshiqon.proposals.handlers.shared import save, visible_proposal


class _OnProposal(Protocol):
    @property
    def proposal_id(self) -> uuid.UUID: ...
    @property
    def actor(self) -> Actor: ...


async def file_proposal(cmd: c.FileProposal, deps: Deps) -> Proposal:
    try:
        region = kz.region_by_kato(cmd.region).kato
    except InvalidInput as error:
        raise InvalidProposal(error.detail, field="region") from None
    model.require_filer(cmd.actor, region)
    now = deps.now()
    payload = parse_payload(cmd.type, cmd.payload, region=region, today=kz.kz_today(now))
    outcome = model.file_proposal(
        proposal_id=uuid.uuid4(),
        region=region,
        type_=cmd.type,
        payload=payload,
        justification=cmd.justification,
        documents=cmd.documents,
        actor=cmd.actor,
        now=now,
    )
    async with deps.uow() as uow:
        await uow.proposals.add(outcome.proposal, outcome.transition)
        await uow.commit()
    return outcome.proposal


async def edit_proposal(cmd: c.EditProposal, deps: Deps) -> Proposal:
    if cmd.expected_version is None:
        raise VersionRequired("send If-Match with the proposal's version", field="If-Match")
    now = deps.now()
    async with deps.uow() as uow:
        proposal = await visible_proposal(uow, cmd.proposal_id, cmd.actor)
        payload = (
            None
            if cmd.payload is None
            else parse_payload(
                proposal.type, cmd.payload, region=proposal.region, today=kz.kz_today(now)
            )
        )
        outcome = model.edit(
            proposal,
            expected_version=cmd.expected_version,
            payload=payload,
            justification=cmd.justification,
            documents=cmd.documents,
            actor=cmd.actor,
            now=now,
        )
        saved = await save(uow, outcome)
        await uow.commit()
    return saved


async def submit_proposal(cmd: c.SubmitProposal, deps: Deps) -> Proposal:
    """Submit, with the region's indicators frozen as evidence. Monitoring is asked between
    two transactions, so that no row stays locked while it answers (up to three attempts of
    PROPOSALS_EVIDENCE_TIMEOUT_SECONDS): the first checks that the caller may submit, the
    second submits, checking again. Unavailable, the evidence is pending and the worker
    fetches it later."""
    async with deps.uow() as uow:
        proposal = await visible_proposal(uow, cmd.proposal_id, cmd.actor, lock=False)
        model.check_action(proposal, Action.SUBMIT, cmd.actor)
    snapshot = await deps.evidence.indicators(proposal.region)
    now = deps.now()
    evidence = (
        Evidence(EvidenceStatus.PENDING)
        if snapshot is None
        else Evidence(EvidenceStatus.FROZEN, snapshot, now)
    )
    async with deps.uow() as uow:
        proposal = await visible_proposal(uow, cmd.proposal_id, cmd.actor)
        outcome = model.submit(
            proposal,
            evidence=evidence,
            review_deadline=deps.policy.review_deadline,
            comment=cmd.comment,
            actor=cmd.actor,
            now=now,
        )
        saved = await save(uow, outcome)
        await uow.commit()
    return saved


async def review_proposal(cmd: c.ReviewProposal, deps: Deps) -> Proposal:
    return await _decide(
        cmd, deps, lambda p, now: model.review(p, comment=cmd.comment, actor=cmd.actor, now=now)
    )


async def approve_proposal(cmd: c.ApproveProposal, deps: Deps) -> Proposal:
    return await _decide(
        cmd,
        deps,
        lambda p, now: model.approve(
            p, delta=cmd.delta, comment=cmd.comment, actor=cmd.actor, now=now
        ),
    )


async def reject_proposal(cmd: c.RejectProposal, deps: Deps) -> Proposal:
    return await _decide(
        cmd,
        deps,
        lambda p, now: model.reject(
            p, reason=cmd.reason, comment=cmd.comment, actor=cmd.actor, now=now
        ),
    )


async def return_proposal(cmd: c.ReturnProposal, deps: Deps) -> Proposal:
    return await _decide(
        cmd,
        deps,
        lambda p, now: model.return_proposal(
            p, reason=cmd.reason, comment=cmd.comment, actor=cmd.actor, now=now
        ),
    )


async def withdraw_proposal(cmd: c.WithdrawProposal, deps: Deps) -> Proposal:
    return await _decide(
        cmd, deps, lambda p, now: model.withdraw(p, comment=cmd.comment, actor=cmd.actor, now=now)
    )


async def _decide(
    cmd: _OnProposal, deps: Deps, step: Callable[[Proposal, datetime], model.Outcome]
) -> Proposal:
    """One workflow step in one transaction: the proposal as the actor may see it (locked),
    the model's step, the new state and its history entry and events saved."""
    async with deps.uow() as uow:
        proposal = await visible_proposal(uow, cmd.proposal_id, cmd.actor)
        saved = await save(uow, step(proposal, deps.now()))
        await uow.commit()
    return saved
