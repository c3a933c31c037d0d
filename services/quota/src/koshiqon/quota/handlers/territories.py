"""Designating territories for resettlement and excluding them (§6)."""

from __future__ import annotations

from datetime import datetime

from koshiqon.common.events import quota as wire
from koshiqon.quota.bus import Deps
from koshiqon.quota.domain import commands as c
from koshiqon.quota.domain.errors import (
    AlreadyDesignated,
    TerritoryExcludedAlready,
    TerritoryNotFound,
)
from koshiqon.quota.domain.model import (
    Territory,
    territory_code,
)
from koshiqon.quota.unit_of_work import UnitOfWork


async def designate_territory(cmd: c.DesignateTerritory, deps: Deps) -> Territory:
    async with deps.uow() as uow:
        territory = await designate(uow, cmd, now=deps.now())
        await uow.commit()
    return territory


async def designate(uow: UnitOfWork, cmd: c.DesignateTerritory, *, now: datetime) -> Territory:
    kato, region = territory_code(cmd.kato)
    territory = await uow.territories.add_territory(
        kato=kato,
        region=region,
        kind=cmd.kind,
        effective_from=cmd.effective_from,
        decision=cmd.decision,
        proposal_id=cmd.proposal_id,
        now=now,
    )
    if territory is None:
        raise AlreadyDesignated(f"territory {kato} is already designated for {cmd.kind}")
    uow.emit(
        wire.TerritoryDesignated(
            territory_id=territory.id,
            kato=kato,
            region=region,
            kind=wire.ResettlementKind(territory.kind),
            effective_from=territory.effective_from,
            decision=territory.decision,
            proposal_id=cmd.proposal_id,
            designated_at=now,
        ),
        subject=territory.id,
    )
    return territory


async def exclude_territory(cmd: c.ExcludeTerritory, deps: Deps) -> Territory:
    async with deps.uow() as uow:
        territory = await exclude(uow, cmd, now=deps.now())
        await uow.commit()
    return territory


async def exclude(uow: UnitOfWork, cmd: c.ExcludeTerritory, *, now: datetime) -> Territory:
    territory = await uow.territories.exclude_territory(
        cmd.territory_id, effective_from=cmd.effective_from, decision=cmd.decision, now=now
    )
    if territory is None:
        if await uow.territories.get_territory(cmd.territory_id) is None:
            raise TerritoryNotFound(f"no territory {cmd.territory_id}")
        raise TerritoryExcludedAlready(f"territory {cmd.territory_id} is already excluded")
    uow.emit(
        wire.TerritoryExcluded(
            territory_id=territory.id,
            kato=territory.kato,
            region=territory.region,
            kind=wire.ResettlementKind(territory.kind),
            effective_from=cmd.effective_from,
            decision=cmd.decision,
            proposal_id=cmd.proposal_id,
            excluded_at=now,
        ),
        subject=territory.id,
    )
    return territory
