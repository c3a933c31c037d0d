"""The registration service's subscription: the quota service's outcomes for resettlement
applications (quota.v1), handled by `handlers.EVENT_HANDLERS`. Each event is handled once
(the runner records it in `processed_events` in the same transaction); the handlers' units
of work borrow the runner's transaction, and the runner commits it."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncConnection

from koshiqon.common import logs
from koshiqon.common.consumer import Subscription
from koshiqon.common.messagebus import subscription as event_subscription
from koshiqon.registration.bus import Deps
from koshiqon.registration.handlers import EVENT_HANDLERS
from koshiqon.registration.unit_of_work import SqlUnitOfWork

GROUP = "registration"
TOPICS = ("quota.v1",)


def consumer_deps(connection: AsyncConnection, traceparent: str) -> Deps:
    """The handlers' dependencies over the runner's transaction."""
    return Deps(
        uow=lambda: SqlUnitOfWork(connection, traceparent=traceparent),
        correlation_id=logs.correlation_id.get,
    )


def subscription(group: str = GROUP, topics: Sequence[str] = TOPICS) -> Subscription:
    return event_subscription(
        group=group, topics=topics, handlers=EVENT_HANDLERS, deps=consumer_deps
    )


__all__ = ["GROUP", "TOPICS", "subscription"]
