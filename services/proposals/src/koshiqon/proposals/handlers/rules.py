"""Regional rules (§2): a new draft version; its approval by the maslikhat's decision."""

from __future__ import annotations

import uuid

from koshiqon.common import kz
from koshiqon.common.errors import InvalidInput
from koshiqon.proposals.bus import Deps
from koshiqon.proposals.domain import commands as c
from koshiqon.proposals.domain import rules as domain
from koshiqon.proposals.domain.errors import InvalidProposal, RulesNotFound
from koshiqon.proposals.domain.rules import RegionalRules


def _region(kato: str) -> str:
    try:
        return kz.region_by_kato(kato).kato
    except InvalidInput as error:
        raise InvalidProposal(error.detail, field="kato") from None


async def draft_rules(cmd: c.DraftRules, deps: Deps) -> RegionalRules:
    region = _region(cmd.region)
    async with deps.uow() as uow:
        await uow.rules.lock_region(region)
        version = await uow.rules.next_version(region)
        rules = domain.draft_rules(
            rules_id=uuid.uuid4(),
            region=region,
            version=version,
            title=cmd.title,
            text=cmd.text,
            actor=cmd.actor,
            now=deps.now(),
        )
        await uow.rules.add(rules)
        await uow.commit()
    return rules


async def approve_rules(cmd: c.ApproveRules, deps: Deps) -> RegionalRules:
    region = _region(cmd.region)
    async with deps.uow() as uow:
        await uow.rules.lock_region(region)
        rules = await uow.rules.get(cmd.rules_id)
        if rules is None or rules.region != region:
            raise RulesNotFound(f"no version {cmd.rules_id} of region {region}'s rules")
        in_force = await uow.rules.in_force(region)
        approved, superseded, event = domain.approve_rules(
            rules,
            in_force=in_force,
            decision_number=cmd.decision_number,
            decision_date=cmd.decision_date,
            actor=cmd.actor,
            now=deps.now(),
        )
        if superseded is not None:
            await uow.rules.save(superseded)  # before: one approved version at a time
        await uow.rules.save(approved)
        uow.emit(event, subject=approved.id)
        await uow.commit()
    return approved
