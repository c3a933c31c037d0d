"""Importing a quota order file: all of it in one transaction, or nothing. A row for a year
that has already ended (in Kazakhstan's time) is recorded as history: a closed quota, with
no territory designated for it (`establish`)."""

from __future__ import annotations

from datetime import datetime

from koshiqon.quota.bus import Deps
from koshiqon.quota.domain import commands as c
from koshiqon.quota.domain.errors import (
    InvalidOrder,
)
from koshiqon.quota.domain.model import (
    Quota,
    QuotaSpec,
    Territory,
    TerritoryKind,
)
from koshiqon.quota.domain.orders import BadRow, ImportedOrder, parse_order
from koshiqon.quota.handlers.quotas import establish, is_history
from koshiqon.quota.handlers.territories import designate
from koshiqon.quota.unit_of_work import UnitOfWork


async def import_quota_order(cmd: c.ImportQuotaOrder, deps: Deps) -> ImportedOrder:
    """All of the order in one transaction, or nothing and every bad row named."""
    parsed = parse_order(cmd.csv_text)
    now = deps.now()
    async with deps.uow() as uow:
        bad = parsed.bad + [
            BadRow(line.line, "a quota of this kind and region already covers the year")
            for line in parsed.lines
            if await uow.quotas.overlapping_quota(
                line.spec, closed_too=is_history(line.spec, now=now)
            )
            is not None
        ]
        if bad:
            raise _bad_order(bad)
        territories: list[Territory] = []
        quotas: list[Quota] = []
        for line in parsed.lines:
            territories += await _designate_for_order(uow, cmd, line.spec, now=now)
            quotas.append(
                await establish(
                    uow, line.spec, reference=cmd.order, actor=cmd.actor.subject, now=now
                )
            )
        await uow.commit()
    return ImportedOrder(quotas, territories)


async def _designate_for_order(
    uow: UnitOfWork, cmd: c.ImportQuotaOrder, spec: QuotaSpec, *, now: datetime
) -> list[Territory]:
    if not spec.kind.needs_designation or is_history(spec, now=now):
        return []
    kind = TerritoryKind(spec.kind)
    if await uow.territories.designated(kind=kind, region=spec.region, target=spec.region, on=None):
        return []
    designation = c.DesignateTerritory(
        kato=spec.region,
        kind=kind,
        effective_from=spec.period.start,
        decision=f"quota order {cmd.order}",
        actor=cmd.actor,
    )
    return [await designate(uow, designation, now=now)]


def _bad_order(bad: list[BadRow]) -> InvalidOrder:
    bad = sorted(bad, key=lambda row: row.line)
    rows = [{"line": row.line, "reason": row.reason} for row in bad]
    errors = [{"field": f"line {row.line}", "message": row.reason} for row in bad]
    return InvalidOrder(
        f"{len(bad)} bad row(s); nothing was imported", extra={"rows": rows, "errors": errors}
    )
