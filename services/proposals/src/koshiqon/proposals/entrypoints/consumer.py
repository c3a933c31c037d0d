"""The proposals service's consumer group (`proposals`): what it reads and which handlers
it calls.

quota.v1: quota-adjusted, territory-designated, territory-excluded (naming a proposal) →
applied; proposal-effect-refused → application_failed, with quota's reason.
monitoring.v1: outflow-alert-raised → a draft measures proposal (§8), once per alert;
outflow-alert-cleared → noted on it.

The handlers are `EVENT_HANDLERS` (koshiqon.proposals.handlers); each runs with a unit of
work borrowing the consumer runner's transaction (with the `processed_events` row).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from koshiqon.common import messagebus
from koshiqon.common.consumer import Subscription
from koshiqon.proposals.adapters.monitoring import EvidenceSource
from koshiqon.proposals.bus import Deps, Policy
from koshiqon.proposals.handlers import EVENT_HANDLERS
from koshiqon.proposals.unit_of_work import SqlUnitOfWork

GROUP = "proposals"
TOPICS = ("quota.v1", "monitoring.v1")


def subscription(
    *,
    now: Callable[[], datetime],
    evidence: EvidenceSource,
    policy: Policy,
    group: str = GROUP,
) -> Subscription:
    def deps(connection: AsyncConnection, traceparent: str) -> Deps:
        return Deps(
            uow=lambda: SqlUnitOfWork(connection, traceparent=traceparent),
            now=now,
            evidence=evidence,
            policy=policy,
        )

    return messagebus.subscription(group=group, topics=TOPICS, handlers=EVENT_HANDLERS, deps=deps)


__all__ = ["GROUP", "TOPICS", "subscription"]
