"""1,000 concurrent reservations of 1-5 persons against one quota of 700 on the real
PostgreSQL: never oversubscribed, the counter equals the granted reservations, and the only
refusal is 'exhausted'."""

from __future__ import annotations

import asyncio
import random
import uuid

import pytest
from quota.helpers import ACTOR, PAVLODAR, designate
from support.services import ServiceSchema

from koshiqon.quota import queries
from koshiqon.quota.bus import Bus
from koshiqon.quota.domain import commands as c
from koshiqon.quota.domain.model import (
    DenialReason,
    Kind,
    Outcome,
    Period,
    QuotaSpec,
    TerritoryKind,
)

pytestmark = pytest.mark.integration


async def test_a_thousand_concurrent_reservations_never_oversubscribe(
    bus: Bus, schema: ServiceSchema
) -> None:
    await designate(bus, PAVLODAR, TerritoryKind.MIGRANT)
    spec = QuotaSpec.of(kind=Kind.MIGRANT, region=PAVLODAR, period=Period.of(2026),
                        category=None, limit=700)  # fmt: skip
    quota = await bus.handle(c.EstablishQuota(spec, actor=ACTOR))
    rng = random.Random(4)
    requests = [
        c.ReserveQuota(uuid.uuid4(), Kind.MIGRANT, PAVLODAR, 2026, rng.randint(1, 5), actor=ACTOR)
        for _ in range(1000)
    ]
    results = await asyncio.gather(*(bus.handle(r) for r in requests), return_exceptions=True)
    failures = [r for r in results if isinstance(r, BaseException)]
    assert failures == []
    granted = [r for r in results if r.outcome is Outcome.RESERVED]
    denied = [r for r in results if r.outcome is Outcome.DENIED]
    assert {r.denial_reason for r in denied} <= {DenialReason.EXHAUSTED}
    after = await queries.get_quota(schema.engine, quota.id)
    assert after.reserved == sum(r.persons for r in granted)
    assert after.reserved <= 700
    assert after.reserved >= 700 - 4  # every denial saw less room than it asked for
    ledger = await schema.scalar(
        "SELECT coalesce(sum(persons), 0) FROM reservations WHERE status = 'reserved'"
    )
    assert ledger == after.reserved
