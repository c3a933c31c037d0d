"""The monitoring service's consumer group (`monitoring`): every event type a projection
reads, from registration.v1, quota.v1 and proposals.v1 (MonitoringSettings.topics).

Each event's handler (`handlers.project_event`) runs with a unit of work borrowing the
consumer runner's transaction, which holds the event's `processed_events` row: a redelivered
event is a duplicate and changes nothing; the runner commits the offsets after the database.
With the worker's MONITORING_CONSUMER_TRANSACTION_BATCH above 1, a chunk of a partition's
events shares one transaction and is projected at once (`handlers.project_events`); a chunk
that fails is projected again event by event.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from koshiqon.common import messagebus
from koshiqon.common.consumer import Subscription
from koshiqon.monitoring.bus import Deps
from koshiqon.monitoring.config import DEFAULT_TOPICS
from koshiqon.monitoring.handlers import EVENT_HANDLERS, project_events
from koshiqon.monitoring.unit_of_work import SqlUnitOfWork

GROUP = "monitoring"
TOPICS = DEFAULT_TOPICS


def subscription(
    *, now: Callable[[], datetime], group: str = GROUP, topics: Sequence[str] = TOPICS
) -> Subscription:
    """The group's subscription; `now` is the handlers' clock (the §8 rolling window)."""

    def deps(connection: AsyncConnection, traceparent: str) -> Deps:
        return Deps(uow=lambda: SqlUnitOfWork(connection, traceparent=traceparent), now=now)

    return messagebus.subscription(
        group=group, topics=topics, handlers=EVENT_HANDLERS, deps=deps, chunk=project_events
    )


__all__ = ["GROUP", "TOPICS", "subscription"]
