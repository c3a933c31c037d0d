"""The quota service's consumer group (`quota`): what it reads and which handlers it calls.

registration.v1: resettlement-requested → reserve; resettlement-completed → consume;
resettlement-withdrawn → release (or a tombstone when the withdrawal overtook its request).
proposals.v1: proposal-approved → apply its effect, or publish proposal-effect-refused.

The handlers are `EVENT_HANDLERS` (koshiqon.quota.handlers); each runs with a unit of work
borrowing the consumer runner's transaction (with the `processed_events` row), writes its
events to the outbox in it, and the runner commits.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from koshiqon.common import messagebus
from koshiqon.common.consumer import Subscription
from koshiqon.quota.bus import Deps
from koshiqon.quota.handlers import EVENT_HANDLERS
from koshiqon.quota.unit_of_work import SqlUnitOfWork

GROUP = "quota"
TOPICS = ("registration.v1", "proposals.v1")


def subscription(*, now: Callable[[], datetime], group: str = GROUP) -> Subscription:
    """The group's subscription; `now` is the handlers' clock."""

    def deps(connection: AsyncConnection, traceparent: str) -> Deps:
        return Deps(uow=lambda: SqlUnitOfWork(connection, traceparent=traceparent), now=now)

    return messagebus.subscription(group=group, topics=TOPICS, handlers=EVENT_HANDLERS, deps=deps)


__all__ = ["GROUP", "TOPICS", "subscription"]
